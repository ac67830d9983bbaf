/**
 * `janus-vendor serve` in-process (through the CLI's `main`) in front of a real upstream: a plain
 * node:http server, an Express app or a Hono app, each recording what reached it. For the proxy's
 * security tests, the fuzz suite and the benchmarks.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, request as httpRequest, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createAdaptorServer } from '@hono/node-server';
import express from 'express';
import { Hono } from 'hono';
import { b64 } from '../../src/crypto/bytes.ts';
import { main, type Io } from '../../src/server/cli/index.ts';
import { testKeyMaterial } from './vendor-kit.ts';

export interface Seen {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
  /** Which upstream handler answered: a protected resource (`protected`) or anything else. */
  handler: 'protected' | 'page' | 'none';
}

export type UpstreamKind = 'node' | 'express' | 'hono';

export interface Upstream {
  kind: UpstreamKind;
  url: string;
  seen: Seen[];
  close(): Promise<void>;
}

export function listen(server: Server, port = 0): Promise<number> {
  return new Promise((res, rej) => {
    server.once('error', rej);
    server.listen(port, '127.0.0.1', () => res((server.address() as AddressInfo).port));
  });
}

export async function freePort(): Promise<number> {
  const s = createServer();
  const port = await listen(s);
  await new Promise((r) => s.close(r));
  return port;
}

export async function until(cond: () => boolean, what: string, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function readAll(req: import('node:http').IncomingMessage): Promise<string> {
  return new Promise((res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => res(Buffer.concat(chunks).toString('utf8')));
    req.on('error', () => res(Buffer.concat(chunks).toString('utf8')));
  });
}

/**
 * A site with two protected resources, `/api/watchlist` (every method) and `/api/intraday/:sym`,
 * and ordinary pages, routed the way its framework routes: Express ignores case and a trailing
 * slash; Hono decodes escapes; the plain node:http one matches the raw path exactly.
 */
export async function startUpstream(kind: UpstreamKind): Promise<Upstream> {
  const seen: Seen[] = [];
  const record = (method: string, url: string, headers: IncomingHttpHeaders, body: string, handler: Seen['handler']) => {
    seen.push({ method, url, headers, body, handler });
    return { handler, level: headers['janus-client-level'] ?? null, alias: headers['janus-client-alias'] ?? null, url, method, body, type: headers['content-type'] ?? null };
  };
  let server: Server;
  if (kind === 'express') {
    const app = express();
    const prot = async (req: express.Request, res: express.Response) => {
      res.json(record(req.method, req.originalUrl, req.headers, await readAll(req), 'protected'));
    };
    app.all('/api/watchlist', prot);
    app.all('/api/intraday/:sym', prot);
    app.use(async (req, res) => {
      res.status(200).json(record(req.method, req.originalUrl, req.headers, await readAll(req), 'page'));
    });
    server = createServer(app);
  } else if (kind === 'hono') {
    const app = new Hono<{ Bindings: { incoming: import('node:http').IncomingMessage } }>();
    const prot = async (c: import('hono').Context<{ Bindings: { incoming: import('node:http').IncomingMessage } }>) => {
      const inc = c.env.incoming;
      return c.json(record(c.req.method, inc.url ?? '', inc.headers, await c.req.text(), 'protected'));
    };
    app.all('/api/watchlist', prot);
    app.all('/api/intraday/:sym', prot);
    app.all('*', async (c) => {
      const inc = c.env.incoming;
      return c.json(record(c.req.method, inc.url ?? '', inc.headers, await c.req.text(), 'page'));
    });
    server = createAdaptorServer({ fetch: app.fetch }) as Server;
  } else {
    server = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0]!;
      const handler = path === '/api/watchlist' || /^\/api\/intraday\/[^/]+$/.test(path) ? 'protected' : 'page';
      readAll(req).then(
        (body) => {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify(record(req.method ?? '', req.url ?? '', req.headers, body, handler)));
        },
        // A request that broke off mid-body gets no answer.
        () => res.destroy(),
      );
    });
  }
  const port = await listen(server);
  return {
    kind,
    url: `http://127.0.0.1:${port}`,
    seen,
    async close() {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

export interface Capture extends Io {
  stdout(): string;
  stderr(): string;
}

function capture(extra: Partial<Io> = {}): Capture {
  let out = '';
  let err = '';
  return { out: (s) => void (out += s), err: (s) => void (err += s), stdout: () => out, stderr: () => err, ...extra };
}

export interface Serve {
  origin: string;
  port: number;
  dir: string;
  configFile: string;
  io: Capture;
  stop(): Promise<number>;
}

/** The default protected routes of these tests: the upstream's two resources and a credential page. */
const SERVE_ROUTES = [
  { path: '/api/watchlist', methods: ['GET', 'PUT'], level: 'sddp' },
  { path: '/api/intraday/*', methods: ['GET'], level: 'eddp+receipts' },
  { path: '/', level: 'credential' },
];

/** Starts `janus-vendor serve` in-process with a config made of `cfg` over the defaults. */
export async function startServe(upstream: string, cfg: Record<string, unknown> = {}, opts: { dir?: string; env?: NodeJS.ProcessEnv } = {}): Promise<Serve> {
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'janus-serve-'));
  const keys = await testKeyMaterial();
  writeFileSync(join(dir, 'vendor-key.pem'), keys.privateKeyPem, { mode: 0o600 });
  writeFileSync(join(dir, 'kek.key'), b64.encode(keys.kek) + '\n', { mode: 0o600 });
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  const configFile = join(dir, 'janus.json');
  writeFileSync(
    configFile,
    JSON.stringify({
      origin,
      listen: { host: '127.0.0.1', port },
      keys: { privateKey: 'vendor-key.pem', kek: 'kek.key' },
      database: 'data/vendor.db',
      routes: SERVE_ROUTES,
      upstream,
      upstreamTimeoutSeconds: 5,
      ...cfg,
    }),
  );
  const ac = new AbortController();
  const io = capture({ signal: ac.signal, ...(opts.env ? { env: opts.env } : {}) });
  const done = main(['serve', '--config', configFile], io);
  await until(() => io.stdout().includes('listening on') || /exit|cannot|config/.test(io.stderr()), 'serve to listen');
  if (!io.stdout().includes('listening on')) throw new Error(`serve did not start: ${io.stderr()}`);
  return {
    origin,
    port,
    dir,
    configFile,
    io,
    async stop() {
      ac.abort();
      return done;
    },
  };
}

interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/**
 * One request over a fresh connection, the request line and headers written exactly as given (any
 * spelling, duplicates, case), then the response read to the end (Connection: close).
 */
export function rawRequest(port: number, head: string, body: Uint8Array | string = '', opts: { timeoutMs?: number } = {}): Promise<RawResponse> {
  return new Promise((res, rej) => {
    const sock = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      sock.destroy();
      rej(new Error('no answer'));
    }, opts.timeoutMs ?? 10_000);
    sock.on('data', (c: Buffer) => chunks.push(c));
    sock.on('error', () => undefined);
    sock.on('close', () => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString('latin1');
      const m = /^HTTP\/1\.1 (\d{3})[^\r\n]*\r\n([\s\S]*?)\r\n\r\n([\s\S]*)$/.exec(text);
      if (!m) return res({ status: 0, headers: {}, body: text });
      const headers: Record<string, string> = {};
      for (const line of m[2]!.split('\r\n')) {
        const i = line.indexOf(':');
        if (i > 0) headers[line.slice(0, i).toLowerCase()] = line.slice(i + 1).trim();
      }
      res({ status: Number(m[1]), headers, body: m[3]! });
    });
    // No half-close after the request: Node's server drops an answer in progress when the client ends first.
    sock.write(head.replace(/\r?\n/g, '\r\n').replace(/(\r\n)*$/, '') + '\r\nConnection: close\r\n\r\n');
    sock.write(body);
  });
}

/** An HTTP/1.1 request through node:http with any path spelling and method (fetch normalizes paths). */
export function plainRequest(origin: string, method: string, path: string, headers: Record<string, string> = {}, body?: string): Promise<RawResponse> {
  return new Promise((res, rej) => {
    const u = new URL(origin);
    const req = httpRequest({ host: u.hostname, port: u.port, method, path, headers: { connection: 'close', ...headers } }, (r) => {
      const chunks: Buffer[] = [];
      r.on('data', (c: Buffer) => chunks.push(c));
      r.on('end', () => {
        const h: Record<string, string> = {};
        for (const [k, v] of Object.entries(r.headers)) if (typeof v === 'string') h[k] = v;
        res({ status: r.statusCode ?? 0, headers: h, body: Buffer.concat(chunks).toString('utf8') });
      });
    });
    req.on('error', rej);
    req.end(body);
  });
}
