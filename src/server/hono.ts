/**
 * Hono adapter (docs/VENDOR.md). `janus(vendor)` is the guard: `app.use(janus(vendor))` before the
 * routes answers the Janus endpoints, refuses what §5.1 refuses, verifies every request to a
 * protected path before any of the app's code sees it, and puts the slot-credential client (or
 * null) in `c.var.janusClient`. Its per-route middleware (`const j = janus(vendor)`; `j.sddp(path)`,
 * `j.eddp(path)`, `j.eddpReceipts(path)`) declares the route, which the discovery document lists
 * from then on, and sits in front of the handler like `bearerAuth`: the handler reads the decrypted
 * request with `c.req.json()`, answers with `c.json()`, and the middleware seals `c.res` after
 * `await next()`.
 */
import type { Context, MiddlewareHandler } from 'hono';
import { errorResponse, type DeliveryLevel } from '../protocol/index.ts';
import { JanusError } from '../errors.ts';
import { enter, isAppAnswer, isFramingHeader, isProtocolHeader, Pass, plainResponse, unverified, type JanusRequest, type ProtectOptions } from './app-route.ts';
import { toResponse, type HandlerContext, type JanusClient, type JanusVendor, type RequestInfo } from './core.ts';

export type { DeliveryMark, JanusRequest, ProtectOptions } from './app-route.ts';

/** What the guard sets on every request: the client a slot credential identified, or null. */
export type JanusVariables = { janusClient: JanusClient | null };
/** `new Hono<JanusEnv>()`: `c.var.janusClient` typed on every route. */
export type JanusEnv = { Variables: JanusVariables };
/** What a protected route's middleware adds: the verified client and request (docs/VENDOR.md). */
export type JanusProtectedVariables<L extends DeliveryLevel = DeliveryLevel> = { janusClient: JanusClient; janus: JanusRequest<L> };
export type JanusProtectedEnv<L extends DeliveryLevel = DeliveryLevel> = { Variables: JanusProtectedVariables<L> };

export interface JanusHonoOptions {
  /**
   * The TCP peer's address, for the rate limits and `c.var.janus.address` (with `trustProxy`, the
   * proxy's); default: the socket's on @hono/node-server, none elsewhere (give `getConnInfo(c)`'s).
   */
  address?: (c: Context) => string | undefined;
}

/** The guard, with the per-route middleware of each level. */
export interface JanusHono extends MiddlewareHandler<JanusEnv> {
  sddp(path: string, opts?: ProtectOptions): MiddlewareHandler<JanusProtectedEnv<'sddp'>>;
  eddp(path: string, opts?: ProtectOptions): MiddlewareHandler<JanusProtectedEnv<'eddp'>>;
  eddpReceipts(path: string, opts?: ProtectOptions): MiddlewareHandler<JanusProtectedEnv<'eddp+receipts'>>;
}

/** Per request, what the guard found: a verified request for the app (a Pass) or null (an ordinary one). */
const guarded = new WeakMap<Context, Pass<Response> | null>();

export function janus(vendor: JanusVendor, opts: JanusHonoOptions = {}): JanusHono {
  const guard: MiddlewareHandler<JanusEnv> = async function janusMiddleware(c, next) {
    // On @hono/node-server the Node request is at hand: reading its headers directly spares
    // building a Web Headers object for every request, and its socket is the TCP peer.
    const incoming = (c.env as { incoming?: { headers?: RequestInfo['headers']; url?: string; socket?: { remoteAddress?: string } } } | undefined)?.incoming;
    const addr = opts.address ? opts.address(c) : incoming?.socket?.remoteAddress;
    // The request-target as received, when at hand: the Web URL has already lost some spellings (§5.1).
    const info: RequestInfo = {
      ...(addr ? { address: addr } : {}),
      ...(incoming?.headers ? { headers: incoming.headers } : {}),
      ...(typeof incoming?.url === 'string' ? { target: incoming.url } : {}),
    };
    const request = c.req.raw;
    const entered = await enter(vendor, (downstream) => vendor.handle(request, { ...info, downstream }));
    if (entered.kind === 'answer') return entered.answer;
    if (entered.kind === 'app') {
      guarded.set(c, null);
      c.set('janusClient', await vendor.identify(request, info));
      await next();
      return;
    }
    const pass = entered.pass;
    guarded.set(c, pass);
    // A client that goes away while the app works must not hold its place (a paid delivery in
    // progress) until the app is done: the SDK answers for it at once, to nobody.
    request.signal.addEventListener('abort', () => void pass.finish({ error: new JanusError('malformed', 'the client went away before the app answered') }), { once: true });
    c.set('janusClient', pass.ctx.client);
    c.req.raw = plainRequest(request, pass.ctx);
    try {
      await next();
    } catch (e) {
      if (!pass.claimed) return seal(c, pass, { error: e });
      throw e;
    }
    // No route middleware took it (a route without one, or the app's 404): answered sealed all the same.
    if (!pass.claimed) await seal(c, pass, outcomeOf(c));
  };

  const perRoute = <L extends DeliveryLevel>(level: L) =>
    (path: string, o: ProtectOptions = {}): MiddlewareHandler<JanusProtectedEnv<L>> => {
      const mine = vendor.protect({ path, level, methods: o.methods });
      return async function janusRoute(c, next) {
        const pass = guarded.get(c);
        if (!pass) {
          console.error(unverified(c.req.method, c.req.path, mine, pass === null));
          return toResponse(errorResponse(new JanusError('internal')));
        }
        pass.claimed = true;
        const wrong = pass.mismatch(mine);
        if (wrong) return seal(c, pass, { error: wrong });
        c.set('janusClient', pass.ctx.client);
        c.set('janus', pass.ctx as JanusRequest<L>);
        try {
          await next();
        } catch (e) {
          return seal(c, pass, { error: e });
        }
        await seal(c, pass, outcomeOf(c));
      };
    };

  return Object.assign(guard, { sddp: perRoute('sddp'), eddp: perRoute('eddp'), eddpReceipts: perRoute('eddp+receipts') });
}

/**
 * The request the app sees on a protected route: the decrypted body with the media type it was
 * sealed with (§6.4), and no protocol header (nor any header claiming to come from Janus).
 */
function plainRequest(request: Request, ctx: HandlerContext): Request {
  const headers = new Headers();
  request.headers.forEach((v, k) => {
    if (!isProtocolHeader(k) && k !== 'content-type') headers.append(k, v);
  });
  const bodied = ctx.body.length > 0 && ctx.method !== 'GET' && ctx.method !== 'HEAD';
  if (bodied) headers.set('content-type', ctx.contentType ?? 'application/octet-stream');
  return new Request(request.url, { method: request.method, headers, ...(bodied ? { body: ctx.body as RequestInit['body'] } : {}) });
}

/**
 * What the app did: its answer, or what it threw. Hono turns a handler's throw into `c.error` and the
 * app's onError answer, which stands when the error is a 4xx answer (an HTTPException of the app's
 * own auth, say: isAppAnswer); otherwise the SDK answers for it.
 */
function outcomeOf(c: Context): { response: Response } | { error: unknown } {
  const e = c.error;
  return e && !isAppAnswer(e) ? { error: e } : { response: c.res };
}

/** The sealed answer in place of the app's, keeping the headers the app's middleware set beside it (CORS, cookies). */
async function seal(c: Context, pass: Pass<Response>, outcome: { response: Response } | { error: unknown }): Promise<Response> {
  let out = outcome;
  if ('response' in out) {
    try {
      out = { response: await plainResponse(out.response) };
    } catch (e) {
      out = { error: e };
    }
  }
  const sealed = await pass.finish(out);
  const before = 'response' in outcome ? outcome.response : c.finalized ? c.res : null;
  c.res = undefined; // Hono would copy every header of the old answer, its framing included
  c.res = sealed;
  if (before) {
    for (const [k, v] of before.headers) {
      if (isFramingHeader(k) || k === 'set-cookie' || sealed.headers.has(k)) continue;
      c.res.headers.set(k, v);
    }
    for (const cookie of before.headers.getSetCookie()) c.res.headers.append('set-cookie', cookie);
  }
  return c.res;
}
