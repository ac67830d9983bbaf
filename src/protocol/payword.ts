/**
 * PayWord receipt chains (paper §5; docs/PROTOCOL.md §11). The seed is derived from K and the
 * subscription id, so the client can recompute any w_i anywhere and stores nothing.
 */
import { b64u, concat, equalBytes, lp, utf8 } from '../crypto/bytes.ts';
import { hkdfSha256, sha256 } from '../crypto/hash.ts';
import { guard, JanusError } from '../errors.ts';
import { LABEL, MAX_CHAIN } from './constants.ts';
import { field, type JsonObject } from './http.ts';

export const SUB_RE = /^[A-Za-z0-9_-]{22}$/;

export interface PaywordCommitment {
  readonly sub: string;
  readonly n: number;
  readonly w0: string; // b64u
}

/** §11.1: r = HKDF(K, "", "janus/1 payword seed" || lp(sub), 32) = w_N. */
export function paywordSeed(k: Uint8Array, sub: string): Uint8Array {
  return hkdfSha256(k, new Uint8Array(0), concat(utf8(LABEL.payword), lp(sub)), 32);
}

function checkN(n: number): void {
  if (!Number.isInteger(n) || n < 1 || n > MAX_CHAIN) throw new JanusError('bad_input', `chain length must be 1..${MAX_CHAIN}`);
}

/** w_i, for 0 <= i <= N: N - i hashes of the seed. */
export function paywordWord(k: Uint8Array, sub: string, n: number, i: number): Uint8Array {
  checkN(n);
  if (!Number.isInteger(i) || i < 0 || i > n) throw new JanusError('bad_input', `index must be 0..${n}`);
  let w = paywordSeed(k, sub);
  for (let j = n; j > i; j--) w = sha256(w);
  return w;
}

export function paywordCommit(k: Uint8Array, sub: string, n: number): PaywordCommitment {
  return { sub, n, w0: b64u.encode(paywordWord(k, sub, n, 0)) };
}

export function parseCommitment(o: JsonObject): PaywordCommitment {
  const sub = field.str(o, 'sub', { re: SUB_RE });
  const n = field.int(o, 'n', 1, MAX_CHAIN);
  const w0 = field.str(o, 'w0', { re: /^[A-Za-z0-9_-]{43}$/ });
  // §2: one encoding per value. A w0 with stray trailing bits would be stored and signed, and only
  // fail when an acknowledgement is checked against it.
  guard('malformed', () => b64u.decode(w0), '"w0" is not canonical base64url');
  return { sub, n, w0 };
}

/** The vendor's view of a chain: what was delivered and the last acknowledged word (§11.2). */
export interface ChainState {
  readonly sub: string;
  readonly n: number;
  readonly w0: string;
  readonly delivered: number;
  readonly acked: number;
  readonly ackedW: string;
}

export function newChain(c: PaywordCommitment): ChainState {
  return { ...c, delivered: 0, acked: 0, ackedW: c.w0 };
}

export interface Ack {
  readonly sub: string;
  readonly i: number;
  readonly w: Uint8Array;
}

export function formatAck(a: Ack): string {
  return `${a.sub}.${a.i}.${b64u.encode(a.w)}`;
}

/**
 * §11.2: `sub "." i "." b64u(w_i)`: i in 1..100000 in decimal without leading zeros, w_i 32 bytes in
 * canonical b64u. Anything else (an i of 0 included: no delivery 0 exists) is `malformed`.
 */
export function parseAck(s: string): Ack {
  const m = /^([A-Za-z0-9_-]{22})\.([1-9]\d{0,5})\.([A-Za-z0-9_-]{43})$/.exec(s);
  if (!m) throw new JanusError('malformed', 'Janus-Ack must be sub.i.w with i in 1..100000');
  const i = Number(m[2]);
  if (i > MAX_CHAIN) throw new JanusError('malformed', `Janus-Ack: i must be at most ${MAX_CHAIN}`);
  return { sub: m[1]!, i, w: guard('malformed', () => b64u.decode(m[3]!), 'Janus-Ack: w is not canonical base64url') };
}

/** §11.2: which delivery `i` of which chain `sub` (of length `n`) a response is. */
export interface ReceiptMark {
  readonly sub: string;
  readonly i: number;
  readonly n: number;
}

export function formatReceiptHeader(sub: string, i: number, n: number): string {
  return `${sub}.${i}.${n}`;
}

export function parseReceiptHeader(s: string): ReceiptMark {
  const m = /^([A-Za-z0-9_-]{22})\.([1-9]\d{0,5})\.([1-9]\d{0,5})$/.exec(s);
  if (!m) throw new JanusError('malformed', 'Janus-Receipt must be sub.i.n');
  const i = Number(m[2]);
  const n = Number(m[3]);
  if (n > MAX_CHAIN || i > n) throw new JanusError('malformed', 'Janus-Receipt: i must be <= n <= 100000');
  return { sub: m[1]!, i, n };
}

/**
 * §11.2, vendor: checks an acknowledgement against the chain and returns the chain to store. In this
 * order: another chain's `sub` is `bad_ack`; i < a is `replayed`; i > delivered is `bad_ack`; i = a
 * is accepted again, unchanged, when w_i is the stored word (a client that could not tell whether
 * its acknowledgement arrived sends it again) and is `bad_ack` otherwise; a < i needs
 * SHA256^(i-a)(w_i) = w_a (`bad_ack`).
 */
export function applyAck(chain: ChainState, ack: Ack): ChainState {
  if (ack.sub !== chain.sub) throw new JanusError('bad_ack', 'acknowledgement for another chain');
  if (ack.i < chain.acked) throw new JanusError('replayed', `delivery ${ack.i} was already acknowledged`);
  if (ack.i > chain.delivered) throw new JanusError('bad_ack', `delivery ${ack.i} was not made yet`);
  let w = ack.w;
  for (let j = ack.i; j > chain.acked; j--) w = sha256(w);
  // Compared as encodings, so a stored value that does not decode (a record made before w0 was
  // checked at registration) refuses the acknowledgement instead of failing the vendor.
  if (!equalBytes(utf8(b64u.encode(w)), utf8(chain.ackedW))) throw new JanusError('bad_ack');
  if (ack.i === chain.acked) return chain;
  return { ...chain, acked: ack.i, ackedW: b64u.encode(ack.w) };
}

/** §11.2: what the vendor does with a verified request to an eddp+receipts route. */
export type DeliveryRule = 'deliver' | 'ack_required' | 'chain_exhausted';

/**
 * §11.2, vendor: may delivery `delivered + 1` be made? Every delivery made must be acknowledged
 * (`ack_required`), and one must be left (`chain_exhausted`), in this order.
 */
export function deliveryRule(chain: ChainState): DeliveryRule {
  if (chain.acked < chain.delivered) return 'ack_required';
  if (chain.delivered >= chain.n) return 'chain_exhausted';
  return 'deliver';
}

/** §11.2, vendor: the error a refused delivery is sealed with (details: the chain and the delivery waiting, or its length). */
export function deliveryRefusal(chain: ChainState, rule: Exclude<DeliveryRule, 'deliver'>): JanusError {
  return rule === 'ack_required'
    ? new JanusError('ack_required', undefined, { sub: chain.sub, pending: chain.delivered })
    : new JanusError('chain_exhausted', undefined, { sub: chain.sub, n: chain.n });
}

/**
 * §11.2, vendor: the chain after delivery `delivered + 1`, stored in one commit with its 2xx answer.
 * Throws the refusal when the rule does not allow it.
 */
export function nextDelivery(chain: ChainState): ChainState {
  const rule = deliveryRule(chain);
  if (rule !== 'deliver') throw deliveryRefusal(chain, rule);
  return { ...chain, delivered: chain.delivered + 1 };
}

/** §11.2: the mark a delivery carries in Janus-Receipt. */
export function markOf(chain: ChainState): ReceiptMark {
  return { sub: chain.sub, i: chain.delivered, n: chain.n };
}

/**
 * §13: the subs a client record has used: its current chain's and every closed chain's. A new chain
 * of the record must have another (`chain_reused`).
 */
export function usedSubs(r: { readonly chain: ChainState | null; readonly closedChains: readonly ChainState[] }): Set<string> {
  const out = new Set<string>();
  if (r.chain) out.add(r.chain.sub);
  for (const c of r.closedChains) out.add(c.sub);
  return out;
}

/** §11.3: a third party's check that w_i is the i-th word of the chain rooted at w0. */
export function verifyWord(w0: Uint8Array, i: number, wi: Uint8Array): boolean {
  let w = wi;
  for (let j = 0; j < i; j++) w = sha256(w);
  return equalBytes(w, w0);
}
