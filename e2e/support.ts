/** e2e helpers over the driver (driver.ts): the same steps in both browsers. */
import type { ExtBrowser, ExtPage } from './driver.ts';

export { ENGINES, launch, tempDir, type Engine, type ExtBrowser, type ExtPage } from './driver.ts';

const POPUP = 'src/popup/index.html';
export const OPTIONS = 'src/options/index.html';

/** Polls `fn` until it returns a value `check` accepts (the value is returned), or fails with the last one. */
export async function eventually<T>(fn: () => Promise<T>, check: (v: T) => boolean, what: string, timeoutMs = 15_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: T | undefined;
  let error: unknown;
  for (;;) {
    try {
      last = await fn();
      if (check(last)) return last;
    } catch (e) {
      error = e;
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(last)}${error ? ` (${error instanceof Error ? error.message : JSON.stringify(error)})` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export function text(page: ExtPage, selector: string): Promise<string | null> {
  return page.evaluate((s) => document.querySelector(s)?.textContent ?? null, selector);
}

function count(page: ExtPage, selector: string): Promise<number> {
  return page.evaluate((s) => document.querySelectorAll(s).length, selector);
}

/** Waits until the element's text matches. */
export async function expectText(page: ExtPage, selector: string, want: string | RegExp, timeoutMs = 15_000): Promise<string> {
  const ok = (t: string | null) => t !== null && (typeof want === 'string' ? t.includes(want) : want.test(t));
  return (await eventually(() => text(page, selector), ok, `${selector} to show ${String(want)}`, timeoutMs)) as string;
}

export async function expectCount(page: ExtPage, selector: string, n: number, timeoutMs = 15_000): Promise<void> {
  await eventually(() => count(page, selector), (c) => c === n, `${n} × ${selector}`, timeoutMs);
}

async function bodyState(page: ExtPage, state: 'locked' | 'unlocked', timeoutMs = 15_000): Promise<void> {
  await eventually(() => page.evaluate(() => document.body.dataset['state'] ?? null), (s) => s === state, `the popup to be ${state}`, timeoutMs);
}

/** The id of the tab showing `origin`, as an extension page sees it. */
export async function tabShowing(b: ExtBrowser, origin: string): Promise<number> {
  const p = await b.openExtensionPage(OPTIONS);
  try {
    return await eventually(
      () =>
        p.evaluate(async (o) => {
          const api = ((globalThis as { browser?: unknown }).browser ?? (globalThis as { chrome?: unknown }).chrome) as { tabs: { query(q: object): Promise<{ id?: number; url?: string }[]> } };
          const tabs = await api.tabs.query({});
          return tabs.find((t) => t.url?.startsWith(o + '/'))?.id ?? -1;
        }, origin),
      (id) => id >= 0,
      `a tab showing ${origin}`,
    );
  } finally {
    await p.close();
  }
}

/** Opens the popup as a tab, about the tab showing `origin` when given. */
export async function openPopup(b: ExtBrowser, origin?: string): Promise<ExtPage> {
  const query = origin ? `?tab=${await tabShowing(b, origin)}` : '';
  return b.openExtensionPage(POPUP + query);
}

/** Unlocks through the popup page; returns the popup. */
export async function unlock(b: ExtBrowser, identity: string, secret: string, origin?: string): Promise<ExtPage> {
  const popup = await openPopup(b, origin);
  await bodyState(popup, 'locked');
  await popup.fill('#identity', identity);
  await popup.fill('#secret', secret);
  await popup.click('#unlock');
  await bodyState(popup, 'unlocked', 60_000);
  return popup;
}

/** Sends a message to the worker from an extension page, as the popup and options do. */
export async function ask<T>(b: ExtBrowser, type: string, payload: Record<string, unknown> = {}): Promise<T> {
  const p = await b.openExtensionPage(OPTIONS);
  try {
    return await p.evaluate(async ({ type, payload }) => {
      const api = ((globalThis as { browser?: unknown }).browser ?? (globalThis as { chrome?: unknown }).chrome) as { runtime: { sendMessage(m: unknown): Promise<unknown> } };
      return (await api.runtime.sendMessage({ type, payload })) as T;
    }, { type, payload });
  } finally {
    await p.close();
  }
}

/** What the extension holds: header rules, the unlocked state in storage.session, the auto-lock alarm. */
export async function extensionState(b: ExtBrowser): Promise<{ rules: number; unlocked: boolean; alarm: { scheduledTime: number } | null }> {
  const p = await b.openExtensionPage(OPTIONS);
  try {
    return await p.evaluate(async () => {
      const api = ((globalThis as { browser?: unknown }).browser ?? (globalThis as { chrome?: unknown }).chrome) as {
        declarativeNetRequest: { getSessionRules(): Promise<unknown[]> };
        storage: { session: { get(k: string): Promise<Record<string, unknown>> } };
        alarms: { get(n: string): Promise<{ scheduledTime: number } | undefined> };
      };
      const rules = await api.declarativeNetRequest.getSessionRules();
      const s = await api.storage.session.get('unlocked');
      const alarm = (await api.alarms.get('janus-autolock')) ?? null;
      return { rules: rules.length, unlocked: s['unlocked'] !== undefined && s['unlocked'] !== null, alarm };
    });
  } finally {
    await p.close();
  }
}

/** The worker instance's start time: a new value after the background was stopped and woken. */
export function backgroundStartedAt(b: ExtBrowser): Promise<number> {
  return ask<{ value: { startedAt: number } }>(b, 'ui.worker').then((r) => r.value.startedAt);
}

/**
 * A fetch from the page, reporting the typed error of a rejected promise. On a Janus page it
 * first waits for the provider (a page's protected fetch goes through Janus only once the page
 * asked for it, docs/PAGE-API.md); `plain: true` fetches at once, as on a page of another site.
 */
export async function pageFetch(
  page: ExtPage,
  path: string,
  init: { method?: string; body?: string; contentType?: string; plain?: boolean } = {},
): Promise<{ status?: number; body?: unknown; error?: string | null; code?: string; message?: string }> {
  if (!init.plain) await eventually(() => page.evaluate(() => typeof (window as { janus?: unknown }).janus), (t) => t === 'object', 'window.janus (the provider)');
  return page.evaluate(async ({ path, init }) => {
    try {
      const res = await fetch(path, {
        method: init.method ?? 'GET',
        headers: { accept: 'application/json', ...(init.contentType ? { 'content-type': init.contentType } : {}) },
        ...(init.body !== undefined ? { body: init.body } : {}),
      });
      return { status: res.status, error: res.headers.get('janus-error'), body: (await res.json().catch(() => null)) as unknown };
    } catch (e) {
      const err = e as { code?: string; message?: string };
      return { code: err.code, message: err.message };
    }
  }, { path, init });
}

type JanusApi = { status(): Promise<unknown>; register(d: unknown, o?: unknown): Promise<unknown>; acknowledge(w?: unknown): Promise<unknown> };

/** `janus.<call>()` in the page; a rejection comes back as `{ code, message }`. */
export async function janusCall(page: ExtPage, call: 'status' | 'register' | 'acknowledge', arg?: unknown): Promise<Record<string, unknown>> {
  return page.evaluate(async ({ call, arg }) => {
    const j = (window as unknown as { janus?: JanusApi }).janus;
    if (!j) return { code: 'no_janus' };
    try {
      const fn = j[call] as (a?: unknown) => Promise<unknown>;
      return { value: await (arg === undefined ? fn() : fn(arg)) } as Record<string, unknown>;
    } catch (e) {
      return { code: (e as { code?: string }).code, message: (e as Error).message };
    }
  }, { call, arg });
}

/** The page's status through window.janus, once the page script is there. */
export async function pageStatus(page: ExtPage): Promise<Record<string, unknown>> {
  const r = await eventually(() => janusCall(page, 'status'), (x) => x['code'] !== 'no_janus', 'window.janus');
  return (r['value'] ?? r) as Record<string, unknown>;
}

