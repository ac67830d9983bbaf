/** `janus-vendor verify-receipt`: the third party of paper §5, what a receipt proves (docs/CLI.md). */
import { resolve } from 'node:path';
import { b64u } from '../../crypto/bytes.ts';
import { certificateInfo, parseVendorPublicKey, pemToDer, type CertificateInfo, type VendorPublicKey } from '../../crypto/rsa.ts';
import { JanusError } from '../../errors.ts';
import { parseReceipt, verifyReceipt, verifyWord, type ReceiptPayload } from '../../protocol/index.ts';
import { cwdOf, EXIT, inputError, iso, readText, required, str, usage, type Command } from './command.ts';
import { isObj } from './config.ts';

function readStdin(): Promise<string> {
  return new Promise((res, rej) => {
    const chunks: Buffer[] = [];
    process.stdin.on('data', (c: Buffer) => chunks.push(c));
    process.stdin.on('end', () => res(Buffer.concat(chunks).toString('utf8')));
    process.stdin.on('error', rej);
  });
}

/** The vendor's key from a certificate (PEM), a PUBLIC KEY (PEM) or a b64u SPKI in a file. */
function vendorKeyFrom(text: string): { key: VendorPublicKey; cert: CertificateInfo | null } {
  if (text.includes('-----BEGIN CERTIFICATE-----')) {
    const pem = text.slice(text.indexOf('-----BEGIN CERTIFICATE-----'));
    const end = pem.indexOf('-----END CERTIFICATE-----');
    const first = end < 0 ? pem : pem.slice(0, end + '-----END CERTIFICATE-----'.length);
    return { key: parseVendorPublicKey({ cert: first }), cert: certificateInfo(first) };
  }
  if (text.includes('-----BEGIN PUBLIC KEY-----')) return { key: parseVendorPublicKey({ spki: b64u.encode(pemToDer(text, 'PUBLIC KEY')) }), cert: null };
  return { key: parseVendorPublicKey({ spki: text.trim() }), cert: null };
}

function hostMatches(vendor: string, cert: CertificateInfo): boolean {
  let host: string;
  try {
    host = new URL(vendor).hostname.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  } catch {
    return false;
  }
  const names = cert.altNames.length ? cert.altNames : [/CN=([^,]+)/.exec(cert.subject)?.[1] ?? ''];
  return names.some((n) => {
    const name = n.toLowerCase();
    if (name === host) return true;
    // RFC 6125 §6.4.3: a wildcard stands for exactly one left-most label.
    return name.startsWith('*.') && host.endsWith(name.slice(1)) && !host.slice(0, -name.length + 1).includes('.');
  });
}

function parseWordOption(s: string): { i: number; w: Uint8Array } {
  const m = /^(\d{1,6}):([A-Za-z0-9_-]{43})$/.exec(s);
  if (!m) throw usage(`verify-receipt: --word must be <i>:<b64u of the 32-byte word w_i>, got ${s}`);
  return { i: Number(m[1]), w: b64u.decode(m[2]!) };
}

export const verifyReceiptCmd: Command = {
  name: 'verify-receipt',
  summary: 'check a receipt and say in plain words what it proves (paper §5)',
  options: { cert: { type: 'string' }, word: { type: 'string' }, json: { type: 'boolean' } },
  help: `Usage: janus-vendor verify-receipt --cert <vendor-cert.pem | spki file> [--word <i>:<w_i>] [--json] <receipt.json | ->

The third party of the paper's §5: checks the vendor's signature on a receipt (docs/PROTOCOL.md §12)
and prints what it proves: the vendor origin, the client alias and key generation, when it was
issued, the subscription's validity and terms, and the PayWord chain the vendor agreed to.

  <receipt.json>  the receipt object {"alg","payload","sig","fingerprint"} (or an object with a
                  "receipt" member holding it); "-" reads standard input
  --cert <file>   the vendor's key: an X.509 certificate (PEM), a PUBLIC KEY (PEM), or a file
                  holding the b64u SubjectPublicKeyInfo (the discovery document's key.spki)
  --word <i>:<w>  also check a PayWord word: does SHA256^i(w) equal the receipt's w0? If so, whoever
                  shows w proves that i deliveries were acknowledged
  --json          print a machine-readable result
  -h, --help      this help

Exit codes: 0 valid (and the word, if given, checks), 1 invalid (the reason is printed),
2 usage, 3 unreadable file or unusable key.
`,
  async run(v, pos, io) {
    const certFile = required(v, 'cert', 'verify-receipt');
    if (pos.length !== 1) throw usage(pos.length ? 'verify-receipt: one receipt at a time' : 'verify-receipt: which receipt? give a file, or - for standard input');
    const word = str(v, 'word') !== undefined ? parseWordOption(str(v, 'word')!) : null;
    const json = v['json'] === true;

    const certPath = resolve(cwdOf(io), certFile);
    let vendorKey: ReturnType<typeof vendorKeyFrom>;
    try {
      vendorKey = vendorKeyFrom(readText(certPath, 'vendor certificate or key'));
    } catch (e) {
      if (e instanceof JanusError) throw inputError(`${certPath} holds no usable vendor key: ${e.message}`);
      throw e;
    }

    const source = pos[0]!;
    const text = source === '-' ? await (io.stdin ?? readStdin)() : readText(resolve(cwdOf(io), source), 'receipt');
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch (e) {
      throw inputError(`the receipt ${source === '-' ? '(standard input)' : source} is not JSON: ${(e as Error).message}`);
    }
    if (isObj(raw) && raw['alg'] === undefined && isObj(raw['receipt'])) raw = raw['receipt'];

    const fail = (reason: string): number => {
      if (json) io.out(JSON.stringify({ valid: false, reason }, null, 2) + '\n');
      io.err(`janus-vendor: the receipt is NOT valid: ${reason}\n`);
      return EXIT.negative;
    };
    let p: ReceiptPayload;
    try {
      p = await verifyReceipt(parseReceipt(raw), vendorKey.key.spki);
    } catch (e) {
      if (e instanceof JanusError) return fail(e.message);
      throw e;
    }

    const cert = vendorKey.cert;
    const certResult = cert
      ? {
          subject: cert.subject,
          altNames: cert.altNames,
          notBefore: cert.notBefore.toISOString(),
          notAfter: cert.notAfter.toISOString(),
          namesVendor: hostMatches(p.vendor, cert),
          validAtIssue: cert.notBefore.getTime() <= p.issued_at * 1000 && p.issued_at * 1000 <= cert.notAfter.getTime(),
        }
      : null;
    let wordResult: { i: number; valid: boolean; reason?: string } | null = null;
    if (word) {
      if (!p.payword) wordResult = { i: word.i, valid: false, reason: 'the receipt commits to no PayWord chain' };
      else if (word.i > p.payword.n) wordResult = { i: word.i, valid: false, reason: `the chain has only ${p.payword.n} words` };
      else if (!verifyWord(b64u.decode(p.payword.w0), word.i, word.w)) wordResult = { i: word.i, valid: false, reason: `SHA256^${word.i}(w) is not the receipt's w0` };
      else wordResult = { i: word.i, valid: true };
    }

    if (json) {
      io.out(
        JSON.stringify(
          {
            valid: true,
            fingerprint: vendorKey.key.fingerprint,
            vendor: p.vendor,
            alias: p.alias,
            gen: p.gen,
            issued_at: p.issued_at,
            valid_from: p.valid_from,
            valid_until: p.valid_until,
            terms: p.terms,
            nonce: p.nonce,
            request_sha256: p.request_sha256,
            payword: p.payword,
            certificate: certResult,
            word: wordResult,
          },
          null,
          2,
        ) + '\n',
      );
    } else {
      const lines = [
        `VALID: signed by the vendor key ${vendorKey.key.fingerprint} (RSA-${vendorKey.key.modulusBits}, RSA-PSS-SHA256)`,
        `  vendor origin:  ${p.vendor}`,
        `  client alias:   ${p.alias} (key generation ${p.gen})`,
        `  issued at:      ${iso(p.issued_at)}`,
        `  valid from:     ${iso(p.valid_from)}`,
        `  valid until:    ${p.valid_until === null ? 'no end (until cancelled)' : iso(p.valid_until)}`,
        `  terms:          ${Object.keys(p.terms).length ? JSON.stringify(p.terms) : 'none stated'}`,
        `  registration:   nonce ${p.nonce}, SHA-256 of the subscription request ${p.request_sha256}`,
      ];
      if (p.payword) {
        lines.push(
          `  PayWord chain:  ${p.payword.sub}, length ${p.payword.n}, root w0 = ${p.payword.w0}`,
          `                  the vendor agreed to this chain: holding w_i with SHA256^i(w_i) = w0 proves i acknowledged`,
          `                  deliveries (at most ${p.payword.n}); the vendor cannot claim more, nor substitute another chain`,
        );
      } else lines.push('  PayWord chain:  none (the receipt covers the subscription only)');
      if (certResult) {
        lines.push(
          `certificate:      ${certResult.subject}${certResult.altNames.length ? ` (names: ${certResult.altNames.join(', ')})` : ''}`,
          `                  valid ${certResult.notBefore} to ${certResult.notAfter}`,
        );
        if (!certResult.namesVendor) lines.push(`  WARNING: the certificate does not name the host of ${p.vendor}: it does not tie this key to that vendor`);
        if (!certResult.validAtIssue) lines.push('  WARNING: the receipt was issued outside the certificate\'s validity');
        lines.push("  note: the certificate's own signature and issuer are not checked here");
      }
      lines.push(
        `What it proves: the holder of this key (the vendor ${p.vendor}) registered ${p.alias} with exactly the`,
        'subscription data whose SHA-256 is shown, on these terms; the client can show this to anyone.',
      );
      if (wordResult) {
        lines.push(
          wordResult.valid
            ? `word w_${wordResult.i}: VALID, SHA256^${wordResult.i}(w) = w0: it proves ${wordResult.i} acknowledged deliver${wordResult.i === 1 ? 'y' : 'ies'} of chain ${p.payword!.sub}`
            : `word w_${wordResult.i}: NOT valid: ${wordResult.reason}`,
        );
      }
      io.out(lines.join('\n') + '\n');
    }
    if (wordResult && !wordResult.valid) {
      io.err(`janus-vendor: the word does not prove ${wordResult.i} deliveries: ${wordResult.reason}\n`);
      return EXIT.negative;
    }
    return EXIT.ok;
  },
};
