/**
 * The vendor SDK's core: Web Request in, Web Response out, on the protocol core's vendor functions
 * and a Store. Framework adapters (hono.ts, express.ts, node-http.ts) only move bytes to and from it.
 */
import { b64u, fromUtf8, utf8 } from '../crypto/bytes.ts';
import { JanusError } from '../errors.ts';
import {
  buildDiscovery,
  errorResponse,
  HEADER,
  jsonBytes,
  openDelivery,
  parseAckRequest,
  parseChallengeRequest,
  parseCredential,
  parseDelivery,
  parseRotate,
  parseSkepConfirm,
  parseSkepHello,
  routeFor,
  sealAckRequired,
  sealDelivery,
  skepVendorConfirm,
  skepVendorHello,
  vendorAck,
  vendorChallenge,
  vendorRotate,
  verifyCredential,
  WELL_KNOWN,
  type ClientRecord,
  type DeliveryLevel,
  type HttpRequestMsg,
  type HttpResponseMsg,
  type JsonObject,
  type Level,
  type Route,
} from '../protocol/index.ts';
import { resolveConfig, type ResolvedConfig, type VendorConfig } from './config.ts';
import { fromRow, toRow } from './records.ts';
import type { ClientRow, Store } from './store.ts';
import { RateLimiter } from './rate-limit.ts';

/** What a protected handler learns about the verified client: never its key. */
export interface JanusClient {
  readonly alias: string;
  readonly gen: number;
  readonly data: JsonObject;
  readonly registeredAt: number;
  readonly validFrom: number;
  readonly validUntil: number | null;
  readonly chain: { readonly sub: string; readonly n: number; readonly delivered: number; readonly acked: number } | null;
}

export interface HandlerContext {
  readonly client: JanusClient;
  readonly level: Level;
  readonly method: string;
  readonly url: URL;
  /** The request's headers (lower-case names), as authenticated or sent alongside. */
  readonly headers: Readonly<Record<string, string>>;
  /** The media type of the decrypted body, if it had one. */
  readonly contentType: string | undefined;
  /** The decrypted request body. */
  readonly body: Uint8Array;
  text(): string;
  json<T = unknown>(): T;
}

/** A handler's answer with its media type and status, without building a Response. */
export class Reply {
  constructor(
    readonly body: string | Uint8Array,
    readonly init: { status?: number; contentType?: string; headers?: Record<string, string> } = {},
  ) {}
}

/** A Reply, a Response, or plain data the SDK serializes: string (text/plain), bytes, or JSON. */
export type HandlerResult = Reply | Response | string | Uint8Array | Record<string, unknown> | unknown[];
export type ProtectedHandler = (ctx: HandlerContext) => HandlerResult | Promise<HandlerResult>;

export interface RouteSpec {
  path: string;
  level: Level;
  methods?: readonly string[];
  /** Required for sddp / eddp / eddp+receipts; credential routes are the app's own pages. */
  handler?: ProtectedHandler;
}

export const PATHS = {
  skep: '/.janus/skep',
  confirm: '/.janus/skep/confirm',
  challenge: '/.janus/challenge',
  ack: '/.janus/ack',
  rotate: '/.janus/rotate',
} as const;

const JANUS_PATHS = new Set<string>([WELL_KNOWN, ...Object.values(PATHS)]);

export interface RequestInfo {
  /** The client's network address, for the SKEP rate limit. */
  address?: string;
  /**
   * The request's headers as Node's IncomingMessage has them (lower-case names): a Node adapter
   * passes them so that no Web Headers object is built for the request. Must be the same request's.
   */
  headers?: Readonly<Record<string, string | string[] | undefined>>;
}

/** One header from RequestInfo.headers (repeated fields joined as Headers.get would) or the Request. */
function headerOf(request: Request, info: RequestInfo, name: string): string | null {
  if (!info.headers) return request.headers.get(name);
  const v = info.headers[name];
  return v === undefined ? null : Array.isArray(v) ? v.join(', ') : v; // as nodeHeaders does, for one field
}

function publicClient(r: ClientRecord): JanusClient {
  return {
    alias: r.alias,
    gen: r.gen,
    data: r.data,
    registeredAt: r.registeredAt,
    validFrom: r.validFrom,
    validUntil: r.validUntil,
    chain: r.chain ? { sub: r.chain.sub, n: r.chain.n, delivered: r.chain.delivered, acked: r.chain.acked } : null,
  };
}

export class JanusVendor {
  readonly config: ResolvedConfig;
  readonly store: Store;
  private readonly routes: (Route & { handler?: ProtectedHandler })[] = [];
  private readonly limiter: RateLimiter;
  private readonly keyCache = new Map<string, Uint8Array>();
  /** Decoded records by stored row: a store that hands out the same row object (SqliteStore's cache) skips decoding. */
  private readonly records = new WeakMap<ClientRow, ClientRecord>();
  private readonly cleanupTimer: ReturnType<typeof setInterval>;

  constructor(config: VendorConfig, store: Store, routes: readonly RouteSpec[] = []) {
    this.config = resolveConfig(config);
    this.store = store;
    this.limiter = new RateLimiter(this.config.now);
    for (const r of routes) this.route(r);
    // Forget expired nonces, tokens and challenges once a minute (§6.2 step 9).
    this.cleanupTimer = setInterval(() => void this.store.cleanup(this.config.now()).catch(() => undefined), 60_000);
    this.cleanupTimer.unref?.();
  }

  /** Declares a route (and its handler for the protected levels); the discovery document lists it. */
  route(r: RouteSpec): this {
    if (!r.path.startsWith('/') || r.path.startsWith('//')) throw new JanusError('bad_input', `route path must start with one /: ${r.path}`);
    if (JANUS_PATHS.has(r.path)) throw new JanusError('bad_input', `${r.path} is reserved for Janus`);
    if (r.level !== 'credential' && !r.handler) throw new JanusError('bad_input', `a ${r.level} route needs a handler: ${r.path}`);
    this.routes.push({ path: r.path, methods: r.methods ? r.methods.map((m) => m.toUpperCase()) : null, level: r.level, ...(r.handler ? { handler: r.handler } : {}) });
    return this;
  }

  discovery(): JsonObject {
    const c = this.config;
    return buildDiscovery({
      origin: c.idV,
      spki: c.spkiB64u,
      fingerprint: c.fingerprint,
      window: c.vk.window,
      receipt: c.vk.receipt,
      routes: this.routes.map(({ path, methods, level }) => ({ path, methods, level })),
      ...(c.certificatePem ? { cert: c.certificatePem } : {}),
      ...(c.name ? { name: c.name } : {}),
      ...(c.subscription ? { subscription: c.subscription } : {}),
    });
  }

  /** True when `handle` answers this request (Janus endpoints and protected routes). */
  handles(request: Request): boolean {
    return this.answers(request.method, new URL(request.url).pathname);
  }

  /** True when requests with this method and path go to the vendor (`handle`/`handleMessage`), not the app. */
  answers(method: string, path: string): boolean {
    if (JANUS_PATHS.has(path)) return true;
    const r = routeFor(this.routes, path, method);
    return r !== null && r.level !== 'credential';
  }

  /**
   * Answers Janus endpoints and protected routes; returns null for anything else, so the caller's
   * app handles it. Bad input is always a 4xx with a stable code, never a 5xx.
   */
  async handle(request: Request, info: RequestInfo = {}): Promise<Response | null> {
    const url = new URL(request.url);
    if (!this.answers(request.method, url.pathname)) return null;
    const c = this.config;
    const known = { url, ...(info.headers ? { headers: info.headers } : {}) };
    return toResponse(await this.answer(request.method, url, info, () => readRequest(request, c.limits.maxBodyBytes, c.limits.maxHeaderBytes, c.idV, known)));
  }

  /**
   * `handle` on plain messages, without Web Request and Response objects: for Node adapters that
   * already hold the bytes. `msg.url` is the absolute URL as received, header names are lower-case,
   * and the body is read (its size is checked here too). Null when the app should answer.
   */
  async handleMessage(msg: HttpRequestMsg, info: RequestInfo = {}): Promise<HttpResponseMsg | null> {
    let url: URL;
    try {
      url = new URL(msg.url);
    } catch {
      throw new JanusError('bad_input', 'handleMessage needs an absolute URL');
    }
    if (!this.answers(msg.method, url.pathname)) return null;
    const c = this.config;
    return this.answer(msg.method, url, info, async () => checkMessage(msg, c.limits.maxBodyBytes, c.limits.maxHeaderBytes, c.idV, url));
  }

  private async answer(method: string, url: URL, info: RequestInfo, read: () => Promise<HttpRequestMsg>): Promise<HttpResponseMsg> {
    try {
      return await this.dispatch(method, url, info, read);
    } catch (e) {
      if (e instanceof JanusError && e.code !== 'internal') return errorResponse(e);
      // A bug or a storage failure: logged without request data (which could hold secrets).
      console.error(`janus: internal error on ${method} ${url.pathname}:`, e instanceof Error ? e.message : e);
      return errorResponse(new JanusError('internal'));
    }
  }

  /** The slot credential (§10): the registered client behind an ordinary request, or null. */
  async identify(request: Request, info: RequestInfo = {}): Promise<JanusClient | null> {
    const value = headerOf(request, info, HEADER.credential);
    if (!value) return null;
    try {
      const now = this.config.now();
      const p = parseCredential(value, now, this.config.vk.window);
      const row = await this.store.getClient(p.alias);
      if (!row || row.gen !== p.gen) return null;
      const record = this.record(row);
      verifyCredential(p, record.k, this.config.idV);
      return publicClient(record);
    } catch (e) {
      if (e instanceof JanusError) return null;
      throw e;
    }
  }

  async close(): Promise<void> {
    clearInterval(this.cleanupTimer);
    await this.store.close();
  }

  private record(row: ClientRow): ClientRecord {
    const known = this.records.get(row);
    if (known) return known;
    // Otherwise decrypting the stored key is still avoided by a small cache keyed by the ciphertext.
    const id = b64u.encode(row.keyEnc);
    const cached = this.keyCache.get(id);
    const r = fromRow(this.config.rk, row, cached);
    if (!cached) {
      if (this.keyCache.size > 10_000) this.keyCache.clear();
      this.keyCache.set(id, r.k);
    }
    this.records.set(row, r);
    return r;
  }

  private async load(alias: string): Promise<{ row: ClientRow; record: ClientRecord } | null> {
    const row = await this.store.getClient(alias);
    return row ? { row, record: this.record(row) } : null;
  }

  private async dispatch(rawMethod: string, url: URL, info: RequestInfo, read: () => Promise<HttpRequestMsg>): Promise<HttpResponseMsg> {
    const c = this.config;
    const vk = c.vk;
    const path = url.pathname;
    const method = rawMethod.toUpperCase();
    const now = c.now();

    if (path === WELL_KNOWN) {
      if (method !== 'GET' && method !== 'HEAD') throw new JanusError('malformed', 'use GET');
      return {
        status: 200,
        headers: { 'content-type': 'application/json', 'cache-control': 'max-age=300', 'access-control-allow-origin': '*' },
        body: jsonBytes(this.discovery()),
      };
    }

    const msg = await read();
    if (path !== WELL_KNOWN && method !== 'POST' && JANUS_PATHS.has(path)) throw new JanusError('malformed', `${path} takes POST`);

    switch (path) {
      case PATHS.skep: {
        const hello = parseSkepHello(msg);
        // The one costly step (an RSA decryption): rate-limited per address and per alias first.
        this.limiter.take(`addr:${info.address ?? 'unknown'}`, c.rateLimits.skepPerAddressPerMinute);
        this.limiter.take(`alias:${hello.alias}`, c.rateLimits.skepPerAliasPerMinute);
        const existing = await this.store.getClient(hello.alias);
        return skepVendorHello(vk, msg, hello, existing ? this.record(existing) : null, now);
      }
      case PATHS.confirm: {
        const confirm = parseSkepConfirm(vk, msg, now);
        const existing = await this.load(confirm.pending.alias);
        const out = await skepVendorConfirm(vk, msg, confirm, existing?.record ?? null, c.policy, now);
        await this.store.commit({ now, useOnce: out.useOnce, insert: toRow(c.rk, out.record, 1) });
        return out.response;
      }
      case PATHS.challenge: {
        const alias = parseChallengeRequest(msg);
        const loaded = await this.load(alias);
        return vendorChallenge(vk, alias, loaded?.record ?? null, now);
      }
      case PATHS.ack: {
        const { alias, ack } = parseAckRequest(msg);
        const loaded = await this.load(alias);
        const out = vendorAck(loaded?.record ?? null, ack, now);
        await this.store.commit({ now, update: toRow(c.rk, out.record, loaded!.row.version + 1) });
        return out.response;
      }
      case PATHS.rotate: {
        const parsed = parseRotate(vk, msg, now);
        const loaded = await this.load(parsed.alias);
        const out = await vendorRotate(vk, parsed, msg, loaded?.record ?? null, now);
        await this.store.commit({
          now,
          useOnce: out.useOnce,
          rename: { from: out.oldAlias, expectVersion: loaded!.row.version, row: toRow(c.rk, out.record, loaded!.row.version + 1) },
        });
        if (out.oldAlias !== out.record.alias && c.onRotate) {
          try {
            await c.onRotate(out.oldAlias, out.record.alias);
          } catch (e) {
            // The rotation is done and answered; the app's own bookkeeping failing must not undo it.
            console.error('janus: onRotate failed:', e instanceof Error ? e.message : e);
          }
        }
        return out.response;
      }
    }

    const route = routeFor(this.routes, path, method) as (Route & { handler?: ProtectedHandler }) | null;
    if (!route || route.level === 'credential') throw new JanusError('internal', 'no protected route');
    const level = route.level as DeliveryLevel;
    // msg.url is id_V + path + query of a parsed URL already (readRequest, checkMessage): not parsed again.
    const d = parseDelivery(vk, msg, level, now, c.limits.maxBodyBytes, msg.url);
    const loaded = await this.load(d.parsed.alias);
    const opened = await openDelivery(vk, d, msg, loaded?.record ?? null, now, c.limits.maxBodyBytes);
    // Verified, but the previous delivery is unacknowledged: a sealed 402, nothing stored (§11.2).
    if (opened.ackRequired) return sealAckRequired(vk, d, msg, opened, now);
    const changed = opened.record !== loaded!.record;
    const version = loaded!.row.version + 1;
    // Replay check, acknowledgement and delivery count are stored before the handler runs: the
    // paper's vendor checks, then delivers.
    await this.store.commit({ now, useOnce: opened.useOnce, ...(changed ? { update: toRow(c.rk, opened.record, version) } : {}) });
    let result: { status: number; contentType: string; body: Uint8Array; headers: Record<string, string> };
    try {
      result = await runHandler(route.handler!, {
        client: publicClient(opened.record),
        level,
        method,
        url,
        headers: msg.headers,
        contentType: opened.contentType,
        body: opened.plaintext,
        text: () => fromUtf8(opened.plaintext),
        json: <T>() => {
          try {
            return JSON.parse(fromUtf8(opened.plaintext)) as T;
          } catch {
            throw new JanusError('malformed', 'the request body is not JSON');
          }
        },
      });
    } catch (e) {
      if (level === 'eddp+receipts' && loaded!.record.chain) {
        // Nothing was delivered: give the delivery back so the client is not asked to acknowledge it.
        const back = { ...opened.record, chain: { ...opened.record.chain!, delivered: opened.record.chain!.delivered - 1 }, updatedAt: now };
        await this.store.commit({ now, update: toRow(c.rk, back, version + 1) }).catch(() => undefined);
      }
      throw e;
    }
    return sealDelivery(vk, d, msg, opened, result, now);
  }
}

async function runHandler(h: ProtectedHandler, ctx: HandlerContext): Promise<{ status: number; contentType: string; body: Uint8Array; headers: Record<string, string> }> {
  const r = await h(ctx);
  if (r instanceof Reply) {
    return {
      status: r.init.status ?? 200,
      contentType: r.init.contentType ?? (typeof r.body === 'string' ? 'text/plain; charset=utf-8' : 'application/octet-stream'),
      body: typeof r.body === 'string' ? utf8(r.body) : r.body,
      headers: r.init.headers ?? {},
    };
  }
  if (r instanceof Response) {
    const headers: Record<string, string> = {};
    // Only end-to-end entity headers travel inside the sealed response; framing headers are ours.
    for (const name of ['cache-control', 'content-language', 'last-modified', 'etag', 'vary']) {
      const v = r.headers.get(name);
      if (v) headers[name] = v;
    }
    return { status: r.status, contentType: r.headers.get('content-type') ?? 'application/octet-stream', body: new Uint8Array(await r.arrayBuffer()), headers };
  }
  if (typeof r === 'string') return { status: 200, contentType: 'text/plain; charset=utf-8', body: utf8(r), headers: {} };
  if (r instanceof Uint8Array) return { status: 200, contentType: 'application/octet-stream', body: r, headers: {} };
  return { status: 200, contentType: 'application/json', body: jsonBytes(r), headers: {} };
}

/** Web Request -> the protocol core's message, enforcing the size limits while reading. */
export async function readRequest(
  request: Request,
  maxBody: number,
  maxHeaders: number,
  idV: string,
  known: { url?: URL; headers?: RequestInfo['headers'] } = {},
): Promise<HttpRequestMsg> {
  let headers: Record<string, string>;
  if (known.headers) headers = nodeHeaders(known.headers);
  else {
    headers = {};
    request.headers.forEach((v, k) => {
      headers[k] = v;
    });
  }
  checkHeaderSize(headers, maxHeaders);
  const declared = Number(headers['content-length'] ?? '0');
  if (declared > maxBody) throw new JanusError('too_large', `request body exceeds ${maxBody} bytes`);
  let body = new Uint8Array(0);
  // Touching .body makes some adapters build a full Request: GET and HEAD have no body anyway.
  const method = request.method.toUpperCase();
  if (method !== 'GET' && method !== 'HEAD' && request.body) {
    const chunks: Uint8Array[] = [];
    let n = 0;
    const reader = request.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      n += value.length;
      if (n > maxBody) {
        await reader.cancel().catch(() => undefined);
        throw new JanusError('too_large', `request body exceeds ${maxBody} bytes`);
      }
      chunks.push(value);
    }
    body = new Uint8Array(n);
    let o = 0;
    for (const ch of chunks) {
      body.set(ch, o);
      o += ch.length;
    }
  }
  // The target URI is rebuilt from id_V: a proxy's Host header cannot change what is verified.
  const url = known.url ?? new URL(request.url);
  return { method, url: idV + url.pathname + url.search, headers, body };
}

/** Node's IncomingMessage headers as the protocol reads them: repeated fields joined as Headers.get would. */
export function nodeHeaders(raw: NonNullable<RequestInfo['headers']>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k in raw) {
    const v = raw[k];
    if (v !== undefined) out[k] = Array.isArray(v) ? v.join(', ') : v;
  }
  return out;
}

/** The header-size limit, counted as `name: value\r\n` per field. */
function checkHeaderSize(headers: Record<string, string>, maxHeaders: number): void {
  let total = 0;
  for (const k in headers) total += k.length + (headers[k]?.length ?? 0) + 4;
  if (total > maxHeaders) throw new JanusError('too_large', `request headers exceed ${maxHeaders} bytes`);
}

/** handleMessage's input checks: the limits readRequest applies while reading, and the URL from id_V. */
function checkMessage(msg: HttpRequestMsg, maxBody: number, maxHeaders: number, idV: string, url: URL): HttpRequestMsg {
  checkHeaderSize(msg.headers, maxHeaders);
  if (msg.body.length > maxBody) throw new JanusError('too_large', `request body exceeds ${maxBody} bytes`);
  return { method: msg.method.toUpperCase(), url: idV + url.pathname + url.search, headers: msg.headers, body: msg.body };
}

export function toResponse(m: HttpResponseMsg): Response {
  const status = m.status;
  // Fetch's null-body statuses take no body at all, not even an empty one (a bodiless Janus answer
  // carries its seal in Janus-Sealed).
  const body = status === 204 || status === 205 || status === 304 ? null : m.body;
  return new Response(body as BodyInit | null, { status, headers: m.headers });
}

export function createVendor(opts: { config: VendorConfig; store: Store; routes?: readonly RouteSpec[] }): JanusVendor {
  return new JanusVendor(opts.config, opts.store, opts.routes);
}
