/**
 * Protected routes the app serves itself, behind the SDK's per-route middleware (docs/VENDOR.md):
 * Hono in-process (`app.request`), with the app's own logger, CORS, auth, compression and error
 * handler around and inside the protected routes; then the same site in Hono, Express and
 * node:http over real HTTP (test/support/middleware-apps.ts).
 */
import { createServer, type Server } from 'node:http';
import express from 'express';
import { Hono } from 'hono';
import { compress } from 'hono/compress';
import { cors } from 'hono/cors';
import { createMiddleware } from 'hono/factory';
import { HTTPException } from 'hono/http-exception';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { fromUtf8, utf8 } from '../crypto/bytes.ts';
import { JanusError } from '../errors.ts';
import { deliveryRequest, deliveryResponse, type DeliveryLevel, type Discovery, type VendorSession } from '../protocol/index.ts';
import { discover, fetchChallenge, register, sessionFor, type Peer } from '../../test/support/client.ts';
import { codeOf } from '../../test/support/errors.ts';
import { MIDDLEWARE_KINDS, startMiddlewareSite, type MiddlewareSite } from '../../test/support/middleware-apps.ts';
import { freePort, listen } from '../../test/support/serve-kit.ts';
import { fetchPeer, httpPeer, testKeyMaterial } from '../../test/support/vendor-kit.ts';
import { createVendor, type JanusVendor } from './core.ts';
import { janusExpress } from './express.ts';
import { janus, type JanusEnv, type JanusHono } from './hono.ts';
import { SqliteStore } from './sqlite-store.ts';

const ORIGIN = 'https://quotes.example';
const now = () => Math.floor(Date.now() / 1000);

afterEach(() => {
  vi.restoreAllMocks();
});

/** One protected request with extra (unsigned) headers, opened as the client opens it. */
async function send(
  peer: Peer,
  s: VendorSession,
  path: string,
  opts: { level?: DeliveryLevel; method?: string; body?: string; headers?: Record<string, string>; challenge?: string; origin?: string } = {},
) {
  const level = opts.level ?? 'sddp';
  const { request, pending } = await deliveryRequest({
    key: s,
    level,
    method: opts.method ?? 'GET',
    url: (opts.origin ?? ORIGIN) + path,
    now: now(),
    ...(opts.challenge ? { challenge: opts.challenge } : {}),
    ...(opts.body !== undefined ? { body: utf8(opts.body), contentType: 'application/json' } : {}),
  });
  const res = await peer({ ...request, headers: { ...request.headers, ...opts.headers } });
  const opened = await deliveryResponse(pending, level, res);
  return { res, opened, text: fromUtf8(opened.body) };
}

describe('Hono: a plain EDDP route behind j.eddp()', () => {
  it('a challenge, then the delivery: the handler runs once at level eddp with no PayWord delivery; the same challenge again is replayed', async () => {
    const vendor = createVendor({ config: { origin: ORIGIN, keys: await testKeyMaterial() }, store: new SqliteStore(':memory:') });
    try {
      const j = janus(vendor);
      const app = new Hono<JanusEnv>();
      app.use(j);
      let runs = 0;
      app.get('/api/quote/:sym', j.eddp('/api/quote/*'), (c) => {
        runs++;
        return c.json({ symbol: c.req.param('sym'), level: c.var.janus.level, delivery: c.var.janus.delivery, alias: c.var.janusClient.alias });
      });
      const peer = fetchPeer(async (r) => app.request(r));
      const doc = await discover(peer, ORIGIN);
      expect(doc.routes.map((r) => [r.path, r.level])).toEqual([['/api/quote/*', 'eddp']]);
      const bob = await sessionFor('bob@example.org', 'bob secret', ORIGIN);
      await register(peer, bob, doc, { now: now() });
      const challenge = await fetchChallenge(peer, bob, doc);
      const r = await send(peer, bob, '/api/quote/IBM', { level: 'eddp', challenge });
      expect([r.opened.status, r.res.headers['content-encoding']]).toEqual([200, 'janus-gcm']);
      expect(JSON.parse(r.text)).toEqual({ symbol: 'IBM', level: 'eddp', delivery: null, alias: bob.alias });
      expect(r.opened.challenge).toMatch(/^c1\./); // the next challenge rides on the answer
      await expect(send(peer, bob, '/api/quote/IBM', { level: 'eddp', challenge })).rejects.toMatchObject({ code: 'replayed' });
      expect(runs).toBe(1);
    } finally {
      await vendor.close();
    }
  });
});

describe('Hono: the app around and inside its protected routes', () => {
  let vendor: JanusVendor;
  let j: JanusHono;
  let app: Hono<JanusEnv>;
  let peer: Peer;
  let doc: Discovery;
  let alice: VendorSession;
  const log: string[] = [];
  const appErrors: string[] = [];
  let otherRuns = 0;
  let bigEncoding: string | null = null;

  beforeAll(async () => {
    vendor = createVendor({ config: { origin: ORIGIN, keys: await testKeyMaterial() }, store: new SqliteStore(':memory:') });
    j = janus(vendor);
    app = new Hono<JanusEnv>();
    // The app's request log, outside everything: it sees what goes on the wire.
    app.use(async (c, next) => {
      await next();
      log.push(`${c.req.method} ${c.req.path} ${c.res.status} ${c.res.headers.get('content-encoding') ?? '-'}`);
    });
    app.use(cors({ origin: 'https://app.example' }));
    app.use(j);
    app.on(['GET', 'PUT'], '/api/watchlist', j.sddp('/api/watchlist', { methods: ['GET', 'PUT'] }), async (c) => {
      if (c.req.method === 'PUT') return c.json({ saved: await c.req.json<unknown>(), type: c.req.header('content-type') }, 201);
      c.header('x-app', 'yes');
      return c.json({ alias: c.var.janusClient.alias, level: c.var.janus.level, headers: [...c.req.raw.headers.keys()] });
    });
    // The app's own auth, after Janus's: an HTTPException is the app's answer.
    const adminsOnly = createMiddleware(async (c, next) => {
      if (c.req.header('x-role') !== 'admin') throw new HTTPException(403, { message: 'admins only' });
      await next();
    });
    app.get('/api/admin', j.sddp('/api/admin'), adminsOnly, (c) => c.text('the admin page'));
    app.get('/api/intraday/:sym', j.eddpReceipts('/api/intraday/*'), (c) => {
      const sym = c.req.param('sym');
      if (sym === 'REFUSE') throw new JanusError('subscription_expired', 'refused by the application');
      if (sym === 'BUG') throw new TypeError('a bug in the handler');
      // On eddp+receipts the delivery is always there: typed without a null check.
      return c.json({ symbol: sym, delivery: c.var.janus.delivery.i });
    });
    app.get(
      '/api/big',
      j.sddp('/api/big'),
      async (c, next) => {
        await next();
        bigEncoding = c.res.headers.get('content-encoding');
      },
      compress({ threshold: 0 }),
      (c) => c.text('quote '.repeat(2000)),
    );
    // A middleware whose path is not the route's.
    app.get('/api/other', j.sddp('/api/elsewhere'), (c) => {
      otherRuns++;
      return c.text('ran');
    });
    // Another route's middleware on a route that also receives /api/two's requests.
    j.sddp('/api/two');
    app.get('/api/:which{one|two}', j.sddp('/api/one'), (c) => {
      otherRuns++;
      return c.text('ran');
    });
    app.onError((e, c) => {
      appErrors.push(e.message);
      return e instanceof HTTPException ? e.getResponse() : c.text('app error page', 500);
    });
    peer = fetchPeer(async (r) => app.request(r));
    doc = await discover(peer, ORIGIN);
    alice = await sessionFor('alice@example.org', 'alice secret', ORIGIN);
    await register(peer, alice, doc, { now: now(), chain: 5 });
  });
  afterAll(() => vendor.close());

  it('the discovery document lists the routes the middleware declared, with their levels and methods', () => {
    expect(doc.routes.map((r) => [r.path, r.level, r.methods])).toEqual([
      ['/api/watchlist', 'sddp', ['GET', 'PUT']],
      ['/api/admin', 'sddp', null],
      ['/api/intraday/*', 'eddp+receipts', null],
      ['/api/big', 'sddp', null],
      ['/api/elsewhere', 'sddp', null],
      ['/api/two', 'sddp', null],
      ['/api/one', 'sddp', null],
    ]);
  });

  it("c.json() of a protected handler is sealed; the app's logger sees the sealed answer and CORS headers go out beside it", async () => {
    log.length = 0;
    const r = await send(peer, alice, '/api/watchlist', { headers: { origin: 'https://app.example' } });
    expect(r.opened.status).toBe(200);
    expect(JSON.parse(r.text)).toMatchObject({ alias: alice.alias, level: 'sddp' });
    expect(r.res.headers['content-encoding']).toBe('janus-gcm');
    expect(r.res.headers['access-control-allow-origin']).toBe('https://app.example');
    expect(r.res.headers['x-app']).toBe('yes');
    expect(log).toEqual(['GET /api/watchlist 200 janus-gcm']);
  });

  it('the handler sees neither the protocol headers nor a header claiming to come from Janus', async () => {
    const r = await send(peer, alice, '/api/watchlist', { headers: { 'janus-client-alias': 'mallory', janus_client_level: 'sddp', 'x-kept': '1' } });
    const headers = (JSON.parse(r.text) as { headers: string[] }).headers;
    expect(headers).toContain('x-kept');
    expect(headers.filter((h) => /^(janus|signature|content-digest)/.test(h.replace(/_/g, '-')))).toEqual([]);
  });

  it('c.req.json() reads the decrypted body, with the media type it was sealed with', async () => {
    const r = await send(peer, alice, '/api/watchlist', { method: 'PUT', body: '{"watchlist":["LU","T"]}' });
    expect(r.opened.status).toBe(201);
    expect(JSON.parse(r.text)).toEqual({ saved: { watchlist: ['LU', 'T'] }, type: 'application/json' });
  });

  it("the app's own auth behind the Janus middleware: its HTTPException is the answer, sealed", async () => {
    const refused = await send(peer, alice, '/api/admin');
    expect([refused.opened.status, refused.text, refused.res.headers['content-encoding']]).toEqual([403, 'admins only', 'janus-gcm']);
    const admin = await send(peer, alice, '/api/admin', { headers: { 'x-role': 'admin' } });
    expect([admin.opened.status, admin.text]).toEqual([200, 'the admin page']);
  });

  it("a handler's JanusError keeps its code and a bug is a logged 500 internal, both sealed, and the app's onError still sees them", async () => {
    appErrors.length = 0;
    const refused = await send(peer, alice, '/api/intraday/REFUSE', { level: 'eddp+receipts', challenge: await fetchChallenge(peer, alice, doc) });
    expect([refused.opened.status, refused.opened.error, refused.res.headers['content-encoding']]).toEqual([403, 'subscription_expired', 'janus-gcm']);
    const logged = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    const bug = await send(peer, alice, '/api/intraday/BUG', { level: 'eddp+receipts', challenge: refused.opened.challenge! });
    expect([bug.opened.status, bug.opened.error, bug.text.includes('app error page')]).toEqual([500, 'internal', false]);
    expect(logged.mock.calls.map((c) => c.join(' ')).join('\n')).toMatch(/internal error on GET \/api\/intraday\/BUG: a bug in the handler/);
    expect(appErrors).toEqual(['refused by the application', 'a bug in the handler']);
    // Neither was a delivery: the next 2xx is delivery 1.
    const ok = await send(peer, alice, '/api/intraday/IBM', { level: 'eddp+receipts', challenge: bug.opened.challenge! });
    expect(JSON.parse(ok.text)).toEqual({ symbol: 'IBM', delivery: 1 });
    expect(ok.res.headers['janus-receipt']).toMatch(/\.1\.5$/);
  });

  it('a compressing middleware inside the route: the body is sealed in the clear', async () => {
    const r = await send(peer, alice, '/api/big', { headers: { 'accept-encoding': 'gzip' } });
    expect(bigEncoding).toBe('gzip'); // the app's answer was compressed before the Janus middleware sealed it
    expect(r.text).toBe('quote '.repeat(2000));
  });

  it('a protected spelling the app routes nowhere is verified all the same, and its 404 sealed', async () => {
    const r = await send(peer, alice, '/API/Watchlist');
    expect([r.opened.status, r.res.headers['content-encoding']]).toEqual([404, 'janus-gcm']);
    const bare = await app.request(new Request(ORIGIN + '/API/Watchlist'));
    expect([bare.status, bare.headers.get('janus-error')]).toEqual([401, 'missing_signature']);
  });

  it('a route whose middleware protects another path refuses before its handler runs, and says why', async () => {
    const logged = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    const r = await app.request(new Request(ORIGIN + '/api/other'));
    expect([r.status, r.headers.get('janus-error'), otherRuns]).toEqual([500, 'internal', 0]);
    expect(logged.mock.calls.join(' ')).toMatch(/GET \/api\/other reached the sddp middleware of \/api\/elsewhere/);
  });

  it("a verified request that reaches another route's middleware is refused, sealed, before the handler runs", async () => {
    const logged = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    const r = await send(peer, alice, '/api/two');
    expect([r.opened.status, r.opened.error, otherRuns]).toEqual([500, 'internal', 0]);
    expect(logged.mock.calls.join(' ')).toMatch(/GET \/api\/two is protected at sddp as \/api\/two, but reached the middleware of \/api\/one/);
    const one = await send(peer, alice, '/api/one');
    expect([one.opened.status, one.text, otherRuns]).toEqual([200, 'ran', 1]);
    otherRuns = 0;
  });

  it('the route middleware without the guard refuses, and says to mount it', async () => {
    const bare = new Hono();
    bare.get('/api/x', j.sddp('/api/x'), (c) => c.text('ran'));
    const logged = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    const r = await bare.request(new Request(ORIGIN + '/api/x'));
    expect([r.status, await r.text()]).toEqual([500, expect.stringContaining('internal')]);
    expect(logged.mock.calls.join(' ')).toMatch(/the Janus guard did not run: mount it \(app\.use\) before the routes/);
  });

  it("one path at two levels, a path that is not canonical or is Janus' own, a route the SDK answers itself: bad_input when the app is built", async () => {
    expect(codeOf(() => j.eddp('/api/watchlist'))).toBe('bad_input');
    expect(codeOf(() => j.sddp('/API/Watchlist'))).toBe(undefined); // the same route (paths match without case): its methods added
    expect(codeOf(() => j.sddp('/api/%77atchlist'))).toBe('bad_input');
    expect(codeOf(() => j.sddp('/api//x'))).toBe('bad_input');
    expect(codeOf(() => j.sddp('/.janus/skep'))).toBe('bad_input');
    expect(codeOf(() => j.sddp('/api/x', { methods: [] }))).toBe('bad_input');
    const declared = createVendor({ config: { origin: ORIGIN, keys: await testKeyMaterial() }, store: new SqliteStore(':memory:'), routes: [{ path: '/api/sdk', level: 'sddp', handler: () => ({}) }] });
    expect(codeOf(() => janus(declared).sddp('/api/sdk'))).toBe('bad_input');
    await declared.close();
  });
});

describe.each(MIDDLEWARE_KINDS)('%s over HTTP: what a protected handler gets and how its answer is sealed', (kind) => {
  let site: MiddlewareSite;
  let peer: Peer;
  let doc: Discovery;
  let bob: VendorSession;

  beforeAll(async () => {
    site = await startMiddlewareSite(kind);
    peer = httpPeer(site.origin);
    doc = await discover(peer, site.origin);
    bob = await sessionFor('bob@example.org', 'bob secret', site.origin);
    await register(peer, bob, doc, { now: now(), chain: 5 });
  });
  afterAll(() => site?.close());

  it('the decrypted body and its sealed type reach the handler; the protocol headers and a spoofed Janus-Client do not', async () => {
    site.reached.length = 0;
    const r = await send(peer, bob, '/api/watchlist', { origin: site.origin, method: 'PUT', body: '{"watchlist":["IBM"]}', headers: { 'janus-client-alias': 'mallory', janus_client: 'x', 'x-kept': '1' } });
    expect(r.opened.status).toBe(200);
    const answer = JSON.parse(r.text) as { address?: string };
    expect(answer).toMatchObject({ handler: 'watchlist', alias: bob.alias, body: { watchlist: ['IBM'] } });
    expect(answer.address).toMatch(/^(::ffff:)?127\.0\.0\.1$/); // the TCP peer, as the rate limits see it
    const seen = site.reached[0]!.headers;
    expect(seen['x-kept']).toBe('1');
    expect(seen['content-type']).toBe('application/json');
    expect(Object.keys(seen).filter((h) => /^(janus|signature|content-digest)/.test(h.replace(/_/g, '-')))).toEqual([]);
  });

  it('a refusal keeps its code, a bug is a logged 500 internal, a 404 delivers nothing; the 2xx after them is delivery 1', async () => {
    const refused = await send(peer, bob, '/api/intraday/REFUSE', { origin: site.origin, level: 'eddp+receipts', challenge: await fetchChallenge(peer, bob, doc) });
    expect([refused.opened.status, refused.opened.error]).toEqual([403, 'subscription_expired']);
    const logged = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    const bug = await send(peer, bob, '/api/intraday/BUG', { origin: site.origin, level: 'eddp+receipts', challenge: refused.opened.challenge! });
    expect([bug.opened.status, bug.opened.error]).toEqual([500, 'internal']);
    expect(logged.mock.calls.map((c) => c.join(' ')).join('\n')).toMatch(/internal error on GET \/api\/intraday\/BUG: a bug in the handler/);
    // The app's own error handling ran; its page is not what the client got.
    if (kind !== 'node') expect(site.appErrors).toContain('a bug in the handler');
    expect(bug.text).not.toContain('app error page');
    const none = await send(peer, bob, '/api/intraday/NONE', { origin: site.origin, level: 'eddp+receipts', challenge: bug.opened.challenge! });
    expect([none.opened.status, none.res.headers['janus-receipt']]).toEqual([404, undefined]);
    const ok = await send(peer, bob, '/api/intraday/IBM', { origin: site.origin, level: 'eddp+receipts', challenge: none.opened.challenge! });
    expect(JSON.parse(ok.text)).toEqual({ symbol: 'IBM', delivery: 1 });
    expect(ok.res.headers['janus-receipt']).toMatch(/\.1\.5$/);
  });

  it('a client that goes away while the app keeps its request does not hold the delivery in progress', async () => {
    const carol = await sessionFor('carol@example.org', 'carol secret', site.origin);
    await register(peer, carol, doc, { now: now(), chain: 5 });
    const { request } = await deliveryRequest({ key: carol, level: 'eddp+receipts', method: 'GET', url: site.origin + '/api/intraday/HANG', now: now(), challenge: await fetchChallenge(peer, carol, doc) });
    const gone = new AbortController();
    const hung = fetch(site.origin + '/api/intraday/HANG', { headers: request.headers, signal: gone.signal }).catch(() => 'aborted');
    await new Promise((r) => setTimeout(r, 300));
    gone.abort();
    expect(await hung).toBe('aborted');
    await new Promise((r) => setTimeout(r, 100));
    const next = await send(peer, carol, '/api/intraday/IBM', { origin: site.origin, level: 'eddp+receipts', challenge: await fetchChallenge(peer, carol, doc) });
    expect([next.opened.status, JSON.parse(next.text)]).toEqual([200, { symbol: 'IBM', delivery: 1 }]);
  });
});

describe("Express: req.body and the app's errors on a protected route", () => {
  let vendor: JanusVendor;
  let server: Server;
  let origin: string;
  let peer: Peer;
  let dee: VendorSession;

  beforeAll(async () => {
    const port = await freePort();
    origin = `http://127.0.0.1:${port}`;
    vendor = createVendor({ config: { origin, keys: await testKeyMaterial() }, store: new SqliteStore(':memory:') });
    const j = janusExpress(vendor);
    const app = express();
    app.use(j);
    app.use(express.json());
    app.post('/api/echo', j.sddp('/api/echo'), (req, res) => void res.json({ body: req.body as unknown }));
    app.post('/api/taken', j.sddp('/api/taken'), () => {
      // As http-errors (Express middleware's usual errors) makes them.
      throw Object.assign(new Error('that name is taken'), { status: 409, expose: true });
    });
    app.post('/api/refuse', j.sddp('/api/refuse'), (_req, _res, next) => next(new JanusError('subscription_required')));
    app.use((e: Error & { status?: number }, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
      res.status(e.status ?? 500).json({ mine: e.message });
    });
    server = createServer(app);
    await listen(server, port);
    peer = httpPeer(origin);
    dee = await sessionFor('dee@example.org', 'dee secret', origin);
    await register(peer, dee, await discover(peer, origin), { now: now() });
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    await vendor.close();
  });

  /** A POST with a body of the given (sealed) type. */
  async function post(path: string, body: string, contentType: string) {
    const { request, pending } = await deliveryRequest({ key: dee, level: 'sddp', method: 'POST', url: origin + path, now: now(), body: utf8(body), contentType });
    const opened = await deliveryResponse(pending, 'sddp', await peer(request));
    return { status: opened.status, error: opened.error, json: JSON.parse(fromUtf8(opened.body)) as Record<string, unknown> };
  }

  it('req.body is the decrypted body as a body parser would leave it', async () => {
    expect(await post('/api/echo', '{"a":[1]}', 'application/json')).toMatchObject({ status: 200, json: { body: { a: [1] } } });
    expect(await post('/api/echo', 'plain words', 'text/plain; charset=utf-8')).toMatchObject({ status: 200, json: { body: 'plain words' } });
    expect(await post('/api/echo', 'symbol=LU&n=2', 'application/x-www-form-urlencoded')).toMatchObject({ status: 200, json: { body: { symbol: 'LU', n: '2' } } });
    expect(await post('/api/echo', '{not json', 'application/json')).toMatchObject({ status: 400, error: 'malformed' });
  });

  it("a 4xx error of the app's own is answered by its error handler, sealed; a JanusError passed to next() keeps its code", async () => {
    expect(await post('/api/taken', '{}', 'application/json')).toMatchObject({ status: 409, error: null, json: { mine: 'that name is taken' } });
    expect(await post('/api/refuse', '{}', 'application/json')).toMatchObject({ status: 403, error: 'subscription_required' });
  });
});
