/**
 * Express adapter (docs/VENDOR.md). `janusExpress(vendor)` is the guard: `app.use(janus)` before any
 * body parser answers the Janus endpoints, refuses what §5.1 refuses, verifies every request to a
 * protected path before the app's routes see it, and sets `req.janusClient` (the slot-credential
 * client, or null). Its per-route middleware (`janus.sddp(path)`, `janus.eddp(path)`,
 * `janus.eddpReceipts(path)`) declares the route, which the discovery document lists from then on,
 * and sits in front of the handler: `req.body` is the decrypted body, `res.locals.janusClient` and
 * `res.locals.janus` the verified client and request, and what the handler sends (`res.json()`,
 * `res.send()`, a stream) is sealed when it ends.
 */
import type { NextFunction, Request as ExpressRequest, RequestHandler, Response as ExpressResponse } from 'express';
import type { DeliveryLevel, HttpResponseMsg } from '../protocol/index.ts';
import { enter, type JanusRequest, type Pass, type ProtectOptions } from './app-route.ts';
import type { HandlerContext, JanusClient, JanusVendor } from './core.ts';
import { clientGone, failPass, guardedRequests, handleIncoming, identifyIncoming, passes, passToApp, refuseUnverified, thrown, writeMessage } from './node-http.ts';

export type { DeliveryMark, JanusRequest, ProtectOptions } from './app-route.ts';

declare module 'express-serve-static-core' {
  interface Request {
    /** The slot-credential client of an ordinary request, the verified client on a protected route, or null. */
    janusClient?: JanusClient | null;
  }
}

/** What a protected route's middleware puts in `res.locals`. */
export type JanusLocals<L extends DeliveryLevel = DeliveryLevel> = { janusClient: JanusClient; janus: JanusRequest<L> };
export type JanusRouteHandler<L extends DeliveryLevel> = RequestHandler<ExpressRequest['params'], unknown, unknown, ExpressRequest['query'], JanusLocals<L>>;

/** The guard, with the per-route middleware of each level. */
export interface JanusExpress {
  (req: ExpressRequest, res: ExpressResponse, next: NextFunction): void;
  sddp(path: string, opts?: ProtectOptions): JanusRouteHandler<'sddp'>;
  eddp(path: string, opts?: ProtectOptions): JanusRouteHandler<'eddp'>;
  eddpReceipts(path: string, opts?: ProtectOptions): JanusRouteHandler<'eddp+receipts'>;
}

/**
 * The decrypted body as Express body parsers would have left it in `req.body` (they skip a body
 * already read): JSON parsed, text as a string, a form as an object, anything else as a Buffer.
 */
function bodyOf(ctx: HandlerContext): unknown {
  if (ctx.body.length === 0) return undefined;
  const type = (ctx.contentType ?? '').split(';')[0]!.trim().toLowerCase();
  if (type === 'application/json' || type.endsWith('+json')) return ctx.json();
  if (type.startsWith('text/')) return ctx.text();
  if (type === 'application/x-www-form-urlencoded') return Object.fromEntries(new URLSearchParams(ctx.text()));
  return Buffer.from(ctx.body);
}

/** Routes whose errors are already recorded on their way to the app's error handlers. */
const watched = new WeakSet<object>();

/**
 * What a protected route's handler throws goes on to the app's own error handlers as usual; the
 * SDK notes it first (one error layer at the end of the route), so that the answer those handlers
 * write is replaced by the SDK's (docs/VENDOR.md: a JanusError keeps its code, a bug is a logged 500).
 */
function watchErrors(route: unknown): void {
  type Layer = { method?: string | undefined };
  const r = route as { stack?: Layer[] } | undefined;
  if (!r?.stack?.length || watched.has(r)) return;
  watched.add(r);
  // The router's own Layer class, from a layer of this route (Express 5, router 2).
  const Layer = r.stack[0]!.constructor as new (path: string, opts: object, fn: unknown) => Layer;
  const layer = new Layer('/', {}, function janusRouteError(err: unknown, req: ExpressRequest, _res: ExpressResponse, next: NextFunction) {
    if (passes.has(req)) thrown.set(req, err);
    next(err);
  });
  layer.method = undefined; // every method of the route
  r.stack.push(layer);
}

export function janusExpress(vendor: JanusVendor): JanusExpress {
  const guard = function janusMiddleware(req: ExpressRequest, res: ExpressResponse, next: NextFunction): void {
    void (async () => {
      let pass: Pass<HttpResponseMsg> | null = null;
      try {
        guardedRequests.add(req);
        // Decided on the head alone, so an ordinary request's body stays unread for the app's own parsers.
        const entered = await enter(vendor, (downstream) => handleIncoming(vendor, req, req.originalUrl, downstream));
        if (entered.kind === 'answer') return writeMessage(req, res, entered.answer);
        if (entered.kind === 'app') {
          req.janusClient = await identifyIncoming(vendor, req);
          return next();
        }
        pass = entered.pass;
        passToApp(req, res, pass);
        req.janusClient = pass.ctx.client;
        // Parsed when the app reads it: a body that is not what its type says is the handler's 400, not the route's.
        const ctx = pass.ctx;
        let body: { value: unknown } | null = null;
        Object.defineProperty(req, 'body', {
          configurable: true,
          enumerable: true,
          get: () => (body ??= { value: bodyOf(ctx) }).value,
          set: (value: unknown) => void (body = { value }),
        });
        next();
      } catch (e) {
        if (pass) return void (await failPass(req, e));
        if (clientGone(req)) return void res.destroy();
        next(e);
      }
    })();
  };

  const perRoute =
    <L extends DeliveryLevel>(level: L) =>
    (path: string, opts: ProtectOptions = {}): JanusRouteHandler<L> => {
      const mine = vendor.protect({ path, level, methods: opts.methods });
      return function janusRoute(req, res, next) {
        const pass = passes.get(req);
        if (!pass) return refuseUnverified(req, res, mine, guardedRequests.has(req));
        pass.claimed = true;
        const wrong = pass.mismatch(mine);
        if (wrong) return void failPass(req, wrong);
        watchErrors(req.route);
        res.locals.janusClient = pass.ctx.client;
        res.locals.janus = pass.ctx as JanusRequest<L>;
        next();
      };
    };

  return Object.assign(guard, { sddp: perRoute('sddp'), eddp: perRoute('eddp'), eddpReceipts: perRoute('eddp+receipts') });
}
