/**
 * Key rotation and secret change (docs/PROTOCOL.md §13): one secure request under the old key
 * carrying the new key under the vendor's public key; the response under the new key proves the
 * vendor holds it.
 */
import { b64u, equalBytes, randomBytes, utf8 } from '../crypto/bytes.ts';
import { sha256 } from '../crypto/hash.ts';
import { oaepDecrypt, oaepEncrypt } from '../crypto/rsa.ts';
import { guard, JanusError } from '../errors.ts';
import { HEADER, LABEL, LIMITS, NONCE_BYTES, TAG, VERSION } from './constants.ts';
import type { Discovery } from './discovery.ts';
import { field, header, jsonBytes, parseJsonObject, type HttpRequestMsg, type HttpResponseMsg, type JsonObject } from './http.ts';
import { ALIAS_RE, type VendorSession } from './janus.ts';
import {
  applyAck,
  formatAck,
  formatReceiptHeader,
  newChain,
  parseAck,
  parseCommitment,
  parseReceiptHeader,
  paywordCommit,
  usedSubs,
  type Ack,
  type ChainState,
  type PaywordCommitment,
} from './payword.ts';
import { checkReceiptMatches, parseReceipt, signReceipt, verifyReceipt, type Receipt } from './receipt.ts';
import type { ClientRecord, VendorKeys } from './record.ts';
import { assertRecord } from './delivery.ts';
import { isSealed, keyidOf, openResponse, parseSecureRequest, sealRequest, sealResponse, verifySecureRequest, type ParsedRequest, type PendingRequest, type UseOnce } from './secure.ts';
import { keyTransportPlaintext, parseKeyTransport } from './skep.ts';
import { slotKey, type SlotKey } from './slot.ts';

const rotateLabel = (idV: string) => utf8(LABEL.rotateOaep + idV);

export interface RotateInput {
  old: VendorSession;
  next: VendorSession;
  discovery: Discovery;
  now: number;
  /**
   * Deliveries left on the record's open receipt chain (N - delivered), if any: the rest of the
   * subscription is committed anew under the new key, with a fresh `sub` (§13).
   */
  remaining?: number;
  /**
   * The acknowledgement of the old chain's delivery still waiting for one, if any: a rotation
   * settles the old chain first (§13), else the vendor answers a sealed `ack_required`.
   */
  ack?: Ack;
  fixed?: { nonce?: Uint8Array; bodyIv?: Uint8Array; sub?: string };
}

export interface RotateState {
  readonly input: RotateInput;
  readonly pending: PendingRequest;
  readonly requestSha256: string;
  readonly payword: PaywordCommitment | null;
}

export async function rotateStart(input: RotateInput): Promise<{ state: RotateState; request: HttpRequestMsg }> {
  const { old, next, discovery, now } = input;
  if (old.idV !== next.idV || discovery.origin !== old.idV) throw new JanusError('wrong_vendor');
  if (old.alias === next.alias && next.gen <= old.gen) throw new JanusError('bad_input', 'a rotation must raise the generation or change the alias');
  const nC = input.fixed?.nonce ?? randomBytes(NONCE_BYTES);
  const ek = await oaepEncrypt(discovery.key.spki, keyTransportPlaintext(next.k, nC, next.gen, next.alias), rotateLabel(old.idV));
  const payword = input.remaining ? paywordCommit(next.k, input.fixed?.sub ?? b64u.encode(randomBytes(16)), input.remaining) : null;
  const plaintext = jsonBytes({ v: VERSION, alias: next.alias, gen: next.gen, ek: b64u.encode(ek), payword });
  const { request, pending } = await sealRequest({
    key: old,
    method: 'POST',
    url: old.idV + discovery.rotatePath,
    tag: TAG.rotate,
    now,
    body: plaintext,
    contentType: 'application/json',
    ...(input.ack ? { covered: [[HEADER.ack, formatAck(input.ack)]] as const } : {}),
    nonce: nC,
    ...(input.fixed?.bodyIv ? { bodyIv: input.fixed.bodyIv } : {}),
  });
  return { state: { input, pending, requestSha256: b64u.encode(sha256(plaintext)), payword }, request };
}

/**
 * Reads the rotation's answer. Success is sealed under the new key (§13). The one sealed refusal,
 * `ack_required`, is sealed under the old key and thrown as a JanusError whose details name the
 * delivery to acknowledge (`sub`, `pending`, `n`; `sealed: true`): acknowledge it (in the retry's
 * `ack`, or at the ack endpoint) and rotate again. Any unsealed error is thrown as §14.2 says.
 */
export async function rotateOnResponse(
  state: RotateState,
  res: HttpResponseMsg,
): Promise<{ alias: string; gen: number; receipt: Receipt | null; payword: PaywordCommitment | null }> {
  const { next, discovery } = state.input;
  if (isSealed(res) && res.headers[HEADER.error] !== undefined) {
    // The vendor verified the request under the old key, did no RSA work and kept the old key: it answers under that key.
    const opened = await openResponse(state.pending, res, { optional: [HEADER.receipt, HEADER.error] });
    const code = opened.headers[HEADER.error];
    const rh = opened.headers[HEADER.receipt];
    if (code !== 'ack_required' || opened.status !== 402 || rh === undefined) throw new JanusError('malformed', 'a sealed rotation refusal must be 402 ack_required with Janus-Receipt');
    const mark = parseReceiptHeader(rh);
    throw new JanusError('ack_required', `delivery ${mark.i} of the receipt chain must be acknowledged before the rotation`, { sub: mark.sub, pending: mark.i, n: mark.n, sealed: true });
  }
  // The response is under the new key: proof that the vendor decrypted K'.
  const n = state.pending.slot.n;
  const pending: PendingRequest = { ...state.pending, keyid: keyidOf(next.alias, next.gen, n), slot: slotKey(next.k, n) };
  const opened = await openResponse(pending, res);
  if (opened.status !== 200) throw new JanusError('malformed', `rotation response status ${opened.status}`);
  const o = parseJsonObject(opened.body, 128 * 1024, 'rotation response');
  const alias = field.str(o, 'alias');
  const gen = field.int(o, 'gen');
  if (alias !== next.alias || gen !== next.gen) throw new JanusError('malformed', 'rotation response names another key');
  let receipt: Receipt | null = null;
  if (o['receipt'] !== null && o['receipt'] !== undefined) {
    receipt = parseReceipt(o['receipt']);
    const p = await verifyReceipt(receipt, discovery.key.spki);
    checkReceiptMatches(p, { idV: next.idV, alias, gen, nonce: state.pending.nonce, requestSha256: state.requestSha256, payword: state.payword });
  }
  return { alias, gen, receipt, payword: state.payword };
}

// ---------------------------------------------------------------------------------------------
// Vendor

export function parseRotate(vk: VendorKeys, req: HttpRequestMsg, now: number): ParsedRequest {
  return parseSecureRequest(req, { tag: TAG.rotate, idV: vk.idV, now, window: vk.window, maxBody: 64 * 1024, optional: [HEADER.ack] });
}

/** A rotation request verified under the old key, before its one RSA decryption. */
export interface RotateVerified {
  readonly parsed: ParsedRequest;
  readonly old: ClientRecord;
  /** The old slot key: what a sealed `ack_required` is sealed under. */
  readonly slot: SlotKey;
  readonly plaintext: Uint8Array;
  readonly alias: string;
  readonly gen: number;
  readonly ek: Uint8Array;
  /**
   * `rotate`, or `ack_required` when the old chain has a delivery not acknowledged even with the
   * request's `Janus-Ack` (§13): then the vendor stores `useOnce` with `record` and answers
   * `sealRotateRefusal`, and makes no RSA operation.
   */
  readonly outcome: 'rotate' | 'ack_required';
  /** The old record with the request's acknowledgement applied (the same object when it carried none). */
  readonly record: ClientRecord;
  /** The new chain's commitment when the record has an open chain (§13). */
  readonly payword: PaywordCommitment | null;
  /** The request's nonce: a vendor records it before `vendorRotateFinish`, so a resent rotation costs no RSA. */
  readonly useOnce: UseOnce[];
}

/** §13: a chain is open while deliveries are left on it. */
export function isOpenChain(c: ChainState | null): c is ChainState {
  return c !== null && c.delivered < c.n;
}

/**
 * §13, everything before the RSA decryption, in the spec's order: the old key's MAC and the body;
 * the body's members (a raised generation or a new alias, the commitment's shape); the
 * acknowledgement (§11.2); the old chain settled (`ack_required`); the new chain's length and a
 * `sub` this record never used (`chain_reused`).
 */
export async function vendorRotateVerify(vk: VendorKeys, parsed: ParsedRequest, req: HttpRequestMsg, stored: ClientRecord | null): Promise<RotateVerified> {
  const old = assertRecord(stored, parsed.gen);
  const v = await verifySecureRequest(parsed, req, old.k, { window: vk.window, maxPlaintext: 64 * 1024 });
  const o = parseJsonObject(v.plaintext, 64 * 1024, 'rotation request');
  const ver = field.int(o, 'v', 0, 1_000_000);
  if (ver !== VERSION) throw new JanusError('unsupported_version');
  const alias = field.str(o, 'alias', { re: ALIAS_RE });
  const gen = field.int(o, 'gen', 0, 0xffffffff);
  const ek = guard('malformed', () => b64u.decode(field.str(o, 'ek', { max: 2048 })));
  if (alias === old.alias && gen <= old.gen) throw new JanusError('malformed', 'a rotation must raise the generation or change the alias');
  const pw = field.objOrNull(o, 'payword');
  const commitment = pw ? parseCommitment(pw) : null;

  let record = old;
  const ackHeader = header(req, HEADER.ack);
  if (ackHeader !== undefined) {
    const ack = parseAck(ackHeader);
    if (!old.chain) throw new JanusError('bad_ack', 'this client has no receipt chain');
    const chain = applyAck(old.chain, ack);
    if (chain !== old.chain) record = { ...old, chain };
  }
  const base = { parsed, old, slot: v.slot, plaintext: v.plaintext, alias, gen, ek, record, useOnce: [v.useOnce] };
  const chain = record.chain;
  // §13: the old chain is settled first, so that no delivery made under it goes unacknowledged.
  if (chain && chain.acked < chain.delivered) return { ...base, outcome: 'ack_required', payword: null };

  let payword: PaywordCommitment | null = null;
  if (isOpenChain(chain)) {
    // The old seed came from the old K: the rest of the subscription moves to a new chain.
    const left = chain.n - chain.delivered;
    if (!commitment) throw new JanusError('malformed', 'this record has an open receipt chain: "payword" is required', { remaining: left });
    if (commitment.n !== left) throw new JanusError('malformed', `the new chain must have ${left} deliveries`, { remaining: left });
    if (usedSubs(record).has(commitment.sub)) throw new JanusError('chain_reused', 'the new chain needs a "sub" this client never used');
    payword = commitment;
  } else if (commitment) {
    throw new JanusError('malformed', 'this record has no open receipt chain: "payword" must be null', { remaining: 0 });
  }
  return { ...base, outcome: 'rotate', payword };
}

/**
 * §13: the sealed 402 of a rotation whose old chain has an unacknowledged delivery, under the OLD
 * key (the vendor holds no other yet): covered `Janus-Receipt` (the delivery waiting) and `Janus-Error`.
 */
export async function sealRotateRefusal(r: RotateVerified, fixed?: { bodyIv?: Uint8Array }): Promise<HttpResponseMsg> {
  const chain = r.record.chain;
  if (r.outcome !== 'ack_required' || !chain) throw new JanusError('internal', 'nothing to refuse');
  const err = new JanusError('ack_required', undefined, { sub: chain.sub, pending: chain.delivered });
  return sealResponse(r.parsed, r.slot, {
    status: err.status,
    contentType: 'application/json',
    covered: [
      [HEADER.receipt, formatReceiptHeader(chain.sub, chain.delivered, chain.n)],
      [HEADER.error, err.code],
    ],
    body: jsonBytes(err.toJSON()),
    ...(fixed?.bodyIv ? { bodyIv: fixed.bodyIv } : {}),
  });
}

/**
 * §13, after `vendorRotateVerify` (outcome `rotate`): decrypts K' (RSA-OAEP), checks it names the
 * same alias, generation and nonce, and returns the moved record and the response under the new
 * key. The caller replaces the record under `oldAlias` by `record` atomically; if `record.alias`
 * differs and is taken, that is `already_registered`.
 */
export async function vendorRotateFinish(
  vk: VendorKeys,
  r: RotateVerified,
  now: number,
  fixed?: { bodyIv?: Uint8Array },
): Promise<{ record: ClientRecord; oldAlias: string; response: HttpResponseMsg }> {
  if (r.outcome !== 'rotate') throw new JanusError('internal', 'the old chain is not settled');
  const { parsed, old, alias, gen, payword } = r;
  const kt = parseKeyTransport(await oaepDecrypt(vk.pkcs8, r.ek, rotateLabel(vk.idV)));
  if (kt.alias !== alias || kt.gen !== gen) throw new JanusError('malformed', 'the encrypted key names another alias or generation');
  if (!equalBytes(kt.nC, guard('malformed', () => b64u.decode(parsed.nonce)))) throw new JanusError('malformed', 'the encrypted nonce differs from the signature nonce');

  // The old chain (with the request's acknowledgement) is closed and kept: its last acknowledged
  // word is the vendor's proof of the deliveries made under it; the new chain takes the rest.
  let chain = r.record.chain;
  let closedChains = old.closedChains;
  if (payword) {
    closedChains = [...old.closedChains, chain!];
    chain = newChain(payword);
  }

  let receipt: Receipt | null = old.receipt;
  if (old.receipt) {
    const prev = guard('internal', () => parseJsonObject(b64u.decode(old.receipt!.payload), LIMITS.data * 4, 'stored receipt'));
    // §12.1 for a rotation: nonce and request_sha256 of this request, the new chain (or null).
    receipt = await signReceipt(vk.pkcs8, vk.spki, {
      v: VERSION,
      vendor: vk.idV,
      alias,
      gen,
      issued_at: now,
      nonce: parsed.nonce,
      request_sha256: b64u.encode(sha256(r.plaintext)),
      valid_from: old.validFrom,
      valid_until: old.validUntil,
      payword,
      terms: (prev['terms'] ?? {}) as JsonObject,
    });
  }
  const record: ClientRecord = { ...old, alias, gen, k: kt.k, chain, closedChains, receipt, updatedAt: now };
  const newSlot = slotKey(kt.k, parsed.n);
  const response = await sealResponse({ ...parsed, keyid: keyidOf(alias, gen, parsed.n) }, newSlot, {
    status: 200,
    contentType: 'application/json',
    body: jsonBytes({ alias, gen, receipt: old.receipt ? receipt : null }),
    ...(fixed?.bodyIv ? { bodyIv: fixed.bodyIv } : {}),
  });
  return { record, oldAlias: old.alias, response };
}

/**
 * §13 in one call: `vendorRotateVerify`, then `vendorRotateFinish` or the sealed `ack_required`.
 * The caller records `useOnce` with the change: the move of `oldAlias` to `record` when `rotated`,
 * else the update of the record in place (its acknowledgement stored).
 */
export async function vendorRotate(
  vk: VendorKeys,
  parsed: ParsedRequest,
  req: HttpRequestMsg,
  stored: ClientRecord | null,
  now: number,
  fixed?: { bodyIv?: Uint8Array },
): Promise<{ rotated: boolean; record: ClientRecord; oldAlias: string; useOnce: UseOnce[]; response: HttpResponseMsg }> {
  const r = await vendorRotateVerify(vk, parsed, req, stored);
  if (r.outcome === 'ack_required') {
    const record = r.record === r.old ? r.old : { ...r.record, updatedAt: now };
    return { rotated: false, record, oldAlias: r.old.alias, useOnce: r.useOnce, response: await sealRotateRefusal(r, fixed) };
  }
  return { rotated: true, ...(await vendorRotateFinish(vk, r, now, fixed)), useOnce: r.useOnce };
}
