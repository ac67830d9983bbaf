/**
 * `janus-vendor serve`: the reverse proxy over real HTTP, in-process through `main`, in front of a
 * tiny upstream server; SKEP, SDDP and EDDP through it with the test client drivers; the
 * Janus-Client* headers the upstream sees (and never from outside); and once as a subprocess.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request as httpRequest, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { b64, b64u, fromUtf8, utf8 } from '../crypto/bytes.ts';
import { deliveryRequest, deliveryResponse, makeCredential, paywordWord, type Discovery, type SkepResult, type VendorSession } from '../protocol/index.ts';
import { deliver, discover, fetchChallenge, register, sessionFor, type Peer } from '../../test/support/client.ts';
import { httpPeer, testKeyMaterial } from '../../test/support/vendor-kit.ts';
import { main, type Io } from './cli/index.ts';
import { CLIENT_HEADER, decodeClient, forwardableHeaders, parseUpstream } from './proxy.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const now = () => Math.floor(Date.now() / 1000);

interface Seen {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

function capture(extra: Partial<Io> = {}): Io & { stdout: () => string; stderr: () => string } {
  let out = '';
  let err = '';
  return { out: (s) => void (out += s), err: (s) => void (err += s), stdout: () => out, stderr: () => err, ...extra };
}

function listen(server: Server, port = 0): Promise<number> {
  return new Promise((res, rej) => {
    server.once('error', rej);
    server.listen(port, '127.0.0.1', () => res((server.address() as AddressInfo).port));
  });
}

/** A port free right now: the vendor origin must name the port before the vendor starts. */
async function freePort(): Promise<number> {
  const s = createServer();
  const port = await listen(s);
  await new Promise((r) => s.close(r));
  return port;
}

async function until(cond: () => boolean, what: string, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const dir = mkdtempSync(join(tmpdir(), 'janus-proxy-'));
const seen: Seen[] = [];
let upstream: Server;
let upstreamPort: number;
let port: number;
let origin: string;
let peer: Peer;
let doc: Discovery;
let alice: VendorSession;
let bob: VendorSession;
let bobReg: SkepResult;
let bobChallenge: string;
let stop: AbortController;
let served: Promise<number>;
let serveIo: ReturnType<typeof capture>;
let keyFiles: { privateKey: string; kek: string; pem: string; kekText: string };

function lastSeen(): Seen {
  const s = seen.at(-1);
  if (!s) throw new Error('the upstream saw nothing');
  return s;
}

function writeConfig(name: string, cfg: Record<string, unknown>): string {
  const file = join(dir, name);
  writeFileSync(file, JSON.stringify(cfg, null, 2));
  return file;
}

beforeAll(async () => {
  upstream = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      const alias = req.headers[CLIENT_HEADER.alias];
      const client = req.headers[CLIENT_HEADER.client];
      const url = new URL(req.url ?? '/', 'http://upstream');
      if (url.pathname === '/api/watchlist') {
        const c = typeof client === 'string' ? decodeClient(client) : null;
        res.writeHead(200, { 'content-type': 'application/json', etag: '"w1"' });
        res.end(JSON.stringify({ alias, watchlist: c?.data['watchlist'] ?? null }));
      } else if (url.pathname === '/api/echo') {
        res.writeHead(201, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ got: body, type: req.headers['content-type'] ?? null, q: url.searchParams.get('q') }));
      } else if (url.pathname.startsWith('/api/eddp/') || url.pathname.startsWith('/api/paid/')) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ symbol: url.pathname.split('/').pop(), alias }));
      } else if (url.pathname === '/nothing') {
        res.writeHead(204);
        res.end();
      } else {
        res.setHeader('set-cookie', ['a=1; Path=/', 'b=2; Path=/']);
        res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
        res.end(`hello ${typeof alias === 'string' ? alias : 'visitor'} at ${req.url}`);
      }
    });
  });
  upstreamPort = await listen(upstream);

  const keys = await testKeyMaterial();
  keyFiles = { privateKey: join(dir, 'vendor-key.pem'), kek: join(dir, 'kek.key'), pem: keys.privateKeyPem, kekText: b64.encode(keys.kek) };
  writeFileSync(keyFiles.privateKey, keys.privateKeyPem, { mode: 0o600 });
  writeFileSync(keyFiles.kek, keyFiles.kekText + '\n', { mode: 0o600 });

  port = await freePort();
  origin = `http://127.0.0.1:${port}`;
  const config = writeConfig('janus.json', {
    origin,
    listen: { host: '127.0.0.1', port },
    keys: { privateKey: 'vendor-key.pem', kek: 'kek.key' },
    database: 'data/vendor.db',
    receipt: 'offered',
    name: 'Quotes',
    routes: [
      { path: '/api/watchlist', methods: ['GET'], level: 'sddp' },
      { path: '/api/echo', methods: ['POST'], level: 'sddp' },
      { path: '/api/eddp/*', level: 'eddp' },
      { path: '/api/paid/*', level: 'eddp+receipts' },
      { path: '/', level: 'credential' },
    ],
    upstream: `http://127.0.0.1:${upstreamPort}`,
    upstreamTimeoutSeconds: 5,
  });
  stop = new AbortController();
  serveIo = capture({ signal: stop.signal });
  served = main(['serve', '--config', config], serveIo);
  await until(() => serveIo.stdout().includes('listening on') || serveIo.stderr() !== '', 'the proxy to listen');
  expect(serveIo.stderr()).toBe('');
  peer = httpPeer(origin);
  doc = await discover(peer, origin);
  alice = await sessionFor('alice@example.org', 'alice secret', origin);
});

afterAll(async () => {
  stop?.abort();
  await served;
  await new Promise((r) => upstream?.close(r));
  rmSync(dir, { recursive: true, force: true });
});

describe('janus-vendor serve: the reverse proxy', () => {
  it('prints the listening URL and serves the discovery document with the configured routes', () => {
    expect(serveIo.stdout()).toContain(`listening on ${origin}`);
    expect(doc.origin).toBe(origin);
    expect(doc.routes.map((r) => [r.path, r.level])).toEqual([
      ['/api/watchlist', 'sddp'],
      ['/api/echo', 'sddp'],
      ['/api/eddp/*', 'eddp'],
      ['/api/paid/*', 'eddp+receipts'],
      ['/', 'credential'],
    ]);
  });

  it('SKEP, then SDDP: the upstream gets the decrypted request with Janus-Client-Alias and Janus-Client', async () => {
    const r = await register(peer, alice, doc, { now: now(), data: { watchlist: ['LU', 'T'] } });
    expect(r.alias).toBe(alice.alias);
    seen.length = 0;
    const d = await deliver(peer, alice, 'sddp', '/api/watchlist', { now: now() });
    expect(d.status).toBe(200);
    expect(d.json).toEqual({ alias: alice.alias, watchlist: ['LU', 'T'] });
    expect(d.headers['etag']).toBe('"w1"');
    expect(seen).toHaveLength(1); // SKEP never reached the upstream
    const s = lastSeen();
    expect(s.method).toBe('GET');
    expect(s.url).toBe('/api/watchlist');
    expect(s.headers[CLIENT_HEADER.alias]).toBe(alice.alias);
    expect(s.headers[CLIENT_HEADER.level]).toBe('sddp');
    const client = decodeClient(String(s.headers[CLIENT_HEADER.client]));
    expect(client).toMatchObject({ alias: alice.alias, gen: 0, data: { watchlist: ['LU', 'T'] }, chain: null });
    expect(JSON.stringify(client)).not.toMatch(/"k"/);
    // Nothing of the protocol travels upstream: no signature, no digest, no ciphertext coding.
    expect(s.headers['signature']).toBeUndefined();
    expect(s.headers['content-digest']).toBeUndefined();
    expect(s.headers['x-forwarded-proto']).toBe('http');
  });

  it('SDDP with an encrypted body: the upstream gets the plaintext, its content type and the query', async () => {
    seen.length = 0;
    const d = await deliver(peer, alice, 'sddp', '/api/echo?q=42', { now: now(), method: 'POST', body: utf8('{"x":1}') });
    expect(d.status).toBe(201);
    expect(d.json).toEqual({ got: '{"x":1}', type: 'application/json', q: '42' });
    expect(lastSeen().headers['content-encoding']).toBeUndefined();
  });

  it('a Janus-Client-Alias sent by the client on a protected request never reaches the upstream', async () => {
    seen.length = 0;
    const { request, pending } = await deliveryRequest({
      key: alice,
      level: 'sddp',
      method: 'GET',
      url: origin + '/api/watchlist',
      now: now(),
      headers: { 'janus-client-alias': 'mallory', 'janus-client': 'e30' },
    });
    const d = await deliveryResponse(pending, 'sddp', await peer(request));
    expect(JSON.parse(fromUtf8(d.body))).toMatchObject({ alias: alice.alias });
    expect(lastSeen().headers[CLIENT_HEADER.alias]).toBe(alice.alias);
    expect(decodeClient(String(lastSeen().headers[CLIENT_HEADER.client])).alias).toBe(alice.alias);
  });

  it('EDDP through the proxy', async () => {
    const c = await fetchChallenge(peer, alice, doc);
    const d = await deliver(peer, alice, 'eddp', '/api/eddp/LU', { now: now(), challenge: c });
    expect(d.json).toEqual({ symbol: 'LU', alias: alice.alias });
    expect(d.challenge).toBeTruthy();
    expect(lastSeen().headers[CLIENT_HEADER.level]).toBe('eddp');
  });

  it('non-repudiation SKEP and EDDP with receipts through the proxy; verify-receipt on its receipt', async () => {
    bob = await sessionFor('bob@example.org', 'bob secret', origin);
    bobReg = await register(peer, bob, doc, { now: now(), receipt: true, chain: 3 });
    const c = await fetchChallenge(peer, bob, doc);
    const d = await deliver(peer, bob, 'eddp+receipts', '/api/paid/T', { now: now(), challenge: c });
    expect(d.json).toEqual({ symbol: 'T', alias: bob.alias });
    expect(d.receipt).toEqual({ sub: bobReg.payword!.sub, i: 1, n: bobReg.payword!.n });
    bobChallenge = d.challenge!;
    expect(lastSeen().headers[CLIENT_HEADER.level]).toBe('eddp+receipts');
    // The upstream sees the deliveries made before this one, and which one its 2xx answer will be.
    expect(decodeClient(String(lastSeen().headers[CLIENT_HEADER.client])).chain).toMatchObject({ n: 3, delivered: 0, acked: 0 });
    expect(lastSeen().headers[CLIENT_HEADER.delivery]).toBe(`${bobReg.payword!.sub}.1.3`);

    expect(bobReg.fingerprint).toBe(doc.key.fingerprint);
    writeFileSync(join(dir, 'spki.txt'), b64u.encode(doc.key.spki));
    writeFileSync(join(dir, 'bob-receipt.json'), JSON.stringify(bobReg.receipt));
    const w1 = b64u.encode(paywordWord(bob.k, bobReg.payword!.sub, 3, 1));
    const io = capture();
    expect(await main(['verify-receipt', '--cert', join(dir, 'spki.txt'), '--word', `1:${w1}`, join(dir, 'bob-receipt.json')], io)).toBe(0);
    expect(io.stdout()).toContain(`vendor origin:  ${origin}`);
    expect(io.stdout()).toContain('it proves 1 acknowledged delivery');
  });

  it('an ordinary request goes upstream as is; spoofed Janus-Client* headers are stripped', async () => {
    seen.length = 0;
    const res = await fetch(origin + '/page?x=1', {
      headers: { 'Janus-Client-Alias': 'mallory', 'Janus-Client': 'eyJhbGlhcyI6Im1hbGxvcnkifQ', 'Janus-Client-Level': 'sddp', 'X-Custom': 'kept' },
    });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('hello visitor at /page?x=1');
    expect(res.headers.getSetCookie()).toEqual(['a=1; Path=/', 'b=2; Path=/']);
    const s = lastSeen();
    expect(s.url).toBe('/page?x=1');
    expect(s.headers['x-custom']).toBe('kept');
    expect(Object.keys(s.headers).filter((h) => h.startsWith('janus-client'))).toEqual([]);
    expect(s.headers['host']).toBe(`127.0.0.1:${upstreamPort}`);
    expect(s.headers['x-forwarded-host']).toBe(`127.0.0.1:${port}`);
  });

  it('an ordinary request with a valid slot credential gets the verified alias, never the spoofed one', async () => {
    seen.length = 0;
    const res = await fetch(origin + '/', {
      headers: { 'janus-credential': makeCredential(alice, origin, now()).value, 'janus-client-alias': 'mallory' },
    });
    expect(await res.text()).toBe(`hello ${alice.alias} at /`);
    expect(lastSeen().headers[CLIENT_HEADER.alias]).toBe(alice.alias);
    expect(lastSeen().headers[CLIENT_HEADER.level]).toBe('credential');
    // A bad credential is an anonymous visitor.
    await fetch(origin + '/', { headers: { 'janus-credential': `${alice.alias}.0.1.AAAAAAAAAAAAAAAAAAAAAA` } }).then((r) => r.text());
    expect(lastSeen().headers[CLIENT_HEADER.alias]).toBeUndefined();
  });

  it('ordinary POST bodies stream through; hop-by-hop headers and those Connection names are dropped', async () => {
    seen.length = 0;
    const status = await new Promise<number>((res, rej) => {
      const req = httpRequest(
        `${origin}/form`,
        { method: 'POST', headers: { connection: 'keep-alive, x-hop', 'x-hop': 'secret', 'keep-alive': 'timeout=5', 'content-type': 'text/plain', 'proxy-authorization': 'Basic eA==' } },
        (r) => {
          r.resume();
          r.on('end', () => res(r.statusCode ?? 0));
        },
      );
      req.on('error', rej);
      req.end('some form data');
    });
    expect(status).toBe(200);
    const s = lastSeen();
    expect(s.method).toBe('POST');
    expect(s.body).toBe('some form data');
    expect(s.headers['x-hop']).toBeUndefined();
    expect(s.headers['keep-alive']).toBeUndefined();
    expect(s.headers['proxy-authorization']).toBeUndefined();
    expect(s.headers['content-type']).toBe('text/plain');
  });

  it('passes 204 and HEAD answers without a body', async () => {
    const r = await fetch(origin + '/nothing');
    expect(r.status).toBe(204);
    const h = await fetch(origin + '/page', { method: 'HEAD' });
    expect(h.status).toBe(200);
    expect(await h.text()).toBe('');
  });

  it('Janus endpoints are never forwarded', async () => {
    seen.length = 0;
    for (const path of ['/.janus/challenge', '/.janus/skep', '/.janus/ack', '/.well-known/janus']) {
      const r = await fetch(origin + path, { method: 'POST', headers: { 'janus-alias': 'nobody' } });
      expect(r.status).toBeGreaterThanOrEqual(400);
      expect(r.status).toBeLessThan(500);
    }
    expect(seen).toHaveLength(0);
  });

  it('an unreachable upstream: a plain 502 for pages, a sealed 502 upstream_unavailable on protected routes, no delivery counted', async () => {
    await new Promise((r) => upstream.close(r));
    upstream.closeAllConnections();
    const r = await fetch(origin + '/page');
    expect(r.status).toBe(502);
    expect(await r.text()).toMatch(/^bad gateway/);
    const { request, pending } = await deliveryRequest({ key: alice, level: 'sddp', method: 'GET', url: origin + '/api/watchlist', now: now() });
    const d = await deliveryResponse(pending, 'sddp', await peer(request));
    expect([d.status, d.error]).toEqual([502, 'upstream_unavailable']);
    expect(JSON.parse(fromUtf8(d.body))).toMatchObject({ error: { code: 'upstream_unavailable' } });
    expect(serveIo.stderr()).toMatch(/upstream GET \/page: ECONNREFUSED/);

    // On a receipt route the answer is a typed, sealed 502 (never 500 internal), nothing is counted
    // as delivered, and the acknowledgement the request carried is stored (§11.2).
    const sub = bobReg.payword!.sub;
    const paid = await deliveryRequest({
      key: bob,
      level: 'eddp+receipts',
      method: 'GET',
      url: origin + '/api/paid/LU',
      now: now(),
      challenge: bobChallenge,
      ack: { sub, i: 1, w: paywordWord(bob.k, sub, 3, 1) },
    });
    const res = await peer(paid.request);
    expect([res.status, res.headers['janus-error']]).toEqual([502, 'upstream_unavailable']);
    const out = await deliveryResponse(paid.pending, 'eddp+receipts', res);
    expect(out).toMatchObject({ status: 502, error: 'upstream_unavailable', receipt: null, ackRequired: false });
    bobChallenge = out.challenge!;
    expect(serveIo.stderr()).not.toMatch(/internal error/);
    const io = capture();
    expect(await main(['inspect', '--config', join(dir, 'janus.json'), bob.alias], io)).toBe(0);
    expect((JSON.parse(io.stdout()) as { chain: unknown }).chain).toMatchObject({ delivered: 1, acked: 1 });
    // Back up for afterAll.
    upstream.listen(upstreamPort, '127.0.0.1');
  });

  it('inspect sees the client the proxy registered', async () => {
    const io = capture();
    expect(await main(['inspect', '--config', join(dir, 'janus.json'), alice.alias], io)).toBe(0);
    expect(JSON.parse(io.stdout())).toMatchObject({ alias: alice.alias, gen: 0, data: { watchlist: ['LU', 'T'] } });
    const count = capture();
    expect(await main(['inspect', '--config', join(dir, 'janus.json'), '--count'], count)).toBe(0);
    expect(count.stdout()).toBe('2\n');
  });
});

describe('janus-vendor serve: configuration and lifecycle', () => {
  const base = () => ({
    origin: 'http://127.0.0.1:1',
    listen: { port: 0 },
    keys: { privateKey: 'vendor-key.pem', kek: 'kek.key' },
    database: ':memory:',
    routes: [{ path: '/api/x', level: 'sddp' }],
    upstream: 'http://127.0.0.1:9',
  });

  it('stops cleanly when asked, with keys from the environment', async () => {
    const { keys: _k, ...noKeys } = base();
    const file = writeConfig('env.json', noKeys);
    const ac = new AbortController();
    const io = capture({ signal: ac.signal, env: { JANUS_PRIVATE_KEY: keyFiles.pem, JANUS_KEK: keyFiles.kekText } });
    const p = main(['serve', '--config', file], io);
    await until(() => io.stdout().includes('listening on') || io.stderr() !== '', 'listening');
    expect(io.stderr()).toBe('');
    expect(io.stdout()).toMatch(/listening on http:\/\/127\.0\.0\.1:\d+/);
    ac.abort();
    expect(await p).toBe(0);
    expect(io.stdout()).toContain('stopping');
  });

  it('bad configs exit 3 with a message naming the field', async () => {
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ ...base(), listen: { port: 70000 } }, /"listen\.port" must be a whole number from 0 to 65535/],
      [{ ...base(), routes: [{ path: '/x', level: 'sdp' }] }, /"routes\[0\]\.level" must be one of/],
      [{ ...base(), routes: [{ path: 'x', level: 'sddp' }] }, /"routes\[0\]\.path" must start with one \//],
      [{ ...base(), routes: [{ path: '/.janus/skep', level: 'sddp' }] }, /reserved for Janus/],
      [{ ...base(), upstream: 'ftp://x' }, /"upstream": .*http/],
      [{ ...base(), origin: 'http://quotes.example' }, /"origin" is not a vendor origin/],
      [{ ...base(), origin: 'https://quotes.example/app' }, /"origin" must be an origin/],
      [{ ...base(), window: 99 }, /"window" must be a whole number from 0 to 12/],
      [{ ...base(), receipt: 'always' }, /"receipt" must be "none", "offered" or "required"/],
      [{ ...base(), lisen: {} }, /unknown field "lisen"/],
      [{ ...base(), limits: { maxBody: 1 } }, /unknown field "limits\.maxBody"/],
      [{ ...base(), database: undefined }, /"database" must be a non-empty string/],
      [{ ...base(), keys: { privateKey: 'missing.pem', kek: 'kek.key' } }, /cannot read the private key at .*missing\.pem: ENOENT/],
      [{ ...base(), keys: { privateKey: 'kek.key', kek: 'kek.key' } }, /vendor private key could not be read/],
    ];
    for (const [cfg, re] of cases) {
      const io = capture({ env: {} });
      const code = await main(['serve', '--config', writeConfig('bad.json', cfg)], io);
      expect([code, io.stderr()]).toEqual([3, expect.stringMatching(re)]);
      expect(io.stderr()).not.toMatch(/\n\s+at /);
    }
    const io = capture();
    expect(await main(['serve', '--config', join(dir, 'no-such.json')], io)).toBe(3);
    expect(io.stderr()).toMatch(/cannot read the config file .*no-such\.json: no such file/);
    writeFileSync(join(dir, 'broken.json'), '{ "origin": ');
    expect(await main(['serve', '--config', join(dir, 'broken.json')], capture())).toBe(3);
    expect(await main(['serve'], capture())).toBe(2);
    expect(await main(['serve', '--config'], capture())).toBe(2);
    expect(await main(['serve', '--config', 'x', '--port', '1'], capture())).toBe(2);
  });

  it('a port in use exits 3', async () => {
    const file = writeConfig('busy.json', { ...base(), listen: { host: '127.0.0.1', port } });
    const io = capture({ env: {} });
    expect(await main(['serve', '--config', file], io)).toBe(3);
    expect(io.stderr()).toMatch(/cannot listen on 127\.0\.0\.1:\d+: EADDRINUSE/);
  });

  it('forwardableHeaders and parseUpstream', () => {
    const h = forwardableHeaders(
      new Headers({ connection: 'close, X-Named', 'x-named': '1', te: 'trailers', upgrade: 'websocket', host: 'a', 'janus-client-anything': 'x', 'janus-credential': 'c', accept: 'text/html' }),
    );
    expect([...h.keys()].sort()).toEqual(['accept', 'janus-credential']);
    expect(parseUpstream('http://127.0.0.1:3000/app/').href).toBe('http://127.0.0.1:3000/app');
    expect(() => parseUpstream('http://127.0.0.1:3000/?x=1')).toThrow(/query/);
    expect(() => parseUpstream('file:///etc/passwd')).toThrow(/http/);
  });
});

describe('bin/janus-vendor.js as a subprocess', () => {
  const run = (args: string[], opts: { until?: string; signal?: NodeJS.Signals } = {}) =>
    new Promise<{ code: number | null; out: string; err: string }>((res, rej) => {
      const child = spawn(process.execPath, [join(ROOT, 'bin/janus-vendor.js'), ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      let killed = false;
      child.stdout.on('data', (c: Buffer) => {
        out += c.toString();
        if (opts.until && !killed && out.includes(opts.until)) {
          killed = true;
          child.kill(opts.signal ?? 'SIGTERM');
        }
      });
      child.stderr.on('data', (c: Buffer) => (err += c.toString()));
      child.on('error', rej);
      child.on('close', (code) => res({ code, out, err }));
    });

  it('--help exits 0 and lists the commands; an unknown command exits 2', async () => {
    const help = await run(['--help']);
    expect(help.code).toBe(0);
    for (const c of ['keygen', 'serve', 'inspect', 'verify-receipt']) expect(help.out).toContain(c);
    const bad = await run(['frobnicate']);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/unknown command "frobnicate"/);
    expect(bad.err).not.toMatch(/\n\s+at /);
  });

  it('serve stops cleanly on SIGTERM with exit 0', async () => {
    const file = writeConfig('sub.json', {
      origin: 'http://127.0.0.1:1',
      listen: { port: 0 },
      keys: { privateKey: 'vendor-key.pem', kek: 'kek.key' },
      database: 'sub/vendor.db',
      upstream: 'http://127.0.0.1:9',
    });
    const r = await run(['serve', '--config', file], { until: 'listening on' });
    expect(r.err).toBe('');
    expect(r.out).toContain('SIGTERM, stopping');
    expect(r.code).toBe(0);
  });
});
