import * as nodeCrypto from 'node:crypto';
import fc from 'fast-check';
import * as forgeNs from 'node-forge';
import { beforeAll, describe, expect, it } from 'vitest';
import { JanusError } from '../errors.ts';
import { b64u, utf8 } from './bytes.ts';
import {
  certificateInfo,
  clearRsaKeys,
  derToPem,
  generateVendorKeyPair,
  MIN_RSA_BITS,
  oaepDecrypt,
  oaepEncrypt,
  parseVendorPublicKey,
  pemToDer,
  pssSign,
  pssVerify,
  selfSignedCertificate,
  spkiFingerprint,
} from './rsa.ts';

const forge: typeof forgeNs = (forgeNs as unknown as { default?: typeof forgeNs }).default ?? forgeNs;

type Pair = { spki: Uint8Array; pkcs8: Uint8Array };
let A: Pair;
let B: Pair;
const LABEL = utf8('janus/v1 key-wrap');

beforeAll(async () => {
  [A, B] = await Promise.all([generateVendorKeyPair(), generateVendorKeyPair()]);
}, 60_000);

async function expectCode(p: Promise<unknown> | (() => unknown), code: string): Promise<void> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    expect(e).toBeInstanceOf(JanusError);
    expect((e as JanusError).code).toBe(code);
    return;
  }
  expect.fail(`expected JanusError(${code})`);
}

const nodePub = (spki: Uint8Array) => nodeCrypto.createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' });
const nodePriv = (pkcs8: Uint8Array) => nodeCrypto.createPrivateKey({ key: Buffer.from(pkcs8), format: 'der', type: 'pkcs8' });

describe('key generation and parsing', () => {
  it('generates 3072-bit RSA keys with e = 65537', () => {
    const k = nodePub(A.spki);
    expect(k.asymmetricKeyType).toBe('rsa');
    expect(k.asymmetricKeyDetails?.modulusLength).toBe(3072);
    expect(k.asymmetricKeyDetails?.publicExponent).toBe(65537n);
    expect(nodePriv(A.pkcs8).asymmetricKeyType).toBe('rsa');
  });

  it('parses a b64u SPKI and fingerprints it', () => {
    const v = parseVendorPublicKey({ spki: b64u.encode(A.spki) });
    expect(v.spki).toEqual(A.spki);
    expect(v.modulusBits).toBe(3072);
    const expected = nodeCrypto.createHash('sha256').update(A.spki).digest('base64url');
    expect(v.fingerprint).toBe(expected);
    expect(spkiFingerprint(A.spki)).toBe(expected);
  });

  it('rejects small, non-RSA, odd-exponent and non-canonical keys with bad_vendor_key', async () => {
    const small = nodeCrypto.generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ format: 'der', type: 'spki' });
    expect(() => parseVendorPublicKey({ spki: b64u.encode(small) })).toThrow(JanusError);
    await expectCode(() => parseVendorPublicKey({ spki: b64u.encode(small) }), 'bad_vendor_key');
    await expectCode(oaepEncrypt(small, utf8('x'), LABEL), 'bad_vendor_key');
    await expectCode(pssVerify(small, utf8('x'), new Uint8Array(256)), 'bad_vendor_key');

    const ec = nodeCrypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'der', type: 'spki' });
    await expectCode(() => parseVendorPublicKey({ spki: b64u.encode(ec) }), 'bad_vendor_key');
    await expectCode(oaepEncrypt(ec, utf8('x'), LABEL), 'bad_vendor_key');

    // Same modulus as A, e = 3.
    const a = forge.pki.publicKeyFromAsn1(forge.asn1.fromDer(forge.util.createBuffer(Buffer.from(A.spki).toString('binary'))));
    const e3 = forge.pki.setRsaPublicKey(a.n, new forge.jsbn.BigInteger('3'));
    const e3Der = Buffer.from(forge.asn1.toDer(forge.pki.publicKeyToAsn1(e3)).getBytes(), 'binary');
    await expectCode(() => parseVendorPublicKey({ spki: b64u.encode(e3Der) }), 'bad_vendor_key');

    // A bare PKCS#1 RSAPublicKey, and the SPKI with trailing garbage.
    const pkcs1 = nodePub(A.spki).export({ format: 'der', type: 'pkcs1' });
    await expectCode(() => parseVendorPublicKey({ spki: b64u.encode(pkcs1) }), 'bad_vendor_key');
    await expectCode(() => parseVendorPublicKey({ spki: b64u.encode(Buffer.concat([A.spki, Buffer.of(0)])) }), 'bad_vendor_key');

    // Not b64u, empty, nothing, wrong types.
    await expectCode(() => parseVendorPublicKey({ spki: '+/==' }), 'bad_vendor_key');
    await expectCode(() => parseVendorPublicKey({ spki: '' }), 'bad_vendor_key');
    await expectCode(() => parseVendorPublicKey({}), 'bad_vendor_key');
    await expectCode(() => parseVendorPublicKey({ spki: 42 as unknown as string }), 'bad_vendor_key');
    await expectCode(() => parseVendorPublicKey({ cert: 'not a cert' }), 'bad_vendor_key');
  });

  it('random bytes as a key only ever give bad_vendor_key', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), (b) => {
        try {
          parseVendorPublicKey({ spki: b64u.encode(b) });
          return false;
        } catch (e) {
          return e instanceof JanusError && e.code === 'bad_vendor_key';
        }
      }),
      { numRuns: 200 },
    );
  });

  it('refuses to generate keys below MIN_RSA_BITS', async () => {
    expect(MIN_RSA_BITS).toBe(3072);
    await expect(generateVendorKeyPair(2048)).rejects.toThrow(RangeError);
  });
});

describe('RSA-OAEP-SHA256', () => {
  it('imported keys are kept until clearRsaKeys, and work again after it', async () => {
    const ct = await oaepEncrypt(A.spki, utf8('k'), LABEL);
    expect(await oaepDecrypt(A.pkcs8, ct, LABEL)).toEqual(utf8('k'));
    expect(clearRsaKeys()).toBeGreaterThanOrEqual(2); // A's public and private key at least
    expect(clearRsaKeys()).toBe(0);
    expect(await oaepDecrypt(A.pkcs8, ct, LABEL)).toEqual(utf8('k'));
    expect(clearRsaKeys()).toBe(1);
  });

  it('round trips, including an empty plaintext and the maximum length', async () => {
    for (const n of [0, 1, 32, 384 - 66]) {
      const pt = new Uint8Array(n).fill(n & 0xff);
      const ct = await oaepEncrypt(A.spki, pt, LABEL);
      expect(ct.length).toBe(384);
      expect(await oaepDecrypt(A.pkcs8, ct, LABEL)).toEqual(pt);
    }
    await expect(oaepEncrypt(A.spki, new Uint8Array(384 - 65), LABEL)).rejects.toThrow(RangeError);
  });

  it('works with an empty label', async () => {
    const ct = await oaepEncrypt(A.spki, utf8('k'), new Uint8Array(0));
    expect(await oaepDecrypt(A.pkcs8, ct, new Uint8Array(0))).toEqual(utf8('k'));
    await expectCode(oaepDecrypt(A.pkcs8, ct, LABEL), 'decrypt_failed');
  });

  it('fails with decrypt_failed under the wrong label, the wrong key or a changed ciphertext', async () => {
    const ct = await oaepEncrypt(A.spki, utf8('secret'), LABEL);
    await expectCode(oaepDecrypt(A.pkcs8, ct, utf8('janus/v1 other')), 'decrypt_failed');
    await expectCode(oaepDecrypt(B.pkcs8, ct, LABEL), 'decrypt_failed');
    const bad = ct.slice();
    bad[100]! ^= 1;
    await expectCode(oaepDecrypt(A.pkcs8, bad, LABEL), 'decrypt_failed');
    await expectCode(oaepDecrypt(A.pkcs8, new Uint8Array(384).fill(0xff), LABEL), 'decrypt_failed'); // >= n
    await expectCode(oaepDecrypt(utf8('not a key'), ct, LABEL), 'decrypt_failed');
  });

  it('rejects a ciphertext that is not k bytes as malformed', async () => {
    const ct = await oaepEncrypt(A.spki, utf8('secret'), LABEL);
    await expectCode(oaepDecrypt(A.pkcs8, ct.subarray(1), LABEL), 'malformed');
    await expectCode(oaepDecrypt(A.pkcs8, new Uint8Array([0, ...ct]), LABEL), 'malformed');
    await expectCode(oaepDecrypt(A.pkcs8, new Uint8Array(0), LABEL), 'malformed');
  });

  it('interoperates with node:crypto in both directions', async () => {
    const pt = utf8('wrapped key material');
    const fromNode = nodeCrypto.publicEncrypt(
      { key: nodePub(A.spki), padding: nodeCrypto.constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256', oaepLabel: Buffer.from(LABEL) },
      pt,
    );
    expect(await oaepDecrypt(A.pkcs8, fromNode, LABEL)).toEqual(pt);
    const ours = await oaepEncrypt(A.spki, pt, LABEL);
    const back = nodeCrypto.privateDecrypt(
      { key: nodePriv(A.pkcs8), padding: nodeCrypto.constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256', oaepLabel: Buffer.from(LABEL) },
      ours,
    );
    expect(new Uint8Array(back)).toEqual(pt);
  });

  it('uses the key cache without mixing keys up', async () => {
    const cts = await Promise.all([A, B, A, B].map((k) => oaepEncrypt(k.spki, utf8('x'), LABEL)));
    const pts = await Promise.all(cts.map((ct, i) => oaepDecrypt((i % 2 ? B : A).pkcs8, ct, LABEL)));
    for (const pt of pts) expect(pt).toEqual(utf8('x'));
  });
});

describe('RSA-PSS-SHA256', () => {
  const msg = utf8('vendor says hello');

  it('signs and verifies; changed message, signature or key fails', async () => {
    const sig = await pssSign(A.pkcs8, msg);
    expect(sig.length).toBe(384);
    expect(await pssVerify(A.spki, msg, sig)).toBe(true);
    expect(await pssVerify(A.spki, utf8('vendor says hellp'), sig)).toBe(false);
    const bad = sig.slice();
    bad[7]! ^= 0x10;
    expect(await pssVerify(A.spki, msg, bad)).toBe(false);
    expect(await pssVerify(A.spki, msg, sig.subarray(1))).toBe(false);
    expect(await pssVerify(A.spki, msg, new Uint8Array(0))).toBe(false);
    expect(await pssVerify(B.spki, msg, sig)).toBe(false);
    // Randomized: two signatures differ, both verify.
    const sig2 = await pssSign(A.pkcs8, msg);
    expect(sig2).not.toEqual(sig);
    expect(await pssVerify(A.spki, msg, sig2)).toBe(true);
  });

  it('interoperates with node:crypto (saltLength 32) in both directions', async () => {
    const ours = await pssSign(A.pkcs8, msg);
    const pssOpts = { padding: nodeCrypto.constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 };
    expect(nodeCrypto.verify('sha256', msg, { key: nodePub(A.spki), ...pssOpts }, ours)).toBe(true);
    const theirs = nodeCrypto.sign('sha256', msg, { key: nodePriv(A.pkcs8), ...pssOpts });
    expect(await pssVerify(A.spki, msg, theirs)).toBe(true);
    // A different salt length is a different scheme: refused.
    const salt20 = nodeCrypto.sign('sha256', msg, { key: nodePriv(A.pkcs8), ...pssOpts, saltLength: 20 });
    expect(await pssVerify(A.spki, msg, salt20)).toBe(false);
  });

  it('a bad private key is bad_vendor_key', async () => {
    await expectCode(pssSign(utf8('junk'), msg), 'bad_vendor_key');
  });
});

describe('PEM', () => {
  it('round trips and matches node:crypto PEM', () => {
    const pem = derToPem(A.spki, 'PUBLIC KEY');
    expect(pem).toBe(nodePub(A.spki).export({ format: 'pem', type: 'spki' }));
    expect(pemToDer(pem, 'PUBLIC KEY')).toEqual(A.spki);
    expect(pemToDer(pem.replace(/\n/g, '\r\n'), 'PUBLIC KEY')).toEqual(A.spki);
    const privPem = nodePriv(A.pkcs8).export({ format: 'pem', type: 'pkcs8' }) as string;
    expect(pemToDer(privPem, 'PRIVATE KEY')).toEqual(A.pkcs8);
  });

  it('rejects a wrong label, bad base64 and empty blocks as malformed', async () => {
    const pem = derToPem(A.spki, 'PUBLIC KEY');
    await expectCode(() => pemToDer(pem, 'CERTIFICATE'), 'malformed');
    await expectCode(() => pemToDer(pem.replace('MII', 'M*I'), 'PUBLIC KEY'), 'malformed');
    await expectCode(() => pemToDer('-----BEGIN PUBLIC KEY-----\n-----END PUBLIC KEY-----', 'PUBLIC KEY'), 'malformed');
    await expectCode(() => pemToDer(`junk\n${pem}`, 'PUBLIC KEY'), 'malformed');
    expect(() => derToPem(A.spki, 'bad-label')).toThrow(RangeError);
  });
});

describe('X.509', () => {
  let pem: string;
  beforeAll(() => {
    pem = selfSignedCertificate({ now: Date.now(), ...A, origin: 'https://shop.example:8443', days: 30 });
  });

  it('parses back to the same SPKI, fingerprint and names', () => {
    const info = certificateInfo(pem);
    expect(info.spki).toEqual(A.spki);
    expect(info.subject).toBe('CN=shop.example');
    expect(info.altNames).toEqual(['shop.example']);
    expect(info.notBefore.getTime()).toBeLessThanOrEqual(Date.now());
    const days = (info.notAfter.getTime() - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(29.9);
    expect(days).toBeLessThan(30.1);

    const v = parseVendorPublicKey({ cert: pem });
    expect(v.spki).toEqual(A.spki);
    expect(v.fingerprint).toBe(spkiFingerprint(A.spki));
    expect(parseVendorPublicKey({ cert: pem, spki: b64u.encode(A.spki) }).fingerprint).toBe(v.fingerprint);
  });

  it('is accepted by node:crypto X509Certificate, self-signature included', () => {
    const x = new nodeCrypto.X509Certificate(pem);
    expect(x.verify(nodePub(A.spki))).toBe(true);
    expect(x.verify(nodePub(B.spki))).toBe(false);
    expect(x.issuer).toBe(x.subject);
    expect(x.checkHost('shop.example')).toBe('shop.example');
    expect(x.checkHost('other.example')).toBeUndefined();
    expect(new Uint8Array(x.publicKey.export({ format: 'der', type: 'spki' }))).toEqual(A.spki);
    expect(x.subjectAltName).toBe('DNS:shop.example');
    expect(x.ca).toBe(false);
  });

  it('is valid from the caller’s clock (five minutes back, for skew), never reading one itself', () => {
    const now = Date.UTC(2030, 0, 1);
    const info = certificateInfo(selfSignedCertificate({ now, ...A, origin: 'https://shop.example', days: 10 }));
    expect(info.notBefore.getTime()).toBe(now - 5 * 60 * 1000);
    expect(info.notAfter.getTime()).toBe(now + 10 * 86_400_000);
    expect(() => selfSignedCertificate({ now: -1, ...A, origin: 'https://shop.example' })).toThrow(RangeError);
  });

  it('uses an iPAddress subjectAltName for IP origins', () => {
    const v4 = selfSignedCertificate({ now: Date.now(), ...A, origin: 'http://127.0.0.1:3000' });
    expect(certificateInfo(v4).altNames).toEqual(['127.0.0.1']);
    expect(new nodeCrypto.X509Certificate(v4).checkIP('127.0.0.1')).toBe('127.0.0.1');
    const v6 = selfSignedCertificate({ now: Date.now(), ...A, origin: 'https://[::1]/' });
    expect(new nodeCrypto.X509Certificate(v6).checkIP('::1')).toBe('::1');
  });

  it('rejects a certificate whose key differs from the given spki', async () => {
    await expectCode(() => parseVendorPublicKey({ cert: pem, spki: b64u.encode(B.spki) }), 'bad_vendor_key');
  });

  it('rejects mismatched key pairs and bad origins', async () => {
    await expectCode(() => selfSignedCertificate({ now: Date.now(), spki: A.spki, pkcs8: B.pkcs8, origin: 'https://a.example' }), 'bad_vendor_key');
    expect(() => selfSignedCertificate({ now: Date.now(), ...A, origin: 'not a url' })).toThrow(RangeError);
    expect(() => selfSignedCertificate({ now: Date.now(), ...A, origin: 'ftp://a.example' })).toThrow(RangeError);
  });

  it('rejects corrupted and non-RSA certificates with bad_vendor_key', async () => {
    const der = pemToDer(pem, 'CERTIFICATE');
    const cut = derToPem(der.subarray(0, der.length - 10), 'CERTIFICATE');
    await expectCode(() => certificateInfo(cut), 'bad_vendor_key');
    await expectCode(() => parseVendorPublicKey({ cert: cut }), 'bad_vendor_key');
    // The same certificate carrying an EC P-256 key instead: forge cannot read non-RSA keys,
    // which is what we want (the signature no longer matters, the key type is refused first).
    const ecSpki = nodeCrypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'der', type: 'spki' });
    const certAsn1 = forge.asn1.fromDer(forge.util.createBuffer(Buffer.from(der).toString('binary')));
    const tbs = (certAsn1.value as forgeNs.asn1.Asn1[])[0]!.value as forgeNs.asn1.Asn1[];
    tbs[6] = forge.asn1.fromDer(forge.util.createBuffer(ecSpki.toString('binary')));
    const ecPem = derToPem(Buffer.from(forge.asn1.toDer(certAsn1).getBytes(), 'binary'), 'CERTIFICATE');
    expect(new nodeCrypto.X509Certificate(ecPem).publicKey.asymmetricKeyType).toBe('ec');
    await expectCode(() => certificateInfo(ecPem), 'bad_vendor_key');
  });
});
