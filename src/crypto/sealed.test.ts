import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { concat, fromHex, utf8 } from './bytes.ts';
import { CODING, IV_LEN, OVERHEAD, open, seal, sealedNoble } from './sealed.ts';

const impls = [
  { name: 'default (WebCrypto here)', seal, open },
  { name: 'noble', ...sealedNoble },
] as const;

// McGrew and Viega, "The Galois/Counter Mode of Operation (GCM)", test case 16: AES-256, 96-bit IV, with AAD.
const TC16 = {
  key: fromHex('feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308'),
  iv: fromHex('cafebabefacedbaddecaf888'),
  pt: fromHex('d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39'),
  aad: fromHex('feedfacedeadbeeffeedfacedeadbeefabaddad2'),
  ct: fromHex('522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662'),
  tag: fromHex('76fc6ece0f4e1768cddf8853bb2d551b'),
};
const KEY = new Uint8Array(32).fill(3);
const AAD = utf8('janus/1 response\nstatus: 200');

describe(`${CODING} content coding`, () => {
  for (const impl of impls) {
    describe(impl.name, () => {
      it('is iv || AES-256-GCM(ciphertext || tag): the published test case 16', async () => {
        const body = await impl.seal(TC16.key, TC16.pt, TC16.aad, TC16.iv);
        expect(body).toEqual(concat(TC16.iv, TC16.ct, TC16.tag));
        expect(await impl.open(TC16.key, body, TC16.aad, 1024)).toEqual(TC16.pt);
      });

      it('round-trips any plaintext, the empty one included, and picks a fresh iv each time', async () => {
        await fc.assert(
          fc.asyncProperty(fc.uint8Array({ maxLength: 2000 }), async (pt) => {
            const a = await impl.seal(KEY, pt, AAD);
            const b = await impl.seal(KEY, pt, AAD);
            expect(a.length).toBe(pt.length + OVERHEAD);
            expect(a.subarray(0, IV_LEN)).not.toEqual(b.subarray(0, IV_LEN));
            expect(await impl.open(KEY, a, AAD, 2000)).toEqual(pt);
          }),
          { numRuns: 60 },
        );
      });

      it('returns null for any changed byte, another key or other additional data', async () => {
        const body = await impl.seal(KEY, utf8('{"quotes":[1,2,3]}'), AAD);
        for (let i = 0; i < body.length; i++) {
          const bad = body.slice();
          bad[i]! ^= 0x80;
          expect(await impl.open(KEY, bad, AAD, 1024)).toBeNull();
        }
        expect(await impl.open(new Uint8Array(32).fill(4), body, AAD, 1024)).toBeNull();
        expect(await impl.open(KEY, body, utf8('janus/1 response\nstatus: 201'), 1024)).toBeNull();
        expect(await impl.open(KEY, body.subarray(0, body.length - 1), AAD, 1024)).toBeNull();
      });

      it('refuses a body shorter than iv and tag (malformed) and a plaintext over the limit before any work (too_large)', async () => {
        for (const n of [0, 1, OVERHEAD - 1]) {
          await expect(impl.open(KEY, new Uint8Array(n), AAD, 1024)).rejects.toMatchObject({ code: 'malformed' });
        }
        const body = await impl.seal(KEY, new Uint8Array(100), AAD);
        await expect(impl.open(KEY, body, AAD, 99)).rejects.toMatchObject({ code: 'too_large' });
        expect(await impl.open(KEY, body, AAD, 100)).toEqual(new Uint8Array(100));
      });

      it('takes only a 32-byte key and a 12-byte iv', async () => {
        await expect(impl.seal(new Uint8Array(16), new Uint8Array(1), AAD)).rejects.toThrow(/key/);
        await expect(impl.seal(KEY, new Uint8Array(1), AAD, new Uint8Array(16))).rejects.toThrow(/iv/);
      });
    });
  }
});
