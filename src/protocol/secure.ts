/**
 * The secure step `[x]_K` over HTTP (paper §3; docs/PROTOCOL.md §6): body encrypted with RFC 8188
 * aes128gcm under K_n^e, then an RFC 9421 hmac-sha256 signature under K_n^m over the method, target
 * URI and RFC 9530 Content-Digest of the ciphertext, with N_C as the signature nonce
 * (encrypt-then-MAC). Used by every protocol: SKEP 2-4, SDDP, EDDP and rotation.
 */
import * as aes128gcm from '../crypto/aes128gcm.ts';
import { b64u, randomBytes } from '../crypto/bytes.ts';
import { contentDigestAsync, verifyContentDigestAsync } from '../crypto/digest.ts';
import { parseSignature, signHmac, verifyHmac, type HttpView, type SigParams } from '../crypto/httpsig.ts';
import { JanusError } from '../errors.ts';
import { LIMITS, NONCE_BYTES, RECORD_SIZE, SIG_LABEL } from './constants.ts';
import { header, readErrorResponse, type Headers_, type HttpRequestMsg, type HttpResponseMsg } from './http.ts';
import { ALIAS_RE } from './janus.ts';
import { assertInWindow, replayExpiry, slotKey, slotOf, type SlotKey } from './slot.ts';

export const REQUEST_COMPONENTS = ['@method', '@target-uri', 'content-digest'] as const;
export const RESPONSE_COMPONENTS = ['@status', 'content-type', 'content-digest', '@method;req', '@target-uri;req'] as const;

/** The key material a client holds for one vendor. */
export interface KeyHolder {
  readonly alias: string;
  readonly gen: number;
  readonly k: Uint8Array;
}

/** What the client keeps between sending a secure request and reading its response. */
export interface PendingRequest {
  readonly tag: string;
  readonly keyid: string;
  readonly nonce: string;
  readonly method: string;
  readonly targetUri: string;
  readonly requestHeaders: Headers_;
  readonly slot: SlotKey;
}

export interface SealRequestInput {
  key: KeyHolder;
  method: string;
  url: string;
  tag: string;
  now: number;
  body?: Uint8Array;
  contentType?: string;
  /** Headers covered by the signature, in order, after the base components (§6.3 table). */
  covered?: ReadonlyArray<readonly [string, string]>;
  /** Headers sent but not covered (e.g. Accept). */
  headers?: Headers_;
  /** Fixed randomness, for test vectors only. */
  nonce?: Uint8Array;
  salt?: Uint8Array;
  /** Slot override (SKEP 3 may reuse message 1's slot); defaults to slotOf(now). */
  slot?: number;
}

export function keyidOf(alias: string, gen: number, n: number): string {
  return `${alias}.${gen}.${n}`;
}

const KEYID_RE = /^([A-Za-z0-9_-]{22})\.(0|[1-9]\d{0,9})\.(0|[1-9]\d{0,15})$/;

export function parseKeyid(keyid: string): { alias: string; gen: number; n: number } {
  const m = KEYID_RE.exec(keyid);
  if (!m) throw new JanusError('malformed', 'keyid must be alias.gen.slot');
  const gen = Number(m[2]);
  const n = Number(m[3]);
  if (gen > 0xffffffff || !Number.isSafeInteger(n)) throw new JanusError('malformed', 'keyid gen or slot out of range');
  return { alias: m[1]!, gen, n };
}

async function encodeBody(
  plaintext: Uint8Array | undefined,
  ke: Uint8Array,
  salt: Uint8Array | undefined,
): Promise<{ body: Uint8Array; coded: boolean }> {
  if (!plaintext || plaintext.length === 0) return { body: new Uint8Array(0), coded: false };
  const body = await aes128gcm.encrypt(plaintext, ke, { rs: RECORD_SIZE, ...(salt ? { salt } : {}) });
  return { body, coded: true };
}

async function decodeBody(msg: { headers: Headers_; body: Uint8Array }, ke: Uint8Array, maxPlaintext: number): Promise<Uint8Array> {
  const coding = header(msg, 'content-encoding');
  if (coding === undefined) {
    if (msg.body.length !== 0) throw new JanusError('malformed', 'a non-empty body must use Content-Encoding: aes128gcm');
    return new Uint8Array(0);
  }
  if (coding.trim().toLowerCase() !== 'aes128gcm') throw new JanusError('malformed', `unsupported Content-Encoding ${coding}`);
  const { plaintext } = await aes128gcm.decrypt(msg.body, ke, { maxPlaintext });
  return plaintext;
}

/** The @target-uri both sides sign: origin + path + query of the parsed URL (no fragment). */
export function normalizeTarget(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new JanusError('bad_input', 'not an absolute URL');
  }
  return u.origin + u.pathname + u.search;
}

/** §6.1: builds a secure request. */
export async function sealRequest(input: SealRequestInput): Promise<{ request: HttpRequestMsg; pending: PendingRequest }> {
  const { key, tag, now } = input;
  const method = input.method.toUpperCase();
  const targetUri = normalizeTarget(input.url);
  const n = input.slot ?? slotOf(now);
  const slot = slotKey(key.k, n);
  const nonce = b64u.encode(input.nonce ?? randomBytes(NONCE_BYTES));
  const keyid = keyidOf(key.alias, key.gen, n);
  const { body, coded } = await encodeBody(input.body, slot.ke, input.salt);

  const headers: Headers_ = { ...(input.headers ?? {}) };
  if (coded) {
    headers['content-encoding'] = 'aes128gcm';
    headers['content-type'] = input.contentType ?? 'application/octet-stream';
  }
  headers['content-digest'] = await contentDigestAsync(body);
  const components: string[] = [...REQUEST_COMPONENTS];
  for (const [name, value] of input.covered ?? []) {
    headers[name] = value;
    components.push(name);
  }
  const params: SigParams = { created: now, nonce, alg: 'hmac-sha256', keyid, tag };
  const view: HttpView = { method, targetUri, headers };
  const sig = signHmac(slot.km, SIG_LABEL, components, params, view);
  headers['signature-input'] = sig.signatureInput;
  headers['signature'] = sig.signature;
  return {
    request: { method, url: targetUri, headers, body },
    pending: { tag, keyid, nonce, method, targetUri, requestHeaders: headers, slot },
  };
}

export interface OpenedResponse {
  status: number;
  contentType: string;
  body: Uint8Array;
  headers: Headers_;
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/**
 * §6.3, client side: verifies the response is bound to `pending` and decrypts it. An unsigned
 * error response becomes its (unauthenticated) JanusError (§14.2).
 */
export async function openResponse(
  pending: PendingRequest,
  res: HttpResponseMsg,
  opts: { extra?: readonly string[]; optional?: readonly string[]; maxPlaintext?: number } = {},
): Promise<OpenedResponse> {
  if (res.headers['signature'] === undefined && res.headers['signature-input'] === undefined) {
    const err = readErrorResponse(res);
    if (err) throw err;
    throw new JanusError('missing_signature', `the vendor's response (status ${res.status}) is not signed`);
  }
  const parsed = parseSignature(SIG_LABEL, header(res, 'signature-input'), header(res, 'signature'));
  const expected: string[] = [...RESPONSE_COMPONENTS, ...(opts.extra ?? [])];
  for (const o of opts.optional ?? []) if (res.headers[o] !== undefined) expected.push(o);
  if (!sameList(parsed.components, expected)) throw new JanusError('malformed', 'the response signature covers the wrong components');
  const p = parsed.params;
  if (p.alg !== 'hmac-sha256' || p.tag !== `${pending.tag} response` || p.keyid !== pending.keyid) {
    throw new JanusError('malformed', 'the response signature has the wrong tag, alg or keyid');
  }
  // Paper Fig. 3 step 2: "C checks that N_C is unchanged".
  if (p.nonce !== pending.nonce) throw new JanusError('nonce_mismatch');
  await verifyContentDigestAsync(header(res, 'content-digest') ?? null, res.body);
  const view: HttpView = {
    status: res.status,
    headers: res.headers,
    request: { method: pending.method, targetUri: pending.targetUri, headers: pending.requestHeaders },
  };
  verifyHmac(pending.slot.km, parsed, view);
  const body = await decodeBody(res, pending.slot.ke, opts.maxPlaintext ?? LIMITS.responsePlaintext);
  return { status: res.status, contentType: res.headers['content-type'] ?? 'application/octet-stream', body, headers: res.headers };
}

/** A secure request as the vendor parsed it, before it has the key (§6.2 steps 1-4). */
export interface ParsedRequest {
  readonly alias: string;
  readonly gen: number;
  readonly n: number;
  readonly nonce: string;
  readonly created: number;
  readonly tag: string;
  readonly keyid: string;
  readonly method: string;
  readonly targetUri: string;
  readonly sig: ReturnType<typeof parseSignature>;
}

export interface ParseOptions {
  tag: string;
  /** id_V: the target URI is rebuilt from it, so a proxy's Host header cannot change what is verified. */
  idV: string;
  now: number;
  window: number;
  extra?: readonly string[];
  optional?: readonly string[];
  maxBody?: number;
}

/** §6.2 steps 1-4: everything that can be checked without the client's key. */
export function parseSecureRequest(req: HttpRequestMsg, opts: ParseOptions): ParsedRequest {
  if (req.body.length > (opts.maxBody ?? LIMITS.requestBody)) throw new JanusError('too_large', 'request body too large');
  const sig = parseSignature(SIG_LABEL, header(req, 'signature-input'), header(req, 'signature'));
  const expected: string[] = [...REQUEST_COMPONENTS, ...(opts.extra ?? [])];
  for (const o of opts.optional ?? []) if (req.headers[o] !== undefined) expected.push(o);
  if (!sameList(sig.components, expected)) {
    throw new JanusError('malformed', `the signature must cover (${expected.join(' ')})`);
  }
  const p = sig.params;
  if (p.alg !== 'hmac-sha256') throw new JanusError('malformed', 'alg must be hmac-sha256');
  if (p.tag !== opts.tag) throw new JanusError('malformed', `tag must be "${opts.tag}"`);
  if (typeof p.nonce !== 'string' || p.nonce.length < 16 || p.nonce.length > 64 || !/^[A-Za-z0-9_-]+$/.test(p.nonce)) {
    throw new JanusError('malformed', 'nonce must be b64u of 12..48 bytes');
  }
  const { alias, gen, n } = parseKeyid(p.keyid);
  if (!ALIAS_RE.test(alias)) throw new JanusError('malformed', 'bad alias');
  assertInWindow(n, opts.now, opts.window);
  if (slotOf(p.created) !== n) throw new JanusError('slot_out_of_window', '"created" is not in slot n');
  let url: URL;
  try {
    url = new URL(req.url);
  } catch {
    throw new JanusError('malformed', 'bad request URL');
  }
  return {
    alias,
    gen,
    n,
    nonce: p.nonce,
    created: p.created,
    tag: p.tag,
    keyid: p.keyid,
    method: req.method.toUpperCase(),
    targetUri: opts.idV + url.pathname + url.search,
    sig,
  };
}

/** A one-time value the caller must record atomically (insert if absent) before acting: §6.2 step 9. */
export interface UseOnce {
  readonly key: string;
  readonly expires: number;
}

export interface VerifiedRequest {
  readonly plaintext: Uint8Array;
  readonly contentType: string | undefined;
  readonly slot: SlotKey;
  readonly useOnce: UseOnce;
}

/** §6.2 steps 7-10 with the client's K: digest, MAC (constant time), then decryption. */
export async function verifySecureRequest(
  parsed: ParsedRequest,
  req: HttpRequestMsg,
  k: Uint8Array,
  opts: { window: number; maxPlaintext?: number },
): Promise<VerifiedRequest> {
  const slot = slotKey(k, parsed.n);
  await verifyContentDigestAsync(header(req, 'content-digest') ?? null, req.body);
  verifyHmac(slot.km, parsed.sig, { method: parsed.method, targetUri: parsed.targetUri, headers: req.headers });
  const plaintext = await decodeBody(req, slot.ke, opts.maxPlaintext ?? LIMITS.requestBody);
  return {
    plaintext,
    contentType: req.headers['content-type'],
    slot,
    useOnce: { key: `nonce:${parsed.alias}:${parsed.nonce}`, expires: replayExpiry(parsed.n, opts.window) },
  };
}

export interface SealResponseInput {
  status: number;
  contentType: string;
  body?: Uint8Array;
  covered?: ReadonlyArray<readonly [string, string]>;
  headers?: Headers_;
  now: number;
  salt?: Uint8Array;
}

/** §6.3, vendor side: the response bound to the request's nonce, method, target URI and tag. */
export async function sealResponse(
  parsed: Pick<ParsedRequest, 'nonce' | 'keyid' | 'tag' | 'method' | 'targetUri'>,
  requestHeaders: Headers_,
  slot: SlotKey,
  input: SealResponseInput,
): Promise<HttpResponseMsg> {
  const { body, coded } = await encodeBody(input.body, slot.ke, input.salt);
  const headers: Headers_ = { ...(input.headers ?? {}), 'content-type': input.contentType, 'cache-control': 'no-store' };
  if (coded) headers['content-encoding'] = 'aes128gcm';
  headers['content-digest'] = await contentDigestAsync(body);
  const components: string[] = [...RESPONSE_COMPONENTS];
  for (const [name, value] of input.covered ?? []) {
    headers[name] = value;
    components.push(name);
  }
  const params: SigParams = {
    created: input.now,
    nonce: parsed.nonce,
    alg: 'hmac-sha256',
    keyid: parsed.keyid,
    tag: `${parsed.tag} response`,
  };
  const view: HttpView = {
    status: input.status,
    headers,
    request: { method: parsed.method, targetUri: parsed.targetUri, headers: requestHeaders },
  };
  const sig = signHmac(slot.km, SIG_LABEL, components, params, view);
  headers['signature-input'] = sig.signatureInput;
  headers['signature'] = sig.signature;
  return { status: input.status, headers, body };
}

