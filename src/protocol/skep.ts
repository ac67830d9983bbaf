/**
 * SKEP and non-repudiation SKEP (paper §3, Fig. 1-2; docs/PROTOCOL.md §7).
 * Client: a state machine (state, response) -> (state, next request). Vendor: functions that take
 * the stored record (or null) and return the response and what must be saved; no storage here.
 */
import { b64u, concat, fromUtf8, randomBytes, u32be, utf8 } from '../crypto/bytes.ts';
import { sha256 } from '../crypto/hash.ts';
import { oaepDecrypt, oaepEncrypt, parseVendorPublicKey } from '../crypto/rsa.ts';
import { guard, JanusError } from '../errors.ts';
import { HEADER, KEY_BYTES, LABEL, LIMITS, NONCE_BYTES, TAG, VERSION } from './constants.ts';
import type { Discovery } from './discovery.ts';
import { field, jsonBytes, parseJsonObject, requireHeader, type HttpRequestMsg, type HttpResponseMsg, type JsonObject } from './http.ts';
import { ALIAS_RE, type VendorSession } from './janus.ts';
import { newChain, parseCommitment, paywordCommit, type PaywordCommitment } from './payword.ts';
import { checkReceiptMatches, parseReceipt, signReceipt, verifyReceipt, type Receipt } from './receipt.ts';
import type { ClientRecord, SubscribePolicy, VendorKeys } from './record.ts';
import {
  keyidOf,
  openResponse,
  parseSecureRequest,
  sealRequest,
  sealResponse,
  verifySecureRequest,
  type ParsedRequest,
  type PendingRequest,
  type UseOnce,
  type VerifiedRequest,
} from './secure.ts';
import { assertInWindow, slotKey, slotOf } from './slot.ts';
import { openSkepToken, sealSkepToken, type SkepPending } from './tokens.ts';

/** OAEP plaintext of SKEP message 1 and of rotation (§7.1, §13): 0x01 || K || N_C || u32(gen) || alias. */
export function keyTransportPlaintext(k: Uint8Array, nC: Uint8Array, gen: number, alias: string): Uint8Array {
  return concat(new Uint8Array([VERSION]), k, nC, u32be(gen), utf8(alias));
}

export function parseKeyTransport(pt: Uint8Array): { k: Uint8Array; nC: Uint8Array; gen: number; alias: string } {
  if (pt.length < 1 + KEY_BYTES + NONCE_BYTES + 4 + 1) throw new JanusError('malformed', 'key transport plaintext too short');
  if (pt[0] !== VERSION) throw new JanusError('unsupported_version', `key transport version ${pt[0]}`);
  const k = pt.slice(1, 1 + KEY_BYTES);
  const nC = pt.slice(1 + KEY_BYTES, 1 + KEY_BYTES + NONCE_BYTES);
  const off = 1 + KEY_BYTES + NONCE_BYTES;
  const gen = new DataView(pt.buffer, pt.byteOffset + off, 4).getUint32(0, false);
  let alias: string;
  try {
    alias = fromUtf8(pt.subarray(off + 4));
  } catch {
    throw new JanusError('malformed', 'alias is not UTF-8');
  }
  if (!ALIAS_RE.test(alias)) throw new JanusError('malformed', 'bad alias in key transport');
  return { k, nC, gen, alias };
}

export const skepOaepLabel = (idV: string) => utf8(LABEL.skepOaep + idV);

// ---------------------------------------------------------------------------------------------
// Client

export interface SkepStartInput {
  session: VendorSession;
  discovery: Discovery;
  /** data_C: the subscription data the user approved. `payword` is filled in here when `chain` is set. */
  data: JsonObject;
  /** Ask for non-repudiation SKEP (a receipt). Forced on when the vendor requires it. */
  receipt?: boolean;
  /** Commit to a PayWord chain of this many deliveries (§11). */
  chain?: number;
  now: number;
  /** Fixed randomness for test vectors only. */
  fixed?: { nC?: Uint8Array; nC3?: Uint8Array; bodyIv3?: Uint8Array; sub?: string };
}

export interface SkepResult {
  readonly alias: string;
  readonly gen: number;
  readonly registeredAt: number;
  readonly validFrom: number;
  readonly validUntil: number | null;
  readonly receipt: Receipt | null;
  readonly payword: PaywordCommitment | null;
  readonly fingerprint: string;
}

export type SkepClientState =
  | { readonly phase: 'hello_sent'; readonly input: SkepStartInput; readonly n: number; readonly pending: PendingRequest }
  | {
      readonly phase: 'confirm_sent';
      readonly input: SkepStartInput;
      readonly pending: PendingRequest;
      readonly requestSha256: string;
      readonly wantReceipt: boolean;
      readonly payword: PaywordCommitment | null;
    }
  | { readonly phase: 'done'; readonly result: SkepResult };

/** Message 1 (§7.1): E_PK_V(K), N_C, alias. */
export async function skepStart(input: SkepStartInput): Promise<{ state: SkepClientState; request: HttpRequestMsg }> {
  const { session, discovery, now } = input;
  if (discovery.origin !== session.idV) throw new JanusError('wrong_vendor');
  const nC = input.fixed?.nC ?? randomBytes(NONCE_BYTES);
  const n = slotOf(now);
  const ek = await oaepEncrypt(discovery.key.spki, keyTransportPlaintext(session.k, nC, session.gen, session.alias), skepOaepLabel(session.idV));
  const url = session.idV + discovery.skepPath;
  const request: HttpRequestMsg = {
    method: 'POST',
    url,
    headers: { 'content-type': 'application/json' },
    body: jsonBytes({ v: VERSION, alias: session.alias, slot: n, ek: b64u.encode(ek) }),
  };
  const pending: PendingRequest = {
    tag: TAG.skep2,
    keyid: keyidOf(session.alias, session.gen, n),
    nonce: b64u.encode(nC),
    method: 'POST',
    targetUri: url,
    slot: slotKey(session.k, n),
  };
  return { state: { phase: 'hello_sent', input, n, pending }, request };
}

/** Reads messages 2 and 4; returns message 3 after message 2, and the result after message 4. */
export async function skepOnResponse(
  state: SkepClientState,
  res: HttpResponseMsg,
  now: number,
): Promise<{ state: SkepClientState; request?: HttpRequestMsg }> {
  if (state.phase === 'hello_sent') {
    // Message 2: [N_C, N_V]_K. The MAC under K_n proves the vendor decrypted K.
    const opened = await openResponse(state.pending, res);
    if (opened.status !== 200) throw new JanusError('malformed', `SKEP message 2 has status ${opened.status}`);
    const m2 = parseJsonObject(opened.body, 4096, 'SKEP message 2');
    const nV = field.str(m2, 'n_v', { max: LIMITS.skepToken, re: /^[A-Za-z0-9_.-]+$/ });
    const policy = field.str(m2, 'receipt');
    const { input } = state;
    const wantReceipt = policy === 'required' || (policy === 'offered' && input.receipt === true);
    if (input.receipt === true && policy === 'none') {
      // The user asked for a receipt the vendor does not give: stop before anything is stored.
      throw new JanusError('bad_receipt', 'the vendor does not offer receipts');
    }
    const payword = input.chain
      ? paywordCommit(input.session.k, input.fixed?.sub ?? b64u.encode(randomBytes(16)), input.chain)
      : null;
    const data: JsonObject = payword ? { ...input.data, payword: { ...payword } } : input.data;
    const plaintext = jsonBytes({ data, receipt: wantReceipt });
    // Message 3: [N_V, id_C, data_C]_K, in the current slot (§7.3: `created` must fall in slot n,
    // so message 1's slot would fail when a slot boundary passed between the two messages).
    const { request, pending } = await sealRequest({
      key: input.session,
      method: 'POST',
      url: `${input.session.idV}${input.discovery.skepPath}/confirm`,
      tag: TAG.skep3,
      now,
      body: plaintext,
      contentType: 'application/json',
      covered: [[HEADER.skepToken, nV]],
      ...(input.fixed?.nC3 ? { nonce: input.fixed.nC3 } : {}),
      ...(input.fixed?.bodyIv3 ? { bodyIv: input.fixed.bodyIv3 } : {}),
    });
    return {
      state: { phase: 'confirm_sent', input, pending, requestSha256: b64u.encode(sha256(plaintext)), wantReceipt, payword },
      request,
    };
  }
  if (state.phase === 'confirm_sent') {
    // Message 4 (and Fig. 2's signature when asked for).
    const opened = await openResponse(state.pending, res);
    if (opened.status !== 201) throw new JanusError('malformed', `SKEP message 4 has status ${opened.status}`);
    const m4 = parseJsonObject(opened.body, 128 * 1024, 'SKEP message 4');
    const { input } = state;
    const alias = field.str(m4, 'alias');
    const gen = field.int(m4, 'gen');
    if (alias !== input.session.alias || gen !== input.session.gen) throw new JanusError('malformed', 'SKEP message 4 names another alias');
    let receipt: Receipt | null = null;
    if (m4['receipt'] !== null && m4['receipt'] !== undefined) {
      receipt = parseReceipt(m4['receipt']);
      const p = await verifyReceipt(receipt, input.discovery.key.spki);
      checkReceiptMatches(p, {
        idV: input.session.idV,
        alias,
        gen,
        nonce: state.pending.nonce,
        requestSha256: state.requestSha256,
        payword: state.payword,
      });
    } else if (state.wantReceipt) {
      throw new JanusError('bad_receipt', 'the vendor sent no receipt');
    }
    return {
      state: {
        phase: 'done',
        result: {
          alias,
          gen,
          registeredAt: field.int(m4, 'registered_at'),
          validFrom: field.int(m4, 'valid_from'),
          validUntil: field.intOrNull(m4, 'valid_until'),
          receipt,
          payword: state.payword,
          fingerprint: input.discovery.key.fingerprint,
        },
      },
    };
  }
  throw new JanusError('bad_input', 'SKEP is already complete');
}

// ---------------------------------------------------------------------------------------------
// Vendor

export interface SkepHello {
  readonly alias: string;
  readonly n: number;
  readonly ek: Uint8Array;
}

/** §7.1, the cheap part: shape and size, so rate limits and the alias check run before RSA. */
export function parseSkepHello(req: HttpRequestMsg): SkepHello {
  if (req.method.toUpperCase() !== 'POST') throw new JanusError('malformed', 'SKEP message 1 must be a POST');
  const o = parseJsonObject(req.body, LIMITS.skepHello, 'SKEP message 1');
  const v = field.int(o, 'v');
  if (v !== VERSION) throw new JanusError('unsupported_version', `SKEP version ${v}`);
  const alias = field.str(o, 'alias', { re: ALIAS_RE });
  const n = field.int(o, 'slot');
  const ekText = field.str(o, 'ek', { max: 2048, re: /^[A-Za-z0-9_-]+$/ });
  const ek = guard('malformed', () => b64u.decode(ekText), '"ek" is not base64url');
  return { alias, n, ek };
}

const modulusBytesOf = new WeakMap<Uint8Array, number>();

/** The length of an RSA-OAEP ciphertext under the vendor's key (RFC 8017 §7.1.2 step 1b). */
function ciphertextBytes(spki: Uint8Array): number {
  let n = modulusBytesOf.get(spki);
  if (n === undefined) {
    n = Math.ceil(parseVendorPublicKey({ spki: b64u.encode(spki) }).modulusBits / 8);
    modulusBytesOf.set(spki, n);
  }
  return n;
}

/**
 * §7.1, every check that comes before the RSA decryption: slot window, alias not yet registered,
 * ciphertext length. A vendor runs these before it charges its per-alias rate limit, so requests
 * that fail them never count against the alias they name.
 */
export function checkSkepHello(vk: VendorKeys, hello: SkepHello, existing: ClientRecord | null, now: number): void {
  assertInWindow(hello.n, now, vk.window);
  if (existing) throw new JanusError('already_registered');
  if (hello.ek.length !== ciphertextBytes(vk.spki)) throw new JanusError('malformed', 'RSA-OAEP ciphertext of the wrong length');
}

/** §7.1-7.2: decrypts K (the one costly step) and answers with message 2. Stores nothing. */
export async function skepVendorHello(
  vk: VendorKeys,
  req: HttpRequestMsg,
  hello: SkepHello,
  existing: ClientRecord | null,
  now: number,
  fixed?: { iv?: Uint8Array; r?: Uint8Array; bodyIv?: Uint8Array },
): Promise<HttpResponseMsg> {
  checkSkepHello(vk, hello, existing, now);
  const pt = await oaepDecrypt(vk.pkcs8, hello.ek, skepOaepLabel(vk.idV));
  const kt = parseKeyTransport(pt);
  if (kt.alias !== hello.alias) throw new JanusError('malformed', 'the encrypted alias differs from the alias sent');
  const { token, expires } = sealSkepToken(vk.tk, vk.idV, { alias: kt.alias, gen: kt.gen, n: hello.n, k: kt.k }, now, fixed);
  const slot = slotKey(kt.k, hello.n);
  const url = new URL(req.url);
  return sealResponse(
    {
      nonce: b64u.encode(kt.nC),
      keyid: keyidOf(kt.alias, kt.gen, hello.n),
      tag: TAG.skep2,
      method: 'POST',
      targetUri: vk.idV + url.pathname + url.search,
    },
    slot,
    {
      status: 200,
      contentType: 'application/json',
      body: jsonBytes({ n_v: token, receipt: vk.receipt, expires }),
      ...(fixed?.bodyIv ? { bodyIv: fixed.bodyIv } : {}),
    },
  );
}

export interface SkepConfirm {
  readonly parsed: ParsedRequest;
  readonly pending: SkepPending;
  readonly token: string;
}

/** §7.3, keyless part: the token (unforgeable, expiring) and the signature's shape. */
export function parseSkepConfirm(vk: VendorKeys, req: HttpRequestMsg, now: number): SkepConfirm {
  const token = requireHeader(req, HEADER.skepToken);
  const pending = openSkepToken(vk.tk, vk.idV, token, now);
  const parsed = parseSecureRequest(req, {
    tag: TAG.skep3,
    idV: vk.idV,
    now,
    window: vk.window,
    extra: [HEADER.skepToken],
    maxBody: LIMITS.skepConfirm + 1024,
  });
  if (parsed.alias !== pending.alias || parsed.gen !== pending.gen) throw new JanusError('malformed', 'keyid does not match the SKEP token');
  return { parsed, pending, token };
}

/** Message 3 verified and judged (§7.3-7.4), before the vendor signs or stores anything. */
export interface SkepVerified {
  readonly confirm: SkepConfirm;
  readonly slot: VerifiedRequest['slot'];
  /** The plaintext of message 3 (its SHA-256 goes into the receipt). */
  readonly plaintext: Uint8Array;
  readonly data: JsonObject;
  readonly askReceipt: boolean;
  readonly payword: PaywordCommitment | null;
  readonly terms: ReturnType<SubscribePolicy>;
  /** Record atomically with the new record: the nonce and the token (single use, §7.3). */
  readonly useOnce: UseOnce[];
}

/**
 * §7.3-7.4, the cheap part of message 3: the MAC, the decryption of the body, the subscription
 * data and the vendor's policy. No RSA: a vendor checks for a concurrent copy of the same
 * registration after this and before `skepVendorFinish`, which signs.
 */
export async function skepVendorVerify(
  vk: VendorKeys,
  req: HttpRequestMsg,
  c: SkepConfirm,
  existing: ClientRecord | null,
  policy: SubscribePolicy,
  now: number,
): Promise<SkepVerified> {
  if (existing) throw new JanusError('already_registered');
  const v = await verifySecureRequest(c.parsed, req, c.pending.k, { window: vk.window, maxPlaintext: LIMITS.skepConfirm });
  const m3 = parseJsonObject(v.plaintext, LIMITS.skepConfirm, 'SKEP message 3');
  const data = field.obj(m3, 'data');
  if (jsonBytes(data).length > LIMITS.data) throw new JanusError('too_large', `subscription data exceeds ${LIMITS.data} bytes`);
  const askReceipt = field.bool(m3, 'receipt', false);
  const pw = data['payword'];
  let payword: PaywordCommitment | null = null;
  if (pw !== undefined) {
    if (typeof pw !== 'object' || pw === null || Array.isArray(pw)) throw new JanusError('malformed', '"payword" must be an object');
    payword = parseCommitment(pw);
  }
  const terms = policy(data, now);
  return {
    confirm: c,
    slot: v.slot,
    plaintext: v.plaintext,
    data,
    askReceipt,
    payword,
    terms,
    useOnce: [v.useOnce, { key: `skep:${b64u.encode(c.pending.r)}`, expires: c.pending.expires }],
  };
}

/** §7.3-7.5, after `skepVendorVerify`: the record, the receipt when asked for (RSA-PSS), and message 4. */
export async function skepVendorFinish(
  vk: VendorKeys,
  s: SkepVerified,
  now: number,
  fixed?: { bodyIv?: Uint8Array },
): Promise<{ record: ClientRecord; response: HttpResponseMsg }> {
  const c = s.confirm;
  const { terms, payword } = s;
  let receipt: Receipt | null = null;
  if (vk.receipt === 'required' || (vk.receipt === 'offered' && s.askReceipt)) {
    receipt = await signReceipt(vk.pkcs8, vk.spki, {
      v: VERSION,
      vendor: vk.idV,
      alias: c.pending.alias,
      gen: c.pending.gen,
      issued_at: now,
      nonce: c.parsed.nonce,
      request_sha256: b64u.encode(sha256(s.plaintext)),
      valid_from: terms.validFrom,
      valid_until: terms.validUntil,
      payword,
      terms: terms.terms,
    });
  }
  const record: ClientRecord = {
    alias: c.pending.alias,
    gen: c.pending.gen,
    k: c.pending.k,
    // The receipt commits to everything sent (request_sha256); the record keeps what the policy says.
    data: terms.keep ? { ...terms.keep, ...(payword ? { payword: { ...payword } } : {}) } : s.data,
    registeredAt: now,
    validFrom: terms.validFrom,
    validUntil: terms.validUntil,
    chain: payword ? newChain(payword) : null,
    closedChains: [],
    receipt,
    updatedAt: now,
  };
  const response = await sealResponse(c.parsed, s.slot, {
    status: 201,
    contentType: 'application/json',
    body: jsonBytes({
      alias: record.alias,
      gen: record.gen,
      registered_at: now,
      valid_from: terms.validFrom,
      valid_until: terms.validUntil,
      receipt,
    }),
    ...(fixed?.bodyIv ? { bodyIv: fixed.bodyIv } : {}),
  });
  return { record, response };
}

/**
 * §7.3-7.5 in one call: `skepVendorVerify` then `skepVendorFinish`. The caller stores `record` only
 * if `alias` is still free, and records `useOnce` with it.
 */
export async function skepVendorConfirm(
  vk: VendorKeys,
  req: HttpRequestMsg,
  c: SkepConfirm,
  existing: ClientRecord | null,
  policy: SubscribePolicy,
  now: number,
  fixed?: { bodyIv?: Uint8Array },
): Promise<{ record: ClientRecord; useOnce: UseOnce[]; response: HttpResponseMsg }> {
  const s = await skepVendorVerify(vk, req, c, existing, policy, now);
  const out = await skepVendorFinish(vk, s, now, fixed);
  return { ...out, useOnce: s.useOnce };
}
