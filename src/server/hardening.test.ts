/**
 * Findings 2 to 9 of the security review of the vendor side (issue 10), one describe block each,
 * over real HTTP: the SDK's node:http server, an Express app, and `janus-vendor serve` in front of
 * a real upstream. (Finding 1, path spellings and methods, is src/server/route-match.test.ts.)
 */
import { mkdirSync, mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type Server } from 'node:http';
import express from 'express';
import { Hono } from 'hono';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { b64, b64u, fromUtf8, randomBytes, utf8 } from '../crypto/bytes.ts';
import {
  applyAck,
  deliveryRequest,
  deliveryResponse,
  jsonBytes,
  makeCredential,
  paywordWord,
  rotateStart,
  skepOnResponse,
  skepStart,
  sealRequest,
  signReceipt,
  TAG,
  type Discovery,
  type HttpRequestMsg,
  type VendorSession,
} from '../protocol/index.ts';
import { deliver, discover, fetchChallenge, register, sessionFor, type Peer } from '../../test/support/client.ts';
import { freePort, startHttpVendor, type HttpVendor } from '../../test/support/http-vendor.ts';
import { codeOf } from '../../test/support/errors.ts';
import { MemoryVendor } from '../../test/support/memory-vendor.ts';
import { MIDDLEWARE_KINDS, startMiddlewareSite } from '../../test/support/middleware-apps.ts';
import { rawRequest, startServe, startUpstream, type Serve, type Upstream } from '../../test/support/serve-kit.ts';
import { fetchPeer, httpPeer, testKeyMaterial } from '../../test/support/vendor-kit.ts';
import { main } from './cli/index.ts';
import { resolveConfig } from './config.ts';
import { createVendor } from './core.ts';
import { janusExpress } from './express.ts';
import { janus, type JanusVariables } from './hono.ts';
import { RateLimiter } from './rate-limit.ts';
import { SqliteStore } from './sqlite-store.ts';

const now = () => Math.floor(Date.now() / 1000);

afterEach(() => {
  vi.restoreAllMocks();
});

/** Counts the RSA private operations WebCrypto performs from now on (both pass through unchanged). */
function countRsa(): { decrypts: () => number; signs: () => number } {
  let decrypts = 0;
  let signs = 0;
  const subtle = crypto.subtle;
  const decrypt = subtle.decrypt.bind(subtle);
  const sign = subtle.sign.bind(subtle);
  vi.spyOn(subtle, 'decrypt').mockImplementation((alg, key, data) => {
    if ((alg as { name?: string }).name === 'RSA-OAEP') decrypts++;
    return decrypt(alg, key, data);
  });
  vi.spyOn(subtle, 'sign').mockImplementation((alg, key, data) => {
    if ((alg as { name?: string }).name === 'RSA-PSS') signs++;
    return sign(alg, key, data);
  });
  return { decrypts: () => decrypts, signs: () => signs };
}

/** Sends a request's head and part of its body, then waits: the status if an answer comes within `ms`, else 'stalled'. */
function stalledUpload(port: number, head: string, partial: Uint8Array, ms = 1500): Promise<{ status: number | 'stalled'; headers: string; close(): void }> {
  return new Promise((res) => {
    const sock = connect(port, '127.0.0.1');
    let text = '';
    const done = (status: number | 'stalled') => {
      clearTimeout(timer);
      res({ status, headers: text, close: () => sock.destroy() });
    };
    const timer = setTimeout(() => done('stalled'), ms);
    sock.on('error', () => undefined);
    sock.on('data', (c: Buffer) => {
      text += c.toString('latin1');
      const m = /^HTTP\/1\.1 (\d{3})/.exec(text);
      if (m && text.includes('\r\n\r\n')) done(Number(m[1]));
    });
    sock.write(head.replace(/\r?\n/g, '\r\n').replace(/(\r\n)*$/, '') + '\r\n\r\n');
    sock.write(partial);
  });
}

/** A request message as a raw HTTP/1.1 head (its URL re-targeted at the server's own path). */
function headOf(m: HttpRequestMsg, headers: Record<string, string> = m.headers): string {
  const u = new URL(m.url);
  return [`${m.method} ${u.pathname}${u.search} HTTP/1.1`, 'Host: 127.0.0.1', ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)].join('\r\n');
}

// ---------------------------------------------------------------------------------------------

describe('finding 2: trusted headers cannot be spoofed with underscores, and X-Forwarded-* are the proxy\'s own', () => {
  let upstream: Upstream;
  let serve: Serve;
  beforeAll(async () => {
    upstream = await startUpstream('node');
    serve = await startServe(upstream.url);
  });
  afterAll(async () => {
    await serve?.stop();
    await upstream?.close();
  });

  it('an ordinary request: every spelling of Janus-Client*, X-Forwarded-*, Forwarded and X-Real-IP from outside is stripped', async () => {
    upstream.seen.length = 0;
    const r = await rawRequest(
      serve.port,
      [
        'GET /page HTTP/1.1',
        'Host: evil.example',
        'Janus_Client_Alias: mallory',
        'JANUS_CLIENT_LEVEL: sddp',
        'janus_client: eyJhbGlhcyI6Im1hbGxvcnkifQ',
        'Janus-Client-Alias: mallory',
        'X-Forwarded-For: 6.6.6.6',
        'X_Forwarded_For: 6.6.6.7',
        'X-Forwarded-Host: evil.example',
        'X-Forwarded-Proto: gopher',
        'Forwarded: for=6.6.6.6;host=evil.example',
        'X-Real-IP: 6.6.6.6',
        'X-Custom: kept',
      ].join('\r\n'),
    );
    expect(r.status).toBe(200);
    const h = upstream.seen.at(-1)!.headers;
    const mapped = Object.keys(h).map((k) => k.replace(/_/g, '-'));
    expect(mapped.filter((k) => k.startsWith('janus-client'))).toEqual([]);
    expect(mapped.filter((k) => k.startsWith('x-forwarded-') || k === 'forwarded' || k === 'x-real-ip').sort()).toEqual(['x-forwarded-for', 'x-forwarded-host', 'x-forwarded-proto']);
    expect(h['x-forwarded-host']).toBe(`127.0.0.1:${serve.port}`);
    expect(h['x-forwarded-proto']).toBe('http');
    expect(h['x-forwarded-for']).toBe('127.0.0.1');
    expect(h['x-custom']).toBe('kept');
  });
});

// ---------------------------------------------------------------------------------------------

describe('finding 3: the SKEP rate limits cannot be turned into a lockout', () => {
  let v: HttpVendor;
  let peer: Peer;
  let doc: Discovery;
  beforeAll(async () => {
    // Behind a TLS terminator that appends the client's address to X-Forwarded-For.
    v = await startHttpVendor({ config: { trustProxy: { header: 'x-forwarded-for', hops: 1 } }, routes: [] });
    peer = httpPeer(v.origin);
    doc = await discover(peer, v.origin);
  });
  afterAll(() => v?.close());

  const via = (ip: string): Peer => async (m) => peer({ ...m, headers: { ...m.headers, 'x-forwarded-for': `1.1.1.1, ${ip}` } });
  const m1 = async (s: VendorSession, slotShift = 0) => {
    const { request } = await skepStart({ session: s, discovery: doc, data: {}, now: now() });
    if (!slotShift) return request;
    const body = JSON.parse(fromUtf8(request.body)) as { slot: number };
    return { ...request, body: jsonBytes({ ...body, slot: body.slot + slotShift }) };
  };

  it('behind a trusted proxy, 40 costly requests from one client address do not block ten other clients', async () => {
    const mallory = await sessionFor('mallory@example.org', 'x', v.origin);
    const codes: (number | string)[] = [];
    for (let i = 0; i < 40; i++) {
      const res = await via('6.6.6.6')(await m1({ ...mallory, alias: b64u.encode(randomBytes(16)) }));
      codes.push(res.headers['janus-error'] ?? res.status);
    }
    expect(codes.filter((c) => c === 'rate_limited').length).toBe(10); // 30 per minute for that address
    for (let i = 0; i < 10; i++) {
      const s = await sessionFor(`user${i}@example.org`, 'secret', v.origin);
      const r = await register(via(`10.0.0.${i + 1}`), s, doc, { now: now() });
      expect(r.alias).toBe(s.alias);
    }
  });

  it('requests that fail the cheap checks count against neither the address nor the alias', async () => {
    const carol = await sessionFor('carol@example.org', 'carol secret', v.origin);
    // Five (and thirty more) junk messages naming Carol's alias, out of the slot window, from Carol's own address.
    for (let i = 0; i < 35; i++) expect((await via('7.7.7.7')(await m1(carol, 50))).headers['janus-error']).toBe('slot_out_of_window');
    const r = await register(via('7.7.7.7'), carol, doc, { now: now() });
    expect(r.alias).toBe(carol.alias);
  });

  it('without trustProxy the TCP peer is the address, and a forged X-Forwarded-For changes nothing', async () => {
    const plain = await startHttpVendor({ config: { rateLimits: { skepPerAddressPerMinute: 2 } }, routes: [] });
    try {
      const p = httpPeer(plain.origin);
      const d = await discover(p, plain.origin);
      const codes = [];
      for (let i = 0; i < 3; i++) {
        const s = await sessionFor(`x${i}@example.org`, 'x', plain.origin);
        const req = (await skepStart({ session: s, discovery: d, data: {}, now: now() })).request;
        const res = await p({ ...req, headers: { ...req.headers, 'x-forwarded-for': `9.9.9.${i}` } });
        codes.push(res.headers['janus-error'] ?? res.status);
      }
      expect(codes).toEqual([200, 200, 'rate_limited']);
    } finally {
      await plain.close();
    }
  });

  it('the limiter table is bounded, and idle buckets are dropped', () => {
    let t = 1000;
    const l = new RateLimiter(() => t, 1000);
    const size = () => (l as unknown as { buckets: Map<string, unknown> }).buckets.size; // the table itself, not what it reports
    for (let i = 0; i < 5000; i++) {
      l.take(`k${i}`, 30);
      l.take(`k${i}`, 30);
    }
    expect(size()).toBeLessThanOrEqual(1000);
    // The newest keys kept their counts: a key at its limit stays limited.
    for (let i = 0; i < 28; i++) l.take('k4999', 30);
    expect(() => l.take('k4999', 30)).toThrowError(expect.objectContaining({ code: 'rate_limited' }));
    t += 61;
    for (let i = 0; i < 600; i++) l.take(`fresh${i}`, 30);
    expect(size()).toBeLessThanOrEqual(1000);
    expect(size()).toBeLessThan(700); // the idle ones went first
    expect(l.size).toBe(size());
  });
});

// ---------------------------------------------------------------------------------------------

/** `/api/notes` (sddp, POST) served by the SDK's own server, or by a site's handler behind the middleware. */
const NOTES_SERVERS: Record<string, (limits: { maxBodyBytes: number; unverifiedBodyBytes: number }) => Promise<Pick<HttpVendor, 'origin' | 'vendor' | 'close'>>> = {
  "the SDK's server": (limits) => startHttpVendor({ config: { limits }, routes: [{ path: '/api/notes', level: 'sddp', methods: ['POST'], handler: (ctx) => ({ bytes: ctx.body.length }) }] }),
  ...Object.fromEntries(MIDDLEWARE_KINDS.map((kind) => [`a ${kind} site's middleware`, (limits: { maxBodyBytes: number; unverifiedBodyBytes: number }) => startMiddlewareSite(kind, { config: { limits } })])),
};

describe.each(Object.keys(NOTES_SERVERS))('finding 4: bodies are read only after the headers pass, within a vendor-wide budget (%s)', (server) => {
  let v: Pick<HttpVendor, 'origin' | 'vendor' | 'close'>;
  let port: number;
  let alice: VendorSession;
  beforeAll(async () => {
    v = await NOTES_SERVERS[server]!({ maxBodyBytes: 64 * 1024, unverifiedBodyBytes: 80 * 1024 });
    port = Number(new URL(v.origin).port);
    const peer = httpPeer(v.origin);
    alice = await sessionFor('alice@example.org', 'alice secret', v.origin);
    await register(peer, alice, await discover(peer, v.origin), { now: now() });
  });
  afterAll(() => v?.close());

  it('an upload without a signature, or naming an unknown client, is refused before its body arrives', async () => {
    const bare = await stalledUpload(port, 'POST /api/notes HTTP/1.1\nHost: x\nContent-Length: 60000\nContent-Type: application/json', new Uint8Array(1024));
    bare.close();
    expect(bare.status).toBe(401);
    expect(bare.headers).toMatch(/janus-error: missing_signature/i);
    const stranger = await sessionFor('nobody@example.org', 'x', v.origin);
    const { request } = await deliveryRequest({ key: stranger, level: 'sddp', method: 'POST', url: v.origin + '/api/notes', now: now(), body: new Uint8Array(60_000), contentType: 'application/json' });
    const unknown = await stalledUpload(port, headOf(request, { ...request.headers, 'content-length': String(request.body.length) }), request.body.subarray(0, 1024));
    unknown.close();
    expect(unknown.status).toBe(401);
    expect(unknown.headers).toMatch(/janus-error: unknown_client/i);
  });

  it('bodies of valid-looking requests beyond the budget are refused with 503 overloaded and Retry-After', async () => {
    const sig = async () => {
      const { request } = await deliveryRequest({ key: alice, level: 'sddp', method: 'POST', url: v.origin + '/api/notes', now: now(), body: new Uint8Array(48 * 1024), contentType: 'application/json' });
      return request;
    };
    const r1 = await sig();
    const first = await stalledUpload(port, headOf(r1, { ...r1.headers, 'content-length': String(r1.body.length) }), r1.body.subarray(0, 1024), 500);
    expect(first.status).toBe('stalled'); // being read: it holds ~48 KiB of the 80 KiB budget
    const r2 = await sig();
    const second = await stalledUpload(port, headOf(r2, { ...r2.headers, 'content-length': String(r2.body.length) }), r2.body.subarray(0, 1024));
    expect(second.status).toBe(503);
    expect(second.headers).toMatch(/janus-error: overloaded/i);
    expect(second.headers).toMatch(/retry-after: 1/i);
    second.close();
    expect(v.vendor.bodyBudget.held).toBeGreaterThan(0);
    first.close();
    await new Promise((r) => setTimeout(r, 200));
    expect(v.vendor.bodyBudget.held).toBe(0); // the abandoned one gave its share back
    // And the vendor still serves.
    const r3 = await sig();
    const res = await httpPeer(v.origin)(r3);
    expect(res.status).toBe(200);
  });
});

// ---------------------------------------------------------------------------------------------

describe('finding 5: no 5xx from client input', () => {
  let v: HttpVendor;
  let peer: Peer;
  let doc: Discovery;
  beforeAll(async () => {
    v = await startHttpVendor({ routes: [{ path: '/api/upload', level: 'sddp', methods: ['POST'], handler: () => ({ ok: true }) }] });
    peer = httpPeer(v.origin);
    doc = await discover(peer, v.origin);
  });
  afterAll(() => v?.close());

  it('a registration whose payword.w0 is not canonical base64url is refused (malformed), not accepted and signed', async () => {
    const s = await sessionFor('w0@example.org', 'x', v.origin);
    const good = b64u.encode(randomBytes(32));
    // 43 characters carry 258 bits: the last character's two low bits must be zero.
    const last = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const bad = good.slice(0, 42) + last[(last.indexOf(good[42]!) & ~3) | 1];
    const data = { payword: { sub: b64u.encode(randomBytes(16)), n: 3, w0: bad } };
    const start = await skepStart({ session: s, discovery: doc, data, now: now(), receipt: true });
    const s2 = await skepOnResponse(start.state, await peer(start.request), now());
    const res = await peer(s2.request!);
    expect([res.status, res.headers['janus-error']]).toEqual([400, 'malformed']);
    expect(await v.store.getClient(s.alias)).toBeNull();
  });

  it('an acknowledgement checked against a stored w0 that does not decode (a record made before the check) is bad_ack, not a 500', () => {
    const good = b64u.encode(randomBytes(32));
    const last = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const w0 = good.slice(0, 42) + last[(last.indexOf(good[42]!) & ~3) | 1];
    const sub = 'S'.repeat(22);
    expect(codeOf(() => applyAck({ sub, n: 3, w0, delivered: 1, acked: 0, ackedW: w0 }, { sub, i: 1, w: randomBytes(32) }))).toBe('bad_ack');
  });

  it('verify-receipt on a receipt whose w0 is not canonical says it is not valid (exit 1), not an IO error (exit 3)', async () => {
    const keys = await testKeyMaterial();
    const cfg = resolveConfig({ origin: 'https://quotes.example', keys });
    const good = b64u.encode(randomBytes(32));
    const last = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const w0 = good.slice(0, 42) + last[(last.indexOf(good[42]!) & ~3) | 2];
    const receipt = await signReceipt(cfg.vk.pkcs8, cfg.vk.spki, {
      v: 1, vendor: 'https://quotes.example', alias: 'A'.repeat(22), gen: 0, issued_at: now(), nonce: 'n'.repeat(22), request_sha256: 'r'.repeat(43),
      valid_from: now(), valid_until: null, payword: { sub: 'S'.repeat(22), n: 3, w0 }, terms: {},
    });
    const dir = mkdtempSync(join(tmpdir(), 'janus-w0-'));
    writeFileSync(join(dir, 'spki.txt'), cfg.spkiB64u);
    writeFileSync(join(dir, 'receipt.json'), JSON.stringify(receipt));
    let err = '';
    const code = await main(['verify-receipt', '--cert', join(dir, 'spki.txt'), '--word', `1:${b64u.encode(randomBytes(32))}`, join(dir, 'receipt.json')], { out: () => undefined, err: (t) => void (err += t) });
    expect([code, err]).toEqual([1, expect.stringMatching(/NOT valid: .*w0.*canonical/)]);
  });

  it('absolute-form targets and OPTIONS * get a 2xx-4xx from the SDK server, an Express app and serve', async () => {
    const app = express();
    const xport = await freePort();
    app.use(janusExpress(createVendor({ config: { origin: `http://127.0.0.1:${xport}`, keys: await testKeyMaterial() }, store: new SqliteStore(':memory:'), routes: [] })));
    app.use((_req, res) => void res.send('site'));
    const xs: Server = createServer(app);
    await new Promise<void>((ok) => xs.listen(xport, '127.0.0.1', () => ok()));
    const upstream = await startUpstream('node');
    const serve = await startServe(upstream.url);
    try {
      for (const p of [Number(new URL(v.origin).port), xport, serve.port]) {
        for (const line of ['GET http://evil.example/ HTTP/1.1', 'GET http://evil.example/.well-known/janus HTTP/1.1', 'OPTIONS * HTTP/1.1', 'GET * HTTP/1.1', 'POST http://evil.example/.janus/challenge HTTP/1.1']) {
          const r = await rawRequest(p, `${line}\nHost: 127.0.0.1`);
          expect([p, line, r.status >= 200 && r.status < 500]).toEqual([p, line, true]);
        }
      }
      expect(upstream.seen.every((s) => s.url.startsWith('/'))).toBe(true);
    } finally {
      await serve.stop();
      await upstream.close();
      xs.closeAllConnections();
      await new Promise((r) => xs.close(r));
    }
  });

  it('abandoned uploads are neither logged nor answered as internal errors (SDK server and serve)', async () => {
    const upstream = await startUpstream('node');
    const serve = await startServe(upstream.url, { routes: [{ path: '/api/upload', methods: ['POST'], level: 'sddp' }] });
    const errors = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      const sdkUser = await sessionFor('upload@example.org', 'x', v.origin);
      await register(peer, sdkUser, doc, { now: now() });
      const serveUser = await sessionFor('upload@example.org', 'x', serve.origin);
      const servePeer = httpPeer(serve.origin);
      await register(servePeer, serveUser, await discover(servePeer, serve.origin), { now: now() });
      for (const [p, origin, s] of [[Number(new URL(v.origin).port), v.origin, sdkUser], [serve.port, serve.origin, serveUser]] as const) {
        for (let i = 0; i < 5; i++) {
          const { request } = await deliveryRequest({ key: s, level: 'sddp', method: 'POST', url: origin + '/api/upload', now: now(), body: new Uint8Array(4000), contentType: 'application/json' });
          for (const head of [
            'POST /.janus/skep HTTP/1.1\nHost: x\nContent-Length: 4000',
            'POST /form HTTP/1.1\nHost: x\nContent-Length: 4000',
            headOf(request, { ...request.headers, 'content-length': '4000' }),
          ]) {
            const u = await stalledUpload(p, head, new Uint8Array(100), 100);
            u.close();
          }
        }
        await new Promise((r) => setTimeout(r, 300));
        expect((await fetch(origin + '/.well-known/janus')).status).toBe(200);
      }
      expect(errors).not.toHaveBeenCalled();
      expect(serve.io.stderr()).toBe('');
    } finally {
      errors.mockRestore();
      await serve.stop();
      await upstream.close();
    }
  });
});

// ---------------------------------------------------------------------------------------------

describe('finding 6: the request body\'s Content-Type is authenticated', () => {
  it('a valid PUT whose Content-Type is changed in transit is refused; the upstream never sees it', async () => {
    const upstream = await startUpstream('node');
    const serve = await startServe(upstream.url);
    try {
      const peer = httpPeer(serve.origin);
      const alice = await sessionFor('alice@example.org', 'alice secret', serve.origin);
      await register(peer, alice, await discover(peer, serve.origin), { now: now() });
      const put = async () =>
        (await deliveryRequest({ key: alice, level: 'sddp', method: 'PUT', url: serve.origin + '/api/watchlist', now: now(), body: utf8('{"watchlist":["LU"]}'), contentType: 'application/json' })).request;
      upstream.seen.length = 0;
      const tampered = await put();
      const res = await peer({ ...tampered, headers: { ...tampered.headers, 'content-type': 'text/html' } });
      expect([res.status, res.headers['janus-error']]).toEqual([400, 'decrypt_failed']);
      expect(upstream.seen).toEqual([]);
      const { request, pending } = await deliveryRequest({ key: alice, level: 'sddp', method: 'PUT', url: serve.origin + '/api/watchlist', now: now(), body: utf8('{"watchlist":["LU"]}'), contentType: 'application/json' });
      const ok = await deliveryResponse(pending, 'sddp', await peer(request));
      expect(JSON.parse(fromUtf8(ok.body))).toMatchObject({ type: 'application/json', method: 'PUT' });
    } finally {
      await serve.stop();
      await upstream.close();
    }
  });
});

// ---------------------------------------------------------------------------------------------

describe('finding 7: no RSA operation an attacker can make the vendor repeat', () => {
  let v: HttpVendor;
  let peer: Peer;
  let doc: Discovery;
  let alice: VendorSession;
  let bob: VendorSession;
  beforeAll(async () => {
    v = await startHttpVendor({ config: { rateLimits: { rotatePerAliasPerMinute: 1000 } }, routes: [] });
    peer = httpPeer(v.origin);
    doc = await discover(peer, v.origin);
    alice = await sessionFor('alice@example.org', 'alice secret', v.origin);
    bob = await sessionFor('bob@example.org', 'bob secret', v.origin);
    await register(peer, alice, doc, { now: now() });
    await register(peer, bob, doc, { now: now() });
  });
  afterAll(() => v?.close());

  it('a signed rotation resent is replayed before its RSA decryption; one that cannot succeed costs none', async () => {
    const rsa = countRsa();
    // A secret change onto an alias that is taken: refused after the decryption, the first time.
    const next = await sessionFor('alice@example.org', 'new secret', v.origin);
    const { request } = await rotateStart({ old: alice, next: { ...next, alias: bob.alias }, discovery: doc, now: now() });
    expect((await peer(request)).headers['janus-error']).toBe('already_registered');
    for (let i = 0; i < 5; i++) expect((await peer(request)).headers['janus-error']).toBe('replayed');
    expect(rsa.decrypts()).toBe(1);
    // A rotation that does not raise the generation (the client would not make one: forged under
    // Alice's key) is refused before any decryption, however often it comes.
    for (let i = 0; i < 5; i++) {
      const { request: same } = await sealRequest({
        key: alice,
        method: 'POST',
        url: v.origin + '/.janus/rotate',
        tag: TAG.rotate,
        now: now(),
        body: jsonBytes({ v: 1, alias: alice.alias, gen: 0, ek: b64u.encode(randomBytes(384)), payword: null }),
        contentType: 'application/json',
      });
      expect((await peer(same)).headers['janus-error']).toBe('malformed');
    }
    expect(rsa.decrypts()).toBe(1);
  });

  it('twenty concurrent copies of SKEP message 3 cost one RSA-PSS signature', async () => {
    const carol = await sessionFor('carol@example.org', 'carol secret', v.origin);
    const start = await skepStart({ session: carol, discovery: doc, data: {}, now: now(), receipt: true });
    const s2 = await skepOnResponse(start.state, await peer(start.request), now());
    const rsa = countRsa();
    const results = await Promise.all(Array.from({ length: 20 }, () => peer(s2.request!)));
    expect(results.filter((r) => r.status === 201)).toHaveLength(1);
    expect(results.filter((r) => r.status === 409)).toHaveLength(19);
    expect(rsa.signs()).toBe(1);
  });
});

// ---------------------------------------------------------------------------------------------

describe('finding 8: data at rest', () => {
  it('serve creates its data folder 0700 and its database files 0600, and warns when a key sits in that folder', async () => {
    const upstream = await startUpstream('node');
    const serve = await startServe(upstream.url);
    try {
      const peer = httpPeer(serve.origin);
      const s = await sessionFor('modes@example.org', 'x', serve.origin);
      await register(peer, s, await discover(peer, serve.origin), { now: now() });
      const data = join(serve.dir, 'data');
      expect((statSync(data).mode & 0o777).toString(8)).toBe('700');
      for (const f of ['vendor.db', 'vendor.db-wal', 'vendor.db-shm']) expect([f, (statSync(join(data, f)).mode & 0o777).toString(8)]).toEqual([f, '600']);
      expect(serve.io.stderr()).toBe('');
    } finally {
      await serve.stop();
    }
    const dir = mkdtempSync(join(tmpdir(), 'janus-kek-'));
    mkdirSync(join(dir, 'data'), { mode: 0o700 });
    writeFileSync(join(dir, 'data', 'kek.key'), b64.encode((await testKeyMaterial()).kek) + '\n', { mode: 0o600 });
    const beside = await startServe(upstream.url, { keys: { privateKey: 'vendor-key.pem', kek: 'data/kek.key' } }, { dir });
    try {
      expect(beside.io.stderr()).toMatch(/warning: the key-encryption key .*data\/kek\.key is in the database's folder/);
    } finally {
      await beside.stop();
      await upstream.close();
    }
  });
});

// ---------------------------------------------------------------------------------------------

describe('finding 9: smaller ones', () => {
  let clock = now();
  let v: HttpVendor;
  let peer: Peer;
  let doc: Discovery;
  let bob: VendorSession;
  let bobSub: string;
  beforeAll(async () => {
    v = await startHttpVendor({
      config: {
        now: () => clock,
        policy: (d, t) => ({ validFrom: t, validUntil: typeof d['days'] === 'number' ? t + d['days'] * 86_400 : null, terms: {} }),
        rateLimits: { requestsPerClientPerSlot: 5 },
      },
      routes: [
        { path: '/api/paid/*', level: 'eddp+receipts', handler: () => ({ paid: true }) },
        { path: '/api/me', level: 'sddp', handler: ({ client }) => ({ alias: client.alias }) },
      ],
    });
    peer = httpPeer(v.origin);
    doc = await discover(peer, v.origin);
    bob = await sessionFor('bob@example.org', 'bob secret', v.origin);
    bobSub = (await register(peer, bob, doc, { now: clock, chain: 3, data: { days: 1 } })).payword!.sub;
  });
  afterAll(() => v?.close());

  it('a slot credential does not identify a client whose subscription expired', async () => {
    const vendor = createVendor({
      config: { origin: 'https://quotes.example', keys: await testKeyMaterial(), now: () => clock, policy: (_d, t) => ({ validFrom: t, validUntil: t + 100, terms: {} }) },
      store: new SqliteStore(':memory:'),
      routes: [{ path: '/', level: 'credential' }],
    });
    const app = new Hono<{ Variables: JanusVariables }>();
    app.use(janus(vendor));
    app.get('/', (c) => c.text(c.get('janusClient')?.alias ?? 'visitor'));
    const p = fetchPeer(async (r) => app.request(r));
    const d = await discover(p, 'https://quotes.example');
    const dave = await sessionFor('dave@example.org', 'x', 'https://quotes.example');
    await register(p, dave, d, { now: clock });
    const page = () => app.request(new Request('https://quotes.example/', { headers: { 'janus-credential': makeCredential(dave, 'https://quotes.example', clock).value } }));
    expect(await (await page()).text()).toBe(dave.alias);
    clock += 200;
    try {
      expect(await (await page()).text()).toBe('visitor');
    } finally {
      clock -= 200;
      await vendor.close();
    }
  });

  it('a replayed paid delivery is 409 replayed, not a sealed 402 with a fresh challenge', async () => {
    const c = await fetchChallenge(peer, bob, doc);
    const { request, pending } = await deliveryRequest({ key: bob, level: 'eddp+receipts', method: 'GET', url: v.origin + '/api/paid/LU', now: clock, challenge: c });
    const first = await peer(request);
    expect((await deliveryResponse(pending, 'eddp+receipts', first)).status).toBe(200);
    const again = await peer(request);
    expect([again.status, again.headers['janus-error']]).toEqual([409, 'replayed']);
    // A request refused with the sealed 402 cannot be replayed either: it was recorded, its challenge
    // spent; the 402 carries the next one.
    const next = first.headers['janus-challenge']!;
    const q = await deliveryRequest({ key: bob, level: 'eddp+receipts', method: 'GET', url: v.origin + '/api/paid/T', now: clock, challenge: next });
    const refused = await peer(q.request);
    expect(refused.status).toBe(402);
    expect((await peer(q.request)).headers['janus-error']).toBe('replayed');
    const w1 = paywordWord(bob.k, bobSub, 3, 1);
    await expect(deliver(peer, bob, 'eddp+receipts', '/api/paid/T', { now: clock, challenge: next, ack: { sub: bobSub, i: 1, w: w1 } })).rejects.toMatchObject({ code: 'replayed' });
    const acked = await deliver(peer, bob, 'eddp+receipts', '/api/paid/T', { now: clock, challenge: refused.headers['janus-challenge']!, ack: { sub: bobSub, i: 1, w: w1 } });
    expect(acked.receipt?.i).toBe(2);
  });

  it('verified requests per client are capped per slot (the replay memory they fill), with Retry-After', async () => {
    const erin = await sessionFor('erin@example.org', 'x', v.origin);
    await register(peer, erin, doc, { now: clock });
    const codes: (number | string)[] = [];
    let last: Record<string, string> = {};
    for (let i = 0; i < 7; i++) {
      const { request } = await deliveryRequest({ key: erin, level: 'sddp', method: 'GET', url: v.origin + '/api/me', now: clock });
      const res = await peer(request);
      codes.push(res.headers['janus-error'] ?? res.status);
      last = res.headers;
    }
    expect(codes).toEqual([200, 200, 200, 200, 200, 'rate_limited', 'rate_limited']);
    expect(Number(last['retry-after'])).toBeGreaterThan(0);
  });
});

describe('finding 9: a key rotated in another process is not accepted from a stale cache', () => {
  it('two vendor processes on one database: after a rotation on one, the other refuses the retired key', async () => {
    const db = join(mkdtempSync(join(tmpdir(), 'janus-two-')), 'v.db');
    const keys = await testKeyMaterial();
    const routes = [{ path: '/api/me', level: 'sddp' as const, handler: ({ client }: { client: { alias: string; gen: number } }) => ({ alias: client.alias, gen: client.gen }) }];
    const a = await startHttpVendor({ db, keys, routes });
    // B's reads may lag A's writes by a minute: only its commits look at the database.
    const b = await startHttpVendor({ db, keys, routes, config: { origin: a.origin }, storeOptions: { readStalenessMs: 60_000 } });
    try {
      const pa = httpPeer(a.origin);
      const pb = httpPeer(b.origin);
      const docA = await discover(pa, a.origin);
      const alice = { ...(await sessionFor('alice@example.org', 'alice secret', a.origin)) };
      await register(pa, alice, docA, { now: now() });
      // B uses the same id_V as A for this test's purpose: one vendor, two processes.
      const sign = async (key: VendorSession) => (await deliveryRequest({ key, level: 'sddp', method: 'GET', url: a.origin + '/api/me', now: now() })).request;
      // B's first commit looks at the database (and drops its cache: A wrote); its second request
      // reads Alice afresh, so B holds her at generation 0 in its cache, for up to a minute of reads.
      expect((await pb(await sign(alice))).status).toBe(200);
      expect((await pb(await sign(alice))).status).toBe(200);
      const next = await sessionFor('alice@example.org', 'alice secret', a.origin, 1);
      const rot = await rotateStart({ old: alice, next, discovery: docA, now: now() });
      expect((await pa(rot.request)).status).toBe(200);
      const stale = await pb(await sign(alice));
      expect([stale.status, stale.headers['janus-error']]).toEqual([409, 'generation_mismatch']);
      expect((await pb(await sign(next))).status).toBe(200);
    } finally {
      await a.close();
      await b.close();
    }
  });
});


// ---------------------------------------------------------------------------------------------

describe('found by the fuzz suite: a body serve does not pass on is not announced to the upstream', () => {
  it('a GET with Content-Length and a body cannot desynchronize the pooled connection to the upstream', async () => {
    const upstream = await startUpstream('node');
    const serve = await startServe(upstream.url);
    try {
      const smuggled = 'GET /api/watchlist HTTP/1.1\r\nHost: x\r\nJanus-Client-Level: sddp\r\n\r\n';
      for (let i = 0; i < 3; i++) {
        upstream.seen.length = 0;
        const a = await rawRequest(serve.port, `GET /page${i} HTTP/1.1\nHost: x\nContent-Length: ${smuggled.length}`, smuggled);
        expect(a.status).toBe(200);
        // The next request, another client's, on the proxy's pooled connection to the site.
        const b = await rawRequest(serve.port, `GET /next${i} HTTP/1.1\nHost: x`);
        expect([i, b.status, upstream.seen.map((s) => s.url)]).toEqual([i, 200, [`/page${i}`, `/next${i}`]]);
        expect(upstream.seen.every((s) => s.handler === 'page')).toBe(true);
      }
    } finally {
      await serve.stop();
      await upstream.close();
    }
  });
});

describe('found by the fuzz suite: a registration across a slot boundary', () => {
  it('SKEP message 1 just before a slot ends and message 3 just after: registered', async () => {
    const origin = 'https://quotes.example';
    const boundary = (Math.floor(now() / 300) + 1) * 300;
    const mv = await MemoryVendor.create({ origin, now: boundary - 1 });
    const peer: Peer = (m) => mv.handle(m);
    const d = await discover(peer, origin);
    const s = await sessionFor('boundary@example.org', 'x', origin);
    const start = await skepStart({ session: s, discovery: d, data: {}, now: boundary - 1 });
    const m2 = await peer(start.request);
    // Message 2 arrives, and message 3 is made, after the boundary.
    mv.now = boundary + 1;
    const s2 = await skepOnResponse(start.state, m2, boundary + 1);
    const res = await peer(s2.request!);
    expect([res.status, res.headers['janus-error']]).toEqual([201, undefined]);
    expect((await skepOnResponse(s2.state, res, boundary + 1)).state.phase).toBe('done');
  });
});
