/**
 * SDDP and EDDP (paper §3, Fig. 3-4; docs/PROTOCOL.md §8-9), with piggybacked EDDP challenges and
 * PayWord acknowledgements (§11). Client and vendor halves; the vendor's take the stored record and
 * return the record to save.
 */
import { ERRORS, isErrorCode, JanusError, type ErrorCode } from '../errors.ts';
import { HEADER, TAG, type Level } from './constants.ts';
import { field, header, jsonBytes, parseJsonObject, requireHeader, type Headers_, type HttpRequestMsg, type HttpResponseMsg } from './http.ts';
import { ALIAS_RE } from './janus.ts';
import { applyAck, deliveryRefusal, deliveryRule, formatAck, formatReceiptHeader, markOf, nextDelivery, parseAck, parseReceiptHeader, type Ack, type DeliveryRule, type ReceiptMark } from './payword.ts';
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
  /** PayWord acknowledgement of the previous delivery (§11.2): eddp+receipts only. */
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
  if (input.ack) {
    // §11.2: an acknowledgement goes only with a request that may be a delivery (or to the ack endpoint).
    if (input.level !== 'eddp+receipts') throw new JanusError('bad_input', 'Janus-Ack goes only to eddp+receipts routes');
    covered.push([HEADER.ack, formatAck(input.ack)]);
  }
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
   * eddp+receipts: on a 2xx answer, the delivery it is (chain, number, chain length); on a sealed
   * `ack_required`, the delivery waiting for its acknowledgement. Null on every other answer.
   */
  receipt: ReceiptMark | null;
  /**
   * The vendor's sealed error (covered `Janus-Error`, §6.3): the request was verified and recorded
   * (its acknowledgement too, §11.2), then refused: `ack_required` and `chain_exhausted` by the
   * vendor (§11.2), any other code by the application. The body is the error object of §14.1.
   */
  error: ErrorCode | null;
  /** eddp+receipts: the vendor's sealed 402 "acknowledge delivery receipt.i first" (§11.2); nothing was delivered. */
  ackRequired: boolean;
}

/** The response headers a delivery answer's additional data covers (§6.3 table), required then optional. */
function coveredOf(level: DeliveryLevel): { extra: string[]; optional: string[] } {
  if (level === 'sddp') return { extra: [], optional: [HEADER.error] };
  if (level === 'eddp') return { extra: [HEADER.challenge], optional: [HEADER.error] };
  return { extra: [HEADER.challenge], optional: [HEADER.receipt, HEADER.error] };
}

const is2xx = (status: number) => status >= 200 && status <= 299;

/**
 * SDDP message 2 / EDDP message 4: [N_C, data]_K, checked and decrypted. A sealed answer means the
 * vendor recorded the request, and its acknowledgement if it carried one (§11.2); an unsealed error
 * (§14.2) is thrown and means it recorded nothing.
 */
export async function deliveryResponse(pending: PendingRequest, level: DeliveryLevel, res: HttpResponseMsg): Promise<Delivered> {
  const opened = await openResponse(pending, res, coveredOf(level));
  const challenge = isEddp(level) ? (opened.headers[HEADER.challenge] ?? null) : null;
  const rh = level === 'eddp+receipts' ? opened.headers[HEADER.receipt] : undefined;
  const receipt = rh !== undefined ? parseReceiptHeader(rh) : null;
  // Sealed, so unlike an error answer (§14.2) it is the vendor's word: covered janus-error, status and mark.
  const e = opened.headers[HEADER.error];
  let error: ErrorCode | null = null;
  if (e !== undefined) {
    if (!isErrorCode(e) || ERRORS[e].status !== opened.status) throw new JanusError('malformed', `a sealed Janus-Error must be a code of §14.1 with its status, got ${e.slice(0, 40)} with ${opened.status}`);
    if ((e === 'ack_required' || e === 'chain_exhausted') && level !== 'eddp+receipts') throw new JanusError('malformed', `a sealed ${e} on a ${level} route`);
    error = e;
  }
  if (level === 'eddp+receipts') {
    // §11.2: a delivery (2xx) names itself, the sealed ack_required names the delivery waiting; nothing else carries a mark.
    const wantsMark = error === 'ack_required' || (error === null && is2xx(opened.status));
    if (wantsMark !== (receipt !== null)) {
      throw new JanusError('malformed', wantsMark ? `a ${error ?? opened.status} answer on an eddp+receipts route needs Janus-Receipt` : `Janus-Receipt on a ${error ?? opened.status} answer, which is no delivery`);
    }
  }
  return { ...opened, challenge, receipt, error, ackRequired: error === 'ack_required' };
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
  // §11.2: only a request that may be a delivery acknowledges one (besides the ack endpoint and a rotation).
  if (ackHeader !== undefined && level !== 'eddp+receipts') throw new JanusError('malformed', 'Janus-Ack goes only to eddp+receipts routes, the ack endpoint and a rotation');
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
  /**
   * The request's one-time values (its nonce, and its EDDP challenge): recorded atomically with
   * `record` before the application runs or the vendor answers; any already present means `replayed`.
   */
  readonly useOnce: UseOnce[];
  /** The request's nonce alone (of `useOnce`). */
  readonly nonce: UseOnce;
  /**
   * The stored record with the request's acknowledgement applied (the same object when it carried
   * none, or one already stored): saved with `useOnce`. The delivery itself is not counted here.
   */
  readonly record: ClientRecord;
  /**
   * eddp+receipts (§11.2): `deliver`, or the vendor's refusal: an earlier delivery is unacknowledged
   * (`ack_required`) or the chain is used up (`chain_exhausted`). A refusal is answered with
   * `sealRefusal` after `useOnce` and `record` are stored; the application does not run.
   * Always `deliver` on the other levels.
   */
  readonly rule: DeliveryRule;
  /** `rule === 'ack_required'`. */
  readonly ackRequired: boolean;
}

/**
 * §6.2 steps 6-10 and, on an eddp+receipts route, §11.2: a chain (`subscription_required`), the
 * acknowledgement (`bad_ack`, `replayed`) and the delivery rule. Stores nothing: the caller records
 * `useOnce` with `record`, then answers (sealed) by the rule.
 */
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
  let rule: DeliveryRule = 'deliver';
  if (d.level === 'eddp+receipts') {
    const chain = record.chain;
    if (!chain) throw new JanusError('subscription_required');
    if (d.ack) {
      const acked = applyAck(chain, d.ack);
      if (acked !== chain) record = { ...record, chain: acked, updatedAt: now };
    }
    rule = deliveryRule(record.chain!);
  }
  return { plaintext: v.plaintext, contentType: v.contentType, slot: v.slot, useOnce, nonce: v.useOnce, record, rule, ackRequired: rule === 'ack_required' };
}

/** A delivery counted (§11.2): the record to store in one commit with its 2xx answer, and the mark that answer carries. */
export interface CountedDelivery {
  readonly record: ClientRecord;
  readonly mark: ReceiptMark;
}

/** §11.2, eddp+receipts: delivery `delivered + 1` of `record` (its rule must be `deliver`). */
export function countDelivery(record: ClientRecord, now: number): CountedDelivery {
  if (!record.chain) throw new JanusError('subscription_required');
  const chain = nextDelivery(record.chain);
  return { record: { ...record, chain, updatedAt: now }, mark: markOf(chain) };
}

/** The next EDDP challenge, first of every EDDP answer's covered headers. */
function challengeCovered(vk: VendorKeys, d: ParsedDelivery, now: number, r?: Uint8Array): [string, string][] {
  return isEddp(d.level) ? [[HEADER.challenge, issueChallenge(vk.ck, vk.idV, d.parsed.alias, now, r).challenge]] : [];
}

/**
 * SDDP message 2 / EDDP message 4: the application's answer, sealed with the next challenge. On an
 * eddp+receipts route a 2xx answer is a delivery: `delivery` is the mark `countDelivery` gave, and
 * the vendor sends it only after the count is stored. Any other answer delivers nothing and carries
 * no mark (§11.2).
 */
export async function sealDelivery(
  vk: VendorKeys,
  d: ParsedDelivery,
  req: HttpRequestMsg,
  opened: Pick<OpenedDelivery, 'slot'>,
  out: { status: number; contentType: string; body?: Uint8Array; headers?: Headers_; delivery?: ReceiptMark | null },
  now: number,
  fixed?: { bodyIv?: Uint8Array; r?: Uint8Array },
): Promise<HttpResponseMsg> {
  const covered = challengeCovered(vk, d, now, fixed?.r);
  if (d.level === 'eddp+receipts') {
    const delivers = is2xx(out.status);
    if (delivers !== Boolean(out.delivery)) {
      throw new JanusError('internal', delivers ? 'a 2xx answer on an eddp+receipts route is a delivery: count it first' : 'only a 2xx answer is a delivery');
    }
    if (out.delivery) covered.push([HEADER.receipt, formatReceiptHeader(out.delivery.sub, out.delivery.i, out.delivery.n)]);
  }
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
 * §6.3, §11.2: an error sealed like an answer, for a request the vendor verified and recorded (its
 * one-time values and acknowledgement): status and body of §14.1, the next challenge, covered
 * `Janus-Error`, and on `ack_required` the mark of the delivery waiting (`Janus-Receipt`), so a
 * client on a fresh machine can acknowledge it and retry. The vendor's refusals (`ack_required`,
 * `chain_exhausted`) and an application's errors are answered this way.
 */
export async function sealDeliveryError(
  vk: VendorKeys,
  d: ParsedDelivery,
  req: HttpRequestMsg,
  opened: Pick<OpenedDelivery, 'slot' | 'record'>,
  err: JanusError,
  now: number,
  fixed?: { bodyIv?: Uint8Array; r?: Uint8Array },
): Promise<HttpResponseMsg> {
  if ((err.code === 'ack_required' || err.code === 'chain_exhausted') && d.level !== 'eddp+receipts') throw new JanusError('internal', `${err.code} on a ${d.level} route`);
  const covered = challengeCovered(vk, d, now, fixed?.r);
  if (err.code === 'ack_required') {
    const chain = opened.record.chain;
    if (!chain) throw new JanusError('internal', 'ack_required without a chain');
    covered.push([HEADER.receipt, formatReceiptHeader(chain.sub, chain.delivered, chain.n)]);
  }
  covered.push([HEADER.error, err.code]);
  return sealResponse(d.parsed, opened.slot, {
    status: err.status,
    contentType: 'application/json',
    covered,
    body: jsonBytes(err.toJSON()),
    ...(fixed?.bodyIv ? { bodyIv: fixed.bodyIv } : {}),
  });
}

/** §11.2: the sealed 402 of a refused delivery (`opened.rule` is `ack_required` or `chain_exhausted`). */
export async function sealRefusal(
  vk: VendorKeys,
  d: ParsedDelivery,
  req: HttpRequestMsg,
  opened: Pick<OpenedDelivery, 'slot' | 'record' | 'rule'>,
  now: number,
  fixed?: { bodyIv?: Uint8Array; r?: Uint8Array },
): Promise<HttpResponseMsg> {
  if (opened.rule === 'deliver' || !opened.record.chain) throw new JanusError('internal', 'nothing to refuse');
  return sealDeliveryError(vk, d, req, opened, deliveryRefusal(opened.record.chain, opened.rule), now, fixed);
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
