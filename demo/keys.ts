/**
 * The demo vendor's key material in its data directory, created on first start and reused after:
 * vendor-key.pem (PKCS#8 RSA-3072), vendor-cert.pem (self-signed, published in the discovery
 * document) and kek.key (the key-encryption key of the client records, 32 random bytes in base64).
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateKek, generateVendorKey, loadKeyMaterial, vendorCertificate, type VendorKeyMaterial } from 'janus-vendor';

interface DemoPaths {
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
    writeSecret(p.privateKey, await generateVendorKey());
    created.push(p.privateKey);
  }
  if (!existsSync(p.certificate)) {
    // From the key file, so that a certificate lost on its own is simply made again.
    writeFileSync(p.certificate, vendorCertificate(readFileSync(p.privateKey, 'utf8'), `http://${opts.host}`, { days: 3650 }), { flag: 'wx' });
    created.push(p.certificate);
  }
  if (!existsSync(p.kek)) {
    if (opts.clients > 0) throw lost(p.kek);
    writeSecret(p.kek, generateKek());
    created.push(p.kek);
  }
  return { keys: loadKeyMaterial({ privateKey: p.privateKey, certificate: p.certificate, kek: p.kek }, {}), created };
}
