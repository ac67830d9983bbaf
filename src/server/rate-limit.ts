/**
 * Token buckets per key (an address, an alias) for the costly or memory-holding operations: SKEP
 * message 1 and rotation (an RSA decryption each), and the one-time values a client makes the vendor
 * remember. The table is bounded and every check is O(1): buckets live in a Map in least recently
 * used order, a bucket left alone for a whole period is full again (so it carries no information
 * and is dropped), and beyond `maxEntries` the least recently used one is dropped.
 */
import { JanusError } from '../errors.ts';

interface Bucket {
  tokens: number;
  at: number;
  period: number;
}

export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    private readonly now: () => number,
    readonly maxEntries = 100_000,
  ) {
    if (!Number.isSafeInteger(maxEntries) || maxEntries < 1) throw new RangeError(`"maxEntries" expected a positive integer, got ${maxEntries}`);
  }

  /** Buckets held now (never more than maxEntries). */
  get size(): number {
    return this.buckets.size;
  }

  /**
   * Takes one token of `limit` per `periodSeconds` for `key`, or throws `rate_limited` with
   * `retry_after` (seconds). A new key starts full: `limit` requests at once, then `limit` per period.
   */
  take(key: string, limit: number, periodSeconds = 60): void {
    const now = this.now();
    this.forgetIdle(now);
    let b = this.buckets.get(key);
    if (b) {
      this.buckets.delete(key); // re-inserted below: the Map's order is the LRU order
      b.tokens = Math.min(limit, b.tokens + ((now - b.at) * limit) / periodSeconds);
      b.at = now;
      b.period = periodSeconds;
    } else b = { tokens: limit, at: now, period: periodSeconds };
    const ok = b.tokens >= 1;
    if (ok) b.tokens -= 1;
    this.buckets.set(key, b);
    if (this.buckets.size > this.maxEntries) this.buckets.delete(this.buckets.keys().next().value!);
    if (!ok) throw new JanusError('rate_limited', undefined, { retry_after: Math.max(1, Math.ceil(((1 - b.tokens) * periodSeconds) / limit)) });
  }

  /** Gives back the token `take` took for `key` (the operation it paid for did not happen). */
  refund(key: string, limit: number): void {
    const b = this.buckets.get(key);
    if (b) b.tokens = Math.min(limit, b.tokens + 1);
  }

  /** Drops at most two buckets idle for a whole period (full again): amortized cleanup at O(1) per call. */
  private forgetIdle(now: number): void {
    for (let i = 0; i < 2; i++) {
      const first = this.buckets.entries().next();
      if (first.done || now - first.value[1].at < first.value[1].period) return;
      this.buckets.delete(first.value[0]);
    }
  }
}
