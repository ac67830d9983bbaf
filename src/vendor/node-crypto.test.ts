/**
 * The node:crypto provider against the default (noble + WebCrypto): the same bytes for arbitrary
 * inputs, and every protocol vector reproduced with it installed.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as aes128gcm from '../crypto/aes128gcm.ts';
import { nobleProvider, useCryptoProvider } from '../crypto/provider.ts';
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

  it('RFC 8188 bodies are identical with the provider AES-GCM and with WebCrypto, and open each other', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 600 }), fc.uint8Array({ minLength: 16, maxLength: 16 }), fc.integer({ min: 18, max: 200 }), async (pt, salt, rs) => {
        const ikm = new Uint8Array(32).fill(7);
        const prev = useCryptoProvider(nobleProvider); // no aesGcm: crypto.subtle
        try {
          const web = await aes128gcm.encrypt(pt, ikm, { salt, rs });
          useCryptoProvider(nodeCryptoProvider);
          const native = await aes128gcm.encrypt(pt, ikm, { salt, rs });
          expect(native).toEqual(web);
          expect((await aes128gcm.decrypt(web, ikm)).plaintext).toEqual(pt);
          const bad = web.slice();
          bad[bad.length - 1]! ^= 1;
          await expect(aes128gcm.decrypt(bad, ikm)).rejects.toMatchObject({ code: 'decrypt_failed' });
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
