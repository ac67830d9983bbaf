/** e2e helpers: Debian's Chromium with the built extension (flags from ../shared/PLATFORM.md). */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, expect, type BrowserContext, type Page } from '@playwright/test';

export const DIST = resolve('dist');
export const CHROMIUM = process.env['CHROMIUM'] ?? '/usr/bin/chromium';

export interface Browser {
  context: BrowserContext;
  profile: string;
  extensionId: string;
}

/** Stops the extension's service worker (as Chrome does after 30 s idle): its memory is gone after this. */
export async function stopWorker(b: Browser, page: Page): Promise<void> {
  const cdp = await b.context.newCDPSession(page);
  await cdp.send('ServiceWorker.enable');
  await cdp.send('ServiceWorker.stopAllWorkers');
  await cdp.detach();
}

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export async function launch(profile = tempDir('janus-profile-')): Promise<Browser> {
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      `--disable-extensions-except=${DIST}`,
      `--load-extension=${DIST}`,
      '--no-sandbox',
      '--disable-gpu',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  const sw = context.serviceWorkers()[0] ?? (await context.waitForEvent('serviceworker'));
  const extensionId = new URL(sw.url()).host;
  return { context, profile, extensionId };
}

export const popupUrl = (b: Browser, tabId?: number) => `chrome-extension://${b.extensionId}/src/popup/index.html${tabId !== undefined ? `?tab=${tabId}` : ''}`;
export const optionsUrl = (b: Browser) => `chrome-extension://${b.extensionId}/src/options/index.html`;

/** Opens the popup as a tab, about the tab showing `origin` when given. */
export async function openPopup(b: Browser, origin?: string): Promise<Page> {
  const page = await b.context.newPage();
  await page.goto(popupUrl(b));
  if (origin) {
    const tabId = await page.evaluate(async (o) => {
      const tabs = await chrome.tabs.query({ url: `${o}/*` });
      return tabs[0]?.id ?? -1;
    }, origin);
    if (tabId < 0) throw new Error(`no tab shows ${origin}`);
    await page.goto(popupUrl(b, tabId));
  }
  return page;
}

/** Unlocks through the popup page; returns the popup. */
export async function unlock(b: Browser, identity: string, secret: string, origin?: string): Promise<Page> {
  const popup = await openPopup(b, origin);
  await expect(popup.locator('body[data-state="locked"]')).toBeVisible();
  await popup.getByLabel('Identity (for example your e-mail address)').fill(identity);
  await popup.getByLabel('Secret', { exact: true }).fill(secret);
  await popup.getByRole('button', { name: 'Unlock' }).click();
  await expect(popup.locator('body[data-state="unlocked"]')).toBeVisible({ timeout: 30_000 });
  return popup;
}

/** A fetch from the page, reporting the typed error of a rejected promise. */
export async function pageFetch(page: Page, path: string): Promise<{ status?: number; body?: unknown; code?: string; message?: string }> {
  return page.evaluate(async (p) => {
    try {
      const res = await fetch(p, { headers: { accept: 'application/json' } });
      return { status: res.status, body: await res.json().catch(() => null) };
    } catch (e) {
      const err = e as { code?: string; message?: string };
      return { code: err.code, message: err.message };
    }
  }, path);
}

declare global {
  // The popup page has the chrome namespace; typed loosely here for page.evaluate only.
  const chrome: { tabs: { query(q: { url: string }): Promise<{ id?: number }[]> }; runtime: { sendMessage(m: unknown): Promise<unknown> } };
}
