/**
 * The vendor under fuzz and crash tests, in its own process (so a crash is a crash, and kill -9 is
 * real): the SDK's node:http server on a SQLite file, or `janus-vendor serve`'s proxy in front of an
 * Express site in the same process. It reports over IPC what it accepted:
 *   { t: 'accepted', nonce, method, url, contentType, body (hex), alias, level }  a protected handler ran
 *   { t: 'site', path, level, method }  the site's protected resource was reached (proxy mode)
 *   { t: 'commit', insert?, rename? }  a registration or a rotation was committed
 * and prints `ready <port>` when it listens. Answers { t: 'mem' } with its memory (bench/memory.ts).
 * argv: <mode sdk|proxy> <db> <kek hex> <private key PEM file> <port>; JANUS_FUZZ_MAX_BODY: the
 * body limit (default 64 KiB).
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import express from 'express';
import { fromHex, toHex } from '../../src/crypto/bytes.ts';
import { useCryptoProvider } from '../../src/crypto/provider.ts';
import { createVendor, type HandlerContext, type ProtectedHandler, type RouteSpec } from '../../src/server/core.ts';
import { createJanusServer } from '../../src/server/node-http.ts';
import { nodeCryptoProvider } from '../../src/server/node-crypto.ts';
import { upstreamFallback, upstreamHandler } from '../../src/server/proxy.ts';
import { SqliteStore } from '../../src/server/sqlite-store.ts';

const [mode, db, kek, keyFile, portText] = process.argv.slice(2) as [string, string, string, string, string];
const send = (m: unknown) => process.send?.(m);
useCryptoProvider(nodeCryptoProvider);

process.on('message', (m: { t?: string; id?: number }) => {
  // A flush: IPC is ordered, so everything sent before this answer has arrived when it does.
  if (m?.t === 'ping') send({ t: 'pong', id: m.id });
  // Memory after a full collection (started with --expose-gc), for bench/memory.ts.
  if (m?.t === 'mem') {
    (globalThis as { gc?: () => void }).gc?.();
    send({ t: 'mem', id: m.id, usage: { ...process.memoryUsage(), budgetHeld: held() } });
  }
});

let held = () => 0;
const store = new SqliteStore(db);
const commit = store.commit.bind(store);
store.commit = async (c) => {
  await commit(c);
  if (c.insert) send({ t: 'commit', insert: { alias: c.insert.alias, gen: c.insert.gen, data: c.insert.data } });
  if (c.rename) send({ t: 'commit', rename: { from: c.rename.from, alias: c.rename.row.alias, gen: c.rename.row.gen } });
};

function recording(next: ProtectedHandler): ProtectedHandler {
  return (ctx: HandlerContext) => {
    const nonce = /;nonce="([^"]*)"/.exec(ctx.headers['signature-input'] ?? '')?.[1] ?? null;
    send({ t: 'accepted', nonce, method: ctx.method, url: ctx.url.pathname + ctx.url.search, contentType: ctx.contentType ?? null, body: toHex(ctx.body), alias: ctx.client.alias, level: ctx.level });
    return next(ctx);
  };
}

async function main(): Promise<void> {
  const port = Number(portText);
  const origin = `http://127.0.0.1:${port}`;
  let upstreamUrl = '';
  if (mode === 'proxy') {
    // The site behind serve: Express, case-insensitive and trailing-slash-blind, as sites are.
    const app = express();
    const prot = (req: express.Request, res: express.Response) => {
      send({ t: 'site', path: req.originalUrl, level: req.headers['janus-client-level'] ?? null, method: req.method });
      req.resume();
      res.json({ ok: true, alias: req.headers['janus-client-alias'] ?? null });
    };
    app.all('/api/notes', prot);
    app.all('/api/eddp/:x', prot);
    app.all('/api/paid/:x', prot);
    app.use((req, res) => {
      req.resume();
      res.send('page');
    });
    const site = createServer(app);
    await new Promise<void>((ok) => site.listen(0, '127.0.0.1', () => ok()));
    upstreamUrl = `http://127.0.0.1:${(site.address() as { port: number }).port}`;
  }
  const echo: ProtectedHandler = (ctx) => ({ ok: true, alias: ctx.client.alias, bytes: ctx.body.length });
  const handler = mode === 'proxy' ? upstreamHandler({ upstream: upstreamUrl, log: (l) => console.error(l) }) : echo;
  const routes: RouteSpec[] = [
    { path: '/api/notes', level: 'sddp', methods: ['GET', 'PUT', 'POST', 'DELETE'], handler: recording(handler) },
    { path: '/api/eddp/*', level: 'eddp', methods: ['GET'], handler: recording(handler) },
    { path: '/api/paid/*', level: 'eddp+receipts', methods: ['GET'], handler: recording(handler) },
    { path: '/', level: 'credential' },
  ];
  const vendor = createVendor({
    config: {
      origin,
      keys: { privateKeyPem: readFileSync(keyFile, 'utf8'), kek: fromHex(kek) },
      limits: { maxBodyBytes: Number(process.env['JANUS_FUZZ_MAX_BODY'] ?? 64 * 1024) },
      // The fuzzer is one client address sending thousands of costly requests on purpose.
      rateLimits: { skepPerAddressPerMinute: 1_000_000, skepPerAliasPerMinute: 1_000_000, rotatePerAliasPerMinute: 1_000_000, requestsPerClientPerSlot: 1_000_000 },
    },
    store,
    routes,
  });
  const site = (request: Request) => {
    void request.body?.cancel();
    return new Response('page', { status: 200, headers: { 'content-type': 'text/plain' } });
  };
  held = () => vendor.bodyBudget.held;
  const server = createJanusServer(vendor, mode === 'proxy' ? upstreamFallback({ upstream: upstreamUrl, origin, log: (l) => console.error(l) }) : site);
  server.listen(port, '127.0.0.1', () => process.stdout.write(`ready ${port}\n`));
  const stop = () => {
    server.closeAllConnections();
    server.close(() => void vendor.close().then(() => process.exit(0)));
  };
  process.on('SIGTERM', stop);
  process.on('disconnect', stop);
}

void main();
