/**
 * The reverse proxy behind `janus-vendor serve` (docs/CLI.md): a site adopts Janus without code
 * changes. The vendor answers the Janus endpoints and the protected routes; a protected route's
 * handler forwards the *decrypted* request to the site's own server (the upstream) and the SDK seals
 * the upstream's answer (docs/PROTOCOL.md §8, §9). Every other request goes to the upstream as is.
 *
 * The upstream learns who the client is from headers only this proxy sets:
 *   Janus-Client-Alias: <alias>
 *   Janus-Client:       b64u(JSON of the JanusClient: alias, gen, data, validity, chain; never K)
 *   Janus-Client-Level: sddp | eddp | eddp+receipts (a protected route) or credential (§10)
 *   Janus-Client-Delivery: sub.i.n on eddp+receipts: the delivery a 2xx answer will be (§11.2)
 * Any header arriving from outside that a server could read as one of these, or as X-Forwarded-*,
 * Forwarded or X-Real-IP (names compared without case and with `_` read as `-`, as WSGI and CGI
 * read them), is removed first, so the upstream can trust them as long as it is reachable only
 * through this proxy. Paths go upstream in the canonical form the vendor matched (§5.1).
 */
import { request as httpRequest, type IncomingMessage, type OutgoingHttpHeaders, type Server } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { Readable } from 'node:stream';
import { b64u, fromUtf8, utf8 } from '../crypto/bytes.ts';
import { JanusError } from '../errors.ts';
import { LIMITS, type Level } from '../protocol/index.ts';
import type { VendorConfig } from './config.ts';
import { JanusVendor, type HandlerContext, type JanusClient, type ProtectedHandler, type RouteSpec } from './core.ts';
import { ClientGoneError, createJanusServer, type Fallback } from './node-http.ts';
import type { Store } from './store.ts';

export const CLIENT_HEADER = {
  alias: 'janus-client-alias',
  client: 'janus-client',
  level: 'janus-client-level',
  delivery: 'janus-client-delivery',
} as const;

/** RFC 9110 §7.6.1: connection-specific fields, never forwarded (plus the obsolete ones still seen). */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'trailers',
  'transfer-encoding',
  'upgrade',
]);

export interface ProxyRoute {
  path: string;
  methods?: readonly string[];
  level: Level;
}

export interface UpstreamOptions {
  /** The site's own server, e.g. "http://127.0.0.1:3000" (a path prefix is kept). */
  upstream: string;
  /** How long the upstream may stay silent before the proxy gives up (504). Default 30 s. */
  timeoutMs?: number;
  /** Where upstream failures are reported (no request data). Default: console.error. */
  log?: (line: string) => void;
}

export interface ProxyOptions extends UpstreamOptions {
  config: VendorConfig;
  store: Store;
  routes: readonly ProxyRoute[];
}

/** The JanusClient as the upstream receives it in `Janus-Client`. */
export function encodeClient(c: JanusClient): string {
  return b64u.encode(utf8(JSON.stringify(c)));
}

/** For upstream apps (and tests): the `Janus-Client` header back to a JanusClient. */
export function decodeClient(value: string): JanusClient {
  return JSON.parse(fromUtf8(b64u.decode(value))) as JanusClient;
}

/** Checks an upstream URL: http(s), no query, no fragment. Returns it without a trailing slash. */
export function parseUpstream(upstream: string): URL {
  let u: URL;
  try {
    u = new URL(upstream);
  } catch {
    throw new JanusError('bad_input', `the upstream must be an absolute http:// or https:// URL, got ${upstream}`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new JanusError('bad_input', `the upstream must be http:// or https://, got ${u.protocol}`);
  if (u.search || u.hash) throw new JanusError('bad_input', 'the upstream URL must not have a query or a fragment');
  if (u.username || u.password) throw new JanusError('bad_input', 'the upstream URL must not carry credentials');
  u.pathname = u.pathname.replace(/\/+$/, '');
  return u;
}

function connectionTokens(value: string | null | undefined): Set<string> {
  return new Set(
    (value ?? '')
      .split(',')
      .map((s) => s.trim().toLowerCase())
      .filter(Boolean),
  );
}

/**
 * A header the upstream may trust because only this proxy sets it: the Janus-Client* headers, and
 * what says where a request came from. Compared as WSGI/CGI compare (`Janus_Client_Alias` is
 * HTTP_JANUS_CLIENT_ALIAS, like `Janus-Client-Alias`): case ignored, `_` read as `-`.
 */
export function isTrustedHeader(name: string): boolean {
  const n = name.toLowerCase().replace(/_/g, '-');
  return n.startsWith('janus-client') || n.startsWith('x-forwarded-') || n === 'forwarded' || n === 'x-real-ip';
}

/**
 * The headers of an incoming request as they may go upstream: no hop-by-hop headers, none the
 * Connection header names, no Host (the upstream's own is used), and never a trusted header
 * (isTrustedHeader) from outside: anyone could send one.
 */
export function forwardableHeaders(incoming: Headers): Headers {
  const named = connectionTokens(incoming.get('connection'));
  const out = new Headers();
  incoming.forEach((value, name) => {
    if (HOP_BY_HOP.has(name) || named.has(name) || name === 'host' || isTrustedHeader(name)) return;
    out.append(name, value);
  });
  return out;
}

function setClient(h: Headers, client: JanusClient, level: Level): void {
  h.set(CLIENT_HEADER.alias, client.alias);
  h.set(CLIENT_HEADER.client, encodeClient(client));
  h.set(CLIENT_HEADER.level, level);
}

/**
 * Where the request came to and from, as this proxy knows it: the vendor's origin (id_V, never the
 * client's Host header) and the client's address (the TCP peer, or per `trustProxy`).
 */
function setForwarded(h: Headers, origin: URL, address: string | undefined): void {
  h.set('x-forwarded-host', origin.host);
  h.set('x-forwarded-proto', origin.protocol.slice(0, -1));
  if (address) h.set('x-forwarded-for', address);
}

class UpstreamError extends Error {
  constructor(
    readonly status: 502 | 504,
    message: string,
  ) {
    super(message);
  }
}

function toNodeHeaders(h: Headers): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  h.forEach((v, k) => {
    out[k] = v;
  });
  return out;
}

/** One request to the upstream over node:http(s): no decompression, no header rewriting behind our back. */
function send(target: URL, method: string, headers: Headers, body: Uint8Array | Readable | null, timeoutMs: number): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const fn = target.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = fn(target, { method, headers: toNodeHeaders(headers), timeout: timeoutMs }, resolve);
    let clientGone = false;
    req.on('timeout', () => req.destroy(new UpstreamError(504, `no answer within ${timeoutMs} ms`)));
    // An upload the client abandoned is not the upstream's failure: nothing to answer or log.
    req.on('error', (e) => reject(clientGone ? new ClientGoneError() : e instanceof UpstreamError ? e : new UpstreamError(502, (e as NodeJS.ErrnoException).code ?? e.message)));
    if (body instanceof Uint8Array) req.end(body);
    else if (body) {
      body.on('error', (e) => {
        clientGone = true;
        req.destroy(e);
      });
      body.pipe(req);
    } else req.end();
  });
}

/** The upstream's response headers, less the hop-by-hop ones. */
function responseHeaders(res: IncomingMessage): Headers {
  const named = connectionTokens(res.headers.connection);
  const h = new Headers();
  const raw = res.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    if (HOP_BY_HOP.has(name) || named.has(name)) continue;
    h.append(name, raw[i + 1]!);
  }
  return h;
}

function nullBodyStatus(status: number): boolean {
  return status === 204 || status === 205 || status === 304;
}

function checkStatus(res: IncomingMessage): number {
  const status = res.statusCode ?? 0;
  if (status < 200 || status > 599) {
    res.resume();
    throw new UpstreamError(502, `answered with status ${status}`);
  }
  return status;
}

async function readCapped(res: IncomingMessage, max: number): Promise<Uint8Array<ArrayBuffer>> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const chunk of res as AsyncIterable<Buffer>) {
    n += chunk.length;
    if (n > max) {
      res.destroy();
      throw new UpstreamError(502, `response larger than ${max} bytes`);
    }
    chunks.push(chunk);
  }
  return new Uint8Array(Buffer.concat(chunks, n));
}

function gatewayError(e: UpstreamError): Response {
  const text = e.status === 504 ? 'gateway timeout: the site did not answer in time\n' : 'bad gateway: the site could not be reached\n';
  return new Response(text, { status: e.status, headers: { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' } });
}

/** The proxy's vendor (a subclass kept so that operators' code typed against it keeps working). */
export class ProxyVendor extends JanusVendor {}

function targetOf(base: URL, url: URL): URL {
  // Concatenated after the origin, so a path like "//evil.example/x" stays on the upstream's host.
  return new URL(base.origin + base.pathname.replace(/\/+$/, '') + url.pathname + url.search);
}

/** The handler of every protected route: the decrypted request to the upstream, its answer back (sealed by the SDK). */
export function upstreamHandler(opts: UpstreamOptions): ProtectedHandler {
  const base = parseUpstream(opts.upstream);
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const log = opts.log ?? ((s: string) => console.error(s));
  return async (ctx: HandlerContext) => {
    const headers = new Headers();
    // The decrypted body's media type is the outer request's Content-Type (§6.1).
    if (ctx.body.length > 0) headers.set('content-type', ctx.contentType ?? 'application/octet-stream');
    if (ctx.body.length > 0 || (ctx.method !== 'GET' && ctx.method !== 'HEAD')) headers.set('content-length', String(ctx.body.length));
    setForwarded(headers, ctx.url, ctx.address);
    setClient(headers, ctx.client, ctx.level);
    if (ctx.delivery) headers.set(CLIENT_HEADER.delivery, `${ctx.delivery.sub}.${ctx.delivery.i}.${ctx.delivery.n}`);
    const target = targetOf(base, ctx.url);
    try {
      const res = await send(target, ctx.method, headers, ctx.body.length > 0 ? ctx.body : null, timeoutMs);
      const status = checkStatus(res);
      const body = await readCapped(res, LIMITS.responsePlaintext);
      return new Response(nullBodyStatus(status) ? null : body, { status, headers: responseHeaders(res) });
    } catch (e) {
      if (!(e instanceof UpstreamError)) throw e;
      log(`janus-vendor: upstream ${ctx.method} ${ctx.url.pathname}: ${e.message}`);
      // A typed error, sealed by the SDK like any answer to a verified request: on a receipt route
      // it is no delivery, so nothing is counted (§11.2).
      throw new JanusError('upstream_unavailable', e.status === 504 ? 'the site did not answer in time' : 'the site could not be reached, or answered unusably');
    }
  };
}

/** The fallback for every request that is not Janus's: to the upstream as is, with the verified client (if any). */
export function upstreamFallback(opts: UpstreamOptions & { origin: string }): Fallback {
  const base = parseUpstream(opts.upstream);
  const origin = new URL(opts.origin);
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const log = opts.log ?? ((s: string) => console.error(s));
  return async (request, client, info) => {
    const url = new URL(request.url);
    const headers = forwardableHeaders(request.headers);
    setForwarded(headers, origin, info?.address);
    if (client) setClient(headers, client, 'credential');
    const method = request.method.toUpperCase();
    const body = request.body && method !== 'GET' && method !== 'HEAD' ? Readable.fromWeb(request.body as import('node:stream/web').ReadableStream) : null;
    // A body that is not passed on must not be announced either: the upstream would read the
    // proxy's next request on that pooled connection as its rest (a desync another client pays for).
    if (!body) headers.delete('content-length');
    try {
      const res = await send(targetOf(base, url), method, headers, body, timeoutMs);
      const status = checkStatus(res);
      if (nullBodyStatus(status) || method === 'HEAD') {
        res.resume();
        return new Response(null, { status, statusText: res.statusMessage ?? '', headers: responseHeaders(res) });
      }
      return new Response(Readable.toWeb(res) as ReadableStream<Uint8Array>, { status, statusText: res.statusMessage ?? '', headers: responseHeaders(res) });
    } catch (e) {
      if (!(e instanceof UpstreamError)) throw e;
      log(`janus-vendor: upstream ${method} ${url.pathname}: ${e.message}`);
      return gatewayError(e);
    }
  };
}

/** The route specs of a proxy: protected levels get the upstream handler, credential routes none. */
export function proxyRoutes(routes: readonly ProxyRoute[], opts: UpstreamOptions): RouteSpec[] {
  const handler = upstreamHandler(opts);
  return routes.map((r) => ({
    path: r.path,
    level: r.level,
    ...(r.methods ? { methods: r.methods } : {}),
    ...(r.level === 'credential' ? {} : { handler }),
  }));
}

/** A vendor and an (unstarted) node:http server that proxies to the upstream. */
export function createProxy(opts: ProxyOptions): { vendor: ProxyVendor; server: Server } {
  const upstream = { upstream: opts.upstream, ...(opts.timeoutMs ? { timeoutMs: opts.timeoutMs } : {}), ...(opts.log ? { log: opts.log } : {}) };
  const vendor = new ProxyVendor(opts.config, opts.store, proxyRoutes(opts.routes, upstream));
  const server = createJanusServer(vendor, upstreamFallback({ ...upstream, origin: vendor.config.idV }));
  return { vendor, server };
}
