/**
 * PayWord words w_i of a receipt chain (docs/PROTOCOL.md §11.1: w_N = seed, w_i-1 = SHA256(w_i)),
 * kept so that an acknowledgement (§11.2) costs no walk from the seed. `paywordWord` walks N - i
 * hashes on every call (milliseconds for a chain of a few thousand); this walks the chain once,
 * keeps every `step`-th word as a checkpoint and the segment of words in use, so a steady run of
 * acknowledgements (i = 1, 2, 3...) costs one lookup each and a walk of at most `step` hashes when
 * it enters a new segment.
 *
 * The words are secret until revealed (an early w_i would let anyone acknowledge deliveries not
 * received): this object lives in the worker's memory only and is wiped on lock (keys.ts).
 */
import { sha256 } from '../crypto/hash.ts';
import { wipe } from '../crypto/bytes.ts';
import { JanusError, paywordSeed } from '../protocol/index.ts';

export class ChainWords {
  readonly n: number;
  readonly step: number;
  /** w_c for c = N and every multiple of `step` below it. */
  private readonly checkpoints = new Map<number, Uint8Array>();
  /** w_lo ... w_hi, the segment the last lookup fell in. */
  private segment: { lo: number; words: Uint8Array[] } | null = null;

  /** `seed` is w_N (paywordSeed(K, sub)); it is copied, and the copy wiped with the rest. */
  constructor(seed: Uint8Array, n: number, step = Math.max(16, Math.ceil(Math.sqrt(n)))) {
    if (!Number.isSafeInteger(n) || n < 1) throw new RangeError(`"n" expected a positive integer, got ${String(n)}`);
    if (!Number.isSafeInteger(step) || step < 1) throw new RangeError(`"step" expected a positive integer, got ${String(step)}`);
    if (seed.length !== 32) throw new RangeError(`"seed" expected Uint8Array of length 32, got length=${seed.length}`);
    this.n = n;
    this.step = step;
    let w: Uint8Array = seed.slice();
    this.checkpoints.set(n, w);
    for (let i = n - 1; i >= 0; i--) {
      w = sha256(w);
      if (i % step === 0) this.checkpoints.set(i, w);
    }
  }

  /** w_i for 0 <= i <= N (a copy: the caller may wipe or send it). */
  word(i: number): Uint8Array {
    if (!Number.isSafeInteger(i) || i < 0 || i > this.n) throw new JanusError('bad_input', `index must be 0..${this.n}`);
    const seg = this.segment;
    if (seg && i >= seg.lo && i < seg.lo + seg.words.length) return seg.words[i - seg.lo]!.slice();
    // The nearest checkpoint at or above i, then down to the checkpoint below it.
    const hi = Math.min(this.n, Math.ceil(i / this.step) * this.step);
    const lo = Math.max(0, hi === this.n && hi % this.step !== 0 ? hi - (hi % this.step) : hi - this.step);
    const words: Uint8Array[] = new Array<Uint8Array>(hi - lo + 1);
    let w = this.checkpoints.get(hi)!;
    words[hi - lo] = w;
    for (let j = hi - 1; j >= lo; j--) {
      w = sha256(w);
      words[j - lo] = w;
    }
    if (seg) this.forgetSegment(seg);
    this.segment = { lo, words };
    return words[i - lo]!.slice();
  }

  /** Overwrites every word held. */
  wipe(): void {
    if (this.segment) this.forgetSegment(this.segment);
    this.segment = null;
    for (const w of this.checkpoints.values()) wipe(w);
    this.checkpoints.clear();
  }

  private forgetSegment(seg: { lo: number; words: Uint8Array[] }): void {
    // The segment's top word is its checkpoint's own array: that one stays.
    for (let k = 0; k < seg.words.length - 1; k++) wipe(seg.words[k]!);
  }
}

/** The chain words for K and `sub`, walked once. */
export function chainWords(k: Uint8Array, sub: string, n: number): ChainWords {
  const seed = paywordSeed(k, sub);
  try {
    return new ChainWords(seed, n);
  } finally {
    wipe(seed);
  }
}
