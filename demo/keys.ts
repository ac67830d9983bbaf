/**
 * The demo vendor's key material in its data directory, created on first start and reused after:
 * vendor-key.pem (PKCS#8 RSA-3072), vendor-cert.pem (self-signed, published in the discovery
 * document) and kek.key (the key-encryption key of the client records, 32 random bytes in base64).
 */
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { b64, randomBytes } from '../src/crypto/bytes.ts';
import { derToPem, generateVendorKeyPair, selfSignedCertificate } from '../src/crypto/rsa.ts';
import { loadKeyMaterial, type VendorKeyMaterial } from '../src/server/config.ts';

export interface DemoPaths {
  dir: string;
  privateKey: string;
  certificate: string;
  kek: string;
  database: string;
}

export function demoPaths(dir: string): DemoPaths {
  return {
    dir,
    privateKey: join(dir, 'vendor-key.pem'),
    certificate: join(dir, 'vendor-cert.pem'),
    kek: join(dir, 'kek.key'),
    database: join(dir, 'vendor.db'),
  };
}

/** Secrets are written once, readable by their owner only; 'wx' refuses to overwrite a file. */
function writeSecret(path: string, text: string): void {
  writeFileSync(path, text, { mode: 0o600, flag: 'wx' });
  chmodSync(path, 0o600); // the mode given to writeFileSync is filtered by the umask
}

/**
 * Creates whatever key material is missing and loads it. `clients` is how many clients the
 * database already holds: a missing private key or KEK then is an operator's mistake (the clients'
 * pinned key or their stored keys would be lost), so it is refused rather than replaced.
 */
export async function ensureKeyMaterial(p: DemoPaths, opts: { host: string; clients: number }): Promise<{ keys: VendorKeyMaterial; created: string[] }> {
  mkdirSync(p.dir, { recursive: true, mode: 0o700 });
  const created: string[] = [];
  const lost = (what: string) =>
    new Error(`${what} is missing but ${p.database} holds ${opts.clients} registered client(s); restore it, or delete ${p.dir} to start over`);

  if (!existsSync(p.privateKey)) {
    if (opts.clients > 0) throw lost(p.privateKey);
    const { pkcs8 } = await generateVendorKeyPair(3072);
    writeSecret(p.privateKey, derToPem(pkcs8, 'PRIVATE KEY'));
    created.push(p.privateKey);
  }
  if (!existsSync(p.certificate)) {
    // From the key file, so that a certificate lost on its own is simply made again.
    const priv = createPrivateKey(readFileSync(p.privateKey, 'utf8'));
    const pkcs8 = new Uint8Array(priv.export({ format: 'der', type: 'pkcs8' }));
    const spki = new Uint8Array(createPublicKey(priv).export({ format: 'der', type: 'spki' }));
    writeFileSync(p.certificate, selfSignedCertificate({ now: Date.now(), spki, pkcs8, origin: `http://${opts.host}`, days: 3650 }), { flag: 'wx' });
    created.push(p.certificate);
  }
  if (!existsSync(p.kek)) {
    if (opts.clients > 0) throw lost(p.kek);
    writeSecret(p.kek, b64.encode(randomBytes(32)) + '\n');
    created.push(p.kek);
  }
  return { keys: loadKeyMaterial({ privateKey: p.privateKey, certificate: p.certificate, kek: p.kek }, {}), created };
}
