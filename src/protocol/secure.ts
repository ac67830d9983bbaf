/**
 * The secure step `[x]_K` over HTTP (paper §3; docs/PROTOCOL.md §6). A request is an RFC 9421
 * hmac-sha256 signature under K_n^m over the method, target URI and RFC 9530 Content-Digest of the
 * body, which is sealed in the `janus-gcm` coding under K_n^e (encrypt-then-MAC), with N_C as the
 * signature nonce: the vendor reads and checks the headers before it decrypts anything. A response is
 * one `janus-gcm` message whose additional data binds the status, the content type, the step's
 * covered headers and the request (tag, keyid, N_C, method, target URI): its GCM tag is the MAC,
 * so the vendor spends one AEAD call on it. Used by every protocol: SKEP 2-4, SDDP, EDDP, rotation.
 */
import { b64u, randomBytes, utf8 } from '../crypto/bytes.ts';
import { contentDigestAsync, verifyContentDigestAsync } from '../crypto/digest.ts';
import { parseSignature, signHmac, verifyHmac, type HttpView, type SigParams } from '../crypto/httpsig.ts';
import * as sealed from '../crypto/sealed.ts';
import { JanusError } from '../errors.ts';
import { HEADER, LIMITS, NONCE_BYTES, SIG_LABEL } from './constants.ts';
import { header, readErrorResponse, type Headers_, type HttpRequestMsg, type HttpResponseMsg } from './http.ts';
import { ALIAS_RE } from './janus.ts';
import { assertInWindow, replayExpiry, slotKey, slotOf, type SlotKey } from './slot.ts';

export const REQUEST_COMPONENTS = ['@method', '@target-uri', 'content-digest'] as const;

/** §6.1: n_C, the canonical b64u of 16 bytes (the last character carries 2 bits, the other 4 zero). */
const NONCE_RE = /^[A-Za-z0-9_-]{21}[AQgw]$/;

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
  bodyIv?: Uint8Array;
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

/** The additional data, after checking no value broke its line: HTTP field values cannot hold CR or LF either. */
function aadOf(text: string, lines: number): Uint8Array {
  let breaks = 0;
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) breaks++;
  if (breaks !== lines - 1 || text.includes('\r')) throw new JanusError('malformed', 'a header value in the additional data contains a line break');
  return utf8(text);
}

/**
 * §6.4: the additional data of a request body. The body's Content-Type is in it: the signature
 * covers the ciphertext's digest, not that header, and a handler acts on the type it is given.
 */
export function requestAad(tag: string, keyid: string, nonce: string, contentType: string): Uint8Array {
  return aadOf(`janus/1 request\ntag: ${tag}\nkeyid: ${keyid}\nnonce: ${nonce}\ncontent-type: ${contentType}`, 5);
}

/** What binds a response to its request (§6.3). */
export interface ResponseBinding {
  readonly tag: string;
  readonly keyid: string;
  readonly nonce: string;
  readonly method: string;
  readonly targetUri: string;
}

/** §6.3: the additional data of a response: the request it answers, then status, type and covered headers. */
export function responseAad(req: ResponseBinding, status: number, contentType: string, covered: ReadonlyArray<readonly [string, string]>): Uint8Array {
  let a = `janus/1 response\ntag: ${req.tag}\nkeyid: ${req.keyid}\nnonce: ${req.nonce}\nmethod: ${req.method}\ntarget-uri: ${req.targetUri}\nstatus: ${status}\ncontent-type: ${contentType}`;
  for (const [name, value] of covered) a += `\n${name}: ${value}`;
  return aadOf(a, 8 + covered.length);
}

/**
 * §6.3: answers that HTTP sends without a body (204, 205, 304, and any answer to HEAD) carry their
 * sealed empty plaintext, iv || tag, in the Janus-Sealed header instead.
 */
export function isBodiless(method: string, status: number): boolean {
  return method === 'HEAD' || status === 204 || status === 205 || status === 304;
}

/** A response in the `janus-gcm` coding; anything else from a vendor is an unauthenticated answer (§14.2). */
export function isSealed(res: Pick<HttpResponseMsg, 'headers'>): boolean {
  const coding = res.headers['content-encoding'];
  return coding !== undefined && coding.trim().toLowerCase() === sealed.CODING;
}

function decodeSealHeader(v: string): Uint8Array {
  let b: Uint8Array;
  try {
    b = b64u.decode(v.trim());
  } catch {
    throw new JanusError('malformed', 'Janus-Sealed is not base64url');
  }
  if (b.length !== sealed.OVERHEAD) throw new JanusError('malformed', `Janus-Sealed holds ${sealed.OVERHEAD} bytes (iv and tag)`);
  return b;
}

/** §6.2 step 10: the body opened under A_req, with the media type it was sealed with (none for an empty body). */
async function decodeRequestBody(
  req: HttpRequestMsg,
  ke: Uint8Array,
  aad: (contentType: string) => Uint8Array,
  maxPlaintext: number,
): Promise<{ plaintext: Uint8Array; contentType: string | undefined }> {
  const coding = header(req, 'content-encoding');
  if (coding === undefined) {
    if (req.body.length !== 0) throw new JanusError('malformed', `a non-empty body must use Content-Encoding: ${sealed.CODING}`);
    return { plaintext: new Uint8Array(0), contentType: undefined };
  }
  if (coding.trim().toLowerCase() !== sealed.CODING) throw new JanusError('malformed', `unsupported Content-Encoding ${coding}`);
  const contentType = header(req, 'content-type');
  if (contentType === undefined) throw new JanusError('malformed', 'a sealed request body needs Content-Type');
  const plaintext = await sealed.open(ke, req.body, aad(contentType), maxPlaintext);
  if (!plaintext) throw new JanusError('decrypt_failed', 'the request body does not decrypt');
  return { plaintext, contentType };
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
  const headers: Headers_ = { ...(input.headers ?? {}) };
  let body: Uint8Array = new Uint8Array(0);
  if (input.body && input.body.length > 0) {
    // Trimmed as HTTP trims field values, so the vendor builds A_req from the same text.
    const contentType = (input.contentType ?? 'application/octet-stream').trim() || 'application/octet-stream';
    body = await sealed.seal(slot.ke, input.body, requestAad(tag, keyid, nonce, contentType), input.bodyIv);
    headers['content-encoding'] = sealed.CODING;
    headers['content-type'] = contentType;
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
    pending: { tag, keyid, nonce, method, targetUri, slot },
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
 * §6.3, client side: checks the response is bound to `pending` and decrypts it, in one AEAD call.
 * `extra` are the step's covered headers (required), `optional` those covered when present. A
 * response not in the `janus-gcm` coding is an unauthenticated error (§14.2) or `missing_signature`.
 */
export async function openResponse(
  pending: PendingRequest,
  res: HttpResponseMsg,
  opts: { extra?: readonly string[]; optional?: readonly string[]; maxPlaintext?: number } = {},
): Promise<OpenedResponse> {
  if (!isSealed(res)) {
    const err = readErrorResponse(res);
    if (err) throw err;
    throw new JanusError('missing_signature', `the vendor's response (status ${res.status}) is not sealed`);
  }
  const contentType = res.headers['content-type'];
  if (contentType === undefined) throw new JanusError('malformed', 'a sealed response needs Content-Type');
  const covered: [string, string][] = [];
  for (const name of opts.extra ?? []) {
    const v = res.headers[name];
    if (v === undefined) throw new JanusError('malformed', `the response lacks ${name}`);
    covered.push([name, v]);
  }
  for (const name of opts.optional ?? []) {
    const v = res.headers[name];
    if (v !== undefined) covered.push([name, v]);
  }
  const aad = responseAad(pending, res.status, contentType, covered);
  let sealedBody = res.body;
  if (isBodiless(pending.method, res.status)) {
    const h = res.headers[HEADER.sealed];
    if (h === undefined || res.body.length !== 0) throw new JanusError('malformed', `a ${res.status} answer to ${pending.method} carries its seal in Janus-Sealed, with no body`);
    sealedBody = decodeSealHeader(h);
  } else if (res.headers[HEADER.sealed] !== undefined) throw new JanusError('malformed', 'Janus-Sealed on an answer that has a body');
  const body = await sealed.open(pending.slot.ke, sealedBody, aad, opts.maxPlaintext ?? LIMITS.responsePlaintext);
  // Paper Fig. 3 step 2, "C checks that N_C is unchanged", and the MAC: N_C is in the additional data.
  if (!body) throw new JanusError('bad_signature', 'the response does not authenticate under this request and key');
  return { status: res.status, contentType, body, headers: res.headers };
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
  /**
   * The request's target URI when the caller already built it as id_V + path + query from a parsed
   * URL (the vendor SDK does), so it is not parsed again; otherwise it is rebuilt from req.url.
   */
  targetUri?: string;
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
  // §6.1: the nonce parameter is n_C = b64u(N_C), N_C 16 random bytes: 22 characters, one encoding.
  if (typeof p.nonce !== 'string' || !NONCE_RE.test(p.nonce)) throw new JanusError('malformed', 'nonce must be b64u of 16 bytes (22 characters)');
  const { alias, gen, n } = parseKeyid(p.keyid);
  if (!ALIAS_RE.test(alias)) throw new JanusError('malformed', 'bad alias');
  assertInWindow(n, opts.now, opts.window);
  if (slotOf(p.created) !== n) throw new JanusError('slot_out_of_window', '"created" is not in slot n');
  let targetUri = opts.targetUri;
  if (targetUri === undefined) {
    let url: URL;
    try {
      url = new URL(req.url);
    } catch {
      throw new JanusError('malformed', 'bad request URL');
    }
    targetUri = opts.idV + url.pathname + url.search;
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
    targetUri,
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
  const { plaintext, contentType } = await decodeRequestBody(req, slot.ke, (ct) => requestAad(parsed.tag, parsed.keyid, parsed.nonce, ct), opts.maxPlaintext ?? LIMITS.requestBody);
  return {
    plaintext,
    // Only the type the body was sealed with: a Content-Type beside an empty body is no one's word.
    contentType,
    slot,
    useOnce: { key: `nonce:${parsed.alias}:${parsed.nonce}`, expires: replayExpiry(parsed.n, opts.window) },
  };
}

export interface SealResponseInput {
  status: number;
  contentType: string;
  body?: Uint8Array;
  /** Headers the additional data covers, in the step's order (§6.3 table). */
  covered?: ReadonlyArray<readonly [string, string]>;
  /** Headers sent but not covered (an application's Cache-Control, say). */
  headers?: Headers_;
  /** Fixed randomness, for test vectors only. */
  bodyIv?: Uint8Array;
}

/** §6.3, vendor side: the response sealed under K_n^e, bound to the request's nonce, keyid, tag, method and target URI. */
export async function sealResponse(req: ResponseBinding, slot: SlotKey, input: SealResponseInput): Promise<HttpResponseMsg> {
  const covered = input.covered ?? [];
  const aad = responseAad(req, input.status, input.contentType, covered);
  const bodiless = isBodiless(req.method, input.status);
  // A bodiless answer has nothing to encrypt: its seal is the tag over the empty plaintext.
  const body = await sealed.seal(slot.ke, bodiless ? new Uint8Array(0) : (input.body ?? new Uint8Array(0)), aad, input.bodyIv);
  const headers: Headers_ = { ...(input.headers ?? {}), 'content-type': input.contentType, 'content-encoding': sealed.CODING, 'cache-control': 'no-store' };
  for (const [name, value] of covered) headers[name] = value;
  if (bodiless) {
    headers[HEADER.sealed] = b64u.encode(body);
    return { status: input.status, headers, body: new Uint8Array(0) };
  }
  return { status: input.status, headers, body };
}
