/**
 * `janus-vendor` in-process through `main(argv, io)`: keygen, verify-receipt (on a real receipt from
 * a non-repudiation SKEP run against a vendor made from keygen's files), inspect, and the usage
 * errors and exit codes of each; serve and inspect on PostgreSQL (a throwaway cluster, or
 * $JANUS_PG_URL). serve as a proxy is in proxy.test.ts.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as forgeNs from 'node-forge';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { b64, b64u, fromUtf8, utf8 } from '../crypto/bytes.ts';
import { certificateInfo, derToPem, spkiFingerprint } from '../crypto/rsa.ts';
import { paywordWord, type Receipt, type SkepResult, type VendorSession } from '../protocol/index.ts';
import { deliver, discover, register, sessionFor } from '../../test/support/client.ts';
import { usePostgres } from '../../test/support/pg-fixture.ts';
import { freePort, startUpstream, until } from '../../test/support/serve-kit.ts';
import { fetchPeer, httpPeer } from '../../test/support/vendor-kit.ts';
import { keyPlacementWarnings, main, validateServeConfig, type Io } from './cli/index.ts';
import { loadKeyMaterial } from './config.ts';
import { createVendor } from './core.ts';
import { SqliteStore } from './sqlite-store.ts';

const forge: typeof forgeNs = (forgeNs as unknown as { default?: typeof forgeNs }).default ?? forgeNs;
const ORIGIN = 'https://quotes.example';
const dir = mkdtempSync(join(tmpdir(), 'janus-cli-'));
const keys = join(dir, 'keys');

type Captured = Io & { stdout: () => string; stderr: () => string };
function capture(extra: Partial<Io> = {}): Captured {
  let out = '';
  let err = '';
  return { out: (s) => void (out += s), err: (s) => void (err += s), stdout: () => out, stderr: () => err, cwd: dir, ...extra };
}

async function run(argv: string[], extra: Partial<Io> = {}): Promise<{ code: number; out: string; err: string }> {
  const io = capture(extra);
  const code = await main(argv, io);
  // Never a stack trace, whatever happened.
  expect(io.stderr()).not.toMatch(/\n\s+at \S/);
  return { code, out: io.stdout(), err: io.stderr() };
}

let bob: VendorSession;
let reg: SkepResult;
let receipt: Receipt;
const receiptFile = join(dir, 'receipt.json');
const configFile = join(dir, 'janus.json');
let keygenOut: string;

beforeAll(async () => {
  const k = await run(['keygen', '--origin', ORIGIN, '--out', 'keys']);
  expect(k.code).toBe(0);
  keygenOut = k.out;

  // A vendor from keygen's files, and a non-repudiation SKEP with a 5-word chain against it.
  const vendor = createVendor({
    config: {
      origin: ORIGIN,
      keys: loadKeyMaterial({ privateKey: join(keys, 'vendor-key.pem'), certificate: join(keys, 'vendor-cert.pem'), kek: join(keys, 'kek.key') }),
      receipt: 'offered',
      policy: (_d, t) => ({ validFrom: t, validUntil: t + 30 * 86_400, terms: { plan: 'intraday', price: '5 EUR / month' } }),
    },
    store: new SqliteStore(join(dir, 'data', 'vendor.db')),
  });
  const peer = fetchPeer(async (r) => (await vendor.handle(r)) ?? new Response('not found', { status: 404 }));
  const doc = await discover(peer, ORIGIN);
  bob = await sessionFor('bob@example.org', 'bob secret', ORIGIN);
  reg = await register(peer, bob, doc, { now: Math.floor(Date.now() / 1000), receipt: true, chain: 5, data: { months: 1 } });
  receipt = reg.receipt!;
  writeFileSync(receiptFile, JSON.stringify(receipt, null, 2));
  await vendor.close();

  writeFileSync(
    configFile,
    JSON.stringify({
      origin: ORIGIN,
      keys: { privateKey: 'keys/vendor-key.pem', kek: 'keys/kek.key' },
      database: 'data/vendor.db',
      routes: [{ path: '/api/x', level: 'sddp' }],
      upstream: 'http://127.0.0.1:3000',
    }),
  );
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

const pgdb = usePostgres();

describe('janus-vendor (no command)', () => {
  it('--help lists the commands; no command or an unknown one is a usage error', async () => {
    const h = await run(['--help']);
    expect(h.code).toBe(0);
    for (const c of ['keygen', 'serve', 'inspect', 'verify-receipt']) expect(h.out).toContain(c);
    expect((await run(['help', 'keygen'])).out).toMatch(/^Usage: janus-vendor keygen/);
    const none = await run([]);
    expect([none.code, none.out]).toEqual([2, '']);
    expect(none.err).toContain('Commands:');
    const bad = await run(['frobnicate']);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/unknown command "frobnicate"/);
    expect((await run(['--frob'])).code).toBe(2);
    expect((await run(['help', 'nope'])).code).toBe(2);
  });

  it('every command has --help', async () => {
    for (const c of ['keygen', 'serve', 'inspect', 'verify-receipt']) {
      const r = await run([c, '--help']);
      expect(r.code).toBe(0);
      expect(r.out).toMatch(new RegExp(`^Usage: janus-vendor ${c}`));
    }
  });
});

describe('janus-vendor keygen', () => {
  it('writes the key and KEK with mode 0600 and a self-signed certificate for the host; prints the fingerprint', async () => {
    const mode = (f: string) => statSync(join(keys, f)).mode & 0o777;
    expect(mode('vendor-key.pem')).toBe(0o600);
    expect(mode('kek.key')).toBe(0o600);
    expect(existsSync(join(keys, 'vendor.csr'))).toBe(false);
    const cert = certificateInfo(readFileSync(join(keys, 'vendor-cert.pem'), 'utf8'));
    expect(cert.subject).toBe('CN=quotes.example');
    expect(cert.altNames).toEqual(['quotes.example']);
    expect(cert.notAfter.getTime() - Date.now()).toBeGreaterThan(364 * 86_400_000);
    expect(keygenOut).toContain(`fingerprint: ${spkiFingerprint(cert.spki)}`);
    for (const f of ['vendor-key.pem', 'kek.key', 'vendor-cert.pem']) expect(keygenOut).toContain(join(keys, f));
    expect(b64.decode(readFileSync(join(keys, 'kek.key'), 'utf8').trim())).toHaveLength(32);
    // The private key parses and is the certificate's key.
    const km = loadKeyMaterial({ privateKey: join(keys, 'vendor-key.pem'), kek: join(keys, 'kek.key') });
    expect(km.privateKeyPem).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    // No secret on stdout.
    const keyBody = km.privateKeyPem.split('\n')[1]!;
    expect(keygenOut).not.toContain(keyBody);
    expect(keygenOut).not.toContain(readFileSync(join(keys, 'kek.key'), 'utf8').trim());
  });

  it('refuses to overwrite existing files (exit 3) unless --force', async () => {
    const before = readFileSync(join(keys, 'vendor-key.pem'), 'utf8');
    const r = await run(['keygen', '--origin', ORIGIN, '--out', 'keys']);
    expect(r.code).toBe(3);
    expect(r.err).toMatch(/already exist; use --force/);
    expect(readFileSync(join(keys, 'vendor-key.pem'), 'utf8')).toBe(before);

    const other = join(dir, 'other');
    expect((await run(['keygen', '--origin', ORIGIN, '--out', other, '--days', '30'])).code).toBe(0);
    const first = readFileSync(join(other, 'vendor-key.pem'), 'utf8');
    writeFileSync(join(other, 'kek.key'), 'x', { mode: 0o644 });
    const f = await run(['keygen', '--origin', ORIGIN, '--out', other, '--force']);
    expect(f.code).toBe(0);
    expect(readFileSync(join(other, 'vendor-key.pem'), 'utf8')).not.toBe(first);
    expect(statSync(join(other, 'kek.key')).mode & 0o777).toBe(0o600);
    expect(b64.decode(readFileSync(join(other, 'kek.key'), 'utf8').trim())).toHaveLength(32);
  });

  it('--csr writes a PKCS#10 request node-forge parses and verifies, CN and subjectAltName = the host', async () => {
    const out = join(dir, 'csr');
    const r = await run(['keygen', '--origin', 'https://shop.example:8443', '--out', out, '--csr']);
    expect(r.code).toBe(0);
    expect(existsSync(join(out, 'vendor-cert.pem'))).toBe(false);
    expect(statSync(join(out, 'vendor-key.pem')).mode & 0o777).toBe(0o600);
    const csr = forge.pki.certificationRequestFromPem(readFileSync(join(out, 'vendor.csr'), 'utf8'));
    expect(csr.verify()).toBe(true);
    expect((csr.subject.getField('CN') as forgeNs.pki.CertificateField).value).toBe('shop.example');
    const ext = csr.getAttribute({ name: 'extensionRequest' }) as unknown as { extensions: Array<{ name: string; altNames: Array<{ type: number; value: string }> }> };
    expect(ext.extensions.find((e) => e.name === 'subjectAltName')!.altNames).toEqual([expect.objectContaining({ type: 2, value: 'shop.example' })]);
    expect(csr.siginfo.algorithmOid).toBe(forge.pki.oids['sha256WithRSAEncryption']);
    // The CSR's key is the private key's.
    const pub = forge.pki.publicKeyToPem(csr.publicKey!);
    const { createPublicKey } = await import('node:crypto');
    expect(createPublicKey(readFileSync(join(out, 'vendor-key.pem'), 'utf8')).export({ format: 'pem', type: 'spki' })).toBe(pub.replace(/\r\n/g, '\n'));
    expect(r.out).toMatch(/fingerprint: [A-Za-z0-9_-]{43}/);
  });

  it('--csr for a loopback IP origin asks for an iPAddress name', async () => {
    const out = join(dir, 'csr-ip');
    expect((await run(['keygen', '--origin', 'http://127.0.0.1:8443', '--out', out, '--csr'])).code).toBe(0);
    const csr = forge.pki.certificationRequestFromPem(readFileSync(join(out, 'vendor.csr'), 'utf8'));
    expect((csr.subject.getField('CN') as forgeNs.pki.CertificateField).value).toBe('127.0.0.1');
    const ext = csr.getAttribute({ name: 'extensionRequest' }) as unknown as { extensions: Array<{ name: string; altNames: Array<{ type: number; ip?: string }> }> };
    expect(ext.extensions[0]!.altNames[0]).toMatchObject({ type: 7, ip: '127.0.0.1' });
  });

  it('usage errors exit 2 and write nothing', async () => {
    const out = join(dir, 'never');
    const cases: Array<[string[], RegExp]> = [
      [['keygen', '--origin', ORIGIN, '--out', out, '--bits', '2048'], /at least 3072 bits/],
      [['keygen', '--origin', ORIGIN, '--out', out, '--bits', '3073'], /multiple of 8/],
      [['keygen', '--origin', ORIGIN, '--out', out, '--bits', 'many'], /whole number/],
      [['keygen', '--origin', 'http://quotes.example', '--out', out], /not a vendor origin/],
      [['keygen', '--origin', 'https://quotes.example/path', '--out', out], /must be an origin/],
      [['keygen', '--origin', 'quotes.example', '--out', out], /not a vendor origin/],
      [['keygen', '--out', out], /--origin is required/],
      [['keygen', '--origin', ORIGIN], /--out is required/],
      [['keygen', '--origin', ORIGIN, '--out', out, '--csr', '--days', '9'], /--days is for the self-signed/],
      [['keygen', '--origin', ORIGIN, '--out', out, '--days', '0'], /--days must be 1\.\.3650/],
      [['keygen', '--origin', ORIGIN, '--out', out, '--colour'], /unknown option --colour/],
      [['keygen', '--origin', ORIGIN, '--out', out, 'extra'], /unexpected argument extra/],
      [['keygen', '--origin'], /--origin needs a value/],
    ];
    for (const [argv, re] of cases) {
      const r = await run(argv);
      expect([r.code, r.err]).toEqual([2, expect.stringMatching(re)]);
    }
    expect(existsSync(out)).toBe(false);
  });
});

describe('janus-vendor verify-receipt', () => {
  const cert = () => join(keys, 'vendor-cert.pem');

  it('a real receipt: valid, exit 0, and what it proves in plain words', async () => {
    const r = await run(['verify-receipt', '--cert', cert(), receiptFile]);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const p = reg.payword!;
    expect(r.out).toMatch(/^VALID: signed by the vendor key /);
    expect(r.out).toContain(`vendor origin:  ${ORIGIN}`);
    expect(r.out).toContain(`client alias:   ${bob.alias} (key generation 0)`);
    expect(r.out).toContain(`issued at:      ${new Date(reg.registeredAt * 1000).toISOString()}`);
    expect(r.out).toContain(`valid until:    ${new Date((reg.validUntil ?? 0) * 1000).toISOString()}`);
    expect(r.out).toContain('"plan":"intraday"');
    expect(r.out).toContain(`${p.sub}, length 5, root w0 = ${p.w0}`);
    expect(r.out).toContain('holding w_i with SHA256^i(w_i) = w0 proves i acknowledged');
    expect(r.out).toContain('certificate:      CN=quotes.example');
    expect(r.out).not.toContain('WARNING');
  });

  it('--json', async () => {
    const r = await run(['verify-receipt', '--json', '--cert', cert(), receiptFile]);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out) as { fingerprint: string };
    expect(j).toMatchObject({
      valid: true,
      vendor: ORIGIN,
      alias: bob.alias,
      gen: 0,
      issued_at: reg.registeredAt,
      terms: { plan: 'intraday' },
      payword: reg.payword,
      certificate: { subject: 'CN=quotes.example', namesVendor: true, validAtIssue: true },
      word: null,
    });
    expect(j.fingerprint).toBe(receipt.fingerprint);
  });

  it('the key as a b64u SPKI file or a PUBLIC KEY PEM; the receipt from stdin or inside a SKEP answer', async () => {
    const spki = certificateInfo(readFileSync(cert(), 'utf8')).spki;
    writeFileSync(join(dir, 'spki.txt'), b64u.encode(spki) + '\n');
    writeFileSync(join(dir, 'pub.pem'), derToPem(spki, 'PUBLIC KEY'));
    const a = await run(['verify-receipt', '--cert', 'spki.txt', 'receipt.json']);
    expect(a.code).toBe(0);
    expect(a.out).not.toContain('certificate:');
    expect((await run(['verify-receipt', '--cert', 'pub.pem', 'receipt.json'])).code).toBe(0);
    const s = await run(['verify-receipt', '--cert', cert(), '-'], { stdin: async () => JSON.stringify(receipt) });
    expect(s.code).toBe(0);
    writeFileSync(join(dir, 'answer.json'), JSON.stringify({ alias: bob.alias, gen: 0, receipt }));
    expect((await run(['verify-receipt', '--cert', cert(), 'answer.json'])).code).toBe(0);
  });

  it('--word: a word of the chain proves i acknowledged deliveries; a wrong one exits 1', async () => {
    const p = reg.payword!;
    const w2 = b64u.encode(paywordWord(bob.k, p.sub, 5, 2));
    const ok = await run(['verify-receipt', '--cert', cert(), '--word', `2:${w2}`, receiptFile]);
    expect(ok.code).toBe(0);
    expect(ok.out).toContain(`word w_2: VALID, SHA256^2(w) = w0: it proves 2 acknowledged deliveries of chain ${p.sub}`);
    const j = JSON.parse((await run(['verify-receipt', '--json', '--cert', cert(), '--word', `5:${b64u.encode(paywordWord(bob.k, p.sub, 5, 5))}`, receiptFile])).out) as { word: unknown };
    expect(j.word).toEqual({ i: 5, valid: true });

    const wrong = await run(['verify-receipt', '--cert', cert(), '--word', `3:${w2}`, receiptFile]);
    expect(wrong.code).toBe(1);
    expect(wrong.out).toContain('word w_3: NOT valid');
    expect(wrong.err).toMatch(/does not prove 3 deliveries/);
    const beyond = await run(['verify-receipt', '--cert', cert(), '--word', `6:${w2}`, receiptFile]);
    expect([beyond.code, beyond.err]).toEqual([1, expect.stringMatching(/only 5 words/)]);
    expect((await run(['verify-receipt', '--cert', cert(), '--word', 'two:abc', receiptFile])).code).toBe(2);
  });

  it('a tampered receipt exits 1 with the reason', async () => {
    const payload = JSON.parse(fromUtf8(b64u.decode(receipt.payload))) as Record<string, unknown>;
    const forged = { ...receipt, payload: b64u.encode(utf8(JSON.stringify({ ...payload, payword: { ...(payload['payword'] as object), n: 500 } }))) };
    writeFileSync(join(dir, 'forged.json'), JSON.stringify(forged));
    const r = await run(['verify-receipt', '--cert', cert(), 'forged.json']);
    expect(r.code).toBe(1);
    expect(r.out).toBe('');
    expect(r.err).toMatch(/NOT valid: the vendor's signature does not verify/);

    const sig = b64u.decode(receipt.sig);
    sig[10]! ^= 1;
    writeFileSync(join(dir, 'badsig.json'), JSON.stringify({ ...receipt, sig: b64u.encode(sig) }));
    const j = await run(['verify-receipt', '--json', '--cert', cert(), 'badsig.json']);
    expect(j.code).toBe(1);
    expect(JSON.parse(j.out)).toEqual({ valid: false, reason: "the vendor's signature does not verify" });

    writeFileSync(join(dir, 'shape.json'), JSON.stringify({ ...receipt, alg: 'RS256' }));
    expect((await run(['verify-receipt', '--cert', cert(), 'shape.json'])).code).toBe(1);

    // Another vendor's key (keygen's --force run above made one).
    const other = await run(['verify-receipt', '--cert', join(dir, 'other', 'vendor-cert.pem'), receiptFile]);
    expect([other.code, other.err]).toEqual([1, expect.stringMatching(/names another vendor key/)]);
  });

  it('a certificate that does not name the vendor is a warning', async () => {
    // A self-signed certificate of this vendor's own key, but for another host:
    const { selfSignedCertificate } = await import('../crypto/rsa.ts');
    const { createPrivateKey, createPublicKey } = await import('node:crypto');
    const priv = createPrivateKey(readFileSync(join(keys, 'vendor-key.pem'), 'utf8'));
    const pem = selfSignedCertificate({ now: Date.now(),
      spki: new Uint8Array(createPublicKey(priv).export({ format: 'der', type: 'spki' })),
      pkcs8: new Uint8Array(priv.export({ format: 'der', type: 'pkcs8' })),
      origin: 'https://elsewhere.example',
    });
    writeFileSync(join(dir, 'elsewhere.pem'), pem);
    const r = await run(['verify-receipt', '--cert', 'elsewhere.pem', receiptFile]);
    expect(r.code).toBe(0);
    expect(r.out).toContain('WARNING: the certificate does not name the host of https://quotes.example');
  });

  it('input and usage errors', async () => {
    expect((await run(['verify-receipt', '--cert', cert(), 'missing.json'])).err).toMatch(/cannot read the receipt .*missing\.json: no such file/);
    expect((await run(['verify-receipt', '--cert', cert(), 'missing.json'])).code).toBe(3);
    writeFileSync(join(dir, 'notjson.json'), 'hello');
    expect((await run(['verify-receipt', '--cert', cert(), 'notjson.json'])).code).toBe(3);
    expect((await run(['verify-receipt', '--cert', 'nope.pem', receiptFile])).code).toBe(3);
    writeFileSync(join(dir, 'garbage.pem'), 'not a key');
    const g = await run(['verify-receipt', '--cert', 'garbage.pem', receiptFile]);
    expect([g.code, g.err]).toEqual([3, expect.stringMatching(/holds no usable vendor key/)]);
    expect((await run(['verify-receipt', receiptFile])).code).toBe(2);
    expect((await run(['verify-receipt', '--cert', cert()])).code).toBe(2);
    expect((await run(['verify-receipt', '--cert', cert(), receiptFile, receiptFile])).code).toBe(2);
  });
});

describe('janus-vendor inspect', () => {
  it('prints the client record as JSON, without its key', async () => {
    const r = await run(['inspect', '--config', configFile, bob.alias]);
    expect(r.code).toBe(0);
    const rec = JSON.parse(r.out) as Record<string, unknown>;
    expect(rec).toMatchObject({ alias: bob.alias, gen: 0, data: { months: 1 }, chain: { sub: reg.payword!.sub, n: 5, delivered: 0, acked: 0 }, receipt });
    expect(Object.keys(rec)).not.toContain('k');
    expect(r.out).not.toMatch(/"k"|key_?enc/i);
    expect(r.out).not.toContain(b64u.encode(bob.k));
    expect(r.out).not.toContain(b64.encode(bob.k));
  });

  it('--count', async () => {
    expect(await run(['inspect', '--config', 'janus.json', '--count'])).toEqual({ code: 0, out: '1\n', err: '' });
  });

  it('an unknown alias exits 1', async () => {
    const r = await run(['inspect', '--config', configFile, 'nobody']);
    expect([r.code, r.out, r.err]).toEqual([1, '', 'janus-vendor: no client nobody\n']);
  });

  it('an alias that begins with "-" (one in 64 do) is an alias, not an option, in any position and after --', async () => {
    const dash = '-' + 'A'.repeat(21);
    for (const args of [['inspect', '--config', configFile, dash], ['inspect', dash, '--config', configFile], ['inspect', '--config', configFile, '--', dash]]) {
      expect(await run(args)).toEqual({ code: 1, out: '', err: `janus-vendor: no client ${dash}\n` });
    }
  });

  it('usage and input errors', async () => {
    expect((await run(['inspect', bob.alias])).code).toBe(2);
    expect((await run(['inspect', '--config', configFile])).code).toBe(2);
    expect((await run(['inspect', '--config', configFile, '--count', bob.alias])).code).toBe(2);
    expect((await run(['inspect', '--config', configFile, 'a', 'b'])).code).toBe(2);
    expect((await run(['inspect', '--config', 'nope.json', 'a'])).code).toBe(3);
    writeFileSync(join(dir, 'nodb.json'), JSON.stringify({ origin: ORIGIN, database: 'nowhere/v.db', upstream: 'http://127.0.0.1:1' }));
    const n = await run(['inspect', '--config', 'nodb.json', '--count']);
    expect([n.code, n.err]).toEqual([3, expect.stringMatching(/no database at .*nowhere\/v\.db/)]);
    expect(existsSync(join(dir, 'nowhere'))).toBe(false);
    writeFileSync(join(dir, 'typo.json'), JSON.stringify({ origin: ORIGIN, databse: 'x.db', upstream: 'http://127.0.0.1:1' }));
    const t = await run(['inspect', '--config', 'typo.json', '--count']);
    expect([t.code, t.err]).toEqual([3, expect.stringMatching(/unknown field "databse"/)]);
  });
});

describe('the serve config', () => {
  it('resolves relative paths against the config folder and fills defaults', () => {
    const c = validateServeConfig(
      { origin: 'https://site.example/', keys: { privateKey: 'k.pem', kek: '/abs/kek' }, database: 'db/v.db', upstream: 'http://127.0.0.1:3000', routes: [{ path: '/a', methods: ['get'], level: 'eddp' }] },
      '/etc/janus',
    );
    expect(c).toMatchObject({
      origin: 'https://site.example',
      listen: { host: '127.0.0.1', port: 8443 },
      keys: { privateKey: '/etc/janus/k.pem', kek: '/abs/kek' },
      database: '/etc/janus/db/v.db',
      routes: [{ path: '/a', methods: ['GET'], level: 'eddp' }],
      upstreamTimeoutSeconds: 30,
    });
    expect(() => validateServeConfig({ origin: 'https://site.example', database: 'x', upstream: 'http://u', routes: [{ path: '/a', level: 'sddp', methods: [] }] }, '/')).toThrow(
      /"routes\[0\]\.methods" must be a non-empty array/,
    );
    expect(() => validateServeConfig({ origin: 'https://site.example', database: 'x' }, '/')).toThrow(/"upstream" must be a non-empty string/);
    expect(() => validateServeConfig([], '/')).toThrow(/must be a JSON object/);
  });
});

describe('janus-vendor serve and inspect on PostgreSQL', () => {
  /** The URL's password (the throwaway cluster has one), which nothing may print. */
  const passwordOf = (url: string) => decodeURIComponent(new URL(url).password);
  const masked = (url: string) => {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  };

  /** Starts serve with `argv` after `serve`; resolves once it listens (or failed), with a stop. */
  async function serveWith(argv: string[]): Promise<{ io: Captured; stop(): Promise<number> }> {
    const ac = new AbortController();
    const io = capture({ signal: ac.signal });
    const done = main(['serve', ...argv], io);
    let ended = false;
    void done.then(() => (ended = true));
    await until(() => io.stdout().includes('listening on') || ended, 'serve to listen or fail', 30_000);
    return {
      io,
      stop: async () => {
        ac.abort();
        return done;
      },
    };
  }

  async function pgConfig(name: string, database: string | undefined): Promise<{ file: string; origin: string }> {
    const port = await freePort();
    const origin = `http://127.0.0.1:${port}`;
    const file = join(dir, name);
    writeFileSync(
      file,
      JSON.stringify({
        origin,
        listen: { host: '127.0.0.1', port },
        keys: { privateKey: 'keys/vendor-key.pem', kek: 'keys/kek.key' },
        ...(database !== undefined ? { database } : {}),
        routes: [{ path: '/api/watchlist', methods: ['GET'], level: 'sddp' }],
        upstream: upstreamUrl,
      }),
    );
    return { file, origin };
  }

  let upstreamUrl = '';
  let closeUpstream = async () => {};
  beforeAll(async () => {
    const u = await startUpstream('node');
    upstreamUrl = u.url;
    closeUpstream = u.close;
  });
  afterAll(async () => closeUpstream());

  it('serve with a postgres:// URL as "database" registers a client and answers SDDP; inspect reads it from the same database', async () => {
    const url = await pgdb.freshDatabase();
    const { file, origin } = await pgConfig('pg.json', url);
    const s = await serveWith(['--config', file]);
    try {
      expect(s.io.stderr()).toBe('');
      expect(s.io.stdout()).toContain(`database ${masked(url)}`);
      const peer = httpPeer(origin);
      const doc = await discover(peer, origin);
      const carol = await sessionFor('carol@example.org', 'carol secret', origin);
      expect((await register(peer, carol, doc, { now: Math.floor(Date.now() / 1000), data: { plan: 'pg' } })).alias).toBe(carol.alias);
      const d = await deliver(peer, carol, 'sddp', '/api/watchlist', { now: Math.floor(Date.now() / 1000) });
      expect(d.status).toBe(200);
      expect(d.json).toMatchObject({ handler: 'protected', alias: carol.alias, level: 'sddp' });
      // The row is in PostgreSQL: inspect (with the same config) reads it there, and writes no SQLite file.
      const r = await run(['inspect', '--config', file, carol.alias]);
      expect(r.code).toBe(0);
      expect(JSON.parse(r.out)).toMatchObject({ alias: carol.alias, gen: 0, data: { plan: 'pg' } });
      expect(await run(['inspect', '--config', file, '--count'])).toEqual({ code: 0, out: '1\n', err: '' });
    } finally {
      expect(await s.stop()).toBe(0);
    }
    const pw = passwordOf(url);
    if (pw) expect(s.io.stdout() + s.io.stderr()).not.toContain(pw);
  });

  it('--database overrides the config\'s "database" (serve and inspect); the config then needs none', async () => {
    const url = await pgdb.freshDatabase();
    const { file, origin } = await pgConfig('pg-override.json', 'data/never.db');
    const s = await serveWith(['--config', file, '--database', url]);
    try {
      expect(s.io.stderr()).toBe('');
      expect(s.io.stdout()).toContain(`database ${masked(url)}`);
      const peer = httpPeer(origin);
      const dan = await sessionFor('dan@example.org', 'dan secret', origin);
      await register(peer, dan, await discover(peer, origin), { now: Math.floor(Date.now() / 1000) });
      expect((await deliver(peer, dan, 'sddp', '/api/watchlist', { now: Math.floor(Date.now() / 1000) })).status).toBe(200);
    } finally {
      expect(await s.stop()).toBe(0);
    }
    expect(existsSync(join(dir, 'data', 'never.db'))).toBe(false);
    const { file: bare } = await pgConfig('pg-bare.json', undefined);
    expect(await run(['inspect', '--config', bare, '--database', url, '--count'])).toEqual({ code: 0, out: '1\n', err: '' });
    // Without it, a config with no "database" is still an error.
    const noDatabase = await run(['inspect', '--config', bare, '--count']);
    expect(noDatabase.code).toBe(3);
    expect(noDatabase.err).toMatch(/"database" must be a non-empty string/);
    // A relative --database path resolves against the working folder.
    expect(await run(['inspect', '--config', bare, '--database', 'data/vendor.db', '--count'])).toEqual({ code: 0, out: '1\n', err: '' });
  });

  it("a URL's password never appears in output or errors", async () => {
    const secret = 'S3cret-Pa55word';
    const url = new URL(await pgdb.freshDatabase());
    url.password = secret; // the wrong one: the server refuses it
    const wrong = url.toString();
    const missing = new URL(wrong);
    missing.pathname = '/no_such_database';
    const closed = `postgres://janus:${secret}@127.0.0.1:${await freePort()}/janus`;
    const cases: Array<[string[], RegExp]> = [
      [['serve', '--config', (await pgConfig('pg-wrong.json', wrong)).file], /cannot open the database postgres:\/\/janus:\*\*\*@127\.0\.0\.1:\d+\/janus_\w+: /],
      [['serve', '--config', (await pgConfig('pg-missing.json', undefined)).file, '--database', missing.toString()], /cannot open the database postgres:\/\/janus:\*\*\*@.*\/no_such_database: /],
      [['serve', '--config', (await pgConfig('pg-closed.json', closed)).file], /cannot open the database postgres:\/\/janus:\*\*\*@127\.0\.0\.1:\d+\/janus: .*ECONNREFUSED/],
      [['inspect', '--config', (await pgConfig('pg-inspect.json', wrong)).file, '--count'], /cannot open the database postgres:\/\/janus:\*\*\*@/],
      // The password in the query, and a URL that names no database.
      [['inspect', '--config', (await pgConfig('pg-query.json', `postgresql://janus@127.0.0.1:${await freePort()}/janus?password=${secret}`)).file, '--count'], /password=\*\*\*.*ECONNREFUSED/],
      [['inspect', '--config', (await pgConfig('pg-nodb.json', `postgres://janus:${secret}@127.0.0.1:5432/`)).file, '--count'], /"database": the PostgreSQL URL names no database: postgres:\/\/janus:\*\*\*@127\.0\.0\.1:5432\//],
      [['inspect', '--config', (await pgConfig('pg-nodb2.json', undefined)).file, '--database', `postgres://janus:${secret}@127.0.0.1:5432/`, '--count'], /inspect: --database: the PostgreSQL URL names no database: postgres:\/\/janus:\*\*\*@/],
    ];
    for (const [argv, re] of cases) {
      const r = await run(argv);
      expect([r.code, r.err], argv.join(' ')).toEqual([3, expect.stringMatching(re)]);
      expect(r.out + r.err).not.toContain(secret);
    }
  });

  it('a database of another kind (an unsupported URL scheme) is the typed input error, exit 3', async () => {
    const bad = 'mysql://root:hunter2hunter2@db.example/shop';
    const c = await run(['serve', '--config', (await pgConfig('mysql.json', bad)).file]);
    expect([c.code, c.out]).toEqual([3, '']);
    expect(c.err).toMatch(/^janus-vendor: config .*mysql\.json: "database": unsupported store "mysql:": give a SQLite path \(or sqlite:PATH\) or a postgres:\/\/ URL\n$/);
    const o = await run(['serve', '--config', (await pgConfig('mysql-flag.json', 'data/x.db')).file, '--database', bad]);
    expect([o.code, o.err]).toEqual([3, expect.stringMatching(/^janus-vendor: serve: --database: unsupported store "mysql:"/)]);
    const i = await run(['inspect', '--config', configFile, '--database', 'redis://x/0', '--count']);
    expect([i.code, i.err]).toEqual([3, expect.stringMatching(/inspect: --database: unsupported store "redis:"/)]);
    for (const r of [c, o]) expect(r.err).not.toContain('hunter2');
    expect(() => validateServeConfig({ origin: ORIGIN, database: bad, upstream: 'http://127.0.0.1:1' }, '/')).toThrow(/"database": unsupported store "mysql:"/);
  });

  it('the key placement warnings are for SQLite folders only', () => {
    const keys_ = { kek: '/srv/janus/data/kek.key', privateKey: '/srv/janus/data/key.pem' };
    expect(keyPlacementWarnings({ database: '/srv/janus/data/vendor.db', keys: keys_ })).toHaveLength(2);
    expect(keyPlacementWarnings({ database: 'postgres://janus:pw@db.example/data', keys: keys_ })).toEqual([]);
    expect(keyPlacementWarnings({ database: ':memory:', keys: keys_ })).toEqual([]);
  });
});
