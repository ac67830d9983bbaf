/**
 * A vendor's key material made in code: what `janus-vendor keygen` writes to files (docs/CLI.md),
 * for a program that keeps it elsewhere (a secrets manager, a test, a demo).
 */
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { b64, randomBytes } from '../crypto/bytes.ts';
import { derToPem, generateVendorKeyPair, MAX_RSA_BITS, MIN_RSA_BITS, selfSignedCertificate } from '../crypto/rsa.ts';
import { JanusError } from '../errors.ts';

/** A new RSA private key for the vendor, PKCS#8 PEM; `bits` from 3072 (the default) to 8192. */
export async function generateVendorKey(bits: number = MIN_RSA_BITS): Promise<string> {
  if (!Number.isSafeInteger(bits) || bits < MIN_RSA_BITS || bits > MAX_RSA_BITS || bits % 8 !== 0) {
    throw new JanusError('bad_input', `the vendor key must be a multiple of 8 bits from ${MIN_RSA_BITS} to ${MAX_RSA_BITS}, got ${String(bits)}`);
  }
  const { pkcs8 } = await generateVendorKeyPair(bits);
  return derToPem(pkcs8, 'PRIVATE KEY');
}

/**
 * A self-signed certificate (PEM) of the vendor key for the origin's host, valid `days` (1..3650,
 * default 365) from `now` (ms since the epoch, default the clock): the discovery document publishes it.
 */
export function vendorCertificate(privateKeyPem: string, origin: string, opts: { days?: number; now?: number } = {}): string {
  let pkcs8: Uint8Array;
  let spki: Uint8Array;
  try {
    const priv = createPrivateKey(privateKeyPem);
    pkcs8 = new Uint8Array(priv.export({ format: 'der', type: 'pkcs8' }));
    spki = new Uint8Array(createPublicKey(priv).export({ format: 'der', type: 'spki' }));
  } catch (e) {
    throw new JanusError('bad_vendor_key', `the vendor private key could not be read: ${(e as Error).message}`);
  }
  try {
    return selfSignedCertificate({ spki, pkcs8, origin, now: opts.now ?? Date.now(), ...(opts.days !== undefined ? { days: opts.days } : {}) });
  } catch (e) {
    if (e instanceof RangeError) throw new JanusError('bad_input', e.message);
    throw e;
  }
}

/** A new key-encryption key: 32 random bytes in base64, one line (what `loadKeyMaterial` and `JANUS_KEK` read). */
export function generateKek(): string {
  return b64.encode(randomBytes(32)) + '\n';
}
