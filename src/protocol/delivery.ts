/**
 * SDDP and EDDP (paper §3, Fig. 3-4; docs/PROTOCOL.md §8-9), with piggybacked EDDP challenges and
 * PayWord acknowledgements (§11). Client and vendor halves; the vendor's take the stored record and
 * return the record to save.
 */
import { JanusError } from '../errors.ts';
import { HEADER, TAG, type Level } from './constants.ts';
import { field, header, jsonBytes, parseJsonObject, requireHeader, type Headers_, type HttpRequestMsg, type HttpResponseMsg } from './http.ts';
import { ALIAS_RE } from './janus.ts';
import { applyAck, formatAck, formatReceiptHeader, nextDelivery, parseAck, parseReceiptHeader, type Ack, type ReceiptMark } from './payword.ts';
import { assertInGoodStanding, type ClientRecord, type VendorKeys } from './record.ts';
import {
  openResponse,
  parseSecureRequest,
  sealRequest,
  sealResponse,
  verifySecureRequest,
  type KeyHolder,
  type ParsedRequest,
  type PendingRequest,
  type UseOnce,
} from './secure.ts';
import type { SlotKey } from './slot.ts';
import { checkChallenge, issueChallenge } from './tokens.ts';

export type DeliveryLevel = Exclude<Level, 'credential'>;

const isEddp = (level: DeliveryLevel) => level !== 'sddp';
const tagOf = (level: DeliveryLevel) => (isEddp(level) ? TAG.eddp : TAG.sddp);

// ---------------------------------------------------------------------------------------------
// Client

export interface DeliveryRequestInput {
  key: KeyHolder;
  level: DeliveryLevel;
  method: string;
  url: string;
  now: number;
  body?: Uint8Array;
  contentType?: string;
  headers?: Headers_;
  /** EDDP: N_V from the challenge endpoint or the previous EDDP response. */
  challenge?: string;
  /** PayWord acknowledgement of the previous delivery (§11.2). */
  ack?: Ack;
  nonce?: Uint8Array;
  bodyIv?: Uint8Array;
}

/** SDDP message 1 / EDDP message 3: [req, N_C]_K or [N_V, N_C, req]_K. */
export async function deliveryRequest(input: DeliveryRequestInput): Promise<{ request: HttpRequestMsg; pending: PendingRequest }> {
  const covered: [string, string][] = [];
  if (isEddp(input.level)) {
    if (!input.challenge) throw new JanusError('bad_input', 'EDDP needs a challenge');
    covered.push([HEADER.challenge, input.challenge]);
  }
  if (input.ack) covered.push([HEADER.ack, formatAck(input.ack)]);
  return sealRequest({
    key: input.key,
    method: input.method,
    url: input.url,
    tag: tagOf(input.level),
    now: input.now,
    covered,
    ...(input.body ? { body: input.body } : {}),
    ...(input.contentType ? { contentType: input.contentType } : {}),
    ...(input.headers ? { headers: input.headers } : {}),
    ...(input.nonce ? { nonce: input.nonce } : {}),
    ...(input.bodyIv ? { bodyIv: input.bodyIv } : {}),
  });
}

export interface Delivered {
  status: number;
  contentType: string;
  body: Uint8Array;
  headers: Headers_;
  /** EDDP: the piggybacked challenge for the next request. */
  challenge: string | null;
  /**
   * eddp+receipts: which delivery of which chain (and its length) this was; on an `ackRequired`
   * answer, the delivery waiting for its acknowledgement.
   */
  receipt: ReceiptMark | null;
  /** eddp+receipts: the vendor's sealed 402 "acknowledge delivery receipt.i first" (§11.2); nothing was delivered. */
  ackRequired: boolean;
}

/** SDDP message 2 / EDDP message 4: [N_C, data]_K, checked and decrypted. */
export async function deliveryResponse(pending: PendingRequest, level: DeliveryLevel, res: HttpResponseMsg): Promise<Delivered> {
  const opened = await openResponse(pending, res, {
    ...(isEddp(level) ? { extra: [HEADER.challenge] } : {}),
    optional: level === 'eddp+receipts' ? [HEADER.receipt, HEADER.error] : [],
  });
  const challenge = isEddp(level) ? (opened.headers[HEADER.challenge] ?? null) : null;
  const rh = opened.headers[HEADER.receipt];
  const receipt = rh ? parseReceiptHeader(rh) : null;
  // Sealed, so unlike an error answer (§14.2) it is the vendor's word: covered janus-error, status and mark.
  const ackRequired = level === 'eddp+receipts' && opened.headers[HEADER.error] === 'ack_required';
  if (ackRequired && (opened.status !== 402 || !receipt)) throw new JanusError('malformed', 'a sealed ack_required needs status 402 and Janus-Receipt');
  if (!ackRequired && opened.headers[HEADER.error] !== undefined && level === 'eddp+receipts') {
    throw new JanusError('malformed', 'a sealed Janus-Error other than ack_required');
  }
  return { ...opened, challenge, receipt, ackRequired };
}

/** EDDP message 1: id_C. */
export function challengeRequest(alias: string, url: string): HttpRequestMsg {
  return { method: 'POST', url, headers: { [HEADER.alias]: alias }, body: new Uint8Array(0) };
}

/** EDDP message 2: N_V, or the vendor's refusal (unknown client, expired subscription). */
export function readChallengeResponse(res: HttpResponseMsg): { challenge: string; expires: number } {
  if (res.status !== 200) {
    throw new JanusError('malformed', `challenge response status ${res.status}`);
  }
  const o = parseJsonObject(res.body, 4096, 'challenge response');
  return { challenge: field.str(o, 'challenge', { max: 256, re: /^[A-Za-z0-9_.-]+$/ }), expires: field.int(o, 'expires') };
}

/** §11.2: an explicit acknowledgement (no MAC: only the chain's owner can produce a preimage). */
export function ackRequest(alias: string, url: string, ack: Ack): HttpRequestMsg {
  return { method: 'POST', url, headers: { [HEADER.alias]: alias, [HEADER.ack]: formatAck(ack) }, body: new Uint8Array(0) };
}

// ---------------------------------------------------------------------------------------------
// Vendor

export interface ParsedDelivery {
  readonly level: DeliveryLevel;
  readonly parsed: ParsedRequest;
  readonly challenge: { key: string; expires: number } | null;
  readonly ack: Ack | null;
}

/** §6.2 steps 1-5: the signature shape, the window and, for EDDP, the challenge. No key, no record. */
/** `targetUri`: see ParseOptions (the SDK passes the one it built; others leave it to req.url). */
export function parseDelivery(vk: VendorKeys, req: HttpRequestMsg, level: DeliveryLevel, now: number, maxBody?: number, targetUri?: string): ParsedDelivery {
  const parsed = parseSecureRequest(req, {
    tag: tagOf(level),
    idV: vk.idV,
    now,
    window: vk.window,
    ...(isEddp(level) ? { extra: [HEADER.challenge] } : {}),
    optional: [HEADER.ack],
    ...(maxBody !== undefined ? { maxBody } : {}),
    ...(targetUri !== undefined ? { targetUri } : {}),
  });
  const challenge = isEddp(level) ? checkChallenge(vk.ck, vk.idV, parsed.alias, requireHeader(req, HEADER.challenge), now) : null;
  const ackHeader = header(req, HEADER.ack);
  return { level, parsed, challenge, ack: ackHeader === undefined ? null : parseAck(ackHeader) };
}

export function assertRecord(record: ClientRecord | null, gen: number): ClientRecord {
  if (!record) throw new JanusError('unknown_client');
  if (record.gen !== gen) throw new JanusError('generation_mismatch', undefined, { generation: record.gen });
  return record;
}

export interface OpenedDelivery {
  readonly plaintext: Uint8Array;
  readonly contentType: string | undefined;
  readonly slot: SlotKey;
  /** Record atomically before acting; any already present means `replayed`. */
  readonly useOnce: UseOnce[];
  /** The request's nonce alone (of `useOnce`): what a sealed `ack_required` spends (§11.2). */
  readonly nonce: UseOnce;
  /** The record to save if the delivery is made (acknowledgement applied, delivery counted). */
  readonly record: ClientRecord;
  /**
   * eddp+receipts: the request verified, but an earlier delivery is unacknowledged (§11.2). Only
   * the nonce is recorded (so a replay is `replayed`), the handler does not run, and the vendor
   * answers sealAckRequired (record.chain is the chain with the request's own ack applied, not advanced).
   */
  readonly ackRequired: boolean;
}

/** §6.2 steps 5-10, the acknowledgement and the delivery count. */
export async function openDelivery(
  vk: VendorKeys,
  d: ParsedDelivery,
  req: HttpRequestMsg,
  stored: ClientRecord | null,
  now: number,
  maxPlaintext?: number,
): Promise<OpenedDelivery> {
  let record = assertRecord(stored, d.parsed.gen);
  assertInGoodStanding(record, now);
  const v = await verifySecureRequest(d.parsed, req, record.k, { window: vk.window, ...(maxPlaintext ? { maxPlaintext } : {}) });
  const useOnce = [v.useOnce];
  if (d.challenge) useOnce.push(d.challenge);
  if (d.ack) {
    if (!record.chain) throw new JanusError('bad_ack', 'this client has no receipt chain');
    record = { ...record, chain: applyAck(record.chain, d.ack), updatedAt: now };
  }
  let ackRequired = false;
  if (d.level === 'eddp+receipts') {
    if (!record.chain) throw new JanusError('subscription_required');
    try {
      record = { ...record, chain: nextDelivery(record.chain), updatedAt: now };
    } catch (e) {
      if (!(e instanceof JanusError) || e.code !== 'ack_required') throw e;
      ackRequired = true;
    }
  }
  return { plaintext: v.plaintext, contentType: v.contentType, slot: v.slot, useOnce, nonce: v.useOnce, record, ackRequired };
}

/** The headers every EDDP answer covers after the base components: the next challenge, and the delivery mark. */
function responseCovered(vk: VendorKeys, d: ParsedDelivery, record: ClientRecord, now: number, r?: Uint8Array): [string, string][] {
  const covered: [string, string][] = [];
  if (isEddp(d.level)) covered.push([HEADER.challenge, issueChallenge(vk.ck, vk.idV, d.parsed.alias, now, r).challenge]);
  const chain = record.chain;
  if (d.level === 'eddp+receipts' && chain) covered.push([HEADER.receipt, formatReceiptHeader(chain.sub, chain.delivered, chain.n)]);
  return covered;
}

/** SDDP message 2 / EDDP message 4, with the next challenge and the delivery number. */
export async function sealDelivery(
  vk: VendorKeys,
  d: ParsedDelivery,
  req: HttpRequestMsg,
  opened: Pick<OpenedDelivery, 'slot' | 'record'>,
  out: { status: number; contentType: string; body?: Uint8Array; headers?: Headers_ },
  now: number,
  fixed?: { bodyIv?: Uint8Array; r?: Uint8Array },
): Promise<HttpResponseMsg> {
  const covered = responseCovered(vk, d, opened.record, now, fixed?.r);
  // Janus-* headers are the protocol's: an application's own never travel (uncovered) beside them.
  const headers: Headers_ = {};
  for (const [k, v] of Object.entries(out.headers ?? {})) if (!k.toLowerCase().startsWith('janus-')) headers[k] = v;
  return sealResponse(d.parsed, opened.slot, {
    status: out.status,
    contentType: out.contentType,
    covered,
    ...(out.body ? { body: out.body } : {}),
    headers,
    ...(fixed?.bodyIv ? { bodyIv: fixed.bodyIv } : {}),
  });
}

/**
 * §11.2: the sealed 402 for a verified eddp+receipts request that comes before the previous
 * delivery is acknowledged. It names that delivery (Janus-Receipt: sub.pending.n, covered, as is
 * Janus-Error) and carries the next challenge, so a client on a fresh machine can acknowledge and retry.
 */
export async function sealAckRequired(
  vk: VendorKeys,
  d: ParsedDelivery,
  req: HttpRequestMsg,
  opened: Pick<OpenedDelivery, 'slot' | 'record'>,
  now: number,
  fixed?: { bodyIv?: Uint8Array; r?: Uint8Array },
): Promise<HttpResponseMsg> {
  const chain = opened.record.chain!;
  const err = new JanusError('ack_required', undefined, { sub: chain.sub, pending: chain.delivered });
  const covered = [...responseCovered(vk, d, opened.record, now, fixed?.r), [HEADER.error, 'ack_required'] as const];
  return sealResponse(d.parsed, opened.slot, {
    status: err.status,
    contentType: 'application/json',
    covered,
    body: jsonBytes(err.toJSON()),
    ...(fixed?.bodyIv ? { bodyIv: fixed.bodyIv } : {}),
  });
}

/** EDDP message 1, keyless: the alias. */
export function parseChallengeRequest(req: HttpRequestMsg): string {
  const alias = requireHeader(req, HEADER.alias);
  if (!ALIAS_RE.test(alias)) throw new JanusError('malformed', 'bad Janus-Alias');
  return alias;
}

/** EDDP message 2: N_V only for a client in good standing, before any cryptography (paper Fig. 4). */
export function vendorChallenge(vk: VendorKeys, alias: string, record: ClientRecord | null, now: number, r?: Uint8Array): HttpResponseMsg {
  if (!record) throw new JanusError('unknown_client');
  assertInGoodStanding(record, now);
  const { challenge, expires } = issueChallenge(vk.ck, vk.idV, alias, now, r);
  return {
    status: 200,
    headers: { 'content-type': 'application/json', [HEADER.challenge]: challenge, 'cache-control': 'no-store' },
    body: jsonBytes({ challenge, expires }),
  };
}

/** §11.2: the explicit ack endpoint. */
export function parseAckRequest(req: HttpRequestMsg): { alias: string; ack: Ack } {
  const alias = parseChallengeRequest(req);
  return { alias, ack: parseAck(requireHeader(req, HEADER.ack)) };
}

export function vendorAck(record: ClientRecord | null, ack: Ack, now: number): { record: ClientRecord; response: HttpResponseMsg } {
  if (!record) throw new JanusError('unknown_client');
  if (!record.chain) throw new JanusError('bad_ack', 'this client has no receipt chain');
  const chain = applyAck(record.chain, ack);
  return {
    record: { ...record, chain, updatedAt: now },
    response: { status: 200, headers: { 'content-type': 'application/json' }, body: jsonBytes({ sub: chain.sub, acked: chain.acked }) },
  };
}
