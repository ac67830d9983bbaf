/**
 * MAIN world, on a Janus vendor's pages only: the worker registers it for the vendors in the list
 * (at document_start, so it wraps window.fetch before any page script) and injects it into a page
 * of a Janus site that asked for the provider (docs/PAGE-API.md). It defines `window.janus`,
 * announces the provider (`janus:announceProvider`, after EIP-6963), and sends the page's fetches
 * to its protected routes through the extension. Holds no key and no extension API: it talks to
 * the isolated relay (relay.ts) with DOM events carrying JSON strings. Bundled as one
 * self-contained IIFE (no polyfill, no imports at run time).
 *
 * Every call settles: with the answer, with the typed error of a frame Janus refuses (a sandboxed
 * document, a frame of another site), or, when no extension answers at all, with `internal`.
 */
import {
  PROVIDER_ANNOUNCE,
  PROVIDER_REQUEST,
  RELAY_PING,
  RELAY_READY,
  RELAY_REQUEST,
  RELAY_RESPONSE,
  type ExtensionError,
  type PageRoutes,
  type PipeMessage,
  type RelayReady,
  type PageStatus,
  type Reply,
  type WireBody,
  type WireRequest,
} from '../shared-ext/types.ts';
import type { AnswerOf, PageMessageType, RequestOf } from '../shared-ext/messages.ts';
import { decodeBody, encodeBody } from '../shared-ext/wire.ts';

(() => {
  if ((window as { janus?: unknown }).janus !== undefined) return;
  const nativeFetch = window.fetch.bind(window);

  class JanusError extends Error {
    override name = 'JanusError';
    constructor(
      readonly code: string,
      message: string,
      readonly details?: Record<string, unknown>,
    ) {
      super(message);
    }
  }
  const toError = (e: ExtensionError | undefined) =>
    new JanusError(String(e?.code ?? 'internal'), String(e?.message ?? 'the extension failed'), e?.details && typeof e.details === 'object' ? e.details : undefined);

  // ---- the relay channel ----
  const waiting = new Map<string, { resolve: (v: unknown) => void; reject: (e: unknown) => void }>();
  const queue: string[] = [];
  /** null until the relay answers; then what the worker says of this frame. */
  let state: RelayReady | { state: 'gone' } | null = null;
  let seq = 0;

  function settleQueue(): void {
    for (const detail of queue.splice(0)) {
      if (state?.state === 'janus') document.dispatchEvent(new CustomEvent(RELAY_REQUEST, { detail }));
      else {
        const { id } = JSON.parse(detail) as { id: string };
        const w = waiting.get(id);
        waiting.delete(id);
        w?.reject(state?.state === 'refused' ? toError(state.error) : new JanusError('internal', 'the Janus extension did not answer on this page'));
      }
    }
  }

  document.addEventListener(RELAY_READY, (e) => {
    if (state !== null) return;
    try {
      const s = JSON.parse(String((e as CustomEvent).detail)) as RelayReady;
      if (s.state !== 'janus' && s.state !== 'refused') return;
      state = s;
    } catch {
      return;
    }
    settleQueue();
  });
  document.addEventListener(RELAY_RESPONSE, (e) => {
    // A JSON string, or (Firefox) the reply itself, cloned into this world with its bytes.
    const detail = (e as CustomEvent).detail as unknown;
    let msg: { id?: unknown; reply?: Reply<unknown> };
    try {
      msg = (typeof detail === 'string' ? JSON.parse(detail) : detail) as typeof msg;
    } catch {
      return;
    }
    if (typeof msg !== 'object' || msg === null) return;
    const w = typeof msg.id === 'string' ? waiting.get(msg.id) : undefined;
    if (!w || !msg.reply) return;
    waiting.delete(msg.id as string);
    if (msg.reply.ok) w.resolve(msg.reply.value);
    else w.reject(toError(msg.reply.error));
  });

  // The relay may start after this script (both run at document_start): ask again a few times,
  // then give up, so that nothing waits forever on a page where the extension is gone.
  const PINGS_MS = [0, 50, 250, 1000, 3000, 6000];
  PINGS_MS.forEach((ms) => setTimeout(() => state === null && document.dispatchEvent(new CustomEvent(RELAY_PING)), ms));
  setTimeout(() => {
    if (state !== null) return;
    state = { state: 'gone' };
    settleQueue();
  }, 10_000);

  function call<T extends PageMessageType>(type: T, payload: RequestOf<T>): Promise<AnswerOf<T>> {
    const id = `${Date.now().toString(36)}.${(seq++).toString(36)}.${Math.random().toString(36).slice(2)}`;
    const detail = JSON.stringify({ id, type, payload });
    return new Promise<AnswerOf<T>>((resolve, reject) => {
      waiting.set(id, { resolve: resolve as (v: unknown) => void, reject });
      queue.push(detail);
      if (state !== null) settleQueue();
    });
  }

  // ---- bodies from the pipe frame (Chrome: large bodies as bytes; src/background/transport.ts) ----
  const piped = new Map<number, ArrayBuffer>();
  const pipeWaiting = new Map<number, (b: ArrayBuffer) => void>();
  window.addEventListener('message', (e) => {
    // Only from the relay (a message from this very window): another frame cannot send one that
    // is taken for a body.
    if (e.source !== window || !(state && 'pipe' in state && state.pipe)) return;
    const m = e.data as Partial<PipeMessage>;
    if (typeof m?.janusPipe !== 'number' || !(m.body instanceof ArrayBuffer)) return;
    const w = pipeWaiting.get(m.janusPipe);
    if (w) {
      pipeWaiting.delete(m.janusPipe);
      w(m.body);
    } else piped.set(m.janusPipe, m.body);
  });

  function bodyBytes(b: WireBody): Promise<Uint8Array<ArrayBuffer>> | Uint8Array<ArrayBuffer> {
    if (typeof b === 'string') return decodeBody(b);
    if (b instanceof Uint8Array) return b as Uint8Array<ArrayBuffer>;
    const seq = b.pipe;
    const ready = piped.get(seq);
    if (ready) {
      piped.delete(seq);
      return new Uint8Array(ready);
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        pipeWaiting.delete(seq);
        reject(new JanusError('internal', 'the response body did not arrive from the extension'));
      }, 30_000);
      pipeWaiting.set(seq, (buf) => {
        clearTimeout(timer);
        resolve(new Uint8Array(buf));
      });
    });
  }

  // ---- which requests are protected (docs/PROTOCOL.md §5 route matching) ----
  const routes: Promise<PageRoutes> = call('page.routes', {}).catch(() => ({ janus: false, routes: [] }));

  function protectedRoute(r: PageRoutes, pathname: string, method: string): boolean {
    for (const route of r.routes) {
      const hit = route.path.endsWith('/*') ? pathname.startsWith(route.path.slice(0, -1)) : pathname === route.path;
      if (hit && (route.methods === null || route.methods.includes(method))) return route.level !== 'credential';
    }
    return false;
  }

  function target(input: RequestInfo | URL, init?: RequestInit): { url: URL; method: string } | null {
    try {
      const url = input instanceof Request ? new URL(input.url) : new URL(String(input), location.href);
      const method = (init?.method ?? (input instanceof Request ? input.method : 'GET')).toUpperCase();
      return { url, method };
    } catch {
      return null;
    }
  }

  async function janusFetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response> {
    const t = target(input, init);
    if (!t || t.url.origin !== location.origin) return nativeFetch(input, init);
    const r = await routes;
    if (!r.janus || !protectedRoute(r, t.url.pathname, t.method)) return nativeFetch(input, init);
    const req = new Request(input, init);
    const body = req.method === 'GET' || req.method === 'HEAD' ? null : new Uint8Array(await req.arrayBuffer());
    const wire: WireRequest = {
      url: req.url,
      method: req.method,
      headers: [...req.headers.entries()],
      body: body && body.length ? encodeBody(body) : null,
    };
    const res = await call('page.fetch', { request: wire });
    const nullBody = res.status === 204 || res.status === 205 || res.status === 304 || req.method === 'HEAD';
    return new Response(nullBody ? null : await bodyBytes(res.body), { status: res.status, statusText: res.statusText, headers: res.headers });
  }

  window.fetch = janusFetch as typeof window.fetch;

  /** The page API (docs/PAGE-API.md). */
  const api = Object.freeze({
    version: 1,
    status: (): Promise<PageStatus> => call('page.status', {}),
    register: (data?: unknown, options?: { receipt?: boolean; chain?: number }): Promise<unknown> =>
      call('page.register', { data: data ?? {}, options: options ?? {} }),
    acknowledge: (which?: { sub: string; i: number }): Promise<unknown> => call('page.acknowledge', { which: which ?? null }),
  });
  Object.defineProperty(window, 'janus', { value: api, writable: false, configurable: false, enumerable: false });

  const info = Object.freeze({ name: 'Janus', version: 1 });
  const announce = () => window.dispatchEvent(new CustomEvent(PROVIDER_ANNOUNCE, { detail: Object.freeze({ info, provider: api }) }));
  window.addEventListener(PROVIDER_REQUEST, announce);
  announce();
})();
