/**
 * Protected routes the app serves itself, behind the adapters' middleware (docs/VENDOR.md): the
 * adapter's guard runs the request through the vendor as for any protected route (head checked
 * before the body, the body budget, the MAC, the one-time values and the acknowledgement recorded),
 * and at the point where the SDK would call a route's handler it hands the request to the app
 * instead: a Pass. What the app answers (or throws) goes back through the Pass, and the vendor
 * seals it and counts the delivery exactly as it does for its own handlers (§6.3, §11.2).
 */
import { JanusError } from '../errors.ts';
import type { DeliveryLevel } from '../protocol/index.ts';
import type { HandlerContext, HandlerResult, JanusVendor, ProtectedHandler, ProtectedRoute } from './core.ts';

/** The delivery a 2xx answer will be on an eddp+receipts route (§11.2). */
export type DeliveryMark = NonNullable<HandlerContext['delivery']>;

/** The verified request as a protected handler sees it; on eddp+receipts `delivery` is always set. */
export type JanusRequest<L extends DeliveryLevel = DeliveryLevel> = Omit<HandlerContext, 'level' | 'delivery'> & {
  readonly level: L;
  readonly delivery: L extends 'eddp+receipts' ? DeliveryMark : DeliveryMark | null;
};

/** The per-route middleware's options. */
export interface ProtectOptions {
  /** The methods the route takes (others are `405 method_not_allowed` before the app); default all. */
  methods?: readonly string[];
}

/**
 * A verified, recorded request on its way through the app; `finish` turns the app's answer into the
 * sealed one (`T`: a Response for the Web adapters, a message for the Node ones).
 */
export class Pass<T> {
  private answer: Promise<T> | null = null;
  /** Set by the per-route middleware that takes the request; otherwise the guard finishes it. */
  claimed = false;

  constructor(
    readonly ctx: HandlerContext,
    readonly route: ProtectedRoute,
    private readonly result: { resolve(r: HandlerResult): void; reject(e: unknown): void },
    private readonly sealed: Promise<T | null>,
  ) {}

  /** The app's answer (a Response, or what it threw) in, the sealed answer out; the first call decides. */
  finish(outcome: { response: Response } | { error: unknown }): Promise<T> {
    if (!this.answer) {
      if ('response' in outcome) this.result.resolve(outcome.response);
      else this.result.reject(outcome.error);
      this.answer = this.sealed.then((m) => {
        if (m === null) throw new Error('the vendor passed on a protected request');
        return m;
      });
    }
    return this.answer;
  }

  /** Null when this request is one of the route `mine` (what a per-route middleware declared); else the error to answer. */
  mismatch(mine: ProtectedRoute): JanusError | null {
    if (this.route.path === mine.path && this.route.level === mine.level) return null;
    return new JanusError('internal', `${this.ctx.method} ${this.ctx.url.pathname} is protected at ${this.route.level} as ${this.route.path}, but reached the middleware of ${mine.path} (${mine.level}): the path given to a route's middleware must be the path of that route`);
  }
}

type Entered<T> =
  /** The vendor answered: a Janus endpoint, a refusal (§5.1), or a route it serves with its own handler. */
  | { readonly kind: 'answer'; readonly answer: T }
  /** Not the vendor's: the app serves it as is. */
  | { readonly kind: 'app' }
  /** A protected route the app serves: verified and recorded, now the app's to answer. */
  | { readonly kind: 'pass'; readonly pass: Pass<T> };

/**
 * Runs a request through the vendor (`run`: `handle` or `handleHead` given the downstream handler)
 * until the vendor either answers or reaches the app's handler of a protected route.
 */
export async function enter<T>(vendor: JanusVendor, run: (downstream: ProtectedHandler) => Promise<T | null>): Promise<Entered<T>> {
  let reached!: (ctx: HandlerContext) => void;
  const atApp = new Promise<HandlerContext>((r) => (reached = r));
  let result!: { resolve(r: HandlerResult): void; reject(e: unknown): void };
  const fromApp = new Promise<HandlerResult>((resolve, reject) => (result = { resolve, reject }));
  const done = run((ctx) => {
    reached(ctx);
    return fromApp;
  });
  const first = await Promise.race([done.then((answer) => ({ answer })), atApp.then((ctx) => ({ ctx }))]);
  if ('answer' in first) return first.answer === null ? { kind: 'app' } : { kind: 'answer', answer: first.answer };
  const c = vendor.classify(first.ctx.method, first.ctx.url.pathname + first.ctx.url.search);
  if (c.kind !== 'janus' || !c.route || c.route.level === 'credential') throw new Error('a protected request that is no protected route');
  return { kind: 'pass', pass: new Pass(first.ctx, { path: c.route.path, level: c.route.level }, result, done) };
}

/** Content codings an app's middleware may have applied to its answer before it is sealed (the seal is over the plain body). */
const DECODABLE = new Set(['gzip', 'x-gzip', 'deflate']);

/**
 * The app's answer with its body in the clear: a compression middleware inside the protected route
 * (`app.get(path, janus.sddp(path), compress(), h)`) encoded it, and the client reads the sealed
 * body as is. Unknown codings are a bug to report, not bytes to seal.
 */
export async function plainResponse(r: Response): Promise<Response> {
  const coding = r.headers.get('content-encoding')?.trim().toLowerCase();
  if (!coding || coding === 'identity') return r;
  if (!DECODABLE.has(coding)) throw new Error(`the app's answer is ${coding}-encoded: compress outside the route's Janus middleware (its answer is sealed, and sealed bytes do not compress)`);
  const headers = new Headers(r.headers);
  headers.delete('content-encoding');
  headers.delete('content-length');
  const body = r.body ? r.body.pipeThrough(new DecompressionStream(coding === 'deflate' ? 'deflate' : 'gzip')) : null;
  return new Response(body, { status: r.status, statusText: r.statusText, headers });
}

/**
 * Request headers the app does not get on a protected route: the protocol's own (they are spent,
 * and the body they describe is replaced by the plaintext), and any claiming to come from Janus
 * (`Janus-Client*` in any spelling, `_` read as `-`, as in docs/CLI.md): only the SDK says who the client is.
 */
export function isProtocolHeader(name: string): boolean {
  const n = name.toLowerCase().replace(/_/g, '-');
  return n.startsWith('janus-') || n === 'signature' || n === 'signature-input' || n === 'content-digest' || n === 'content-length' || n === 'content-encoding' || n === 'transfer-encoding';
}

/** Response headers the sealed answer sets itself: the app's own are dropped, the rest go out beside it (unauthenticated). */
export function isFramingHeader(name: string): boolean {
  const n = name.toLowerCase();
  return n.startsWith('janus-') || n === 'content-type' || n === 'content-length' || n === 'content-encoding' || n === 'transfer-encoding' || n === 'connection';
}

/** What the log says when a per-route middleware finds no verified request. */
export function unverified(method: string, path: string, mine: ProtectedRoute, guarded: boolean): string {
  return guarded
    ? `janus: ${method} ${path} reached the ${mine.level} middleware of ${mine.path} without being one of its requests: the path given to a route's middleware must be the path of that route`
    : `janus: ${method} ${path} reached the ${mine.level} middleware of ${mine.path}, but the Janus guard did not run: mount it (app.use) before the routes`;
}

/**
 * A thrown error that is the app's own answer rather than a failure: a 4xx `status` that is not a
 * JanusError's (Hono's HTTPException, the http-errors of Express middleware). The app's error
 * handling answers it, sealed; a JanusError is answered with its code; anything else is a bug,
 * answered `500 internal` and logged (docs/VENDOR.md).
 */
export function isAppAnswer(e: unknown): boolean {
  if (e instanceof JanusError || typeof e !== 'object' || e === null) return false;
  const status = (e as { status?: unknown; statusCode?: unknown }).status ?? (e as { statusCode?: unknown }).statusCode;
  return typeof status === 'number' && status >= 400 && status <= 499;
}
