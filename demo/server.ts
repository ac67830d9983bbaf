/**
 * Quotes, the demo vendor: the paper's Example 1 (free personalized stock quotes: SKEP and SDDP)
 * and Example 2 (a paid subscription: non-repudiation SKEP, EDDP and PayWord receipts) as a small
 * web site on the vendor SDK, Hono and SQLite (or PostgreSQL for the SDK's store).
 */
import { mkdirSync, readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { createAdaptorServer } from '@hono/node-server';
import { getConnInfo } from '@hono/node-server/conninfo';
import { Hono, type Context } from 'hono';
import { createVendor, JanusError, nodeCryptoProvider, nowSeconds, openStore, PATHS, useCryptoProvider, WELL_KNOWN, type JanusClient, type JanusVendor, type JsonObject, type Store } from 'janus-vendor';
import { janus, type JanusEnv } from 'janus-vendor/hono';
import { SqliteStore } from 'janus-vendor/sqlite';
import { demoPaths, ensureKeyMaterial } from './keys.ts';
import { errorPage, homePage, intradayPage, notFoundPage, watchlistPage, type PageContext } from './pages.ts';
import { parseWatchlist, planOf, quotesPolicy, SUBSCRIPTION_DESCRIPTION } from './plans.ts';
import { DEFAULT_WATCHLIST, intraday, quote, SYMBOL_RE } from './quotes.ts';
import { WatchlistTable } from './store.ts';

interface DemoOptions {
  /** Port to listen on; 0 (the default) picks a free one. */
  port?: number;
  /** Address to bind; default 127.0.0.1 (loopback only: http is a Janus origin only on loopback). */
  host?: string;
  /** Where the key, certificate, KEK and database live; default `.janus-data/demo`. */
  dataDir?: string;
  /**
   * id_V, exactly what the browser's address bar shows; default `http://localhost:<actual port>`.
   * Give it when the site is reached through another name or port (a proxy, a test).
   */
  origin?: string;
  /** No request log. */
  quiet?: boolean;
  /**
   * The SDK's store: a SQLite path or a postgres:// URL (src/server/open-store.ts); default
   * `vendor.db` in dataDir. The demo's own watchlist table stays in that SQLite file either way.
   */
  database?: string;
}

export interface Demo {
  /** Where this process listens (for programs: e.g. http://127.0.0.1:PORT). */
  url: string;
  /** id_V: where to point the browser. */
  origin: string;
  vendor: JanusVendor;
  dataDir: string;
  /** Key files made by this start (empty when everything was reused). */
  created: string[];
  close(): Promise<void>;
}

const PUBLIC = new URL('./public/', import.meta.url);
const asset = (name: string) => readFileSync(new URL(name, PUBLIC), 'utf8');

/** Pages and scripts: this origin only, no inline script or style, no framing (the pages show account data). */
const PAGE_HEADERS: Record<string, string> = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cross-origin-opener-policy': 'same-origin',
};

function watchlistOf(table: WatchlistTable, client: JanusClient): string[] {
  const stored = table.get(client.alias);
  if (stored) return stored;
  // The watchlist proposed at registration (already checked by the policy), else the default.
  const w = client.data['watchlist'];
  return Array.isArray(w) && w.every((s) => typeof s === 'string') ? (w as string[]) : [...DEFAULT_WATCHLIST];
}

function watchlistBody(client: JanusClient, symbols: readonly string[]): JsonObject {
  const t = nowSeconds();
  return {
    alias: client.alias,
    plan: planOf(client.data),
    watchlist: [...symbols],
    quotes: symbols.map((s) => ({ ...quote(s, t) })),
    as_of: new Date(t * 1000).toISOString(),
  };
}

/** What the request log calls each request: the Janus protocol that protects it, if any. */
function protocolOf(vendor: JanusVendor, path: string, method: string): string {
  switch (path) {
    case WELL_KNOWN:
      return 'discovery';
    case PATHS.skep:
      return 'SKEP 1-2';
    case PATHS.confirm:
      return 'SKEP 3-4';
    case PATHS.challenge:
      return 'EDDP 1-2 (challenge)';
    case PATHS.ack:
      return 'PayWord ack';
    case PATHS.rotate:
      return 'key rotation';
  }
  const c = vendor.classify(method, path);
  return c.kind === 'janus' && c.route ? c.route.level : '';
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((ok, fail) => {
    const onError = (e: Error) => {
      server.off('listening', onListening);
      fail(e);
    };
    const onListening = () => {
      server.off('error', onError);
      ok();
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(port, host);
  });
}

function urlHost(host: string): string {
  if (host === '0.0.0.0') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') ? `[${host}]` : host;
}

export async function startDemo(opts: DemoOptions = {}): Promise<Demo> {
  // The vendor's hot path on native crypto (src/server/node-crypto.ts).
  useCryptoProvider(nodeCryptoProvider);
  const host = opts.host ?? '127.0.0.1';
  const dataDir = resolve(opts.dataDir ?? '.janus-data/demo');
  const paths = demoPaths(dataDir);
  const certHost = opts.origin ? new URL(opts.origin).hostname : 'localhost';
  const log = opts.quiet ? () => undefined : (line: string) => console.log(line);

  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const store: Store = opts.database ? await openStore(opts.database) : new SqliteStore(paths.database);
  let table: WatchlistTable | null = null;
  let server: Server | null = null;
  let vendor: JanusVendor | null = null;
  try {
    const { keys, created } = await ensureKeyMaterial(paths, { host: certHost, clients: await store.countClients() });
    table = new WatchlistTable(paths.database);
    const watchlists = table;
    const assets = { js: asset('app.js'), css: asset('app.css'), icon: asset('favicon.svg') };

    // The origin may depend on the port the system picks, so the vendor is made after listen().
    let app: Hono<JanusEnv> | null = null;
    server = createAdaptorServer({
      fetch: (req, env) => (app ? app.fetch(req, env) : new Response('starting', { status: 503, headers: { 'retry-after': '1' } })),
      overrideGlobalObjects: false,
    }) as Server;
    await listen(server, opts.port ?? 0, host);
    const port = (server.address() as AddressInfo).port;
    const origin = opts.origin ?? `http://localhost:${port}`;

    const v = createVendor({
      config: {
        origin,
        keys,
        name: 'Quotes',
        receipt: 'offered',
        subscription: SUBSCRIPTION_DESCRIPTION,
        policy: quotesPolicy,
        onRotate: (from, to) => table?.rename(from, to),
      },
      store,
      // The pages: a slot credential only recognizes the client; it authorizes nothing (§10).
      routes: [
        { path: '/', level: 'credential' },
        { path: '/watchlist', level: 'credential' },
        { path: '/intraday', level: 'credential' },
      ],
    });
    vendor = v;
    const pageContext = (c: Context<JanusEnv>): PageContext => ({
      client: c.var.janusClient,
      origin: v.config.idV,
      fingerprint: v.config.fingerprint,
      now: nowSeconds(),
    });

    const a = new Hono<JanusEnv>();
    a.use(async (c, next) => {
      const start = performance.now();
      await next();
      const path = new URL(c.req.url).pathname;
      const label = protocolOf(v, path, c.req.method);
      const err = c.res.headers.get('janus-error');
      log(`${c.req.method} ${path} -> ${c.res.status}${err ? ` ${err}` : ''}${label ? `  [${label}]` : ''}  ${(performance.now() - start).toFixed(1)} ms`);
    });
    // The Janus endpoints, and every request to a protected route verified before the routes below;
    // every other request learns its slot-credential client.
    const j = janus(v, {
      address: (c) => {
        try {
          return getConnInfo(c).remote.address;
        } catch {
          return undefined;
        }
      },
    });
    a.use(j);
    a.use(async (c, next) => {
      await next();
      for (const [k, val] of Object.entries(PAGE_HEADERS)) c.res.headers.set(k, val);
    });

    // The protected routes: what each request is worth decides its protocol (paper §1, "modular structure").
    // Example 1: free personalized quotes over SDDP.
    a.on(['GET', 'PUT'], '/api/watchlist', j.sddp('/api/watchlist', { methods: ['GET', 'PUT'] }), (c) => {
      const client = c.var.janusClient;
      if (c.req.method === 'PUT') {
        const body = c.var.janus.json<unknown>();
        if (typeof body !== 'object' || body === null || Array.isArray(body)) {
          throw new JanusError('malformed', 'send a JSON object like {"watchlist": ["LU", "T"]}');
        }
        const symbols = parseWatchlist((body as Record<string, unknown>)['watchlist']);
        watchlists.put(client.alias, symbols, nowSeconds());
        return c.json(watchlistBody(client, symbols));
      }
      return c.json(watchlistBody(client, watchlistOf(watchlists, client)));
    });
    // Example 2: intraday series for paying subscribers, over EDDP with PayWord receipts.
    a.get('/api/intraday/:symbol', j.eddpReceipts('/api/intraday/*', { methods: ['GET'] }), (c) => {
      const client = c.var.janusClient;
      // Any answer but a 2xx (a thrown JanusError included) is no delivery: the SDK counts nothing for it.
      if (planOf(client.data) !== 'intraday') {
        throw new JanusError('subscription_expired', 'the free plan has no intraday quotes; subscribe to the intraday plan');
      }
      const symbol = c.req.param('symbol');
      if (!SYMBOL_RE.test(symbol)) throw new JanusError('malformed', `symbol: ${JSON.stringify(symbol.slice(0, 12))} is not a ticker symbol like LU`);
      const t = nowSeconds();
      const d = c.var.janus.delivery;
      return c.json({
        symbol,
        as_of: new Date(t * 1000).toISOString(),
        series: { ...intraday(symbol, t) },
        // The delivery this answer is (the SDK counts it with this 2xx answer) and what was acknowledged.
        delivery: { sub: d.sub, i: d.i, n: d.n, acked: client.chain?.acked ?? 0 },
      });
    });

    const page = (c: Context<JanusEnv>, html: string, status: 200 | 404 | 500 = 200) => {
      // Personalized by the credential: never cached, and varies with it.
      c.header('cache-control', 'no-store');
      c.header('vary', 'janus-credential');
      return c.html(html, status);
    };
    a.get('/', (c) => page(c, homePage(pageContext(c))));
    a.get('/watchlist', (c) => page(c, watchlistPage(pageContext(c))));
    a.get('/intraday', (c) => page(c, intradayPage(pageContext(c))));
    const file = (type: string, body: string) => (c: Context) => c.body(body, 200, { 'content-type': type, 'cache-control': 'no-cache' });
    a.get('/app.js', file('text/javascript; charset=utf-8', assets.js));
    a.get('/app.css', file('text/css; charset=utf-8', assets.css));
    a.get('/favicon.svg', file('image/svg+xml', assets.icon));
    a.get('/favicon.ico', (c) => c.body(null, 204));
    a.notFound((c) => page(c, notFoundPage(pageContext(c)), 404));
    a.onError((e, c) => {
      // A JanusError is a refusal the SDK answers with its code; anything else is a bug worth a line.
      if (!(e instanceof JanusError)) console.error('quotes: error on', c.req.method, new URL(c.req.url).pathname, e instanceof Error ? e.message : e);
      return page(c, errorPage(pageContext(c)), 500);
    });
    app = a;

    let closing: Promise<void> | null = null;
    const srv = server;
    const tbl = table;
    return {
      url: `http://${urlHost(host)}:${port}`,
      origin: v.config.idV,
      vendor: v,
      dataDir,
      created,
      close() {
        closing ??= (async () => {
          await new Promise<void>((done) => {
            srv.close(() => done());
            srv.closeAllConnections();
          });
          await v.close();
          tbl.close();
        })();
        return closing;
      },
    };
  } catch (e) {
    // Leave nothing open behind a failed start.
    if (server?.listening) await new Promise<void>((done) => server!.close(() => done()));
    table?.close();
    if (vendor) await vendor.close();
    else await store.close();
    throw e;
  }
}
