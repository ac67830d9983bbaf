import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { fromUtf8, RandomPool, randomBytes, resetRandomPool, utf8 } from './bytes.ts';

describe('utf8', () => {
  it('equals TextEncoder for any string, lone surrogates included, and is a plain Uint8Array', () => {
    const te = new TextEncoder();
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: 'binary', maxLength: 300 }), fc.string({ unit: 'grapheme', maxLength: 300 }), fc.string({ maxLength: 5000 })), (s) => {
        const b = utf8(s);
        expect(b.constructor).toBe(Uint8Array);
        expect(b).toEqual(te.encode(s));
      }),
      { numRuns: 500 },
    );
    expect(utf8('\ud800x')).toEqual(new Uint8Array([0xef, 0xbf, 0xbd, 0x78]));
    expect(fromUtf8(utf8('Bücher €'))).toBe('Bücher €');
  });
});

describe('random pool', () => {
  afterEach(() => vi.restoreAllMocks());

  it('hands out a block a piece at a time, each piece once, and draws the next block when it runs out', () => {
    const draw = vi.spyOn(crypto, 'getRandomValues');
    const pool = new RandomPool(256);
    const a = pool.take(200);
    expect(draw).toHaveBeenCalledTimes(1);
    const b = pool.take(56);
    expect(draw).toHaveBeenCalledTimes(1);
    expect(a).toHaveLength(200);
    expect(b).toHaveLength(56);
    // The block is zeroed behind what it handed out.
    expect((pool as unknown as { block: Uint8Array }).block.every((x) => x === 0)).toBe(true);
    pool.take(1);
    expect(draw).toHaveBeenCalledTimes(2);
    // Larger requests go straight to getRandomValues and leave the block alone.
    expect(pool.take(300)).toHaveLength(300);
    expect(draw).toHaveBeenCalledTimes(3);
    pool.take(1);
    expect(draw).toHaveBeenCalledTimes(3);
  });

  it('reset zeroes the unused bytes and the next take draws a fresh block', () => {
    const pool = new RandomPool(256);
    pool.take(16);
    const block = (pool as unknown as { block: Uint8Array }).block;
    expect(block.some((x) => x !== 0)).toBe(true);
    pool.reset();
    expect(block.every((x) => x === 0)).toBe(true);
    const draw = vi.spyOn(crypto, 'getRandomValues');
    pool.take(16);
    expect(draw).toHaveBeenCalledTimes(1);
  });

  it('resetRandomPool empties the shared pool behind randomBytes: the next call draws a fresh block', () => {
    resetRandomPool();
    const draw = vi.spyOn(crypto, 'getRandomValues');
    randomBytes(1);
    expect(draw).toHaveBeenCalledTimes(1);
    randomBytes(16);
    expect(draw).toHaveBeenCalledTimes(1);
    resetRandomPool();
    randomBytes(16);
    expect(draw).toHaveBeenCalledTimes(2);
  });

  it('refuses a block size or a request out of range', () => {
    expect(() => new RandomPool(255)).toThrow(RangeError);
    expect(() => new RandomPool(65537)).toThrow(RangeError);
    expect(() => new RandomPool(256).take(-1)).toThrow(RangeError);
    expect(() => new RandomPool(256).take(1.5)).toThrow(RangeError);
  });
});
