/**
 * HTTP/1.1 over a bare socket, for tests that must send what no client library sends: any method,
 * any request-target, header names in any case, repeated, with underscores, a Content-Length that
 * lies, a body that stops. One request per connection (`Connection: close`).
 */
import { connect } from 'node:net';

export interface RawRequest {
  method: string;
  /** The request-target exactly as sent. */
  target: string;
  /** In order, names as spelled; repeats allowed. */
  headers: [string, string][];
  body: Uint8Array;
  /** Send the head and this many body bytes, then close the connection without waiting (an abandoned upload). */
  abandonAfter?: number;
}

export interface RawAnswer {
  /** 0 when the connection closed without an answer. */
  status: number;
  /** Lower-case names; repeated fields joined with ", ". */
  headers: Record<string, string>;
  body: Uint8Array;
}

function parse(buf: Buffer): RawAnswer {
  const end = buf.indexOf('\r\n\r\n');
  if (end < 0) return { status: 0, headers: {}, body: new Uint8Array(0) };
  const lines = buf.subarray(0, end).toString('latin1').split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '');
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    const i = line.indexOf(':');
    if (i <= 0) continue;
    const k = line.slice(0, i).trim().toLowerCase();
    const v = line.slice(i + 1).trim();
    headers[k] = headers[k] === undefined ? v : `${headers[k]}, ${v}`;
  }
  let body = buf.subarray(end + 4);
  if (headers['transfer-encoding']?.toLowerCase().includes('chunked')) {
    const parts: Buffer[] = [];
    let o = 0;
    for (;;) {
      const nl = body.indexOf('\r\n', o);
      if (nl < 0) break;
      const size = parseInt(body.subarray(o, nl).toString('latin1'), 16);
      if (!Number.isFinite(size) || size === 0) break;
      parts.push(body.subarray(nl + 2, nl + 2 + size));
      o = nl + 2 + size + 2;
    }
    body = Buffer.concat(parts);
  } else if (headers['content-length'] !== undefined) body = body.subarray(0, Number(headers['content-length']));
  return { status: m ? Number(m[1]) : 0, headers, body: new Uint8Array(body) };
}

/** Sends one request and reads the answer to the end of the connection. */
export function sendRaw(port: number, r: RawRequest, timeoutMs = 15_000): Promise<RawAnswer> {
  return new Promise((resolve) => {
    const sock = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve(parse(Buffer.concat(chunks)));
    };
    const timer = setTimeout(() => {
      sock.destroy();
      finish();
    }, timeoutMs);
    sock.on('data', (c: Buffer) => chunks.push(c));
    sock.on('error', finish);
    sock.on('close', finish);
    let head = `${r.method} ${r.target} HTTP/1.1\r\n`;
    for (const [k, v] of r.headers) head += `${k}: ${v}\r\n`;
    head += 'Connection: close\r\n\r\n';
    if (r.abandonAfter !== undefined) {
      sock.write(head);
      sock.write(r.body.subarray(0, r.abandonAfter), () => setTimeout(() => sock.destroy(), 5));
      return;
    }
    // No half-close: Node's server drops an answer in progress when the client ends first.
    sock.write(head);
    if (r.body.length) sock.write(r.body);
  });
}
