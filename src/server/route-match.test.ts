/**
 * Finding 1 of the security review (docs/PROTOCOL.md §5.1): a protected path is protected however it
 * is spelled and whatever the method. `janus-vendor serve` in front of real Express, Hono and
 * node:http upstreams, fed a table of path spellings and methods, unsigned and with a valid slot
 * credential: no request ever reaches an upstream's protected resource without being verified, and
 * the signed request still does. Then the SDK used directly in Hono and Express apps that also route
 * those paths themselves.
 */
import { createServer, type Server } from 'node:http';
import express from 'express';
import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeCredential, type Discovery, type VendorSession } from '../protocol/index.ts';
import { deliver, discover, register, sessionFor, type Peer } from '../../test/support/client.ts';
import { freePort } from '../../test/support/http-vendor.ts';
import { MIDDLEWARE_KINDS, startMiddlewareSite, type MiddlewareSite } from '../../test/support/middleware-apps.ts';
import { plainRequest, startServe, startUpstream, type Serve, type Upstream, type UpstreamKind } from '../../test/support/serve-kit.ts';
import { fetchPeer, httpPeer, testKeyMaterial } from '../../test/support/vendor-kit.ts';
import { createVendor } from './core.ts';
import { janusExpress } from './express.ts';
import { janus, type JanusVariables } from './hono.ts';
import { SqliteStore } from './sqlite-store.ts';

const now = () => Math.floor(Date.now() / 1000);

/** Spellings of the two protected resources that some server reads as the resource itself. */
const SPELLINGS = [
  '/api/watchlist',
  '/API/watchlist',
  '/api/Watchlist',
  '/api/WATCHLIST/',
  '/api/watchlist/',
  '/api/watchlist?x=1',
  '/api/%77atchlist',
  '/%61pi/watchlist',
  '/api/watch%6cist',
  '/api/./watchlist',
  '/api/x/../watchlist',
  '/api/%2e/watchlist',
  '/api/x/%2E%2E/watchlist',
  '/api//watchlist',
  '//api/watchlist',
  '/api/watchlist;jsessionid=1',
  '/api/watchlist%2F',
  '/api%2Fwatchlist',
  '/api%2fwatchlist',
  '/api\\watchlist',
  '/api%5Cwatchlist',
  '/api/%2577atchlist',
  '/api/intraday/IBM',
  '/API/intraday/IBM',
  '/api/Intraday/IBM',
  '/api/%69ntraday/IBM',
  '/api/%49ntraday/IBM',
  '/api/intraday/IBM/',
  '/api/intraday//IBM',
  '/api/intraday;x/IBM',
  '/api/intraday%2FIBM',
  '/api/%2569ntraday/IBM',
  '/api/intraday/./IBM',
];
const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'];

describe.each(['express', 'hono', 'node'] as UpstreamKind[])('janus-vendor serve in front of a %s upstream', (kind) => {
  let upstream: Upstream;
  let serve: Serve;
  let alice: VendorSession;
  let peer: Peer;
  let doc: Discovery;

  beforeAll(async () => {
    upstream = await startUpstream(kind);
    serve = await startServe(upstream.url);
    peer = httpPeer(serve.origin);
    doc = await discover(peer, serve.origin);
    alice = await sessionFor('alice@example.org', 'alice secret', serve.origin);
    await register(peer, alice, doc, { now: now() });
  });
  afterAll(async () => {
    await serve?.stop();
    await upstream?.close();
  });

  it('every spelling and method of a protected path, unsigned or with a slot credential, never reaches the protected resource unverified', async () => {
    const leaks: string[] = [];
    const statuses = new Map<number, number>();
    for (const path of SPELLINGS) {
      for (const method of METHODS) {
        for (const credential of [false, true]) {
          upstream.seen.length = 0;
          const headers: Record<string, string> = credential ? { 'janus-credential': makeCredential(alice, serve.origin, now()).value } : {};
          const r = await plainRequest(serve.origin, method, path, headers, method === 'GET' || method === 'HEAD' ? undefined : '{"x":1}');
          statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
          if (r.status >= 500) leaks.push(`${method} ${path}${credential ? ' (credential)' : ''}: ${r.status}`);
          for (const s of upstream.seen) {
            const level = s.headers['janus-client-level'];
            if (s.handler === 'protected' && level !== 'sddp' && level !== 'eddp+receipts') leaks.push(`${method} ${path}${credential ? ' (credential)' : ''} reached the protected resource as ${String(level)}`);
          }
        }
      }
    }
    expect(leaks).toEqual([]);
    // Refused by the proxy, not answered by the site: missing_signature, method_not_allowed, malformed.
    expect(statuses.get(401)).toBeGreaterThan(0);
    expect(statuses.get(405)).toBeGreaterThan(0);
    expect(statuses.get(400)).toBeGreaterThan(0);
  });

  it('an unlisted method on a protected path is 405 method_not_allowed with Allow; HEAD is not implied by GET', async () => {
    for (const [method, path, allow] of [
      ['DELETE', '/api/watchlist', 'GET, PUT'],
      ['POST', '/API/Watchlist/', 'GET, PUT'],
      ['HEAD', '/api/watchlist', 'GET, PUT'],
      ['PATCH', '/api/intraday/IBM', 'GET'],
      ['HEAD', '/api/%69ntraday/IBM', 'GET'],
    ] as const) {
      const r = await plainRequest(serve.origin, method, path);
      expect([method, path, r.status, r.headers['janus-error'], r.headers['allow']]).toEqual([method, path, 405, 'method_not_allowed', allow]);
    }
  });

  it('an ambiguous spelling of a protected path is 400 malformed; the same spelling elsewhere passes', async () => {
    for (const path of ['/api//watchlist', '/api%2Fwatchlist', '/api/watchlist;x', '/api\\watchlist', '/api/%2569ntraday/IBM']) {
      const r = await plainRequest(serve.origin, 'GET', path);
      expect([path, r.status, r.headers['janus-error']]).toEqual([path, 400, 'malformed']);
    }
    upstream.seen.length = 0;
    const ok = await plainRequest(serve.origin, 'GET', '/pages//about;v=1');
    expect(ok.status).toBe(200);
    expect(upstream.seen.map((s) => s.url)).toEqual(['/pages//about;v=1']);
  });

  it('the upstream receives the canonical path it was matched on, and a signed request still goes through', async () => {
    upstream.seen.length = 0;
    await plainRequest(serve.origin, 'GET', '/pages/%7Euser/./x/../index%2ehtml');
    expect(upstream.seen.at(-1)?.url).toBe('/pages/~user/index.html');
    const d = await deliver(peer, alice, 'sddp', '/api/watchlist', { now: now() });
    expect(d.status).toBe(200);
    expect(d.json).toMatchObject({ handler: 'protected', level: 'sddp', alias: alice.alias });
    // A request signed for another spelling is verified under the spelling it was sent with and
    // reaches the upstream in canonical form.
    const e = await deliver(peer, alice, 'sddp', '/API/Watchlist/', { now: now() });
    expect(e.json).toMatchObject({ handler: kind === 'express' ? 'protected' : 'page', level: 'sddp', url: '/API/Watchlist/' });
  });
});

describe('caseSensitivePaths: for upstreams known to tell /API from /api', () => {
  it('matches case-sensitively when configured, case-insensitively by default', async () => {
    const upstream = await startUpstream('node');
    const strict = await startServe(upstream.url, { caseSensitivePaths: true });
    try {
      expect((await plainRequest(strict.origin, 'GET', '/api/watchlist')).status).toBe(401);
      const r = await plainRequest(strict.origin, 'GET', '/API/watchlist');
      expect(r.status).toBe(200);
      expect((JSON.parse(r.body) as { handler: string }).handler).toBe('page');
    } finally {
      await strict.stop();
      await upstream.close();
    }
  });
});

describe('the SDK inside an app that also routes the protected paths itself', () => {
  let origin: string;
  let server: Server;
  let hono: Hono<{ Variables: JanusVariables }>;
  const vendorOf = async (o: string) =>
    createVendor({
      config: { origin: o, keys: await testKeyMaterial() },
      store: new SqliteStore(':memory:'),
      routes: [
        { path: '/api/watchlist', level: 'sddp', methods: ['GET'], handler: () => ({ via: 'janus' }) },
        { path: '/api/intraday/*', level: 'eddp', methods: ['GET'], handler: () => ({ via: 'janus' }) },
      ],
    });

  beforeAll(async () => {
    const honoVendor = await vendorOf('https://quotes.example');
    hono = new Hono<{ Variables: JanusVariables }>();
    hono.use(janus(honoVendor));
    hono.all('/api/watchlist', (c) => c.json({ leak: true }));
    hono.all('/api/intraday/:sym', (c) => c.json({ leak: true }));

    const port = await freePort();
    origin = `http://127.0.0.1:${port}`;
    const app = express();
    app.use(janusExpress(await vendorOf(origin)));
    app.all('/api/watchlist', (_req, res) => void res.json({ leak: true }));
    app.all('/api/intraday/:sym', (_req, res) => void res.json({ leak: true }));
    server = createServer(app);
    await new Promise<void>((ok) => server.listen(port, '127.0.0.1', () => ok()));
  });
  afterAll(async () => {
    server?.closeAllConnections();
    await new Promise((r) => server?.close(r));
  });

  it('Hono: other spellings and methods get the vendor refusal, never the app route', async () => {
    const peer = fetchPeer(async (r) => hono.request(r));
    for (const [method, path] of [
      ['GET', '/api/%69ntraday/IBM'],
      ['GET', '/api/intraday/IBM'],
      ['GET', '/API/watchlist'],
      ['DELETE', '/api/watchlist'],
      ['POST', '/api/intraday/IBM'],
    ]) {
      const res = await peer({ method: method!, url: 'https://quotes.example' + path, headers: {}, body: new Uint8Array(0) });
      expect([method, path, res.status < 500 && res.status >= 400, JSON.stringify(res.headers['janus-error'])]).toEqual([method, path, true, expect.stringMatching(/missing_signature|method_not_allowed/)]);
    }
  });

  it('Express: the same over HTTP', async () => {
    for (const [method, path] of [
      ['GET', '/API/watchlist'],
      ['GET', '/api/Watchlist/'],
      ['PUT', '/api/watchlist'],
      ['HEAD', '/api/watchlist'],
      ['GET', '/API/intraday/IBM'],
      ['GET', '/api/watchlist%2F'],
    ]) {
      const r = await plainRequest(origin, method!, path!);
      expect([method, path, r.status >= 400 && r.status < 500, r.body.includes('leak')]).toEqual([method, path, true, false]);
    }
  });
});

describe.each(MIDDLEWARE_KINDS)('a %s site protecting its own routes with the middleware', (kind) => {
  let site: MiddlewareSite;
  let alice: VendorSession;
  let peer: Peer;
  let doc: Discovery;

  beforeAll(async () => {
    site = await startMiddlewareSite(kind);
    peer = httpPeer(site.origin);
    doc = await discover(peer, site.origin);
    alice = await sessionFor('alice@example.org', 'alice secret', site.origin);
    await register(peer, alice, doc, { now: now(), chain: 5 });
  });
  afterAll(() => site?.close());

  it('every spelling and method of a protected path, unsigned or with a slot credential, is refused before any handler of the app runs', async () => {
    const ran: string[] = [];
    const statuses = new Map<number, number>();
    for (const path of SPELLINGS) {
      for (const method of METHODS) {
        for (const credential of [false, true]) {
          site.reached.length = 0;
          const headers: Record<string, string> = credential ? { 'janus-credential': makeCredential(alice, site.origin, now()).value } : {};
          const r = await plainRequest(site.origin, method, path, headers, method === 'GET' || method === 'HEAD' ? undefined : '{"x":1}');
          statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
          if (r.status >= 500 || r.status < 400) ran.push(`${method} ${path}${credential ? ' (credential)' : ''}: ${r.status}`);
          for (const s of site.reached) ran.push(`${method} ${path}${credential ? ' (credential)' : ''} reached the ${s.handler} handler`);
        }
      }
    }
    expect(ran).toEqual([]);
    expect(statuses.get(401)).toBeGreaterThan(0);
    expect(statuses.get(405)).toBeGreaterThan(0);
    expect(statuses.get(400)).toBeGreaterThan(0);
  });

  it('an unlisted method is 405 with Allow, an ambiguous spelling 400, as the middleware declared the routes', async () => {
    for (const [method, path, allow] of [
      ['DELETE', '/api/watchlist', 'GET, PUT'],
      ['HEAD', '/API/Watchlist/', 'GET, PUT'],
      ['PATCH', '/api/intraday/IBM', 'GET'],
      ['GET', '/api/notes', 'POST'],
    ] as const) {
      const r = await plainRequest(site.origin, method, path);
      expect([method, path, r.status, r.headers['janus-error'], r.headers['allow']]).toEqual([method, path, 405, 'method_not_allowed', allow]);
    }
    for (const path of ['/api/watchlist;x', '/api%2Fwatchlist', '/api//intraday/IBM']) {
      const r = await plainRequest(site.origin, 'GET', path);
      expect([path, r.status, r.headers['janus-error']]).toEqual([path, 400, 'malformed']);
    }
    // The same spellings elsewhere are the app's.
    site.reached.length = 0;
    expect((await plainRequest(site.origin, 'GET', '/pages//about;v=1')).status).toBe(200);
    expect(site.reached.map((s) => s.handler)).toEqual(['page']);
  });

  it('a signed request in another spelling is verified and its answer sealed, wherever the app routes it', async () => {
    const d = await deliver(peer, alice, 'sddp', '/API/Watchlist/', { now: now() });
    // Express routes it to the protected handler (case and trailing slash ignored); Hono and the
    // node app, which match exactly, to nothing or their catch-all. Sealed either way.
    expect(d.status).toBe(200);
    expect((d.json as { handler: string }).handler).toBe(kind === 'express' ? 'watchlist' : 'page');
    expect((d.json as { alias: string }).alias).toBe(alice.alias);
  });
});
