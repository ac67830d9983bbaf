/**
 * One scenario list, two drivers: the end-to-end tests talk to an `ExtBrowser` and its `ExtPage`s,
 * and this module runs them in Debian's Chromium (Playwright, dist/chrome) or Debian's Firefox ESR
 * (puppeteer-core over WebDriver BiDi, dist/firefox). No browser is ever downloaded
 * (../shared/PLATFORM.md). Everything a scenario does goes through these few calls, so both
 * browsers run exactly the same steps.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type BrowserContext, type Page as PwPage } from '@playwright/test';
import puppeteer, { type Browser as PpBrowser, type Page as PpPage } from 'puppeteer-core';

export type Engine = 'chromium' | 'firefox';

/** Which browsers the suite runs in: JANUS_E2E_BROWSERS=chromium,firefox (default both). */
export const ENGINES: Engine[] = (process.env['JANUS_E2E_BROWSERS'] ?? 'chromium,firefox')
  .split(',')
  .map((s) => s.trim())
  .filter((s): s is Engine => s === 'chromium' || s === 'firefox');

/** The builds under test (JANUS_DIST_CHROMIUM / JANUS_DIST_FIREFOX run another build, e.g. an older one). */
export const DIST: Record<Engine, string> = {
  chromium: resolve(process.env['JANUS_DIST_CHROMIUM'] ?? 'dist/chrome'),
  firefox: resolve(process.env['JANUS_DIST_FIREFOX'] ?? 'dist/firefox'),
};
const CHROMIUM = process.env['CHROMIUM'] ?? '/usr/bin/chromium';
const FIREFOX = process.env['FIREFOX'] ?? '/usr/bin/firefox-esr';
/** The extension's id in Firefox (browser_specific_settings.gecko.id), and the UUID pinned for it. */
const GECKO_ID = 'janus@janus.example';
const FIREFOX_UUID = '6a7e2b0c-4f1d-4c8e-9d2a-1b3c5d7e9f01';
/** A host name that resolves to loopback but that the extension has no host permission for. */
export const UNPERMITTED_HOST = 'evil.test';

export interface ExtPage {
  readonly engine: Engine;
  url(): string;
  goto(url: string): Promise<void>;
  reload(): Promise<void>;
  evaluate<R, A = undefined>(fn: (arg: A) => R | Promise<R>, arg?: A): Promise<R>;
  /** `evaluate` in the child frame whose URL contains `part`. */
  evaluateFrame<R, A = undefined>(part: string, fn: (arg: A) => R | Promise<R>, arg?: A): Promise<R>;
  click(selector: string): Promise<void>;
  fill(selector: string, value: string): Promise<void>;
  /** Focuses `selector` and presses `key` (keyboard use). */
  press(selector: string, key: string): Promise<void>;
  screenshot(path: string): Promise<void>;
  setViewport(width: number, height: number): Promise<void>;
  bringToFront(): Promise<void>;
  close(): Promise<void>;
}

export interface ExtBrowser {
  readonly engine: Engine;
  readonly profile: string;
  /** chrome-extension://<id>/ or moz-extension://<uuid>/ */
  readonly extensionBase: string;
  newPage(): Promise<ExtPage>;
  /** Opens an extension page (popup, options) in a tab. */
  openExtensionPage(path: string): Promise<ExtPage>;
  /** The next tab or window whose URL satisfies `match` (e.g. the confirmation window). */
  waitForPage(match: (url: string) => boolean, timeoutMs?: number): Promise<ExtPage>;
  /** How many open tabs and windows have a URL that satisfies `match`. */
  countPages(match: (url: string) => boolean): Promise<number>;
  /** Stops the background: Chromium's service worker as after 30 s idle, Firefox's event page unloaded. */
  stopBackground(): Promise<void>;
  close(): Promise<void>;
}

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

async function until<T>(what: string, fn: () => Promise<T | undefined | null | false>, timeoutMs = 15_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${last ? `: ${last instanceof Error ? last.message : JSON.stringify(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

// ---------------------------------------------------------------------------------------------
// Chromium: Playwright with a persistent context and the unpacked extension.

class PwExtPage implements ExtPage {
  readonly engine = 'chromium' as const;
  constructor(readonly raw: PwPage) {}
  url() {
    return this.raw.url();
  }
  async goto(url: string) {
    await this.raw.goto(url);
  }
  async reload() {
    await this.raw.reload();
  }
  evaluate<R, A>(fn: (arg: A) => R | Promise<R>, arg?: A): Promise<R> {
    return this.raw.evaluate(fn as (a: unknown) => Promise<R>, arg as unknown);
  }
  async evaluateFrame<R, A>(part: string, fn: (arg: A) => R | Promise<R>, arg?: A): Promise<R> {
    const frame = await until(`frame ${part}`, async () => this.raw.frames().find((f) => f !== this.raw.mainFrame() && f.url().includes(part)));
    return frame.evaluate(fn as (a: unknown) => Promise<R>, arg as unknown);
  }
  async click(selector: string) {
    await this.raw.click(selector);
  }
  async fill(selector: string, value: string) {
    await this.raw.fill(selector, value);
  }
  async press(selector: string, key: string) {
    await this.raw.focus(selector);
    await this.raw.keyboard.press(key);
  }
  async screenshot(path: string) {
    await this.raw.screenshot({ path, fullPage: true });
  }
  async setViewport(width: number, height: number) {
    await this.raw.setViewportSize({ width, height });
  }
  async bringToFront() {
    await this.raw.bringToFront();
  }
  async close() {
    await this.raw.close();
  }
}

class ChromiumBrowser implements ExtBrowser {
  readonly engine = 'chromium' as const;
  constructor(
    readonly context: BrowserContext,
    readonly profile: string,
    readonly extensionBase: string,
  ) {}
  async newPage() {
    return new PwExtPage(await this.context.newPage());
  }
  async openExtensionPage(path: string) {
    const p = await this.newPage();
    await p.goto(this.extensionBase + path);
    return p;
  }
  async waitForPage(match: (url: string) => boolean, timeoutMs = 15_000) {
    const before = new Set(this.context.pages());
    const p = await until(
      'the page to open',
      async () => {
        const fresh = this.context.pages().find((x) => !before.has(x) && match(x.url()));
        if (fresh) await fresh.waitForLoadState();
        return fresh;
      },
      timeoutMs,
    );
    return new PwExtPage(p);
  }
  async countPages(match: (url: string) => boolean) {
    return this.context.pages().filter((p) => match(p.url())).length;
  }
  async stopBackground() {
    const page = this.context.pages()[0] ?? (await this.context.newPage());
    const cdp = await this.context.newCDPSession(page);
    await cdp.send('ServiceWorker.enable');
    await cdp.send('ServiceWorker.stopAllWorkers');
    await cdp.detach();
  }
  async close() {
    await this.context.close();
  }
}

async function launchChromium(profile: string): Promise<ChromiumBrowser> {
  const dist = DIST.chromium;
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      `--disable-extensions-except=${dist}`,
      `--load-extension=${dist}`,
      `--host-resolver-rules=MAP ${UNPERMITTED_HOST} 127.0.0.1`,
      '--no-sandbox',
      '--disable-gpu',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  const sw = context.serviceWorkers()[0] ?? (await context.waitForEvent('serviceworker'));
  return new ChromiumBrowser(context, profile, `chrome-extension://${new URL(sw.url()).host}/`);
}

// ---------------------------------------------------------------------------------------------
// Firefox ESR: puppeteer-core over WebDriver BiDi, the extension installed as a temporary add-on.

class PpExtPage implements ExtPage {
  readonly engine = 'firefox' as const;
  /** The URL the page is at (BiDi does not follow extension pages: asked of the document then). */
  constructor(
    readonly raw: PpPage,
    private known = '',
  ) {}
  url() {
    const u = this.raw.url();
    return u === 'about:blank' && this.known ? this.known : u;
  }
  async goto(url: string) {
    if (url.startsWith('moz-extension:')) {
      this.known = url;
      // BiDi navigates to extension pages (with --remote-allow-system-access) but never reports
      // that it finished (../shared/PLATFORM.md): start it, then wait for the document here.
      void this.raw.goto(url, { timeout: 3000 }).catch(() => undefined);
      await until(`${url} to load`, () => this.raw.evaluate(() => document.readyState === 'complete' && location.href).then((h) => h === url));
      return;
    }
    await this.raw.goto(url, { waitUntil: 'load' });
  }
  async reload() {
    if (!this.url().startsWith('moz-extension:')) {
      await this.raw.reload({ waitUntil: 'load' });
      return;
    }
    // As goto: BiDi does not report it; a marker in the old document tells the new one apart.
    await this.raw.evaluate(() => {
      (window as { __reloading?: boolean }).__reloading = true;
      setTimeout(() => location.reload(), 0);
    });
    await until('the page to reload', () => this.raw.evaluate(() => document.readyState === 'complete' && !(window as { __reloading?: boolean }).__reloading).catch(() => false));
  }
  evaluate<R, A>(fn: (arg: A) => R | Promise<R>, arg?: A): Promise<R> {
    return this.raw.evaluate(fn as (a: unknown) => Promise<R>, arg as unknown) as Promise<R>;
  }
  async evaluateFrame<R, A>(part: string, fn: (arg: A) => R | Promise<R>, arg?: A): Promise<R> {
    const frame = await until(`frame ${part}`, async () => this.raw.frames().find((f) => f !== this.raw.mainFrame() && f.url().includes(part)) ?? null);
    return frame.evaluate(fn as (a: unknown) => Promise<R>, arg as unknown) as Promise<R>;
  }
  async click(selector: string) {
    await this.raw.locator(selector).click();
  }
  async fill(selector: string, value: string) {
    await this.raw.locator(selector).fill(value);
  }
  async press(selector: string, key: string) {
    await this.raw.focus(selector);
    await this.raw.keyboard.press(key as Parameters<PpPage['keyboard']['press']>[0]);
  }
  async screenshot(path: string) {
    await this.raw.screenshot({ path: path as `${string}.png`, fullPage: true });
  }
  async setViewport(width: number, height: number) {
    await this.raw.setViewport({ width, height });
  }
  async bringToFront() {
    await this.raw.bringToFront();
  }
  async close() {
    await this.raw.close();
  }
}

type BidiConnection = { send(method: string, params: unknown): Promise<{ result: unknown }> };

class FirefoxBrowser implements ExtBrowser {
  readonly engine = 'firefox' as const;
  readonly extensionBase = `moz-extension://${FIREFOX_UUID}/`;
  constructor(
    readonly browser: PpBrowser,
    readonly profile: string,
  ) {}
  async newPage() {
    // A window each, not a tab: after the extension's own popup window (windows.create, the
    // registration's confirmation) has closed, creating a tab sometimes never returned here.
    return new PpExtPage(await this.browser.newPage({ type: 'window' }));
  }
  async openExtensionPage(path: string) {
    const p = await this.newPage();
    await p.goto(this.extensionBase + path);
    return p;
  }
  async waitForPage(match: (url: string) => boolean, timeoutMs = 15_000) {
    // BiDi does not report navigations of extension pages, so a window the extension opened shows
    // as about:blank among the targets: ask each new page where it is.
    const before = new Set(this.browser.targets()); // synchronous: taken before the caller acts
    const page = await until(
      'the page to open',
      async () => {
        for (const p of await this.browser.pages()) {
          if (before.has(p.target())) continue;
          const href = await Promise.race([p.evaluate(() => document.readyState === 'complete' && location.href).catch(() => false), new Promise<false>((r) => setTimeout(() => r(false), 1000))]);
          if (typeof href === 'string' && match(href)) return { p, href };
        }
        return null;
      },
      timeoutMs,
    );
    return new PpExtPage(page.p, page.href);
  }
  async countPages(match: (url: string) => boolean) {
    let n = 0;
    for (const p of await this.browser.pages()) {
      const href = await Promise.race([p.evaluate(() => location.href).catch(() => ''), new Promise<string>((r) => setTimeout(() => r(''), 1000))]);
      if (match(href)) n++;
    }
    return n;
  }
  /** Runs privileged code in the browser's chrome window (needs --remote-allow-system-access). */
  async privileged(expression: string): Promise<unknown> {
    const conn = (this.browser as unknown as { connection: BidiConnection }).connection;
    const tree = (await conn.send('browsingContext.getTree', { 'moz:scope': 'chrome' })).result as { contexts: { context: string }[] };
    const context = tree.contexts[0]?.context;
    if (!context) throw new Error('no chrome window to evaluate in');
    const r = (await conn.send('script.evaluate', { expression, target: { context }, awaitPromise: true })).result as { type: string; result?: { value?: unknown } };
    if (r.type !== 'success') throw new Error(`privileged evaluation failed: ${JSON.stringify(r)}`);
    return r.result?.value;
  }
  async stopBackground() {
    // What Firefox does to an idle event page, on demand (as about:debugging's "Terminate").
    await this.privileged(`(async () => {
      const { ExtensionParent } = ChromeUtils.importESModule("resource://gre/modules/ExtensionParent.sys.mjs");
      await ExtensionParent.GlobalManager.getExtension(${JSON.stringify(GECKO_ID)}).terminateBackground();
      return true;
    })()`);
  }
  async close() {
    await this.browser.close();
  }
}

async function launchFirefox(profile: string): Promise<FirefoxBrowser> {
  const browser = await puppeteer.launch({
    browser: 'firefox',
    executablePath: FIREFOX,
    headless: true,
    userDataDir: profile,
    args: ['--remote-allow-system-access'],
    extraPrefsFirefox: {
      'extensions.webextensions.uuids': JSON.stringify({ [GECKO_ID]: FIREFOX_UUID }),
      // evil.test resolves to loopback (Chromium: --host-resolver-rules).
      'network.dns.localDomains': UNPERMITTED_HOST,
    },
  });
  await browser.installExtension(DIST.firefox);
  return new FirefoxBrowser(browser, profile);
}

export async function launch(engine: Engine, profile = tempDir(`janus-${engine}-`)): Promise<ExtBrowser> {
  return engine === 'chromium' ? launchChromium(profile) : launchFirefox(profile);
}
