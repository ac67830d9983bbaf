import { describe, expect, it } from 'vitest';
import { randomBytes } from '../crypto/bytes.ts';
import { paywordSeed, paywordWord } from '../protocol/index.ts';
import { ChainWords, chainWords } from './chains.ts';

const K = randomBytes(32);
const SUB = 'AAAAAAAAAAAAAAAAAAAAAA';

describe('ChainWords', () => {
  it('gives the words paywordWord gives, in order, at every index (segment edges included)', () => {
    for (const n of [1, 2, 15, 16, 17, 100, 257]) {
      const c = chainWords(K, SUB, n);
      for (let i = 0; i <= n; i++) expect(c.word(i), `n=${n} i=${i}`).toEqual(paywordWord(K, SUB, n, i));
    }
  });

  it('answers out of order and backwards too, with small and odd steps', () => {
    const n = 50;
    const want = Array.from({ length: n + 1 }, (_, i) => paywordWord(K, SUB, n, i));
    for (const step of [1, 3, 7, 50, 64]) {
      const c = new ChainWords(paywordSeed(K, SUB), n, step);
      for (const i of [50, 0, 49, 1, 25, 24, 26, 3, 48, 7, 7, 21, 14, 35, 42, 50]) expect(c.word(i), `step=${step} i=${i}`).toEqual(want[i]);
    }
  });

  it('hands out copies: wiping a returned word changes nothing held', () => {
    const c = chainWords(K, SUB, 40);
    const w = c.word(5);
    w.fill(0);
    expect(c.word(5)).toEqual(paywordWord(K, SUB, 40, 5));
  });

  it('refuses an index outside 0..N and a bad construction', () => {
    const c = chainWords(K, SUB, 10);
    expect(() => c.word(11)).toThrow(/index must be 0\.\.10/);
    expect(() => c.word(-1)).toThrow(/index/);
    expect(() => c.word(1.5)).toThrow(/index/);
    expect(() => new ChainWords(new Uint8Array(31), 10)).toThrow(RangeError);
    expect(() => new ChainWords(new Uint8Array(32), 0)).toThrow(RangeError);
  });

  it('wipe() overwrites what it held', () => {
    const seed = paywordSeed(K, SUB);
    const c = new ChainWords(seed, 20, 4);
    c.word(9);
    const held = [...(c as unknown as { checkpoints: Map<number, Uint8Array> }).checkpoints.values()];
    c.wipe();
    for (const w of held) expect(w.every((b) => b === 0)).toBe(true);
    expect(seed.some((b) => b !== 0)).toBe(true); // the caller's seed was copied, not taken
  });
});
