/** RFC 5869 (HKDF) test cases, and SHA-256/HMAC/HKDF cross-checked against node:crypto. */
import { createHash, createHmac, hkdfSync } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fromHex, toHex } from './bytes.ts';
import { hkdfSha256, hmacSha256, sha256 } from './hash.ts';

// RFC 5869 Appendix A.1-A.3 (the SHA-256 cases).
const RFC5869 = [
  {
    ikm: '0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b',
    salt: '000102030405060708090a0b0c',
    info: 'f0f1f2f3f4f5f6f7f8f9',
    L: 42,
    okm: '3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865',
  },
  {
    ikm: Array.from({ length: 80 }, (_, i) => i.toString(16).padStart(2, '0')).join(''),
    salt: Array.from({ length: 80 }, (_, i) => (0x60 + i).toString(16).padStart(2, '0')).join(''),
    info: Array.from({ length: 80 }, (_, i) => (0xb0 + i).toString(16).padStart(2, '0')).join(''),
    L: 82,
    okm: 'b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c59045a99cac7827271cb41c65e590e09da3275600c2f09b8367793a9aca3db71cc30c58179ec3e87c14c01d5c1f3434f1d87',
  },
  {
    ikm: '0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b',
    salt: '',
    info: '',
    L: 42,
    okm: '8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8',
  },
];

describe('HKDF-SHA256 (RFC 5869)', () => {
  for (const [i, v] of RFC5869.entries()) {
    it(`Appendix A.${i + 1}`, () => {
      expect(toHex(hkdfSha256(fromHex(v.ikm), fromHex(v.salt), fromHex(v.info), v.L))).toBe(v.okm);
    });
  }
  it('rejects lengths outside 1..255*32', () => {
    expect(() => hkdfSha256(new Uint8Array(32), new Uint8Array(0), new Uint8Array(0), 0)).toThrow(RangeError);
    expect(() => hkdfSha256(new Uint8Array(32), new Uint8Array(0), new Uint8Array(0), 8161)).toThrow(RangeError);
  });
});

describe('cross-check against node:crypto', () => {
  it('SHA-256, HMAC-SHA256 and HKDF-SHA256 agree on arbitrary inputs', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.uint8Array({ maxLength: 100 }), fc.uint8Array({ maxLength: 64 }), fc.integer({ min: 1, max: 200 }), (a, b, c, L) => {
        expect(toHex(sha256(a))).toBe(createHash('sha256').update(a).digest('hex'));
        expect(toHex(hmacSha256(b, a))).toBe(createHmac('sha256', b).update(a).digest('hex'));
        expect(toHex(hkdfSha256(a, b, c, L))).toBe(Buffer.from(hkdfSync('sha256', a, b, c, L)).toString('hex'));
      }),
      { numRuns: 200 },
    );
  });
});
