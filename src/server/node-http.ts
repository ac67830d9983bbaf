/**
 * Plain Node http adapter (door: node.ts). `janusNode(vendor)`: the guard as a request listener in
 * front of the app's own, and per-route wrappers for protected routes the app serves, whose answer
 * is held until it ends and then sealed (also Express's: express.ts). `createJanusServer(vendor,
 * fallback)`: a server whose requests go to the vendor first and then to a Web `fallback`. The
 * vendor decides on the request's head, and reads a body only once the head passed its keyless
 * checks (docs/PROTOCOL.md §6.2).
 */
import { createServer, IncomingMessage, STATUS_CODES, type Server, type ServerResponse } from 'node:http';
import { JanusError } from '../errors.ts';
import { errorResponse, HEADER, type DeliveryLevel, type HttpResponseMsg } from '../protocol/index.ts';
import { enter, isAppAnswer, isFramingHeader, isProtocolHeader, plainResponse, unverified, type JanusRequest, type Pass, type ProtectOptions } from './app-route.ts';
import { nodeHeaders, readChunks, type BodyReader, type JanusClient, type JanusVendor, type ProtectedHandler, type ProtectedRoute, type RequestInfo } from './core.ts';

/** What the fallback learns besides the request: the client's address (TCP peer, or per `trustProxy`). */
export interface FallbackInfo {
  readonly address: string | undefined;
}

export type Fallback = (request: Request, client: JanusClient | null, info: FallbackInfo) => Response | Promise<Response>;

/**
 * IncomingMessage -> Web Request (streaming body). `url` is the absolute URL to give it (the
 * vendor's canonical one, §5.1); by default `origin` + the request-target when that is a path.
 */
export function toWebRequest(req: IncomingMessage, origin: string, withBody = true, url?: string): Request {
  const headers = new Headers();
  for (const [k, v] of Object.entries(req.headers)) {
    if (v === undefined) continue;
    for (const item of Array.isArray(v) ? v : [v]) headers.append(k, item);
  }
  const method = req.method ?? 'GET';
  const hasBody = withBody && method !== 'GET' && method !== 'HEAD';
  const target = req.url ?? '/';
  return new Request(url ?? origin + (target.startsWith('/') ? target : '/'), {
    method,
    headers,
    ...(hasBody ? { body: req as unknown as ReadableStream, duplex: 'half' } : {}),
  } as RequestInit);
}

export async function writeWebResponse(res: ServerResponse, r: Response): Promise<void> {
  const headers: Record<string, string | string[]> = {};
  r.headers.forEach((v, k) => {
    headers[k] = v;
  });
  const cookies = r.headers.getSetCookie?.() ?? [];
  if (cookies.length) headers['set-cookie'] = cookies;
  res.writeHead(r.status, headers);
  if (r.body) {
    for await (const chunk of r.body as unknown as AsyncIterable<Uint8Array>) res.write(chunk);
  }
  res.end();
}

/** Writes a vendor answer; a request whose body was not (all) read is answered on a closing connection. */
export function writeMessage(req: IncomingMessage, res: ServerResponse, m: HttpResponseMsg): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(m.status, req.complete ? m.headers : { ...m.headers, connection: 'close' });
  res.end(m.status === 204 || m.status === 205 || m.status === 304 ? undefined : m.body);
}

/**
 * The request body from the socket, read only when the vendor asks (after the head passed). Whatever
 * the method: a GET that arrives with a body is checked against its Content-Digest like any other,
 * not served as if it had none.
 */
function nodeBody(req: IncomingMessage): BodyReader {
  return (max, lease) => readChunks(req as AsyncIterable<Uint8Array>, req.headers['content-length'], max, lease);
}

/**
 * One Node request through the vendor: its answer (Janus endpoints, protected routes, refusals),
 * or null when the site answers. `target` defaults to `req.url` (Express passes `originalUrl`).
 */
export function handleIncoming(vendor: JanusVendor, req: IncomingMessage, target = req.url ?? '/', downstream?: ProtectedHandler): Promise<HttpResponseMsg | null> {
  const address = req.socket.remoteAddress;
  const info: RequestInfo = { ...(address ? { address } : {}), headers: req.headers, target, ...(downstream ? { downstream } : {}) };
  return vendor.handleHead({ method: req.method ?? 'GET', target, headers: nodeHeaders(req.headers) }, info, nodeBody(req));
}

/** The client went away before its request was in (an abandoned upload): nothing to answer, nothing to log. */
export function clientGone(req: IncomingMessage): boolean {
  return !req.complete && (req.destroyed || req.socket.destroyed);
}

/** Thrown by a fallback whose request body stopped arriving (the client went away mid-upload). */
export class ClientGoneError extends Error {
  constructor() {
    super('the client went away before its request was in');
  }
}

export function createJanusServer(vendor: JanusVendor, fallback: Fallback = () => new Response('Not Found', { status: 404 })): Server {
  // Node's own header limit must not be lower than the vendor's, so our `too_large` answers first.
  return createServer({ maxHeaderSize: Math.max(16 * 1024, vendor.config.limits.maxHeaderBytes + 1024) }, (req, res) => {
    void (async () => {
      try {
        const answer = await handleIncoming(vendor, req);
        if (answer) {
          writeMessage(req, res, answer);
          return;
        }
        const target = req.url ?? '/';
        const c = vendor.classify(req.method ?? 'GET', target);
        // The site gets the canonical path the vendor matched (§5.1), never another spelling of it.
        const request = toWebRequest(req, vendor.config.idV, true, c.kind === 'app' ? c.url.href : undefined);
        const address = vendor.clientAddress(req.socket.remoteAddress, (n) => request.headers.get(n));
        const info = { ...(req.socket.remoteAddress ? { address: req.socket.remoteAddress } : {}), headers: req.headers };
        await writeWebResponse(res, await fallback(request, await vendor.identify(request, info), { address }));
      } catch (e) {
        if (e instanceof ClientGoneError || clientGone(req)) {
          res.destroy();
          return;
        }
        console.error('janus: server error:', e instanceof Error ? e.message : e);
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
        res.end('internal error');
      }
    })();
  });
}

// ---------------------------------------------------------------------------------------------
// Protected routes the app serves (app-route.ts), for node:http and Express

/** Per request: the verified request the app serves, as the guard passed it on. */
export const passes = new WeakMap<IncomingMessage, Pass<HttpResponseMsg>>();
/** Per request: what the app threw on a protected route, on its way through the app's own error handling (Express). */
export const thrown = new WeakMap<IncomingMessage, unknown>();
const held = new WeakMap<IncomingMessage, Held>();

const nullBody = (status: number) => status === 204 || status === 205 || status === 304;

type Chunk = string | Uint8Array;
const bytesOf = (chunk: Chunk, encoding?: BufferEncoding) => (typeof chunk === 'string' ? Buffer.from(chunk, encoding ?? 'utf8') : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));

/**
 * Holds what the app writes to `res` on a protected route until it ends (or fails), then answers
 * with the sealed response instead; anything the app writes after that is dropped. Headers the
 * app set other than the framing ones (cookies, CORS) go out beside the sealed answer.
 */
class Held {
  private readonly chunks: Buffer[] = [];
  private readonly real: { writeHead: ServerResponse['writeHead']; end: (this: ServerResponse, chunk?: Uint8Array) => ServerResponse };
  private settled = false;

  /** `req`: the request as the app holds it; `incoming`: as it arrived (whether its body was all read). */
  constructor(
    private readonly req: IncomingMessage,
    private readonly res: ServerResponse,
    private readonly pass: Pass<HttpResponseMsg>,
    private readonly incoming: IncomingMessage = req,
  ) {
    this.real = { writeHead: res.writeHead, end: res.end as (this: ServerResponse, chunk?: Uint8Array) => ServerResponse };
    res.writeHead = ((status: number, a?: unknown, b?: unknown) => {
      if (this.settled) return res;
      res.statusCode = status;
      if (typeof a === 'string') res.statusMessage = a;
      const h = typeof a === 'string' ? b : a;
      if (Array.isArray(h)) {
        // [[name, value], ...] or [name, value, name, value, ...]
        if (Array.isArray(h[0])) for (const [k, v] of h as [string, string][]) res.appendHeader(k, v);
        else for (let i = 0; i + 1 < h.length; i += 2) res.appendHeader(String(h[i]), String(h[i + 1]));
      } else if (h && typeof h === 'object') for (const [k, v] of Object.entries(h)) if (v !== undefined) res.setHeader(k, v as string | string[]);
      return res;
    }) as ServerResponse['writeHead'];
    res.write = ((chunk: Chunk | null | undefined, enc?: BufferEncoding | ((e?: Error | null) => void), cb?: (e?: Error | null) => void) => {
      if (typeof enc === 'function') [cb, enc] = [enc, undefined];
      if (!this.settled && chunk !== null && chunk !== undefined) this.chunks.push(bytesOf(chunk, enc));
      if (cb) process.nextTick(cb);
      return true;
    }) as ServerResponse['write'];
    res.end = ((chunk?: unknown, enc?: unknown, cb?: unknown) => {
      if (typeof chunk === 'function') [cb, chunk] = [chunk, undefined];
      else if (typeof enc === 'function') [cb, enc] = [enc, undefined];
      if (typeof cb === 'function') res.once('finish', cb as () => void);
      if (!this.settled && chunk !== null && chunk !== undefined) this.chunks.push(bytesOf(chunk as Chunk, enc as BufferEncoding | undefined));
      void this.settle();
      return res;
    }) as ServerResponse['end'];
    res.flushHeaders = () => undefined;
    // An app that never answers must not hold the request's place (a paid delivery in progress) forever.
    res.once('close', () => void this.fail(new JanusError('malformed', 'the connection closed before the app answered')));
    held.set(req, this);
  }

  /** The app ended its answer: sealed as it stands, or per the SDK's rules if it came from an error. */
  private async settle(): Promise<void> {
    if (this.settled) return;
    const e = thrown.get(this.req);
    if (e !== undefined && !isAppAnswer(e)) return this.fail(e);
    let outcome: { response: Response } | { error: unknown };
    try {
      outcome = { response: await plainResponse(this.response()) };
    } catch (err) {
      outcome = { error: err };
    }
    await this.answer(outcome);
  }

  /** The app failed (threw, or the connection went away): the SDK answers. */
  async fail(e: unknown): Promise<void> {
    await this.answer({ error: e });
  }

  private response(): Response {
    const headers = new Headers();
    for (const [k, v] of Object.entries(this.res.getHeaders())) {
      if (v === undefined) continue;
      for (const x of Array.isArray(v) ? v : [v]) headers.append(k, String(x));
    }
    const status = this.res.statusCode;
    return new Response(nullBody(status) ? null : Buffer.concat(this.chunks), { status, headers });
  }

  private async answer(outcome: { response: Response } | { error: unknown }): Promise<void> {
    if (this.settled) return;
    this.settled = true;
    this.chunks.length = 0;
    const m = await this.pass.finish(outcome);
    const res = this.res;
    if (res.headersSent || res.destroyed) return;
    for (const name of res.getHeaderNames()) if (isFramingHeader(name)) res.removeHeader(name);
    res.statusMessage = STATUS_CODES[m.status] ?? '';
    this.real.writeHead.call(res, m.status, this.incoming.complete ? m.headers : { ...m.headers, connection: 'close' });
    this.real.end.call(res, nullBody(m.status) ? undefined : m.body);
  }
}

/**
 * A verified request handed to the app: no protocol header left (nor one claiming to come from
 * Janus), the decrypted body's length in place of the ciphertext's, and its answer held for sealing.
 */
export function passToApp(req: IncomingMessage, res: ServerResponse, pass: Pass<HttpResponseMsg>, incoming: IncomingMessage = req): void {
  for (const name of Object.keys(req.headers)) if (isProtocolHeader(name)) delete req.headers[name];
  const raw: string[] = [];
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) if (!isProtocolHeader(req.rawHeaders[i]!)) raw.push(req.rawHeaders[i]!, req.rawHeaders[i + 1]!);
  req.rawHeaders = raw;
  if (pass.ctx.body.length > 0) {
    req.headers['content-type'] = pass.ctx.contentType ?? 'application/octet-stream';
    req.headers['content-length'] = String(pass.ctx.body.length);
  }
  passes.set(req, pass);
  new Held(req, res, pass, incoming);
}

/**
 * The request again, readable: the vendor read the body to verify it, and a node:http handler reads
 * `req` as a stream, so it gets a fresh message on the same socket carrying the decrypted body.
 */
function replay(req: IncomingMessage, body: Uint8Array): IncomingMessage {
  const r = new IncomingMessage(req.socket);
  r.httpVersionMajor = req.httpVersionMajor;
  r.httpVersionMinor = req.httpVersionMinor;
  r.httpVersion = req.httpVersion;
  r.method = req.method ?? 'GET';
  r.url = req.url ?? '/';
  r.headers = { ...req.headers };
  r.rawHeaders = [...req.rawHeaders];
  if (body.length) r.push(Buffer.from(body.buffer, body.byteOffset, body.byteLength));
  r.push(null);
  r.complete = true;
  return r;
}

/** The SDK answers for the app on a protected route (a throw, a mismatch). */
export function failPass(req: IncomingMessage, e: unknown): Promise<void> {
  return held.get(req)?.fail(e) ?? Promise.resolve();
}

/** A request the per-route middleware cannot serve: nothing was recorded, so the 500 is unsealed. */
export function refuseUnverified(req: IncomingMessage, res: ServerResponse, mine: ProtectedRoute, guarded: boolean): void {
  console.error(unverified(req.method ?? 'GET', (req.url ?? '/').split('?')[0]!, mine, guarded));
  writeMessage(req, res, errorResponse(new JanusError('internal')));
}

/** The slot-credential client of an ordinary request, or null (no Web Request built without a credential). */
export async function identifyIncoming(vendor: JanusVendor, req: IncomingMessage): Promise<JanusClient | null> {
  if (req.headers[HEADER.credential] === undefined) return null;
  const address = req.socket.remoteAddress;
  return vendor.identify(toWebRequest(req, vendor.config.idV, false), { ...(address ? { address } : {}), headers: req.headers });
}

/** A node:http request as a protected route's handler gets it: the verified client and request. */
export type ProtectedIncomingMessage<L extends DeliveryLevel = DeliveryLevel> = IncomingMessage & { readonly janusClient: JanusClient; readonly janus: JanusRequest<L> };
/** A node:http request as the app gets it: the slot-credential client, or null. */
export type JanusIncomingMessage = IncomingMessage & { readonly janusClient: JanusClient | null };
export type ProtectedListener<L extends DeliveryLevel> = (req: ProtectedIncomingMessage<L>, res: ServerResponse) => void | Promise<void>;
export type JanusListener = (req: JanusIncomingMessage, res: ServerResponse) => void | Promise<void>;
type Listener = (req: IncomingMessage, res: ServerResponse) => void;

/** The node:http guard (`listener`) and the per-route wrappers of each level (docs/VENDOR.md). */
export interface JanusNode {
  /** A request listener for `http.createServer`: the vendor first, then `app` (default: 404). */
  listener(app?: JanusListener): Listener;
  sddp(path: string, handler: ProtectedListener<'sddp'>, opts?: ProtectOptions): Listener;
  eddp(path: string, handler: ProtectedListener<'eddp'>, opts?: ProtectOptions): Listener;
  eddpReceipts(path: string, handler: ProtectedListener<'eddp+receipts'>, opts?: ProtectOptions): Listener;
}

const notFound: JanusListener = (_req, res) => {
  res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
  res.end('Not Found\n');
};

export function janusNode(vendor: JanusVendor): JanusNode {
  const perRoute =
    <L extends DeliveryLevel>(level: L) =>
    (path: string, handler: ProtectedListener<L>, opts: ProtectOptions = {}): Listener => {
      const mine = vendor.protect({ path, level, methods: opts.methods });
      return (req, res) => {
        const pass = passes.get(req);
        if (!pass) return refuseUnverified(req, res, mine, guardedRequests.has(req));
        pass.claimed = true;
        const wrong = pass.mismatch(mine);
        if (wrong) return void failPass(req, wrong);
        Object.assign(req, { janusClient: pass.ctx.client, janus: pass.ctx });
        void (async () => {
          try {
            await handler(req as ProtectedIncomingMessage<L>, res);
          } catch (e) {
            await failPass(req, e);
          }
        })();
      };
    };
  return {
    listener(app = notFound) {
      return (req, res) => {
        void (async () => {
          let pass: Pass<HttpResponseMsg> | null = null;
          try {
            guardedRequests.add(req);
            const entered = await enter(vendor, (downstream) => handleIncoming(vendor, req, req.url ?? '/', downstream));
            if (entered.kind === 'answer') return writeMessage(req, res, entered.answer);
            if (entered.kind === 'pass') {
              pass = entered.pass;
              // The app gets the canonical path the vendor matched (§5.1), never another spelling of it.
              req.url = pass.ctx.url.pathname + pass.ctx.url.search;
              const incoming = req;
              req = replay(incoming, pass.ctx.body);
              guardedRequests.add(req);
              passToApp(req, res, pass, incoming);
              Object.assign(req, { janusClient: pass.ctx.client, janus: pass.ctx });
            } else {
              const c = vendor.classify(req.method ?? 'GET', req.url ?? '/');
              if (c.kind === 'app') req.url = c.url.pathname + c.url.search;
              Object.assign(req, { janusClient: await identifyIncoming(vendor, req) });
            }
            await app(req as JanusIncomingMessage, res);
          } catch (e) {
            if (pass) return void (await failPass(req, e));
            if (e instanceof ClientGoneError || clientGone(req)) return void res.destroy();
            console.error('janus: server error:', e instanceof Error ? e.message : e);
            if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
            res.end('internal error');
          }
        })();
      };
    },
    sddp: perRoute('sddp'),
    eddp: perRoute('eddp'),
    eddpReceipts: perRoute('eddp+receipts'),
  };
}

/** Requests a guard has seen (to tell a missing guard from a route the middleware does not protect). */
export const guardedRequests = new WeakSet<IncomingMessage>();
