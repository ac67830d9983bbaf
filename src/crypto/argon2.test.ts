import { argon2id as nobleArgon2id } from '@noble/hashes/argon2.js';
import { describe, expect, it } from 'vitest';
import { fromHex, toHex } from './bytes.ts';
import { argon2id, JANUS_ARGON2 } from './argon2.ts';

describe('argon2id', () => {
  it('matches the RFC 9106 §5.3 Argon2id test vector', async () => {
    const tag = await argon2id(new Uint8Array(32).fill(1), new Uint8Array(16).fill(2), { m: 32, t: 3, p: 4 }, {
      key: new Uint8Array(8).fill(3),
      personalization: new Uint8Array(12).fill(4),
    });
    expect(toHex(tag)).toBe('0d640df58d78766c08c037a34a8b53c9d01ef0452d75b65eb52520e96b01e659');
  });

  it('reports increasing progress ending at 1', async () => {
    const seen: number[] = [];
    await argon2id(new Uint8Array(32).fill(1), new Uint8Array(16).fill(2), { m: 32, t: 3, p: 4 }, {
      onProgress: (f) => seen.push(f),
    });
    expect(seen.length).toBeGreaterThan(1);
    for (let i = 1; i < seen.length; i++) expect(seen[i]!).toBeGreaterThan(seen[i - 1]!);
    expect(seen[0]!).toBeGreaterThan(0);
    expect(seen.at(-1)).toBeCloseTo(1, 9);
  });

  it('agrees with the synchronous noble implementation for other lengths and p = 1', async () => {
    const pw = fromHex('70617373776f7264');
    const salt = fromHex('73616c7473616c7473616c74');
    const opts = { m: 64, t: 2, p: 1 };
    const got = await argon2id(pw, salt, opts, { dkLen: 64 });
    expect(got.length).toBe(64);
    expect(toHex(got)).toBe(toHex(nobleArgon2id(pw, salt, { ...opts, dkLen: 64 })));
  });

  it('yields to the event loop during a long derivation', async () => {
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    try {
      await argon2id(new Uint8Array(8), new Uint8Array(16), { m: 8192, t: 2, p: 1 });
    } finally {
      clearInterval(timer);
    }
    expect(ticks).toBeGreaterThan(0);
  });

  it('rejects invalid parameters', async () => {
    const pw = new Uint8Array(4);
    const salt = new Uint8Array(16);
    await expect(argon2id(pw, salt, { m: 31, t: 1, p: 4 })).rejects.toThrow(RangeError); // m < 8p
    await expect(argon2id(pw, salt, { m: 64, t: 0, p: 1 })).rejects.toThrow(RangeError);
    await expect(argon2id(pw, salt, { m: 64, t: 1, p: 0 })).rejects.toThrow(RangeError);
    await expect(argon2id(pw, salt, { m: 64, t: 1.5, p: 1 })).rejects.toThrow(RangeError);
    await expect(argon2id(pw, new Uint8Array(7), { m: 64, t: 1, p: 1 })).rejects.toThrow(/salt/);
    await expect(argon2id(pw, salt, { m: 64, t: 1, p: 1 }, { dkLen: 3 })).rejects.toThrow(/dkLen/);
    await expect(argon2id('pw' as unknown as Uint8Array, salt, { m: 64, t: 1, p: 1 })).rejects.toThrow(TypeError);
  });

  it('exposes the Janus parameters', () => {
    expect(JANUS_ARGON2).toEqual({ m: 65536, t: 3, p: 1 });
    expect(Object.isFrozen(JANUS_ARGON2)).toBe(true);
  });
});
