/**
 * The SKEP rate limiter's cost per check with a full table, against the same
 * limiter with one entry, measured in this run. For comparison, the limiter this one replaced (its
 * algorithm inlined below): past 100 000 buckets it scanned the whole table on every check.
 *
 *   npx tsx bench/rate-limit.ts [--smoke]
 *
 * --smoke: small tables and few checks, to prove the script works (the test command runs it); its
 * figures mean nothing.
 */
import { RateLimiter } from '../src/server/rate-limit.ts';

/** The replaced limiter, as it was: unbounded, and an O(n) scan per check past 100 000 buckets. */
class ScanningLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  constructor(private readonly now: () => number) {}
  take(key: string, perMinute: number): void {
    const now = this.now();
    const b = this.buckets.get(key) ?? { tokens: perMinute, at: now };
    b.tokens = Math.min(perMinute, b.tokens + ((now - b.at) * perMinute) / 60);
    b.at = now;
    if (b.tokens < 1) {
      this.buckets.set(key, b);
      throw new Error('rate_limited');
    }
    b.tokens -= 1;
    this.buckets.set(key, b);
    if (this.buckets.size > 100_000) {
      for (const [k, v] of this.buckets) if (v.tokens >= perMinute - 1) this.buckets.delete(k);
    }
  }
}

const now = () => 1_000_000;
const PER_MINUTE = 30;
const SMOKE = process.argv.includes('--smoke');
/** Buckets in the full table: the bounded limiter's cap (and the scanning one's threshold) is 100 000. */
const FULL = SMOKE ? 2_000 : 100_001;

/** Microseconds per check of new keys (each seen twice, so no bucket is full again). */
function perCheck(take: (k: string) => void, prefix: string, n: number): number {
  const t = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    const k = `${prefix}${i}`;
    take(k);
    take(k);
  }
  return Number(process.hrtime.bigint() - t) / 1000 / (2 * n);
}

function measure(name: string, make: () => { take(k: string, l: number): void }): void {
  // Warmed up on a table that stays small (the optimizing compiler has seen every path).
  for (let round = 0; round < (SMOKE ? 1 : 5); round++) {
    const w = make();
    perCheck((k) => w.take(k, PER_MINUTE), 'warm', SMOKE ? 200 : 5000);
  }
  const empty = make();
  const small = perCheck((k) => empty.take(k, PER_MINUTE), 'small', SMOKE ? 200 : 5000);
  const full = make();
  perCheck((k) => full.take(k, PER_MINUTE), 'fill', FULL); // 100 001 buckets, none full
  const atFull = perCheck((k) => full.take(k, PER_MINUTE), 'more', SMOKE ? 20 : 200);
  const size = (full as unknown as { buckets: Map<string, unknown> }).buckets.size;
  console.log(`${name.padEnd(34)} ${small.toFixed(2).padStart(8)} us/check small table   ${atFull.toFixed(2).padStart(9)} us/check at ${FULL} buckets   ${(atFull / small).toFixed(1).padStart(7)}x   table ${size} buckets`);
}

console.log(`each check: take() on a key seen once before, 30 per minute; times from this run${SMOKE ? ` (smoke run: ${FULL} buckets, the figures mean nothing)` : ''}\n`);
measure('bounded LRU limiter (now)', () => new RateLimiter(now));
measure('scanning limiter (before)', () => new ScanningLimiter(now));
