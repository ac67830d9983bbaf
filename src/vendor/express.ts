/**
 * Express adapter: `app.use(janusExpress(vendor))` before any body parser. Janus endpoints and
 * protected routes are answered here; other requests continue with `req.janusClient` set.
 */
import type { NextFunction, Request as ExpressRequest, Response as ExpressResponse } from 'express';
import type { JanusClient, JanusVendor } from './core.ts';
import { toWebRequest, writeWebResponse } from './node-http.ts';

declare module 'express-serve-static-core' {
  interface Request {
    janusClient?: JanusClient | null;
  }
}

export function janusExpress(vendor: JanusVendor) {
  return function janusMiddleware(req: ExpressRequest, res: ExpressResponse, next: NextFunction): void {
    void (async () => {
      try {
        // Decide on method and URL alone, so the body stays unread for the app's own parsers.
        const head = new Request(vendor.config.idV + req.originalUrl, { method: req.method, headers: toWebRequest(req, vendor.config.idV, false).headers });
        if (vendor.handles(head)) {
          const address = req.socket.remoteAddress;
          const answer = await vendor.handle(toWebRequest(req, vendor.config.idV), address ? { address } : {});
          await writeWebResponse(res, answer!);
          return;
        }
        req.janusClient = await vendor.identify(head);
        next();
      } catch (e) {
        next(e);
      }
    })();
  };
}
