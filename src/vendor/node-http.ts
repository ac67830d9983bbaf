/**
 * Plain Node http adapter: a server whose requests go to the vendor first and then to `fallback`
 * (the site's own pages), which gets the slot-credential client.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { JanusError } from '../errors.ts';
import { errorResponse, type HttpResponseMsg } from '../protocol/index.ts';
import { nodeHeaders, type JanusClient, type JanusVendor } from './core.ts';

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

/** The request body, refused with `too_large` past `max` bytes (declared or sent). */
async function readBody(req: IncomingMessage, max: number): Promise<Uint8Array> {
  if (Number(req.headers['content-length'] ?? 0) > max) throw new JanusError('too_large', `request body exceeds ${max} bytes`);
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    n += chunk.length;
    if (n > max) throw new JanusError('too_large', `request body exceeds ${max} bytes`);
    chunks.push(chunk);
  }
  const b = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

function writeMessage(res: ServerResponse, m: HttpResponseMsg, close = false): void {
  res.writeHead(m.status, close ? { ...m.headers, connection: 'close' } : m.headers);
  res.end(m.status === 204 || m.status === 205 || m.status === 304 ? undefined : m.body);
}

export function createJanusServer(vendor: JanusVendor, fallback: Fallback = () => new Response('Not Found', { status: 404 })): Server {
  // Node's own header limit must not be lower than the vendor's, so our `too_large` answers first.
  return createServer({ maxHeaderSize: Math.max(16 * 1024, vendor.config.limits.maxHeaderBytes + 1024) }, (req, res) => {
    void (async () => {
      try {
        const idV = vendor.config.idV;
        const method = req.method ?? 'GET';
        const address = req.socket.remoteAddress;
        const info = { ...(address ? { address } : {}), headers: req.headers };
        if (vendor.answers(method, new URL(req.url ?? '/', idV).pathname)) {
          // The vendor's requests go through as plain bytes: no Web Request or Response is built.
          let body: Uint8Array;
          try {
            body = method === 'GET' || method === 'HEAD' ? new Uint8Array(0) : await readBody(req, vendor.config.limits.maxBodyBytes);
          } catch (e) {
            if (!(e instanceof JanusError)) throw e;
            writeMessage(res, errorResponse(e), true); // the rest of the body is not read: close
            return;
          }
          const answer = await vendor.handleMessage({ method, url: idV + (req.url ?? '/'), headers: nodeHeaders(req.headers), body }, info);
          if (answer) {
            writeMessage(res, answer);
            return;
          }
        }
        const request = toWebRequest(req, idV);
        await writeWebResponse(res, await fallback(request, await vendor.identify(request, info)));
      } catch (e) {
        console.error('janus: server error:', e instanceof Error ? e.message : e);
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
        res.end('internal error');
      }
    })();
  });
}
