/**
 * A site that protects its own routes with the SDK's middleware, in Hono (on @hono/node-server),
 * Express and plain node:http, over real HTTP, recording every request that reaches one of its
 * handlers. The same routes in each: `/api/watchlist` (sddp, GET and PUT), `/api/notes` (sddp,
 * POST), `/api/intraday/:sym` (eddp+receipts, GET), and a catch-all that answers everything else,
 * every other spelling and method of those paths included, as the framework routes it.
 */
import type { Server } from 'node:http';
import { createServer } from 'node:http';
import { createAdaptorServer } from '@hono/node-server';
import express from 'express';
import { Hono } from 'hono';
import { JanusError } from '../../src/errors.ts';
import { createVendor, type JanusVendor } from '../../src/server/core.ts';
import type { VendorConfig } from '../../src/server/config.ts';
import { janusExpress } from '../../src/server/express.ts';
import { janus, type JanusEnv } from '../../src/server/hono.ts';
import { janusNode } from '../../src/server/node-http.ts';
import { SqliteStore } from '../../src/server/sqlite-store.ts';
import { freePort, listen } from './serve-kit.ts';
import { testKeyMaterial } from './vendor-kit.ts';

export type MiddlewareKind = 'hono' | 'express' | 'node';
export const MIDDLEWARE_KINDS: MiddlewareKind[] = ['hono', 'express', 'node'];

export interface Reached {
  handler: 'watchlist' | 'notes' | 'intraday' | 'page';
  method: string;
  url: string;
  /** The verified client's alias, when the handler got one (a protected route's middleware ran). */
  alias: string | null;
  /** The client's address as the verified request has it (protected routes). */
  address?: string | undefined;
  headers: Record<string, string | string[] | undefined>;
  body: unknown;
}

export interface MiddlewareSite {
  kind: MiddlewareKind;
  origin: string;
  port: number;
  vendor: JanusVendor;
  reached: Reached[];
  /** What the app's own error handling saw (Hono's onError, Express's error middleware). */
  appErrors: string[];
  close(): Promise<void>;
}

/**
 * What the intraday handler answers for a symbol: a refusal, a bug, a 404, no answer at all
 * (null: the handler keeps the request until the site closes), or the series.
 */
function intraday(sym: string, i: number | undefined): { status: number; body: unknown } | null {
  if (sym === 'REFUSE') throw new JanusError('subscription_expired', 'refused by the application');
  if (sym === 'BUG') throw new TypeError('a bug in the handler');
  if (sym === 'NONE') return { status: 404, body: { error: 'no such symbol' } };
  if (sym === 'HANG') return null;
  return { status: 200, body: { symbol: sym, delivery: i ?? null } };
}

export async function startMiddlewareSite(kind: MiddlewareKind, opts: { config?: Partial<VendorConfig> } = {}): Promise<MiddlewareSite> {
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  const vendor = createVendor({ config: { origin, keys: await testKeyMaterial(), ...opts.config }, store: new SqliteStore(':memory:') });
  const reached: Reached[] = [];
  const appErrors: string[] = [];
  const hanging: (() => void)[] = [];
  const note = (r: Reached) => {
    reached.push(r);
    return { handler: r.handler, alias: r.alias, address: r.address, method: r.method, url: r.url, body: r.body };
  };
  let server: Server;
  if (kind === 'hono') {
    // No `address` option: on @hono/node-server the guard reads the socket's.
    const j = janus(vendor);
    const app = new Hono<JanusEnv>();
    app.use(j);
    const headersOf = (h: Headers) => Object.fromEntries(h);
    app.on(['GET', 'PUT'], '/api/watchlist', j.sddp('/api/watchlist', { methods: ['GET', 'PUT'] }), async (c) => {
      const body: unknown = c.req.method === 'PUT' ? await c.req.json() : null;
      return c.json(note({ handler: 'watchlist', method: c.req.method, url: c.req.path, alias: c.var.janusClient.alias, address: c.var.janus.address, headers: headersOf(c.req.raw.headers), body }));
    });
    app.post('/api/notes', j.sddp('/api/notes', { methods: ['POST'] }), async (c) =>
      c.json(note({ handler: 'notes', method: c.req.method, url: c.req.path, alias: c.var.janusClient.alias, headers: headersOf(c.req.raw.headers), body: (await c.req.arrayBuffer()).byteLength })),
    );
    app.get('/api/intraday/:sym', j.eddpReceipts('/api/intraday/*', { methods: ['GET'] }), (c) => {
      note({ handler: 'intraday', method: c.req.method, url: c.req.path, alias: c.var.janusClient.alias, headers: headersOf(c.req.raw.headers), body: null });
      const r = intraday(c.req.param('sym'), c.var.janus.delivery.i);
      if (!r) return new Promise<Response>((done) => hanging.push(() => done(c.text('late'))));
      return c.json(r.body as object, r.status as 200);
    });
    app.all('*', async (c) => c.json(note({ handler: 'page', method: c.req.method, url: c.req.path, alias: c.var.janusClient?.alias ?? null, headers: headersOf(c.req.raw.headers), body: await c.req.text() })));
    app.onError((e, c) => {
      appErrors.push(e.message);
      return c.text('app error page', 500);
    });
    server = createAdaptorServer({ fetch: app.fetch }) as Server;
  } else if (kind === 'express') {
    const j = janusExpress(vendor);
    const app = express();
    app.use(j);
    app.use(express.json());
    app.use(express.text());
    app.get('/api/watchlist', j.sddp('/api/watchlist', { methods: ['GET', 'PUT'] }), (req, res) => {
      res.json(note({ handler: 'watchlist', method: req.method, url: req.originalUrl, alias: res.locals.janusClient.alias, headers: req.headers, body: null }));
    });
    app.put('/api/watchlist', j.sddp('/api/watchlist', { methods: ['GET', 'PUT'] }), (req, res) => {
      res.json(note({ handler: 'watchlist', method: req.method, url: req.originalUrl, alias: res.locals.janusClient.alias, address: res.locals.janus.address, headers: req.headers, body: req.body }));
    });
    app.post('/api/notes', j.sddp('/api/notes', { methods: ['POST'] }), (req, res) => {
      res.json(note({ handler: 'notes', method: req.method, url: req.originalUrl, alias: res.locals.janusClient.alias, headers: req.headers, body: res.locals.janus.body.length }));
    });
    app.get('/api/intraday/:sym', j.eddpReceipts('/api/intraday/*', { methods: ['GET'] }), (req, res) => {
      note({ handler: 'intraday', method: req.method, url: req.originalUrl, alias: res.locals.janusClient.alias, headers: req.headers, body: null });
      const r = intraday(String(req.params['sym']), res.locals.janus.delivery.i);
      if (r) res.status(r.status).json(r.body);
    });
    app.use((req, res) => {
      res.json(note({ handler: 'page', method: req.method, url: req.originalUrl, alias: req.janusClient?.alias ?? null, headers: req.headers, body: req.body ?? null }));
    });
    app.use((e: Error, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
      appErrors.push(e.message);
      res.status(500).send('app error page');
    });
    server = createServer(app);
  } else {
    const j = janusNode(vendor);
    const json = (res: import('node:http').ServerResponse, status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    const watchlist = j.sddp('/api/watchlist', (req, res) => json(res, 200, note({ handler: 'watchlist', method: req.method!, url: req.url!, alias: req.janusClient.alias, address: req.janus.address, headers: req.headers, body: req.method === 'PUT' ? req.janus.json() : null })), { methods: ['GET', 'PUT'] });
    const notes = j.sddp('/api/notes', (req, res) => json(res, 200, note({ handler: 'notes', method: req.method!, url: req.url!, alias: req.janusClient.alias, headers: req.headers, body: req.janus.body.length })), { methods: ['POST'] });
    const series = j.eddpReceipts(
      '/api/intraday/*',
      (req, res) => {
        note({ handler: 'intraday', method: req.method!, url: req.url!, alias: req.janusClient.alias, headers: req.headers, body: null });
        const r = intraday(req.url!.split('?')[0]!.slice('/api/intraday/'.length), req.janus.delivery.i);
        if (r) json(res, r.status, r.body);
      },
      { methods: ['GET'] },
    );
    server = createServer(
      j.listener((req, res) => {
        // The app's own exact routing, on the canonical path the guard passes on.
        const path = req.url!.split('?')[0]!;
        if (path === '/api/watchlist' && (req.method === 'GET' || req.method === 'PUT')) return watchlist(req, res);
        if (path === '/api/notes' && req.method === 'POST') return notes(req, res);
        if (/^\/api\/intraday\/[^/]+$/.test(path) && req.method === 'GET') return series(req, res);
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => json(res, 200, note({ handler: 'page', method: req.method!, url: req.url!, alias: req.janusClient?.alias ?? null, headers: req.headers, body: Buffer.concat(chunks).toString('utf8') })));
      }),
    );
  }
  await listen(server, port);
  return {
    kind,
    origin,
    port,
    vendor,
    reached,
    appErrors,
    async close() {
      for (const release of hanging) release();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
      await vendor.close();
    },
  };
}
