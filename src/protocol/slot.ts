/** Slot keys (paper §4; docs/PROTOCOL.md §4): K_n = HKDF(K, "", "janus/1 slot key" || u64(n), 64). */
import { concat, u64be, utf8 } from '../crypto/bytes.ts';
import { hkdfSha256 } from '../crypto/hash.ts';
import { JanusError } from '../errors.ts';
import { KEY_BYTES, LABEL, MAX_WINDOW, SLOT_SECONDS } from './constants.ts';

export interface SlotKey {
  readonly n: number;
  /** K_n^e: the AES-256-GCM key of the janus-gcm coding (§6.4). */
  readonly ke: Uint8Array;
  /** K_n^m: the HMAC-SHA256 key. */
  readonly km: Uint8Array;
}

/** The slot of a Unix time in seconds (the paper's time function at 5-minute granularity). */
export function slotOf(unixSeconds: number): number {
  return Math.floor(unixSeconds / SLOT_SECONDS);
}

export function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

/**
 * K_n is used by every message of a slot, so it is remembered per key object (both sides keep
 * their K in one Uint8Array per client) for the few slots of the acceptance window, and never
 * stored anywhere else. Entries go with their K (a WeakMap). `slotKey` uses one shared cache, which
 * `clearSlotKeys` empties (the extension on lock, a test); a caller that wants its slot keys apart
 * passes its own.
 */
export class SlotKeyCache {
  private perKey = new WeakMap<Uint8Array, Map<number, SlotKey>>();

  get(k: Uint8Array, n: number): SlotKey | undefined {
    return this.perKey.get(k)?.get(n);
  }

  set(k: Uint8Array, sk: SlotKey): void {
    let m = this.perKey.get(k);
    if (!m) this.perKey.set(k, (m = new Map<number, SlotKey>()));
    if (m.size >= 8) m.clear();
    m.set(sk.n, sk);
  }

  /** Forgets every slot key (they are collected with the cache's old table). */
  clear(): void {
    this.perKey = new WeakMap();
  }
}

const shared = new SlotKeyCache();

/** Empties the shared slot-key cache behind `slotKey` (the only state this module keeps). */
export function clearSlotKeys(): void {
  shared.clear();
}

/** K_n of `k` for slot `n`; `cache` null derives it afresh and remembers nothing. */
export function slotKey(k: Uint8Array, n: number, cache: SlotKeyCache | null = shared): SlotKey {
  if (!(k instanceof Uint8Array) || k.length !== KEY_BYTES) throw new JanusError('bad_input', 'K must be 64 bytes');
  if (!Number.isSafeInteger(n) || n < 0) throw new JanusError('bad_input', `slot must be a non-negative integer, got ${n}`);
  const hit = cache?.get(k, n);
  if (hit) return hit;
  const kn = hkdfSha256(k, new Uint8Array(0), concat(utf8(LABEL.slotKey), u64be(n)), KEY_BYTES);
  const sk: SlotKey = Object.freeze({ n, ke: kn.subarray(0, 32), km: kn.subarray(32, 64) });
  cache?.set(k, sk);
  return sk;
}

export function checkWindow(window: number): number {
  if (!Number.isInteger(window) || window < 0 || window > MAX_WINDOW) {
    throw new JanusError('bad_input', `window must be 0..${MAX_WINDOW}, got ${window}`);
  }
  return window;
}

/** §4: the vendor accepts slot n when |n - n_V| <= w. */
export function assertInWindow(n: number, nowSec: number, window: number): void {
  if (Math.abs(n - slotOf(nowSec)) > window) throw new JanusError('slot_out_of_window', undefined, { slot: slotOf(nowSec) });
}

/** §6.2 step 9: a nonce used in slot n can be forgotten after slot n + w ends. */
export function replayExpiry(n: number, window: number): number {
  return (n + window + 1) * SLOT_SECONDS;
}
