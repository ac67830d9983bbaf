import { describe, expect, it } from 'vitest';
import { b64u, randomBytes } from '../crypto/bytes.ts';
import { decodeBody, decodeBodyPortable, encodeBody, encodeBodyPortable } from './wire.ts';

describe('relay body encoding', () => {
  it('is base64url without padding, as the protocol codec writes it, both ways, at every length', () => {
    for (const n of [0, 1, 2, 3, 4, 5, 31, 32, 33, 1000, 0x8000 - 1, 0x8000, 0x8000 + 1, 100_000]) {
      const bytes = randomBytes(n);
      const s = b64u.encode(bytes);
      expect(encodeBodyPortable(bytes), `n=${n}`).toBe(s);
      expect(encodeBody(bytes), `n=${n}`).toBe(s);
      expect(decodeBodyPortable(s), `n=${n}`).toEqual(bytes);
      expect(decodeBody(s), `n=${n}`).toEqual(bytes);
    }
  });

  it('takes a view into a larger buffer as just its bytes', () => {
    const big = randomBytes(64);
    const view = big.subarray(10, 20);
    expect(decodeBody(encodeBody(view))).toEqual(view.slice());
  });

  it('refuses what is not base64url', () => {
    expect(() => decodeBodyPortable('a*b')).toThrow();
    expect(() => decodeBody('a*b')).toThrow();
  });
});
