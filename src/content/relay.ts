/**
 * Isolated world: relays the MAIN-world script's requests to the service worker and its answers back.
 * Forwards only `page.*` messages; the worker takes the origin from this frame, not from the message.
 */
import { browser } from '../shared-ext/browser.ts';
import { RELAY_REQUEST, RELAY_RESPONSE, type Reply } from '../shared-ext/types.ts';

const READY = 'janus:relay-ready';
const PING = 'janus:page-ping';

function answer(id: string, reply: Reply<unknown>): void {
  document.dispatchEvent(new CustomEvent(RELAY_RESPONSE, { detail: JSON.stringify({ id, reply }) }));
}

document.addEventListener(RELAY_REQUEST, (e) => {
  const detail = (e as CustomEvent).detail;
  if (typeof detail !== 'string' || detail.length > 32 * 1024 * 1024) return;
  let msg: { id?: unknown; type?: unknown; payload?: unknown };
  try {
    msg = JSON.parse(detail) as typeof msg;
  } catch {
    return;
  }
  const { id, type, payload } = msg;
  if (typeof id !== 'string') return;
  if (typeof type !== 'string' || !type.startsWith('page.')) {
    answer(id, { ok: false, error: { code: 'origin_not_allowed', message: 'pages may send page.* messages only' } });
    return;
  }
  browser.runtime.sendMessage({ type, payload }).then(
    (reply: unknown) => answer(id, (reply as Reply<unknown>) ?? { ok: false, error: { code: 'internal', message: 'no answer' } }),
    (err: unknown) => answer(id, { ok: false, error: { code: 'internal', message: `the extension did not answer (${err instanceof Error ? err.message : String(err)})` } }),
  );
});

document.addEventListener(PING, () => document.dispatchEvent(new CustomEvent(READY)));
document.dispatchEvent(new CustomEvent(READY));
