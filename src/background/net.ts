/** The worker's HTTP: protocol messages (src/protocol/http.ts) over fetch, and back. */
import { JanusError, normalizeHeaders, type HttpRequestMsg, type HttpResponseMsg } from '../protocol/index.ts';

export async function send(req: HttpRequestMsg): Promise<HttpResponseMsg> {
  let res: Response;
  try {
    res = await fetch(req.url, {
      method: req.method,
      headers: req.headers,
      ...(req.body.length && req.method !== 'GET' && req.method !== 'HEAD' ? { body: req.body as Uint8Array<ArrayBuffer> } : {}),
      credentials: 'omit',
      cache: 'no-store',
      redirect: 'error',
    });
  } catch (e) {
    throw new JanusError('unreachable', `the site could not be reached (${e instanceof Error ? e.message : String(e)})`);
  }
  return { status: res.status, headers: normalizeHeaders(res.headers), body: new Uint8Array(await res.arrayBuffer()) };
}
