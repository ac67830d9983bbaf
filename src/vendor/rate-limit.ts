/** A token bucket per key (per address, per alias) for the one costly operation: SKEP message 1. */
import { JanusError } from '../errors.ts';

interface Bucket {
  tokens: number;
  at: number;
}

export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  constructor(private readonly now: () => number) {}

  /** Takes one token of `perMinute` for `key`, or throws `rate_limited` with `retry_after`. */
  take(key: string, perMinute: number): void {
    const now = this.now();
    const b = this.buckets.get(key) ?? { tokens: perMinute, at: now };
    b.tokens = Math.min(perMinute, b.tokens + ((now - b.at) * perMinute) / 60);
    b.at = now;
    if (b.tokens < 1) {
      this.buckets.set(key, b);
      throw new JanusError('rate_limited', undefined, { retry_after: Math.ceil(((1 - b.tokens) * 60) / perMinute) });
    }
    b.tokens -= 1;
    this.buckets.set(key, b);
    // Bounded memory: full buckets carry no information.
    if (this.buckets.size > 100_000) {
      for (const [k, v] of this.buckets) if (v.tokens >= perMinute - 1) this.buckets.delete(k);
    }
  }
}
