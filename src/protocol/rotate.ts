/**
 * Key rotation and secret change (docs/PROTOCOL.md §13): one secure request under the old key
 * carrying the new key under the vendor's public key; the response under the new key proves the
 * vendor holds it.
 */
import { b64u, equalBytes, randomBytes, utf8 } from '../crypto/bytes.ts';
import { sha256 } from '../crypto/hash.ts';
import { oaepDecrypt, oaepEncrypt } from '../crypto/rsa.ts';
import { guard, JanusError } from '../errors.ts';
import { LABEL, LIMITS, NONCE_BYTES, TAG, VERSION } from './constants.ts';
import type { Discovery } from './discovery.ts';
import { field, jsonBytes, parseJsonObject, type HttpRequestMsg, type HttpResponseMsg, type JsonObject } from './http.ts';
import { ALIAS_RE, type VendorSession } from './janus.ts';
import { newChain, parseCommitment, paywordCommit, type PaywordCommitment } from './payword.ts';
import { checkReceiptMatches, parseReceipt, signReceipt, verifyReceipt, type Receipt } from './receipt.ts';
import type { ClientRecord, VendorKeys } from './record.ts';
import { assertRecord } from './delivery.ts';
import { keyidOf, openResponse, parseSecureRequest, sealRequest, sealResponse, verifySecureRequest, type ParsedRequest, type PendingRequest, type UseOnce } from './secure.ts';
import { keyTransportPlaintext, parseKeyTransport } from './skep.ts';
import { slotKey } from './slot.ts';

const rotateLabel = (idV: string) => utf8(LABEL.rotateOaep + idV);

export interface RotateInput {
  old: VendorSession;
  next: VendorSession;
  discovery: Discovery;
  now: number;
  /** Deliveries left on the open receipt chain, if any: a new chain is committed under the new key. */
  remaining?: number;
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
    nonce: nC,
    ...(input.fixed?.bodyIv ? { bodyIv: input.fixed.bodyIv } : {}),
  });
  return { state: { input, pending, requestSha256: b64u.encode(sha256(plaintext)), payword }, request };
}

export async function rotateOnResponse(
  state: RotateState,
  res: HttpResponseMsg,
): Promise<{ alias: string; gen: number; receipt: Receipt | null; payword: PaywordCommitment | null }> {
  const { next, discovery } = state.input;
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
  return parseSecureRequest(req, { tag: TAG.rotate, idV: vk.idV, now, window: vk.window, maxBody: 64 * 1024 });
}

/** A rotation request verified under the old key, before its one RSA decryption. */
export interface RotateVerified {
  readonly parsed: ParsedRequest;
  readonly old: ClientRecord;
  readonly plaintext: Uint8Array;
  readonly alias: string;
  readonly gen: number;
  readonly ek: Uint8Array;
  /** The new chain's commitment when the record has an open chain (§13). */
  readonly payword: PaywordCommitment | null;
  /** The request's nonce: a vendor records it before `vendorRotateFinish`, so a resent rotation costs no RSA. */
  readonly useOnce: UseOnce[];
}

/**
 * §13, everything before the RSA decryption: the old key's MAC, the body, and every check the
 * outer fields allow (a raised generation or a new alias, the new chain's length).
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
  let payword: PaywordCommitment | null = null;
  const pw = field.objOrNull(o, 'payword');
  if (old.chain && old.chain.delivered < old.chain.n) {
    // The old seed came from the old K: the rest of the subscription moves to a new chain.
    if (!pw) throw new JanusError('malformed', 'this record has an open receipt chain: "payword" is required');
    payword = parseCommitment(pw);
    if (payword.n !== old.chain.n - old.chain.delivered) throw new JanusError('malformed', `the new chain must have ${old.chain.n - old.chain.delivered} deliveries`);
  }
  return { parsed, old, plaintext: v.plaintext, alias, gen, ek, payword, useOnce: [v.useOnce] };
}

/**
 * §13, after `vendorRotateVerify`: decrypts K' (RSA-OAEP), checks it names the same alias,
 * generation and nonce, and returns the moved record and the response under the new key. The
 * caller replaces the record under `oldAlias` by `record` atomically; if `record.alias` differs and
 * is taken, that is `already_registered`.
 */
export async function vendorRotateFinish(
  vk: VendorKeys,
  r: RotateVerified,
  now: number,
  fixed?: { bodyIv?: Uint8Array },
): Promise<{ record: ClientRecord; oldAlias: string; response: HttpResponseMsg }> {
  const { parsed, old, alias, gen, payword } = r;
  const kt = parseKeyTransport(await oaepDecrypt(vk.pkcs8, r.ek, rotateLabel(vk.idV)));
  if (kt.alias !== alias || kt.gen !== gen) throw new JanusError('malformed', 'the encrypted key names another alias or generation');
  if (!equalBytes(kt.nC, guard('malformed', () => b64u.decode(parsed.nonce)))) throw new JanusError('malformed', 'the encrypted nonce differs from the signature nonce');

  let chain = old.chain;
  let closedChains = old.closedChains;
  if (payword) {
    closedChains = [...old.closedChains, old.chain!];
    chain = newChain(payword);
  }

  let receipt: Receipt | null = old.receipt;
  if (old.receipt) {
    const prev = guard('internal', () => parseJsonObject(b64u.decode(old.receipt!.payload), LIMITS.data * 4, 'stored receipt'));
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

/** §13 in one call: `vendorRotateVerify` then `vendorRotateFinish`; the caller records `useOnce` with the move. */
export async function vendorRotate(
  vk: VendorKeys,
  parsed: ParsedRequest,
  req: HttpRequestMsg,
  stored: ClientRecord | null,
  now: number,
  fixed?: { bodyIv?: Uint8Array },
): Promise<{ record: ClientRecord; oldAlias: string; useOnce: UseOnce[]; response: HttpResponseMsg }> {
  const r = await vendorRotateVerify(vk, parsed, req, stored);
  return { ...(await vendorRotateFinish(vk, r, now, fixed)), useOnce: r.useOnce };
}
