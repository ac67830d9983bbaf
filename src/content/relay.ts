/**
 * Isolated world: relays the MAIN-world script's requests to the service worker and its answers back.
 * Forwards only `page.*` messages; the worker takes the origin from this frame, not from the message.
 *
 * On a Janus site the requests go over one long-lived port (runtime.connect), opened when the
 * page's routes arrive: a message on an open port costs about half a `runtime.sendMessage`, which
 * opens and closes a channel and reaches every extension context each time. Everything else
 * (`page.routes`, first on every page of every site) uses `runtime.sendMessage`, so sites that are
 * not Janus vendors never hold a port. The port closes when the worker stops (idle, restart) or the
 * page enters the back/forward cache; the next request opens a new one.
 */
import type { Runtime } from 'webextension-polyfill';
import { browser } from '../shared-ext/browser.ts';
import { RELAY_PORT, RELAY_REQUEST, RELAY_RESPONSE, type Reply } from '../shared-ext/types.ts';
import { replayable, type RelayMessage } from './relay-policy.ts';

const READY = 'janus:relay-ready';
const PING = 'janus:page-ping';

function answer(id: string, reply: Reply<unknown>): void {
  answerJson(JSON.stringify({ id, reply }));
}

function answerJson(detail: string): void {
  document.dispatchEvent(new CustomEvent(RELAY_RESPONSE, { detail }));
}

const noAnswer = (why: string): Reply<never> => ({ ok: false, error: { code: 'internal', message: `the extension did not answer (${why})` } });

function viaMessage(id: string, msg: RelayMessage): void {
  browser.runtime.sendMessage(msg).then(
    (reply: unknown) => answer(id, (reply as Reply<unknown>) ?? noAnswer('no answer')),
    (err: unknown) => answer(id, noAnswer(err instanceof Error ? err.message : String(err))),
  );
}

/** The open port and the requests waiting on it. */
let channel: { port: Runtime.Port; waiting: Map<string, RelayMessage> } | null = null;

function connect(): NonNullable<typeof channel> {
  if (channel) return channel;
  const port = browser.runtime.connect({ name: RELAY_PORT });
  const ch = { port, waiting: new Map<string, RelayMessage>() };
  port.onMessage.addListener((m: unknown) => {
    // The worker sends the page's event detail ready-made: no parse and serialize again here.
    const { id, json } = (m ?? {}) as { id?: unknown; json?: unknown };
    if (typeof id !== 'string' || !ch.waiting.delete(id)) return;
    if (typeof json === 'string') answerJson(json);
    else answer(id, noAnswer('no answer'));
  });
  port.onDisconnect.addListener(() => {
    if (channel === ch) channel = null;
    // The worker went away with these unanswered. Whether it had started them is unknown, so only
    // what is safe to repeat is sent again (runtime.sendMessage starts a new worker); the rest fail
    // as a closed runtime.sendMessage would.
    for (const [id, msg] of ch.waiting) {
      if (replayable(msg)) viaMessage(id, msg);
      else answer(id, noAnswer('the extension stopped before it answered; try again'));
    }
    ch.waiting.clear();
  });
  channel = ch;
  return ch;
}

function viaPort(id: string, msg: RelayMessage): void {
  for (let attempt = 0; attempt < 2; attempt++) {
    let ch: NonNullable<typeof channel> | null = null;
    try {
      ch = connect();
      ch.waiting.set(id, msg);
      ch.port.postMessage({ id, ...msg });
      return;
    } catch {
      // Disconnected before onDisconnect reached us, or no extension to connect to (reloaded):
      // nothing was sent; forget that port.
      ch?.waiting.delete(id);
      if (ch && channel === ch) channel = null;
    }
  }
  viaMessage(id, msg); // answers with the reason if the extension is gone
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
  if (type !== 'page.routes') {
    viaPort(id, { type, payload });
    return;
  }
  browser.runtime.sendMessage({ type, payload }).then(
    (reply: unknown) => {
      const r = reply as Reply<{ janus?: unknown }> | undefined;
      // A Janus site: open the port now, so the first protected fetch does not wait for it.
      if (r?.ok && r.value?.janus === true) {
        try {
          connect();
        } catch {
          // no port now; the first request tries again
        }
      }
      answer(id, r ?? noAnswer('no answer'));
    },
    (err: unknown) => answer(id, noAnswer(err instanceof Error ? err.message : String(err))),
  );
});

document.addEventListener(PING, () => document.dispatchEvent(new CustomEvent(READY)));
document.dispatchEvent(new CustomEvent(READY));
