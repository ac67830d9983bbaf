import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { JanusError } from '../errors.ts';
import { b64u, concat, equalBytes, fromHex, u32be, utf8 } from './bytes.ts';
import { hkdfSha256 } from './hash.ts';
import { gcm } from '@noble/ciphers/aes.js';
import { aes128gcmNoble, decrypt, encrypt, parseHeader } from './aes128gcm.ts';

const impls = [
  { name: 'webcrypto', encrypt, decrypt },
  { name: 'noble', ...aes128gcmNoble },
] as const;

// RFC 8188 §3.1: rs = 4096, no key id, one record (53 bytes in all).
const EX1 = {
  ikm: b64u.decode('yqdlZ-tYemfogSmv7Ws5PQ'),
  salt: b64u.decode('I1BsxtFttlv3u_Oo94xnmw'),
  body: b64u.decode('I1BsxtFttlv3u_Oo94xnmwAAEAAA-NAVub2qFgBEuQKRapoZu-IxkIva3MEB1PD-ly8Thjg'),
};
// RFC 8188 §3.2: rs = 25, keyid "a1", two records with padding.
const EX2 = {
  ikm: b64u.decode('BO3ZVPxUlnLORbVGMpbT1Q'),
  body: b64u.decode(
    'uNCkWiNYzKTnBN9ji3-qWAAAABkCYTHOG8chz_gnvgOqdGYovxyjuqRyJFjEDyoF1Fvkj6hQPdPHI51OEUKEpgz3SsLWIqS_uA',
  ),
};
const WALRUS = utf8('I am the walrus');
const IKM = fromHex('000102030405060708090a0b0c0d0e0f');
const SALT = fromHex('f0e0d0c0b0a090807060504030201000');

async function expectCode(p: Promise<unknown>, code: string | string[]): Promise<void> {
  const codes = Array.isArray(code) ? code : [code];
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(JanusError);
    expect(codes).toContain((e as JanusError).code);
    return;
  }
  expect.fail(`expected JanusError(${codes.join('|')})`);
}

/** Builds a body by hand (RFC 8188 §2) so tests can produce framings the encoder never emits. */
function handBuild(ikm: Uint8Array, salt: Uint8Array, rs: number, records: Uint8Array[], keyid = new Uint8Array(0)): Uint8Array {
  const cek = hkdfSha256(ikm, salt, utf8('Content-Encoding: aes128gcm\0'), 16);
  const base = hkdfSha256(ikm, salt, utf8('Content-Encoding: nonce\0'), 12);
  const sealed = records.map((r, seq) => {
    const nonce = base.slice();
    nonce[11]! ^= seq;
    return gcm(cek, nonce).encrypt(r);
  });
  return concat(salt, u32be(rs), Uint8Array.of(keyid.length), keyid, ...sealed);
}

describe('RFC 8188 §3 examples', () => {
  for (const impl of impls) {
    it(`${impl.name}: decodes §3.1`, async () => {
      const out = await impl.decrypt(EX1.body, EX1.ikm);
      expect(out.plaintext).toEqual(WALRUS);
      expect(out.rs).toBe(4096);
      expect(out.keyid).toEqual(new Uint8Array(0));
      expect(out.salt).toEqual(EX1.salt);
      expect(EX1.body.length).toBe(53);
    });

    it(`${impl.name}: encodes §3.1 byte for byte`, async () => {
      const body = await impl.encrypt(WALRUS, EX1.ikm, { salt: EX1.salt, rs: 4096 });
      expect(b64u.encode(body)).toBe(b64u.encode(EX1.body));
    });

    it(`${impl.name}: decodes §3.2 (two padded records, keyid "a1")`, async () => {
      const out = await impl.decrypt(EX2.body, EX2.ikm);
      expect(out.plaintext).toEqual(WALRUS);
      expect(out.rs).toBe(25);
      expect(out.keyid).toEqual(utf8('a1'));
    });
  }

  it('parses the §3.2 header', () => {
    const h = parseHeader(EX2.body);
    expect(h.rs).toBe(25);
    expect(h.keyid).toEqual(utf8('a1'));
    expect(h.headerLength).toBe(16 + 4 + 1 + 2);
    expect(h.salt).toEqual(EX2.body.subarray(0, 16));
  });
});

describe('WebCrypto and noble agree', () => {
  const rs = 40;
  const sizes = [0, 1, 2, rs - 18, rs - 17, rs - 16, rs - 1, rs, rs + 1, 2 * (rs - 17), 2 * (rs - 17) + 1, 3 * rs + 5];
  for (const n of sizes) {
    it(`plaintext of ${n} bytes, rs ${rs}`, async () => {
      const pt = new Uint8Array(n).map((_, i) => (i * 31 + 7) & 0xff);
      const keyid = utf8('kid');
      const a = await encrypt(pt, IKM, { salt: SALT, rs, keyid });
      const b = await aes128gcmNoble.encrypt(pt, IKM, { salt: SALT, rs, keyid });
      expect(b64u.encode(a)).toBe(b64u.encode(b));
      // Every record is exactly rs long except the last, which is never a wasted empty record.
      const content = a.length - 16 - 4 - 1 - keyid.length;
      const perRecord = rs - 17;
      const count = Math.max(1, Math.ceil(n / perRecord));
      expect(content).toBe(n + 17 * count);
      expect((await decrypt(b, IKM)).plaintext).toEqual(pt);
      expect((await aes128gcmNoble.decrypt(a, IKM)).plaintext).toEqual(pt);
    });
  }

  it('uses a random salt by default and the default rs', async () => {
    const a = await encrypt(WALRUS, IKM);
    const b = await encrypt(WALRUS, IKM);
    expect(a.subarray(0, 16)).not.toEqual(b.subarray(0, 16));
    expect(parseHeader(a).rs).toBe(65536);
    expect((await decrypt(a, IKM)).plaintext).toEqual(WALRUS);
  });

  it('handles a multi-record body at the default record size', async () => {
    const pt = new Uint8Array(200_000).map((_, i) => i & 0xff);
    const body = await encrypt(pt, IKM, { salt: SALT });
    expect(b64u.encode(body)).toBe(b64u.encode(await aes128gcmNoble.encrypt(pt, IKM, { salt: SALT })));
    // equalBytes rather than toEqual: vitest's deep equality is slow on large arrays.
    expect(equalBytes((await decrypt(body, IKM)).plaintext, pt)).toBe(true);
  });
});

describe('decryption is strict', () => {
  for (const impl of impls) {
    it(`${impl.name}: any flipped bit is rejected, except in the key id`, async () => {
      const rs = 24;
      const keyid = utf8('k');
      const body = await impl.encrypt(utf8('a message spanning several records'), IKM, { salt: SALT, rs, keyid });
      for (let i = 0; i < body.length; i++) {
        for (const bit of [0x01, 0x80]) {
          const bad = body.slice();
          bad[i]! ^= bit;
          if (i === 21) {
            // RFC 8188 §2.1: the key id only names the IKM and is not authenticated; the caller
            // picks the key by it, so a changed key id means another (wrong) key in practice.
            expect((await impl.decrypt(bad, IKM)).keyid).toEqual(Uint8Array.of(keyid[0]! ^ bit));
            continue;
          }
          await expectCode(impl.decrypt(bad, IKM), ['malformed', 'decrypt_failed', 'too_large']);
        }
      }
    });

    it(`${impl.name}: truncation anywhere is rejected`, async () => {
      const rs = 24;
      const body = await impl.encrypt(new Uint8Array(50).fill(9), IKM, { salt: SALT, rs });
      for (let n = 0; n < body.length; n++) {
        await expectCode(impl.decrypt(body.subarray(0, n), IKM), ['malformed', 'decrypt_failed']);
      }
      // Cut exactly at a record boundary: the new last record says 0x01, not 0x02.
      await expectCode(impl.decrypt(body.subarray(0, 21 + rs), IKM), 'decrypt_failed');
      // Cut inside the header / before any record.
      await expectCode(impl.decrypt(body.subarray(0, 20), IKM), 'malformed');
      await expectCode(impl.decrypt(body.subarray(0, 21), IKM), 'malformed');
      // Trailing fragment too short to be a record, after a full final record.
      const full = await impl.encrypt(new Uint8Array(2 * (rs - 17)), IKM, { salt: SALT, rs });
      await expectCode(impl.decrypt(concat(full, new Uint8Array(16)), IKM), 'malformed');
      // A longer fragment is a record of its own: the old final record now says 0x02 too early.
      await expectCode(impl.decrypt(concat(full, new Uint8Array(17)), IKM), 'decrypt_failed');
    });

    it(`${impl.name}: a wrong key fails to decrypt`, async () => {
      const body = await impl.encrypt(WALRUS, IKM, { salt: SALT });
      await expectCode(impl.decrypt(body, new Uint8Array(16)), 'decrypt_failed');
    });
  }

  it('rejects rs < 18 and truncated key ids as malformed', async () => {
    const h = concat(SALT, u32be(17), Uint8Array.of(0), new Uint8Array(40));
    expect(() => parseHeader(h)).toThrow(JanusError);
    await expectCode(decrypt(h, IKM), 'malformed');
    await expectCode(decrypt(concat(SALT, u32be(4096), Uint8Array.of(5), utf8('abc')), IKM), 'malformed');
    await expectCode(decrypt(new Uint8Array(0), IKM), 'malformed');
  });

  it('enforces the limits with too_large', async () => {
    const body = await encrypt(new Uint8Array(1000), IKM, { salt: SALT, rs: 100 });
    await expectCode(decrypt(body, IKM, { maxRecordSize: 99 }), 'too_large');
    await expectCode(decrypt(body, IKM, { maxPlaintext: 999 }), 'too_large');
    expect((await decrypt(body, IKM, { maxRecordSize: 100, maxPlaintext: 1000 })).plaintext.length).toBe(1000);
    // Default record size limit: 1 MiB + 17.
    await expectCode(decrypt(concat(SALT, u32be(1024 * 1024 + 18), Uint8Array.of(0), new Uint8Array(17)), IKM), 'too_large');
  });

  for (const impl of impls) {
    it(`${impl.name}: framing the encoder never emits, decrypted per RFC 8188 §2`, async () => {
      const rs = 20; // 3 bytes of data + delimiter per full record
      const build = (recs: Uint8Array[]) => handBuild(IKM, SALT, rs, recs);
      const r = (hex: string) => fromHex(hex);
      // Valid: full record, then an empty final record holding only 0x02 and padding.
      expect((await impl.decrypt(build([r('61626301'), r('0200')]), IKM)).plaintext).toEqual(utf8('abc'));
      // Valid: padding in a non-final record.
      expect((await impl.decrypt(build([r('61620100'), r('6302')]), IKM)).plaintext).toEqual(utf8('abc'));
      // 0x02 before the end.
      await expectCode(impl.decrypt(build([r('61626302'), r('6402')]), IKM), 'decrypt_failed');
      // Final record marked 0x01.
      await expectCode(impl.decrypt(build([r('61626301'), r('6401')]), IKM), 'decrypt_failed');
      // A single record marked 0x01 (e.g. a body truncated at a record boundary).
      await expectCode(impl.decrypt(build([r('616201')]), IKM), 'decrypt_failed');
      // Record of zeros only: no delimiter.
      await expectCode(impl.decrypt(build([r('000000')]), IKM), 'decrypt_failed');
      await expectCode(impl.decrypt(build([r('61626301'), r('00')]), IKM), 'decrypt_failed');
      // Other delimiter values, i.e. padding that is not zeros.
      await expectCode(impl.decrypt(build([r('61620300')]), IKM), 'decrypt_failed');
      await expectCode(impl.decrypt(build([r('620200ff')]), IKM), 'decrypt_failed');
      // A non-final record shorter than rs shifts every later boundary: the tags fail.
      await expectCode(impl.decrypt(build([r('616201'), r('636402')]), IKM), 'decrypt_failed');
    });
  }

  it('rejects programmer errors with TypeError/RangeError', async () => {
    await expect(encrypt(WALRUS, IKM, { rs: 17 })).rejects.toThrow(RangeError);
    await expect(encrypt(WALRUS, IKM, { rs: 2 ** 32 })).rejects.toThrow(RangeError);
    await expect(encrypt(WALRUS, IKM, { salt: new Uint8Array(15) })).rejects.toThrow(RangeError);
    await expect(encrypt(WALRUS, IKM, { keyid: new Uint8Array(256) })).rejects.toThrow(RangeError);
    await expect(encrypt('x' as unknown as Uint8Array, IKM)).rejects.toThrow(TypeError);
    await expect(decrypt('x' as unknown as Uint8Array, IKM)).rejects.toThrow(TypeError);
  });
});

describe('properties', () => {
  it('decrypt(encrypt(x)) = x for any x and rs in [18, 300], on both implementations', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ maxLength: 1200 }),
        fc.integer({ min: 18, max: 300 }),
        fc.uint8Array({ maxLength: 8 }),
        async (pt, rs, keyid) => {
          const body = await encrypt(pt, IKM, { rs, keyid });
          const a = await decrypt(body, IKM);
          expect(a.plaintext).toEqual(pt);
          expect(a.keyid).toEqual(keyid);
          expect(a.rs).toBe(rs);
          expect((await aes128gcmNoble.decrypt(body, IKM)).plaintext).toEqual(pt);
        },
      ),
      { numRuns: 150 },
    );
  });

  const onlyJanusErrors = async (body: Uint8Array) => {
    for (const impl of impls) {
      try {
        await impl.decrypt(body, IKM);
      } catch (e) {
        if (!(e instanceof JanusError)) throw e;
      }
    }
  };

  it('arbitrary bytes only ever throw JanusError', async () => {
    await fc.assert(fc.asyncProperty(fc.uint8Array({ maxLength: 400 }), onlyJanusErrors), { numRuns: 300 });
  });

  it('arbitrary records behind a plausible header only ever throw JanusError', async () => {
    const plausible = fc
      .tuple(fc.integer({ min: 0, max: 40 }), fc.uint8Array({ maxLength: 3 }), fc.uint8Array({ maxLength: 300 }))
      .map(([rs, keyid, rest]) => concat(SALT, u32be(rs), Uint8Array.of(keyid.length), keyid, rest));
    await fc.assert(fc.asyncProperty(plausible, onlyJanusErrors), { numRuns: 300 });
  });

  it('mutated valid bodies only ever throw JanusError (or decrypt to the original)', async () => {
    const pt = utf8('mutation target spanning a few records');
    const body = await encrypt(pt, IKM, { salt: SALT, rs: 30 });
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 4 }),
        fc.nat({ max: body.length }),
        async (flips, cut) => {
          const bad = body.slice(0, Math.max(cut, body.length - 3));
          for (const [at, x] of flips) bad[at % bad.length]! ^= x;
          await onlyJanusErrors(bad);
        },
      ),
      { numRuns: 200 },
    );
  });
});
