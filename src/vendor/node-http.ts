/**
 * Plain Node http adapter: a server whose requests go to the vendor first and then to `fallback`
 * (the site's own pages), which gets the slot-credential client.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { JanusClient, JanusVendor } from './core.ts';

export type Fallback = (request: Request, client: JanusClient | null) => Response | Promise<Response>;

/** IncomingMessage -> Web Request (streaming body). */
export function toWebRequest(req: IncomingMessage, origin: string, withBody = true): Request {
  const headers = new Headers();
  for (const [k, v] of Object.entries(req.headers)) {
    if (v === undefined) continue;
    for (const item of Array.isArray(v) ? v : [v]) headers.append(k, item);
  }
  const method = req.method ?? 'GET';
  const hasBody = withBody && method !== 'GET' && method !== 'HEAD';
  return new Request(origin + (req.url ?? '/'), {
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

export function createJanusServer(vendor: JanusVendor, fallback: Fallback = () => new Response('Not Found', { status: 404 })): Server {
  // Node's own header limit must not be lower than the vendor's, so our `too_large` answers first.
  return createServer({ maxHeaderSize: Math.max(16 * 1024, vendor.config.limits.maxHeaderBytes + 1024) }, (req, res) => {
    void (async () => {
      try {
        const request = toWebRequest(req, vendor.config.idV);
        const address = req.socket.remoteAddress;
        const answer = (await vendor.handle(request, address ? { address } : {})) ?? (await fallback(request, await vendor.identify(request)));
        await writeWebResponse(res, answer);
      } catch (e) {
        console.error('janus: server error:', e instanceof Error ? e.message : e);
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
        res.end('internal error');
      }
    })();
  });
}
