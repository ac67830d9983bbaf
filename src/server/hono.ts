/**
 * Hono adapter: `app.use(janus(vendor))` answers the Janus endpoints and protected routes (and
 * refuses other spellings and unlisted methods of a protected path, docs/PROTOCOL.md §5.1), and
 * puts the slot-credential client (or null) in `c.get('janusClient')` for every other route.
 */
import type { MiddlewareHandler } from 'hono';
import type { JanusClient, JanusVendor, RequestInfo } from './core.ts';

export type JanusVariables = { janusClient: JanusClient | null };

export function janus(vendor: JanusVendor, opts: { address?: (c: Parameters<MiddlewareHandler>[0]) => string | undefined } = {}): MiddlewareHandler<{ Variables: JanusVariables }> {
  return async function janusMiddleware(c, next) {
    const addr = opts.address?.(c);
    // On @hono/node-server the Node request is at hand: reading its headers directly spares
    // building a Web Headers object for every request.
    const incoming = (c.env as { incoming?: { headers?: RequestInfo['headers']; url?: string } } | undefined)?.incoming;
    // The request-target as received, when at hand: the Web URL has already lost some spellings (§5.1).
    const info: RequestInfo = {
      ...(addr ? { address: addr } : {}),
      ...(incoming?.headers ? { headers: incoming.headers } : {}),
      ...(typeof incoming?.url === 'string' ? { target: incoming.url } : {}),
    };
    const res = await vendor.handle(c.req.raw, info);
    if (res) return res;
    c.set('janusClient', await vendor.identify(c.req.raw, info));
    await next();
  };
}
