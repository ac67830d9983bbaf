/**
 * Express adapter: `app.use(janusExpress(vendor))` before any body parser. Janus endpoints and
 * protected routes are answered here (and requests to a protected path that Express would route
 * there by another spelling or method are refused, docs/PROTOCOL.md §5.1); other requests continue
 * with `req.janusClient` set.
 */
import type { NextFunction, Request as ExpressRequest, Response as ExpressResponse } from 'express';
import type { JanusClient, JanusVendor } from './core.ts';
import { clientGone, handleIncoming, toWebRequest, writeMessage } from './node-http.ts';

declare module 'express-serve-static-core' {
  interface Request {
    janusClient?: JanusClient | null;
  }
}

export function janusExpress(vendor: JanusVendor) {
  return function janusMiddleware(req: ExpressRequest, res: ExpressResponse, next: NextFunction): void {
    void (async () => {
      try {
        // Decided on the head alone, so the body stays unread for the app's own parsers.
        const answer = await handleIncoming(vendor, req, req.originalUrl);
        if (answer) {
          writeMessage(req, res, answer);
          return;
        }
        const c = vendor.classify(req.method, req.originalUrl);
        const head = toWebRequest(req, vendor.config.idV, false, c.kind === 'app' ? c.url.href : undefined);
        req.janusClient = await vendor.identify(head);
        next();
      } catch (e) {
        if (clientGone(req)) {
          res.destroy();
          return;
        }
        next(e);
      }
    })();
  };
}
