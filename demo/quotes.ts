/**
 * Simulated stock prices: no network, deterministic per (symbol, minute), so that two requests in
 * the same minute (and a test) see the same numbers. Each UTC day is a seeded random walk pinned at
 * both ends (a Brownian bridge between two daily anchors), so the series is continuous across
 * midnight and any minute can be computed without the whole history.
 */

export const SYMBOL_RE = /^[A-Z.]{1,6}$/;
export const DEFAULT_WATCHLIST: readonly string[] = ['LU', 'T', 'IBM'];

/** Starting points for the paper's era (Lucent, AT&T, IBM); other symbols get one from their hash. */
const BASE: Readonly<Record<string, number>> = { LU: 86.5, T: 58.25, IBM: 160, MSFT: 120.5, DEC: 42.75, NSCP: 31.5, AAPL: 17.25 };

const MINUTES_PER_DAY = 1440;
/** Per-minute volatility of the log price (about 2.3 % a day). */
const SIGMA = 0.0006;
/** How far one day's anchor may sit from the symbol's base price (log scale). */
const ANCHOR_SPREAD = 0.04;

/** FNV-1a, then murmur3's finalizer: a well-mixed 32-bit hash of a string. */
function hash32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** mulberry32: a small seeded generator of uniforms in (0, 1). */
function generator(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) + 0.5) / 4294967296;
  };
}

function basePrice(symbol: string): number {
  return BASE[symbol] ?? 10 + (hash32(`base|${symbol}`) % 49_000) / 100;
}

function anchorLog(symbol: string, day: number): number {
  const u = (hash32(`anchor|${symbol}|${day}`) + 0.5) / 4294967296;
  return Math.log(basePrice(symbol)) + ANCHOR_SPREAD * (2 * u - 1);
}

/** Log prices of one UTC day, minute 0 .. 1440 (minute 1440 is the next day's minute 0). */
const dayCache = new Map<string, Float64Array>();

function dayWalk(symbol: string, day: number): Float64Array {
  const id = `${symbol}|${day}`;
  const hit = dayCache.get(id);
  if (hit) return hit;
  const next = generator(hash32(`walk|${id}`));
  const raw = new Float64Array(MINUTES_PER_DAY + 1);
  for (let m = 1; m <= MINUTES_PER_DAY; m++) {
    // Box-Muller: one standard normal step per minute.
    const z = Math.sqrt(-2 * Math.log(next())) * Math.cos(2 * Math.PI * next());
    raw[m] = raw[m - 1]! + SIGMA * z;
  }
  const start = anchorLog(symbol, day);
  const end = anchorLog(symbol, day + 1);
  const out = new Float64Array(MINUTES_PER_DAY + 1);
  for (let m = 0; m <= MINUTES_PER_DAY; m++) {
    // The bridge: the walk minus its drift to the day's end, plus the straight line between anchors.
    const f = m / MINUTES_PER_DAY;
    out[m] = start + raw[m]! - f * raw[MINUTES_PER_DAY]! + f * (end - start);
  }
  if (dayCache.size >= 512) dayCache.delete(dayCache.keys().next().value!);
  dayCache.set(id, out);
  return out;
}

const cents = (x: number) => Math.round(x * 100) / 100;

/** The price of `symbol` during the minute `minute` (Unix minutes), in dollars and cents. */
export function priceAt(symbol: string, minute: number): number {
  const day = Math.floor(minute / MINUTES_PER_DAY);
  return cents(Math.exp(dayWalk(symbol, day)[minute - day * MINUTES_PER_DAY]!));
}

export const minuteOf = (unixSeconds: number) => Math.floor(unixSeconds / 60);

interface Quote {
  symbol: string;
  price: number;
  /** Change over the last 24 hours. */
  change: number;
  change_pct: number;
  /** Start of the quote's minute, ISO 8601. */
  time: string;
}

export function quote(symbol: string, unixSeconds: number): Quote {
  const m = minuteOf(unixSeconds);
  const price = priceAt(symbol, m);
  const before = priceAt(symbol, m - MINUTES_PER_DAY);
  return {
    symbol,
    price,
    change: cents(price - before),
    change_pct: Math.round(((price - before) / before) * 10_000) / 100,
    time: new Date(m * 60_000).toISOString(),
  };
}

interface IntradaySeries {
  symbol: string;
  /** One point per minute for the last `minutes` minutes, oldest first: [ISO time, price]. */
  points: [string, number][];
  open: number;
  high: number;
  low: number;
  last: number;
}

// A series changes once a minute: every delivery within the minute gets the same (frozen) one.
const series = new Map<string, IntradaySeries>();

/** Intraday series: the trailing trading session (6.5 hours) minute by minute. */
export function intraday(symbol: string, unixSeconds: number, minutes = 390): IntradaySeries {
  const id = `${symbol} ${minuteOf(unixSeconds)} ${minutes}`;
  let s = series.get(id);
  if (!s) {
    if (series.size >= 256) series.delete(series.keys().next().value!);
    s = Object.freeze(computeIntraday(symbol, unixSeconds, minutes));
    series.set(id, s);
  }
  return s;
}

function computeIntraday(symbol: string, unixSeconds: number, minutes: number): IntradaySeries {
  const end = minuteOf(unixSeconds);
  const points: [string, number][] = [];
  for (let m = end - minutes + 1; m <= end; m++) points.push([new Date(m * 60_000).toISOString(), priceAt(symbol, m)]);
  const prices = points.map((p) => p[1]);
  return { symbol, points, open: prices[0]!, high: Math.max(...prices), low: Math.min(...prices), last: prices[prices.length - 1]! };
}
