/**
 * The node:crypto provider against the default (noble + WebCrypto): the same bytes for arbitrary
 * inputs, and every protocol vector reproduced with it installed.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { nobleProvider, useCryptoProvider } from '../crypto/provider.ts';
import * as sealed from '../crypto/sealed.ts';
import { nodeCryptoProvider } from './node-crypto.ts';

describe('node:crypto provider', () => {
  it('SHA-256, HMAC and HKDF equal the noble ones', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.uint8Array({ maxLength: 80 }), fc.uint8Array({ maxLength: 40 }), fc.integer({ min: 1, max: 128 }), (a, b, c, L) => {
        expect(nodeCryptoProvider.sha256(a)).toEqual(nobleProvider.sha256(a));
        expect(nodeCryptoProvider.hmacSha256(b, a)).toEqual(nobleProvider.hmacSha256(b, a));
        expect(nodeCryptoProvider.hkdfSha256(a, b, c, L)).toEqual(nobleProvider.hkdfSha256(a, b, c, L));
      }),
      { numRuns: 200 },
    );
  });

  it('janus-gcm bodies are identical with the provider AES-GCM, WebCrypto and noble, and open each other', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 600 }), fc.uint8Array({ maxLength: 300 }), fc.uint8Array({ minLength: 12, maxLength: 12 }), async (pt, aad, iv) => {
        const key = new Uint8Array(32).fill(7);
        const prev = useCryptoProvider(nobleProvider); // no aesGcm: crypto.subtle
        try {
          const web = await sealed.seal(key, pt, aad, iv);
          expect(await sealed.sealedNoble.seal(key, pt, aad, iv)).toEqual(web);
          useCryptoProvider(nodeCryptoProvider);
          expect(await sealed.seal(key, pt, aad, iv)).toEqual(web);
          expect(await sealed.open(key, web, aad, 1 << 20)).toEqual(pt);
          const bad = web.slice();
          bad[bad.length - 1]! ^= 1;
          expect(await sealed.open(key, bad, aad, 1 << 20)).toBeNull();
          const otherAad = new Uint8Array([...aad, 0]);
          expect(await sealed.open(key, web, otherAad, 1 << 20)).toBeNull();
        } finally {
          useCryptoProvider(prev);
        }
      }),
      { numRuns: 100 },
    );
  });
});

// Every vector again, with node:crypto doing the symmetric work.
useCryptoProvider(nodeCryptoProvider);
await import('../../test/vectors.test.ts');
