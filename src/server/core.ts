/**
 * The vendor SDK's core: a request's head (method, target, headers) and a way to read its body in,
 * a response out, on the protocol core's vendor functions and a Store. Framework adapters (hono.ts,
 * express.ts, node-http.ts) only move bytes to and from it.
 *
 * Every check that needs no key runs on the head alone (docs/PROTOCOL.md §6.2 steps 1-6), so a body
 * is read only for a well-formed request that names a client in good standing, and the bytes held
 * by bodies not yet verified are bounded for the whole vendor (`limits.unverifiedBodyBytes`).
 */
import { b64u, concat, fromUtf8, utf8 } from '../crypto/bytes.ts';
import { JanusError } from '../errors.ts';
import {
  assertInGoodStanding,
  assertRecord,
  buildDiscovery,
  checkSkepHello,
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
  RouteTable,
  isCanonicalRoutePath,
  countDelivery,
  sealDelivery,
  sealDeliveryError,
  sealRefusal,
  sealRotateRefusal,
  skepVendorFinish,
  skepVendorHello,
  skepVendorVerify,
  splitTarget,
  canonicalPath,
  vendorAck,
  vendorChallenge,
  vendorRotateFinish,
  vendorRotateVerify,
  verifyCredential,
  WELL_KNOWN,
  DEFAULT_PATHS,
  LIMITS,
  type ClientRecord,
  type DeliveryLevel,
  type HttpRequestMsg,
  type HttpResponseMsg,
  type JsonObject,
  type Level,
  type ReceiptMark,
  type Route,
} from '../protocol/index.ts';
import { plainAddress, resolveConfig, type ResolvedConfig, type VendorConfig } from './config.ts';
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
  /** The verified client as stored: on eddp+receipts, `chain.delivered` counts the deliveries made before this one. */
  readonly client: JanusClient;
  /**
   * eddp+receipts: the delivery a 2xx answer from this handler will be (`i` = delivered + 1), counted
   * only with that answer (docs/PROTOCOL.md §11.2); any other answer counts nothing. Null on other levels.
   */
  readonly delivery: { readonly sub: string; readonly i: number; readonly n: number } | null;
  readonly level: Level;
  readonly method: string;
  /** id_V and the request's canonical path and query (§5.1): what the route matched. */
  readonly url: URL;
  /** The request's headers (lower-case names), as authenticated or sent alongside. */
  readonly headers: Readonly<Record<string, string>>;
  /** The media type the body was sealed with (§6.4), if it had a body. */
  readonly contentType: string | undefined;
  /** The decrypted request body. */
  readonly body: Uint8Array;
  /** The client's network address: the TCP peer, or what a trusted proxy said (`trustProxy`). */
  readonly address: string | undefined;
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

/** A protected route the app serves (JanusVendor.protect): what the per-route middleware checks each request against. */
export interface ProtectedRoute {
  readonly path: string;
  readonly level: DeliveryLevel;
}

export interface RouteSpec {
  path: string;
  level: Level;
  methods?: readonly string[];
  /** Required for sddp / eddp / eddp+receipts; credential routes are the app's own pages. */
  handler?: ProtectedHandler;
}

/** The vendor's Janus endpoints: the spec's default paths, which its discovery document names (§5). */
export const PATHS = DEFAULT_PATHS;

const JANUS_PATHS = new Set<string>([WELL_KNOWN, ...Object.values(PATHS)]);
const EMPTY = new Uint8Array(0);

export interface RequestInfo {
  /** The TCP peer's address (the client, or the proxy in front of the vendor: see `trustProxy`). */
  address?: string;
  /**
   * The request's headers as Node's IncomingMessage has them (lower-case names): a Node adapter
   * passes them so that no Web Headers object is built for the request. Must be the same request's.
   */
  headers?: Readonly<Record<string, string | string[] | undefined>>;
  /** The request-target exactly as received (`req.url` on Node), for path matching (§5.1). */
  target?: string;
  /**
   * The app's own handler for a protected route declared with `protect` (the adapters' per-route
   * middleware): run, like a route's handler, once the request verified and was recorded.
   */
  downstream?: ProtectedHandler;
}

/** A request before its body is read. */
export interface RequestHead {
  method: string;
  /** The request-target as received: origin-form `/p?q`, absolute-form, or `*`. */
  target: string;
  /** Lower-case names; repeated fields joined with ", ". */
  headers: Record<string, string>;
}

/**
 * Reads the request body: at most `max` bytes (else `too_large`), each byte charged to `lease`
 * (`overloaded` when the vendor's budget for unverified bodies is spent). A body that stops
 * arriving (the client went away) is `malformed`, never an internal error.
 */
export type BodyReader = (max: number, lease: BodyLease) => Promise<Uint8Array>;

/** The vendor-wide budget of bytes held by request bodies whose MAC has not been checked yet. */
export class BodyBudget {
  private used = 0;
  constructor(readonly max: number) {}
  get held(): number {
    return this.used;
  }
  take(n: number): boolean {
    if (this.used + n > this.max) return false;
    this.used += n;
    return true;
  }
  give(n: number): void {
    this.used = Math.max(0, this.used - n);
  }
}

/** One request's share of the BodyBudget, given back once its body is verified (or the request ends). */
export class BodyLease {
  private held = 0;
  constructor(private readonly budget: BodyBudget | null) {}
  /** Holds `total` bytes for this request in all (only the growth is taken). */
  ensure(total: number): void {
    if (!this.budget || total <= this.held) return;
    if (!this.budget.take(total - this.held)) throw new JanusError('overloaded', undefined, { retry_after: 1 });
    this.held = total;
  }
  release(): void {
    this.budget?.give(this.held);
    this.held = 0;
  }
}

/**
 * Reads a body from chunks (a Node IncomingMessage or a Web ReadableStream), bounded by `max` and the
 * lease. The bytes are copied out of the chunks: a socket's chunk may be a small view of a larger
 * read buffer, and holding views would hold those buffers (several times what the lease counts).
 */
export async function readChunks(chunks: AsyncIterable<Uint8Array>, declared: string | undefined, max: number, lease: BodyLease, cancel?: () => void): Promise<Uint8Array> {
  let body: Uint8Array | null = null;
  if (declared !== undefined) {
    if (!/^\d{1,15}$/.test(declared.trim())) throw new JanusError('malformed', 'bad Content-Length');
    const n = Number(declared);
    if (n > max) throw new JanusError('too_large', `request body exceeds ${max} bytes`);
    lease.ensure(n);
    body = new Uint8Array(n);
  }
  const parts: Uint8Array[] = [];
  let n = 0;
  try {
    for await (const chunk of chunks) {
      if (n + chunk.length > (body ? body.length : max)) {
        cancel?.();
        throw new JanusError('too_large', `request body exceeds ${body ? body.length : max} bytes`);
      }
      if (body) body.set(chunk, n);
      else {
        lease.ensure(n + chunk.length);
        parts.push(chunk.slice());
      }
      n += chunk.length;
    }
  } catch (e) {
    if (e instanceof JanusError) throw e;
    // The client stopped sending (a reset, an aborted upload): its fault, not ours, and not logged.
    throw new JanusError('malformed', 'the request body was cut off');
  }
  if (body) return n === body.length ? body : body.subarray(0, n);
  return parts.length === 1 ? parts[0]! : concat(...parts);
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

type RouteEntry = Route & { handler?: ProtectedHandler };

/** Where a request goes (§5.1), decided on its method and target alone. */
export type Classified =
  /** The site's own request: `url` is id_V + the canonical path and query, what to pass on. */
  | { readonly kind: 'app'; readonly url: URL }
  /** Refused before anything is read: 400 for an ambiguous or unusable target, 405 for an unlisted method. */
  | { readonly kind: 'refused'; readonly error: JanusError }
  /** Answered without the vendor's state (`OPTIONS *`). */
  | { readonly kind: 'reply'; readonly message: HttpResponseMsg }
  /**
   * A Janus endpoint (`route` null) or a protected route. `signed` is the @target-uri the client
   * signed (§6.1: id_V + the path and query as a URL parser reads them), `url` the canonical one.
   */
  | { readonly kind: 'janus'; readonly path: string; readonly route: RouteEntry | null; readonly signed: string; readonly url: URL };

export class JanusVendor {
  readonly config: ResolvedConfig;
  readonly store: Store;
  private readonly routes: RouteEntry[] = [];
  private table: RouteTable<RouteEntry>;
  /** SKEP message 1 per address and per alias, rotations per alias, verified requests per client (§15). */
  private readonly limits: { address: RateLimiter; alias: RateLimiter; rotate: RateLimiter; client: RateLimiter };
  /** Bytes held by request bodies not yet verified, all requests together. */
  readonly bodyBudget: BodyBudget;
  /** SKEP message 3 in progress per alias (and its token): a concurrent copy is refused before the receipt is signed. */
  private readonly confirming = new Map<string, string>();
  /** eddp+receipts deliveries in progress per alias: a concurrent one is refused before it is recorded (§11.2). */
  private readonly delivering = new Set<string>();
  private readonly keyCache = new Map<string, Uint8Array>();
  /** Decoded records by stored row: a store that hands out the same row object (SqliteStore's cache) skips decoding. */
  private readonly records = new WeakMap<ClientRow, ClientRecord>();
  private readonly cleanupTimer: ReturnType<typeof setInterval>;

  constructor(config: VendorConfig, store: Store, routes: readonly RouteSpec[] = []) {
    this.config = resolveConfig(config);
    this.store = store;
    const now = this.config.now;
    this.limits = { address: new RateLimiter(now), alias: new RateLimiter(now), rotate: new RateLimiter(now), client: new RateLimiter(now) };
    this.bodyBudget = new BodyBudget(this.config.limits.unverifiedBodyBytes);
    this.table = new RouteTable([], { caseSensitive: this.config.caseSensitivePaths });
    for (const r of routes) this.route(r);
    // Forget expired nonces, tokens and challenges once a minute (§6.2 step 9).
    this.cleanupTimer = setInterval(() => void this.store.cleanup(this.config.now()).catch(() => undefined), 60_000);
    this.cleanupTimer.unref?.();
  }

  /**
   * Declares a route; the discovery document lists it. A protected level needs its handler here:
   * the SDK answers the route itself (what `janus-vendor serve` does). Routes the app serves are
   * declared by the adapters' per-route middleware (`protect`).
   */
  route(r: RouteSpec): this {
    if (r.level !== 'credential' && !r.handler) throw new JanusError('bad_input', `a ${r.level} route needs a handler here, or the app serves it behind its framework adapter's per-route middleware, which declares it (docs/VENDOR.md): ${r.path}`);
    const methods = this.routeMethods(r.path, r.methods);
    this.routes.push({ path: r.path, methods, level: r.level, ...(r.handler ? { handler: r.handler } : {}) });
    this.table = new RouteTable(this.routes, { caseSensitive: this.config.caseSensitivePaths });
    return this;
  }

  /**
   * Declares a protected route the app serves with its own handler, behind an adapter's per-route
   * middleware (`janus.sddp(path)`, docs/VENDOR.md). The middleware declares it when it is made, so
   * a route the middleware protects is in the discovery document before the first request. The
   * same path and level again adds its methods; the path at another level, or one the SDK answers
   * with a handler of its own, is `bad_input`.
   */
  protect(r: { path: string; level: DeliveryLevel; methods?: readonly string[] | undefined }): ProtectedRoute {
    if (r.level !== 'sddp' && r.level !== 'eddp' && r.level !== 'eddp+receipts') throw new JanusError('bad_input', `a protected route's level is sddp, eddp or eddp+receipts, got ${String(r.level)}`);
    const methods = this.routeMethods(r.path, r.methods);
    const fold = (p: string) => (this.config.caseSensitivePaths ? p : p.toLowerCase());
    const i = this.routes.findIndex((e) => e.level !== 'credential' && fold(e.path) === fold(r.path));
    const known = i >= 0 ? this.routes[i]! : null;
    if (known && (known.handler || known.level !== r.level)) {
      throw new JanusError('bad_input', `${r.path} is already protected ${known.handler ? 'by a handler given to createVendor' : `at ${known.level}`}; one path has one level`);
    }
    const entry = {
      path: known?.path ?? r.path,
      level: r.level,
      methods: known ? (known.methods === null || methods === null ? null : [...new Set([...known.methods, ...methods])]) : methods,
    };
    if (known) this.routes[i] = entry;
    else this.routes.push(entry);
    this.table = new RouteTable(this.routes, { caseSensitive: this.config.caseSensitivePaths });
    return { path: entry.path, level: entry.level };
  }

  /** A route's path checked (§5.1: canonical, one meaning to every server) and its methods upper-cased; null: all methods. */
  private routeMethods(path: string, list: readonly string[] | undefined): string[] | null {
    if (typeof path !== 'string' || !path.startsWith('/') || path.startsWith('//')) throw new JanusError('bad_input', `route path must start with one /: ${String(path)}`);
    if (JANUS_PATHS.has(path)) throw new JanusError('bad_input', `${path} is reserved for Janus`);
    if (!isCanonicalRoutePath(path)) throw new JanusError('bad_input', `route path must be spelled plainly (no %-escape of a letter or digit, no . or .. segment, no //, ;, \\ or %2F): ${path}`);
    const methods = list ? list.map((m) => m.toUpperCase()) : null;
    if (methods && (methods.length === 0 || !methods.every((m) => /^[A-Z]{1,16}$/.test(m)))) throw new JanusError('bad_input', `route methods must be HTTP method names: ${path}`);
    return methods;
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

  /**
   * §5.1: where a request goes, on its method and its request-target as received. Protected paths
   * are matched on their canonical form; a spelling that servers read differently is refused when
   * one reading names a protected route, and so is a method the protected route does not list.
   */
  classify(method: string, target: string): Classified {
    const idV = this.config.idV;
    const split = splitTarget(target);
    if (!split) {
      // RFC 9110 §9.3.7: OPTIONS * asks about the server, not a resource.
      if (target === '*' && method.toUpperCase() === 'OPTIONS') return { kind: 'reply', message: { status: 204, headers: { 'cache-control': 'no-store' }, body: EMPTY } };
      return { kind: 'refused', error: new JanusError('malformed', 'the request-target must be a path') };
    }
    let signed: URL;
    let url: URL;
    try {
      signed = new URL(idV + split.path + split.query);
      const canonical = canonicalPath(split.path);
      url = canonical === split.path ? signed : new URL(idV + canonical + split.query);
    } catch {
      return { kind: 'refused', error: new JanusError('malformed', 'the request-target is not a URL path') };
    }
    const m = this.table.match(split.path, method);
    const path = url.pathname;
    if (JANUS_PATHS.has(path)) return { kind: 'janus', path, route: null, signed: idV + signed.pathname + signed.search, url };
    switch (m.verdict.kind) {
      case 'protected':
        return { kind: 'janus', path, route: m.verdict.route, signed: idV + signed.pathname + signed.search, url };
      case 'method_not_allowed':
        return { kind: 'refused', error: new JanusError('method_not_allowed', `${method.toUpperCase()} is not allowed on this protected path`, { allow: m.verdict.allow }) };
      case 'ambiguous':
        return { kind: 'refused', error: new JanusError('malformed', 'the path is spelled ambiguously (an encoded / or \\, a ;, an empty segment): spell it plainly') };
      default:
        return { kind: 'app', url };
    }
  }

  /** True when `handle` answers this request (Janus endpoints, protected routes and refusals). */
  handles(request: Request): boolean {
    const u = new URL(request.url);
    return this.answers(request.method, u.pathname + u.search);
  }

  /** True when requests with this method and target go to the vendor (`handle`/`handleMessage`), not the app. */
  answers(method: string, target: string): boolean {
    return this.classify(method, target).kind !== 'app';
  }

  /**
   * The client's address for the rate limits: the TCP peer, or with `trustProxy` the address the
   * trusted proxies wrote (`hops` from the right of their header).
   */
  clientAddress(peer: string | undefined, header: (name: string) => string | null | undefined): string | undefined {
    const t = this.config.trustProxy;
    if (!t) return peer;
    if (t.from && (!peer || !t.from.has(plainAddress(peer)))) return peer;
    const v = header(t.header);
    if (!v) return peer;
    const list = v.split(',').map((s) => s.trim()).filter(Boolean);
    const pick = list[Math.max(0, list.length - t.hops)];
    return pick && pick.length <= 64 && /^[0-9A-Za-z:.[\]%_-]+$/.test(pick) ? plainAddress(pick) : peer;
  }

  /**
   * Answers Janus endpoints and protected routes (and refuses what §5.1 refuses); returns null for
   * anything else, so the caller's app handles it. Bad input is always a 4xx with a stable code.
   */
  async handle(request: Request, info: RequestInfo = {}): Promise<Response | null> {
    const u = new URL(request.url);
    const head: RequestHead = { method: request.method, target: info.target ?? u.pathname + u.search, headers: {} };
    const c = this.classify(head.method, head.target);
    if (c.kind === 'app') return null;
    if (info.headers) head.headers = nodeHeaders(info.headers);
    else request.headers.forEach((v, k) => void (head.headers[k] = v));
    const read: BodyReader = async (max, lease) => {
      const method = head.method.toUpperCase();
      // Touching .body makes some adapters build a full Request: GET and HEAD have no body anyway.
      if (method === 'GET' || method === 'HEAD' || !request.body) return EMPTY;
      const stream = request.body;
      return readChunks(stream as unknown as AsyncIterable<Uint8Array>, head.headers['content-length'], max, lease, () => void stream.cancel().catch(() => undefined));
    };
    return toResponse(await this.answer(c, head, info, read));
  }

  /**
   * `handle` on plain messages, without Web Request and Response objects: for callers that
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
    const head: RequestHead = { method: msg.method, target: info.target ?? url.pathname + url.search, headers: msg.headers };
    return this.handleHead(head, info, async (max) => {
      if (msg.body.length > max) throw new JanusError('too_large', `request body exceeds ${max} bytes`);
      return msg.body;
    });
  }

  /** The core of every adapter: a request's head, and its body read only when the head passed (§6.2 steps 1-6). Null: the app's. */
  async handleHead(head: RequestHead, info: RequestInfo, read: BodyReader): Promise<HttpResponseMsg | null> {
    const c = this.classify(head.method, head.target);
    if (c.kind === 'app') return null;
    return this.answer(c, head, info, read);
  }

  private async answer(c: Exclude<Classified, { kind: 'app' }>, head: RequestHead, info: RequestInfo, read: BodyReader): Promise<HttpResponseMsg> {
    const lease = new BodyLease(this.bodyBudget);
    try {
      if (c.kind === 'refused') throw c.error;
      if (c.kind === 'reply') return c.message;
      checkHeaderSize(head.headers, this.config.limits.maxHeaderBytes);
      return await this.dispatch(c, head, info, lease, (max) => read(max, lease));
    } catch (e) {
      if (e instanceof JanusError && e.code !== 'internal') return errorResponse(e);
      // A bug or a storage failure: logged without request data (which could hold secrets).
      const where = c.kind === 'janus' ? c.path : '';
      console.error(`janus: internal error on ${head.method} ${where}:`, e instanceof Error ? e.message : e);
      return errorResponse(new JanusError('internal'));
    } finally {
      lease.release();
    }
  }

  /** The slot credential (§10): the registered client behind an ordinary request, or null. */
  async identify(request: Request, info: RequestInfo = {}): Promise<JanusClient | null> {
    const value = headerOf(request, info, HEADER.credential);
    if (!value) return null;
    try {
      const now = this.config.now();
      const p = parseCredential(value, now, this.config.vk.window);
      // Fresh: nothing is committed here that could catch a key rotated on another instance meanwhile.
      const row = await this.store.getClient(p.alias, { fresh: true });
      if (!row || row.gen !== p.gen) return null;
      const record = this.record(row);
      // §10: a client whose subscription is not valid now is a visitor like any other.
      assertInGoodStanding(record, now);
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

  private async dispatch(
    c: Extract<Classified, { kind: 'janus' }>,
    head: RequestHead,
    info: RequestInfo,
    lease: BodyLease,
    read: (max: number) => Promise<Uint8Array>,
  ): Promise<HttpResponseMsg> {
    const cfg = this.config;
    const vk = cfg.vk;
    const path = c.path;
    const method = head.method.toUpperCase();
    const now = cfg.now();
    const msg = (body: Uint8Array): HttpRequestMsg => ({ method, url: c.signed, headers: head.headers, body });
    const address = () => this.clientAddress(info.address, (n) => head.headers[n]);

    if (path === WELL_KNOWN) {
      if (method !== 'GET' && method !== 'HEAD') throw new JanusError('malformed', 'use GET');
      return {
        status: 200,
        headers: { 'content-type': 'application/json', 'cache-control': 'max-age=300', 'access-control-allow-origin': '*' },
        body: jsonBytes(this.discovery()),
      };
    }
    if (!c.route && method !== 'POST') throw new JanusError('malformed', `${path} takes POST`);

    switch (c.route ? null : path) {
      case PATHS.skep: {
        const m1 = msg(await read(LIMITS.skepHello));
        const hello = parseSkepHello(m1);
        const existing = await this.store.getClient(hello.alias);
        // §7.1: every cheap check first, so that only requests that could be served count against
        // the limits; then the address, then the alias; then the one costly step (RSA).
        checkSkepHello(vk, hello, existing ? this.record(existing) : null, now);
        this.limits.address.take(`addr:${address() ?? 'unknown'}`, cfg.rateLimits.skepPerAddressPerMinute);
        this.limits.alias.take(hello.alias, cfg.rateLimits.skepPerAliasPerMinute);
        lease.release();
        return skepVendorHello(vk, m1, hello, null, now);
      }
      case PATHS.confirm: {
        const confirm = parseSkepConfirm(vk, msg(EMPTY), now);
        const alias = confirm.pending.alias;
        if (await this.store.getClient(alias)) throw new JanusError('already_registered');
        const m3 = msg(await read(LIMITS.skepConfirm + 1024));
        const verified = await skepVendorVerify(vk, m3, confirm, null, cfg.policy, now);
        lease.release();
        // A concurrent copy (the same token, or another registration of this alias) is refused
        // before the receipt is signed: one RSA-PSS signature per registration (§7.3).
        const token = verified.useOnce[1]!.key;
        const busy = this.confirming.get(alias);
        if (busy !== undefined) throw new JanusError(busy === token ? 'replayed' : 'conflict');
        this.confirming.set(alias, token);
        try {
          if (await this.store.getClient(alias)) throw new JanusError('already_registered'); // finished meanwhile
          const out = await skepVendorFinish(vk, verified, now);
          await this.store.commit({ now, useOnce: verified.useOnce, insert: toRow(cfg.rk, out.record, 1) });
          return out.response;
        } finally {
          this.confirming.delete(alias);
        }
      }
      case PATHS.challenge: {
        const alias = parseChallengeRequest(msg(EMPTY));
        const loaded = await this.load(alias);
        return vendorChallenge(vk, alias, loaded?.record ?? null, now);
      }
      case PATHS.ack: {
        const { alias, ack } = parseAckRequest(msg(EMPTY));
        const loaded = await this.load(alias);
        const out = vendorAck(loaded?.record ?? null, ack, now);
        await this.store.commit({ now, update: toRow(cfg.rk, out.record, loaded!.row.version + 1) });
        return out.response;
      }
      case PATHS.rotate: {
        const parsed = parseRotate(vk, msg(EMPTY), now);
        const loaded = await this.load(parsed.alias);
        assertRecord(loaded?.record ?? null, parsed.gen);
        this.limits.rotate.take(parsed.alias, cfg.rateLimits.rotatePerAliasPerMinute);
        const req = msg(await read(64 * 1024));
        const verified = await vendorRotateVerify(vk, parsed, req, loaded!.record);
        lease.release();
        const expectKey = { alias: parsed.alias, gen: parsed.gen };
        if (verified.outcome === 'ack_required') {
          // §13: the old chain has a delivery waiting for its acknowledgement. The nonce and any
          // acknowledgement the request carried are stored, no RSA work is done, and the refusal is
          // sealed under the old key.
          const changed = verified.record !== loaded!.record;
          await this.store.commit({ now, useOnce: verified.useOnce, expectKey, ...(changed ? { update: toRow(cfg.rk, { ...verified.record, updatedAt: now }, loaded!.row.version + 1) } : {}) });
          return sealRotateRefusal(verified);
        }
        // §13: the nonce is spent before the RSA decryption, so a resent rotation costs nothing.
        await this.store.commit({ now, useOnce: verified.useOnce, expectKey });
        const out = await vendorRotateFinish(vk, verified, now);
        // The acknowledgement the request carried is stored with the move, in the closed chain.
        await this.store.commit({
          now,
          rename: { from: out.oldAlias, expectVersion: loaded!.row.version, row: toRow(cfg.rk, out.record, loaded!.row.version + 1) },
        });
        if (out.oldAlias !== out.record.alias && cfg.onRotate) {
          try {
            await cfg.onRotate(out.oldAlias, out.record.alias);
          } catch (e) {
            // The rotation is done and answered; the app's own bookkeeping failing must not undo it.
            console.error('janus: onRotate failed:', e instanceof Error ? e.message : e);
          }
        }
        return out.response;
      }
    }

    const route = c.route;
    if (!route || route.level === 'credential') throw new JanusError('internal', 'no protected route');
    const level = route.level as DeliveryLevel;
    // A route the app serves (protect) runs the handler its adapter passed; checked before any work.
    const handler = route.handler ?? info.downstream;
    if (!handler) throw new JanusError('internal', `${route.path} is served by the app's middleware, and this request did not come through an adapter`);
    // §6.2 steps 1-6 on the head alone: no body is read for a request that fails them.
    const d = parseDelivery(vk, msg(EMPTY), level, now, cfg.limits.maxBodyBytes, c.signed);
    const loaded = await this.load(d.parsed.alias);
    assertInGoodStanding(assertRecord(loaded?.record ?? null, d.parsed.gen), now);
    const req = msg(await read(cfg.limits.maxBodyBytes));
    const opened = await openDelivery(vk, d, req, loaded!.record, now, cfg.limits.maxBodyBytes);
    lease.release();
    const alias = d.parsed.alias;
    // Each verified request leaves a one-time value in the replay memory: capped per client (§15).
    // A request whose commit fails stored nothing, and gives its token back (a replay costs the
    // client nothing).
    const perSlot = cfg.rateLimits.requestsPerClientPerSlot;
    this.limits.client.take(alias, perSlot, 300);
    const paid = level === 'eddp+receipts' && opened.rule === 'deliver';
    // One delivery of a chain at a time per process: a second would pass the same check and run
    // the application for a delivery that could not be counted. Refused before anything is stored.
    if (paid && this.delivering.has(alias)) {
      this.limits.client.refund(alias, perSlot);
      throw new JanusError('conflict', 'another delivery to this client is in progress; retry');
    }
    if (paid) this.delivering.add(alias);
    try {
      // §11.2, first commit: the one-time values and the acknowledgement, before the application
      // runs (a replay never runs it twice). The key the request verified under must still be the
      // client's: another process may have rotated it since this one read the record (§13).
      const changed = opened.record !== loaded!.record;
      let version = loaded!.row.version;
      try {
        await this.store.commit({ now, useOnce: opened.useOnce, expectKey: { alias, gen: d.parsed.gen }, ...(changed ? { update: toRow(cfg.rk, opened.record, version + 1) } : {}) });
      } catch (e) {
        this.limits.client.refund(alias, perSlot);
        throw e;
      }
      if (changed) version++;
      // From here on the request is recorded, and every answer is sealed (§6.3): the client can
      // tell that its acknowledgement was stored.
      if (opened.rule !== 'deliver') return await sealRefusal(vk, d, req, opened, now);
      let result: HandlerOutput;
      try {
        const chain = opened.record.chain;
        result = await runHandler(handler, {
          client: publicClient(opened.record),
          delivery: level === 'eddp+receipts' && chain ? { sub: chain.sub, i: chain.delivered + 1, n: chain.n } : null,
          level,
          method,
          url: c.url,
          headers: head.headers,
          contentType: opened.contentType,
          body: opened.plaintext,
          address: address(),
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
        return await sealDeliveryError(vk, d, req, opened, this.handlerError(e, method, c.path), now);
      }
      let delivery: ReceiptMark | null = null;
      if (level === 'eddp+receipts' && result.status >= 200 && result.status <= 299) {
        // §11.2, second commit: a 2xx answer is a delivery, counted before it is sent; any other
        // answer counts nothing and carries no mark.
        try {
          delivery = await this.count(alias, opened.record, version, now);
        } catch (e) {
          return await sealDeliveryError(vk, d, req, opened, this.handlerError(e, method, c.path), now);
        }
      }
      return await sealDelivery(vk, d, req, opened, { ...result, delivery }, now);
    } finally {
      if (paid) this.delivering.delete(alias);
    }
  }

  /** An application's error as the sealed answer carries it: its JanusError, or `internal` (logged without request data). */
  private handlerError(e: unknown, method: string, path: string): JanusError {
    // ack_required and chain_exhausted are the vendor's own refusals (§11.2), with a meaning a client acts on.
    if (e instanceof JanusError && e.code !== 'internal' && e.code !== 'ack_required' && e.code !== 'chain_exhausted') return e;
    console.error(`janus: internal error on ${method} ${path}:`, e instanceof Error ? e.message : e);
    return new JanusError('internal');
  }

  /**
   * §11.2: delivery `delivered + 1` of the record stored at `version`, in one commit. Another commit
   * in between (an acknowledgement at the ack endpoint, say) is read back and the count applied to
   * it, as long as it is the same key and chain with the same deliveries; else `conflict`.
   */
  private async count(alias: string, record: ClientRecord, version: number, now: number): Promise<ReceiptMark> {
    const sub = record.chain!.sub;
    const delivered = record.chain!.delivered;
    for (let attempt = 0; ; attempt++) {
      const counted = countDelivery(record, now);
      try {
        await this.store.commit({ now, update: toRow(this.config.rk, counted.record, version + 1) });
        return counted.mark;
      } catch (e) {
        if (!(e instanceof JanusError) || e.code !== 'conflict' || attempt >= 2) throw e;
      }
      const again = await this.load(alias);
      const chain = again?.record.chain;
      if (!again || again.record.gen !== record.gen || !chain || chain.sub !== sub || chain.delivered !== delivered || chain.acked < delivered) {
        throw new JanusError('conflict', 'the client record changed meanwhile; retry');
      }
      record = again.record;
      version = again.row.version;
    }
  }
}

type HandlerOutput = { status: number; contentType: string; body: Uint8Array; headers: Record<string, string> };

async function runHandler(h: ProtectedHandler, ctx: HandlerContext): Promise<HandlerOutput> {
  const out = await handlerOutput(await h(ctx));
  // Checked before a delivery is counted: the answer must be one the SDK can seal (§6.3: no line break in a covered value).
  if (/[\r\n]/.test(out.contentType)) throw new Error('the handler answered a content type with a line break');
  return out;
}

async function handlerOutput(r: HandlerResult): Promise<HandlerOutput> {
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

export function toResponse(m: HttpResponseMsg): Response {
  const status = m.status;
  // Fetch's null-body statuses take no body at all, not even an empty one (a bodiless Janus answer
  // carries its seal in Janus-Sealed).
  const body = status === 204 || status === 205 || status === 304 ? null : m.body;
  return new Response(body as ConstructorParameters<typeof Response>[0], { status, headers: m.headers });
}

export function createVendor(opts: { config: VendorConfig; store: Store; routes?: readonly RouteSpec[] }): JanusVendor {
  return new JanusVendor(opts.config, opts.store, opts.routes);
}
