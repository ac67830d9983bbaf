/** `janus-vendor keygen`: the vendor's RSA key, key-encryption key, and a certificate or CSR (docs/CLI.md). */
import { closeSync, existsSync, fchmodSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { resolve } from 'node:path';
import { b64, randomBytes } from '../../crypto/bytes.ts';
import { derToPem, generateVendorKeyPair, MAX_RSA_BITS, MIN_RSA_BITS, selfSignedCertificate, spkiFingerprint } from '../../crypto/rsa.ts';
import { vendorIdentity } from '../../protocol/index.ts';
import { cwdOf, EXIT, inputError, intOption, required, str, usage, type Command } from './command.ts';
import { certificateSigningRequest, hostOf } from './csr.ts';

/** Writes a file created with `mode` (0600 for secrets); without `force` an existing file is never touched. */
function writeFile(path: string, text: string, mode: number, force: boolean): void {
  let fd: number;
  try {
    fd = openSync(path, force ? 'w' : 'wx', mode);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw inputError(`${path} already exists; use --force to replace it`);
    throw inputError(`cannot write ${path}: ${code ?? (e as Error).message}`);
  }
  try {
    fchmodSync(fd, mode); // an existing file replaced with --force keeps its old mode otherwise
    writeSync(fd, text);
  } finally {
    closeSync(fd);
  }
}

export const keygen: Command = {
  name: 'keygen',
  summary: "make the vendor's RSA key, key-encryption key, and a certificate or CSR",
  options: {
    origin: { type: 'string' },
    out: { type: 'string' },
    bits: { type: 'string' },
    days: { type: 'string' },
    csr: { type: 'boolean' },
    force: { type: 'boolean' },
  },
  help: `Usage: janus-vendor keygen --origin <https://site.example> --out <dir> [--bits 3072] [--days 365] [--csr] [--force]

Makes the vendor's keys in <dir>:
  vendor-key.pem    the RSA private key, PKCS#8 PEM (mode 0600: keep it secret)
  kek.key           the key-encryption key, 32 random bytes in base64 (mode 0600: keep it secret)
  vendor-cert.pem   a self-signed X.509 certificate for the origin's host, or with --csr:
  vendor.csr        a PKCS#10 certificate signing request (CN and subjectAltName = the host) for a CA

Options:
  --origin <url>  the vendor's origin, id_V: https://host[:port], or http on loopback
  --out <dir>     where to write (created if missing)
  --bits <n>      RSA modulus size, ${MIN_RSA_BITS}..${MAX_RSA_BITS} (default ${MIN_RSA_BITS})
  --days <n>      validity of the self-signed certificate, 1..3650 (default 365)
  --csr           write a CSR instead of a self-signed certificate
  --force         replace existing files
  -h, --help      this help

Prints the key's fingerprint (b64u SHA-256 of its SubjectPublicKeyInfo) and the files written.
`,
  async run(v, pos, io) {
    if (pos.length) throw usage(`keygen: unexpected argument ${pos[0]}`);
    const origin = required(v, 'origin', 'keygen');
    const out = required(v, 'out', 'keygen');
    const bits = intOption(v, 'bits', 'keygen', MIN_RSA_BITS);
    if (bits < MIN_RSA_BITS) throw usage(`keygen: --bits ${bits} is too small; Janus needs RSA keys of at least ${MIN_RSA_BITS} bits (128-bit security)`);
    if (bits > MAX_RSA_BITS || bits % 8 !== 0) throw usage(`keygen: --bits must be a multiple of 8 from ${MIN_RSA_BITS} to ${MAX_RSA_BITS}, got ${bits}`);
    const csr = v['csr'] === true;
    if (csr && str(v, 'days') !== undefined) throw usage('keygen: --days is for the self-signed certificate; a CA decides the validity of a --csr certificate');
    const days = intOption(v, 'days', 'keygen', 365);
    if (days < 1 || days > 3650) throw usage(`keygen: --days must be 1..3650, got ${days}`);
    let idV: string;
    try {
      idV = vendorIdentity(origin);
    } catch (e) {
      throw usage(`keygen: --origin ${origin} is not a vendor origin: ${(e as Error).message}`);
    }
    if (idV !== origin.replace(/\/$/, '')) throw usage(`keygen: --origin must be an origin (scheme, host, port) like ${idV}, got ${origin}`);
    const force = v['force'] === true;

    const dir = resolve(cwdOf(io), out);
    const files = {
      key: resolve(dir, 'vendor-key.pem'),
      kek: resolve(dir, 'kek.key'),
      cert: resolve(dir, 'vendor-cert.pem'),
      csr: resolve(dir, 'vendor.csr'),
    };
    const targets = [files.key, files.kek, csr ? files.csr : files.cert];
    if (!force) {
      const there = targets.filter((f) => existsSync(f));
      if (there.length) throw inputError(`keygen: ${there.join(', ')} already ${there.length > 1 ? 'exist' : 'exists'}; use --force to replace ${there.length > 1 ? 'them' : 'it'}`);
    }
    try {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
    } catch (e) {
      throw inputError(`keygen: cannot create ${dir}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }

    const { spki, pkcs8 } = await generateVendorKeyPair(bits);
    const keyPem = derToPem(pkcs8, 'PRIVATE KEY');
    const kekText = b64.encode(randomBytes(32)) + '\n';
    const public_ = csr ? certificateSigningRequest(pkcs8, idV) : selfSignedCertificate({ now: Date.now(), spki, pkcs8, origin: idV, days });

    writeFile(files.key, keyPem, 0o600, force);
    writeFile(files.kek, kekText, 0o600, force);
    writeFile(csr ? files.csr : files.cert, public_, 0o644, force);

    const fp = spkiFingerprint(spki);
    io.out(
      [
        `wrote ${files.key}  (RSA-${bits} private key, mode 0600: keep it secret)`,
        `wrote ${files.kek}  (key-encryption key, mode 0600: keep it secret)`,
        csr
          ? `wrote ${files.csr}  (certificate signing request for ${hostOf(idV).host}: send it to your CA)`
          : `wrote ${files.cert}  (self-signed certificate for ${hostOf(idV).host}, ${days} days)`,
        `origin:      ${idV}`,
        `fingerprint: ${fp}`,
        '',
      ].join('\n'),
    );
    const stale = csr ? files.cert : files.csr;
    if (force && existsSync(stale)) io.err(`janus-vendor: note: ${stale} belongs to an earlier key; remove or replace it\n`);
    return EXIT.ok;
  },
};
