/**
 * Plain Node http adapter: a server whose requests go to the vendor first and then to `fallback`
 * (the site's own pages), which gets the slot-credential client. The vendor decides on the request's
 * head, and reads a body only once the head passed its keyless checks (docs/PROTOCOL.md §6.2).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { HttpResponseMsg } from '../protocol/index.ts';
import { nodeHeaders, readChunks, type BodyReader, type JanusClient, type JanusVendor, type RequestInfo } from './core.ts';

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
export function handleIncoming(vendor: JanusVendor, req: IncomingMessage, target = req.url ?? '/'): Promise<HttpResponseMsg | null> {
  const address = req.socket.remoteAddress;
  const info: RequestInfo = { ...(address ? { address } : {}), headers: req.headers, target };
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
