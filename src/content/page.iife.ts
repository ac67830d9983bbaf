/**
 * MAIN world, document_start: wraps window.fetch before any page script runs and defines
 * window.janus. Holds no key and no extension API: it talks to the isolated relay (relay.ts) with
 * DOM events carrying JSON strings. Bundled as one self-contained IIFE (no polyfill, no imports at run time).
 */
import { RELAY_REQUEST, RELAY_RESPONSE, type PageRoutes, type PageStatus, type Reply, type WireRequest, type WireResponse } from '../shared-ext/types.ts';
import { decodeBody, encodeBody } from '../shared-ext/wire.ts';

(() => {
  if ((window as { janus?: unknown }).janus !== undefined) return;
  const nativeFetch = window.fetch.bind(window);
  const READY = 'janus:relay-ready';
  const PING = 'janus:page-ping';

  class JanusError extends Error {
    override name = 'JanusError';
    constructor(
      readonly code: string,
      message: string,
    ) {
      super(message);
    }
  }

  // ---- the relay channel ----
  const waiting = new Map<string, { resolve: (v: unknown) => void; reject: (e: unknown) => void }>();
  const queue: string[] = [];
  let ready = false;
  let seq = 0;

  document.addEventListener(READY, () => {
    ready = true;
    for (const d of queue.splice(0)) document.dispatchEvent(new CustomEvent(RELAY_REQUEST, { detail: d }));
  });
  document.addEventListener(RELAY_RESPONSE, (e) => {
    const detail = (e as CustomEvent).detail;
    if (typeof detail !== 'string') return;
    let msg: { id?: unknown; reply?: Reply<unknown> };
    try {
      msg = JSON.parse(detail) as typeof msg;
    } catch {
      return;
    }
    const w = typeof msg.id === 'string' ? waiting.get(msg.id) : undefined;
    if (!w || !msg.reply) return;
    waiting.delete(msg.id as string);
    if (msg.reply.ok) w.resolve(msg.reply.value);
    else w.reject(new JanusError(String(msg.reply.error?.code ?? 'internal'), String(msg.reply.error?.message ?? 'the extension failed')));
  });
  document.dispatchEvent(new CustomEvent(PING));

  function call<T>(type: string, payload: unknown): Promise<T> {
    const id = `${Date.now().toString(36)}.${(seq++).toString(36)}.${Math.random().toString(36).slice(2)}`;
    const detail = JSON.stringify({ id, type, payload });
    return new Promise<T>((resolve, reject) => {
      waiting.set(id, { resolve: resolve as (v: unknown) => void, reject });
      if (ready) document.dispatchEvent(new CustomEvent(RELAY_REQUEST, { detail }));
      else queue.push(detail);
    });
  }

  // ---- which requests are protected (docs/PROTOCOL.md §5 route matching) ----
  const routes: Promise<PageRoutes> = call<PageRoutes>('page.routes', {}).catch(() => ({ janus: false, routes: [] }));

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
    const res = await call<WireResponse>('page.fetch', { request: wire });
    const nullBody = res.status === 204 || res.status === 205 || res.status === 304 || req.method === 'HEAD';
    return new Response(nullBody ? null : decodeBody(res.body), { status: res.status, statusText: res.statusText, headers: res.headers });
  }

  window.fetch = janusFetch as typeof window.fetch;

  /** The page API (docs/PAGE-API.md). */
  const api = Object.freeze({
    version: 1,
    status: (): Promise<PageStatus> => call<PageStatus>('page.status', {}),
    register: (data?: unknown, options?: { receipt?: boolean; chain?: number }): Promise<unknown> =>
      call('page.register', { data: data ?? {}, options: options ?? {} }),
    acknowledge: (which?: { sub: string; i: number }): Promise<unknown> => call('page.acknowledge', { which: which ?? null }),
  });
  Object.defineProperty(window, 'janus', { value: api, writable: false, configurable: false, enumerable: false });
})();
