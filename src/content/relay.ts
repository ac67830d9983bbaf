/**
 * Isolated world, on every https (and loopback) page: relays the page script's requests
 * (page.iife.ts, present only on Janus sites) to the worker and its answers back. Forwards only
 * `page.*` messages; the worker takes the origin from this frame, not from the message.
 *
 * Silent by default (docs/PERMISSIONS.md, fingerprinting): it dispatches nothing and answers
 * nothing until the worker has said this frame is a Janus vendor's (`page.hello`), so a page that
 * pokes at the relay's events learns nothing about whether Janus is installed. It speaks first only
 * when the site asks for the provider (`janus:requestProvider`), and then only by having the worker
 * inject the page script when the site is a Janus vendor.
 *
 * On a Janus site the requests go over one long-lived port (runtime.connect): a message on an open
 * port costs about half a `runtime.sendMessage`. The port closes when the worker stops (idle,
 * restart) or the page enters the back/forward cache; the next request opens a new one.
 */
import type { Runtime } from 'webextension-polyfill';
import { browser, messagingClonesBytes } from '../shared-ext/browser.ts';
import { PROVIDER_REQUEST, RELAY_PING, RELAY_PORT, RELAY_READY, RELAY_REQUEST, RELAY_RESPONSE, type FrameState, type PipeMessage, type RelayReady, type Reply } from '../shared-ext/types.ts';
import { replayable, type RelayMessage } from './relay-policy.ts';

/** Firefox's way to hand an object (with its bytes) to the page's world (MDN: cloneInto). */
declare const cloneInto: ((obj: unknown, target: Window) => unknown) | undefined;

function answerJson(detail: string): void {
  document.dispatchEvent(new CustomEvent(RELAY_RESPONSE, { detail }));
}

/** To the page script: a JSON string where the background speaks JSON, a clone where it clones. */
function answer(id: string, reply: Reply<unknown>): void {
  if (messagingClonesBytes() && typeof cloneInto === 'function') {
    document.dispatchEvent(new CustomEvent(RELAY_RESPONSE, { detail: cloneInto({ id, reply }, window) }));
  } else answerJson(JSON.stringify({ id, reply }));
}

// ---- the pipe frame (Chrome): large bodies as bytes (src/background/transport.ts) ----

let pipe: { token: string; frame: HTMLIFrameElement } | null = null;

/**
 * Puts the pipe frame into the page, once, on a Janus frame (Chrome). It sits in a closed shadow
 * root made here, so the page never sees its URL (the extension's per-session address: the same on
 * every site, so it must not reach pages, docs/PERMISSIONS.md): no element, no window.frames entry,
 * no resource timing (checked in Chromium 156).
 */
function openPipe(): void {
  if (pipe || messagingClonesBytes()) return; // Firefox clones bytes in its messaging: no pipe (transport.ts)
  const bytes = crypto.getRandomValues(new Uint8Array(18));
  const token = btoa(String.fromCharCode(...bytes)).replace(/\+/g, '-').replace(/\//g, '_');
  const frame = document.createElement('iframe');
  frame.src = `${browser.runtime.getURL('src/content/pipe.html')}#${token}`;
  frame.style.display = 'none';
  const host = document.createElement('janus-pipe');
  host.attachShadow({ mode: 'closed' }).append(frame);
  host.style.display = 'none';
  document.documentElement.append(host);
  pipe = { token, frame };
}

// A body from the pipe goes on to the page script, as a message from this window, which no other
// frame can send; the page script pairs it with its reply by the sequence number.
window.addEventListener('message', (e) => {
  if (!pipe || e.source !== pipe.frame.contentWindow) return;
  const m = e.data as Partial<PipeMessage>;
  if (typeof m?.janusPipe !== 'number' || !(m.body instanceof ArrayBuffer)) return;
  window.postMessage({ janusPipe: m.janusPipe, body: m.body }, location.origin, [m.body]);
});

const noAnswer = (why: string): Reply<never> => ({ ok: false, error: { code: 'internal', message: `the extension did not answer (${why})` } });

// ---- what the worker says of this frame ----

let verdict: Promise<FrameState> | null = null;

/**
 * A message to the background that settles within `ms`: one sent while the background was being
 * stopped may never be answered (seen in Firefox when its event page is unloaded mid-message).
 */
function ask(message: unknown, ms = 3000): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no answer in time')), ms);
    browser.runtime.sendMessage(message).then(
      (v: unknown) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(timer);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}

function hello(): Promise<FrameState> {
  verdict ??= ask({ type: 'page.hello', payload: {} }).then(
    (reply: unknown) => {
      const r = reply as Reply<FrameState> | undefined;
      if (r?.ok) return r.value;
      // No reply (a worker that went away while it handled the message): ask again at the next ping.
      if (typeof r !== 'object' || r === null) verdict = null;
      return { state: 'silent' as const };
    },
    () => {
      // No answer: stay silent now, and ask again at the next ping (the page script pings again).
      verdict = null;
      return { state: 'silent' as const };
    },
  );
  return verdict;
}

// ---- requests ----

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
    // Chrome: the page's event detail ready-made (no parse and serialize again here); Firefox: the reply itself.
    const { id, json, reply } = (m ?? {}) as { id?: unknown; json?: unknown; reply?: Reply<unknown> };
    if (typeof id !== 'string' || !ch.waiting.delete(id)) return;
    if (typeof json === 'string') answerJson(json);
    else answer(id, reply ?? noAnswer('no answer'));
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
      ch.port.postMessage({ id, ...msg, ...(pipe ? { pipe: pipe.token } : {}) });
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

function forward(id: string, msg: RelayMessage, state: FrameState): void {
  if (state.state === 'silent') return;
  if (state.state === 'refused') return answer(id, { ok: false, error: state.error });
  viaPort(id, msg);
}

document.addEventListener(RELAY_REQUEST, (e) => {
  const detail = (e as CustomEvent<unknown>).detail;
  if (typeof detail !== 'string' || detail.length > 32 * 1024 * 1024) return;
  let msg: { id?: unknown; type?: unknown; payload?: unknown };
  try {
    msg = JSON.parse(detail) as typeof msg;
  } catch {
    return;
  }
  const { id, type } = msg;
  if (typeof id !== 'string' || typeof type !== 'string' || !type.startsWith('page.')) return;
  let payload = msg.payload;
  if (type === 'page.register') {
    // A registration window opens only right after the user acted on this page (clicked, typed).
    // Read here, where the page cannot fake it, at the moment the request arrives.
    const activation = (navigator as { userActivation?: { isActive?: boolean } }).userActivation?.isActive === true;
    payload = { ...(typeof payload === 'object' && payload !== null ? payload : {}), userActivation: activation };
  }
  void hello().then((state) => forward(id, { type, payload }, state));
});

document.addEventListener(RELAY_PING, () => {
  pageScriptSeen = true;
  void hello().then((state) => {
    if (state.state === 'silent') return;
    if (state.state === 'janus') {
      openPipe();
      try {
        connect(); // the first protected fetch need not wait for the port
      } catch {
        // no port now; the first request tries again
      }
    }
    const ready: RelayReady = { ...state, ...(pipe ? { pipe: true } : {}) };
    document.dispatchEvent(new CustomEvent(RELAY_READY, { detail: JSON.stringify(ready) }));
  });
});

// The site asks for the provider: the worker looks at this origin (discovery, only now) and, on a
// Janus site, injects the page script, which announces itself and pings this relay. Asked once per
// document, and asked again until the page script's ping arrives or the worker says this is no
// Janus site: a worker stopped mid-request (an idle event page unloaded, a service worker
// restarted) may have lost the question, its answer, or the injection itself.
let provided = false;
let pageScriptSeen = false;
const PROVIDE_ATTEMPTS = 8;
function provide(attempt: number): void {
  const again = () => {
    if (pageScriptSeen) return;
    if (attempt + 1 < PROVIDE_ATTEMPTS) setTimeout(() => provide(attempt + 1), Math.min(100 * 2 ** attempt, 2000));
    else provided = false; // gave up: a later request from the site starts over
  };
  ask({ type: 'page.provide', payload: {} }).then(
    (reply: unknown) => {
      const r = reply as Reply<{ injected?: boolean }> | undefined;
      // No reply at all (Firefox resolves with undefined when the event page goes away while it
      // handles the message): ask again.
      if (typeof r !== 'object' || r === null || typeof r.ok !== 'boolean') return again();
      if (!r.ok || !r.value.injected) return; // no Janus site here (or a refusal): nothing to wait for
      verdict = null; // the worker may now know this frame: ask again at the page script's ping
      // Injected, by the worker's word: the page script pings at once. No ping, no script: ask again.
      setTimeout(again, 1500);
    },
    again,
  );
}
window.addEventListener(PROVIDER_REQUEST, () => {
  if (provided) return;
  provided = true;
  provide(0);
});
