/**
 * How a reply with a body leaves the background (docs/PAGE-API.md; bench/extension.ts measures it).
 * Handlers answer with bytes; what the channel can carry decides the form (browser.ts):
 *
 * - Firefox's extension messaging is a structured clone: the bytes go as they are. (A pipe frame
 *   gains nothing there: the background reaches a frame only by that same messaging, or a
 *   BroadcastChannel, about as fast, and runtime.getBackgroundPage is not given to extension
 *   frames inside web pages; all seen in Firefox ESR 153.)
 * - Chrome's is JSON: a small body goes as base64url text; from PIPE_MIN_BYTES on, the bytes go to
 *   the frame's pipe (src/content/pipe.ts, an extension page the relay puts into a Janus page) over
 *   a MessageChannel the pipe handed over, which carries them as bytes, and the reply names it. The
 *   pipe is known by the token in its URL, which only the relay of that frame knows.
 */
import { messagingClonesBytes } from '../shared-ext/browser.ts';
import { PIPE_MIN_BYTES, type Reply, type WireBody } from '../shared-ext/types.ts';
import { encodeBody } from '../shared-ext/wire.ts';

type WithBody = { body: WireBody };

function bodyOf(reply: Reply<unknown>): Uint8Array | null {
  if (!reply.ok || typeof reply.value !== 'object' || reply.value === null) return null;
  const body = (reply.value as Partial<WithBody>).body;
  return body instanceof Uint8Array ? body : null;
}

function withBody(reply: Reply<unknown>, body: WireBody): Reply<unknown> {
  return reply.ok ? { ok: true, value: { ...(reply.value as object), body } } : reply;
}

let pipeSeq = 0;
const TOKEN_RE = /^[A-Za-z0-9_-]{16,64}$/;
/** The channels the pipes gave this worker, by token (memory only: a new worker asks for them again). */
const channels = new Map<string, MessagePort>();

/** A pipe hands over its channel (the worker's `message` event, from an extension page of ours). */
export function pipeConnected(data: unknown): void {
  const { pipe, port } = (data ?? {}) as { pipe?: unknown; port?: unknown };
  if (typeof pipe !== 'string' || !TOKEN_RE.test(pipe) || !(port instanceof MessagePort)) return;
  channels.get(pipe)?.close();
  channels.set(pipe, port);
  if (channels.size > 500) {
    const oldest = channels.keys().next().value!;
    channels.get(oldest)?.close();
    channels.delete(oldest);
  }
}

/** Sends `bytes` to the pipe whose URL ends in `#token`; its sequence number, or null when there is none. */
async function throughPipe(token: string, bytes: Uint8Array): Promise<number | null> {
  if (!TOKEN_RE.test(token)) return null;
  const seq = ++pipeSeq;
  const buffer = ownBuffer(bytes);
  const channel = channels.get(token);
  if (channel) {
    channel.postMessage({ seq, body: buffer }, [buffer]);
    return seq;
  }
  // A worker that started after the pipe connected: the pipe's client, found by its URL, takes this
  // body the slower way and is asked for a channel for the next.
  const sw = globalThis as unknown as { clients?: { matchAll(o: object): Promise<{ url: string; postMessage(m: unknown, t?: Transferable[]): void }[]> } };
  if (!sw.clients) return null;
  const all = await sw.clients.matchAll({ type: 'window', includeUncontrolled: true });
  const client = all.find((c) => new URL(c.url).hash === `#${token}`);
  if (!client) return null;
  client.postMessage({ seq, body: buffer }, [buffer]);
  client.postMessage({ reconnect: true });
  return seq;
}

/** The buffer holding exactly `bytes` (transferred, not copied, to the pipe). */
function ownBuffer(bytes: Uint8Array): ArrayBuffer {
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? (bytes.buffer as ArrayBuffer) : bytes.slice().buffer;
}

/** The reply in the form the channel carries; `pipe` is the relay's token for this frame's pipe, if it has one. */
export async function forChannel(reply: Reply<unknown>, pipe?: string): Promise<Reply<unknown>> {
  const body = bodyOf(reply);
  if (!body) return reply;
  if (messagingClonesBytes()) return reply;
  if (pipe !== undefined && body.length >= PIPE_MIN_BYTES) {
    const seq = await throughPipe(pipe, body);
    if (seq !== null) return withBody(reply, { pipe: seq });
  }
  return withBody(reply, encodeBody(body));
}
