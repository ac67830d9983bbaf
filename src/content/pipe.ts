/**
 * The pipe (Chrome only: src/background/transport.ts): an extension page the relay puts into a
 * Janus page as a hidden frame, whose URL ends in a token only that relay knows. It hands the
 * service worker one end of a MessageChannel under that token (a channel of its own: about three
 * times faster for large buffers than the worker's client.postMessage, measured in Chromium 156);
 * the worker posts large response bodies down it as bytes (a structured clone, where Chrome's
 * extension messaging is JSON), and the pipe hands them to the relay of the page it is in, which
 * takes them only from this frame. It holds no key and sees only the decrypted bodies the page is
 * about to receive anyway.
 */
import type { PipeMessage } from '../shared-ext/types.ts';

const token = location.hash.slice(1);
// Only the frame's parent: the page that embedded it (Chrome's location.ancestorOrigins).
const parentOrigin = location.ancestorOrigins?.[0] ?? null;

function deliver(data: unknown): void {
  const { seq, body } = (data ?? {}) as { seq?: unknown; body?: unknown };
  if (typeof seq !== 'number' || !(body instanceof ArrayBuffer) || !parentOrigin || window.parent === window) return;
  const message: PipeMessage = { janusPipe: seq, body };
  window.parent.postMessage(message, parentOrigin, [body]);
}

/** Gives the worker a channel to this pipe (again after the worker restarted and forgot it). */
async function connect(): Promise<void> {
  const channel = new MessageChannel();
  channel.port1.onmessage = (e) => deliver(e.data);
  const worker = (await navigator.serviceWorker.ready).active;
  worker?.postMessage({ pipe: token, port: channel.port2 }, [channel.port2]);
}

// The worker's own postMessage: a body sent while it had no channel, or a request for a new one.
navigator.serviceWorker.addEventListener('message', (e: MessageEvent) => {
  if ((e.data as { reconnect?: unknown } | null)?.reconnect === true) void connect();
  else deliver(e.data);
});
navigator.serviceWorker.startMessages();
void connect();
