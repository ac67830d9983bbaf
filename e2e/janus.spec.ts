/**
 * The extension end to end: Debian's Chromium, the built extension (dist/), the demo vendor Quotes
 * started here on http://localhost:<port>. Scenarios of issue 4, in order, sharing one browser.
 */
import { readdirSync, readFileSync, statSync, mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { expect, test, type Page } from '@playwright/test';
import { startDemo, type Demo } from '../demo/server.ts';
import { b64, b64u, toHex, utf8 } from '../src/crypto/bytes.ts';
import { stretchSecret, vendorSession } from '../src/protocol/index.ts';
import { launch, openPopup, optionsUrl, pageFetch, stopWorker, tempDir, unlock, type Browser } from './support.ts';

const IDENTITY = 'alice@example.com';
const SECRET = 'correct horse battery staple 1997';
const SHOTS = 'test-results/e2e-screenshots';

let demo: Demo;
let other: Server;
let otherOrigin: string;
let a: Browser;
let page: Page;

test.describe.configure({ mode: 'serial' });

test.beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  demo = await startDemo({ port: 0, dataDir: tempDir('janus-demo-'), quiet: true });
  // A second local origin (another port): a plain page that is no Janus vendor.
  other = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end('<!doctype html><title>Other</title><h1>Another origin</h1>');
  });
  await new Promise<void>((r) => other.listen(0, '127.0.0.1', () => r()));
  const port = (other.address() as { port: number }).port;
  otherOrigin = `http://localhost:${port}`;
  a = await launch();
});

test.afterAll(async () => {
  await a?.context.close().catch(() => {});
  await demo?.close();
  await new Promise((r) => other?.close(r));
});

test('1. unlock through the popup, register with Quotes, watchlist over intercepted fetch, greeted through the header', async () => {
  page = await a.context.newPage();
  await page.goto(demo.origin + '/');
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Hello, visitor');
  const popup = await unlock(a, IDENTITY, SECRET, demo.origin);
  await expect(popup.getByRole('button', { name: 'Register' })).toBeVisible();
  await popup.close();

  // The page proposes (janus.register); the user confirms in the extension's window.
  const confirmOpened = a.context.waitForEvent('page', (p) => p.url().includes('/src/popup/confirm.html'));
  await page.bringToFront();
  await page.getByRole('button', { name: 'Register for free quotes' }).click();
  const confirm = await confirmOpened;
  await expect(confirm.locator('#data')).toContainText('"watchlist"');
  await expect(confirm.locator('#origin')).toHaveText(demo.origin);
  await confirm.getByRole('button', { name: 'Register' }).click();
  await expect(page.locator('#register-status')).toContainText('Registered.', { timeout: 30_000 });

  await page.goto(demo.origin + '/watchlist');
  await expect(page.locator('#quotes tbody tr')).toHaveCount(3);
  await expect(page.locator('#quotes-caption')).toContainText('delivered by SDDP');

  await page.goto(demo.origin + '/');
  await expect(page.getByRole('heading', { level: 1 })).toHaveText(/^Welcome back, client [A-Za-z0-9_-]{22}$/);
  const status = await page.evaluate(() => (window as unknown as { janus: { status(): Promise<unknown> } }).janus.status());
  expect(status).toMatchObject({ unlocked: true, registered: true, janus: true });
});

test('2. after the service worker is stopped, protected fetch and header still work without unlocking', async () => {
  const ext = await a.context.newPage();
  await ext.goto(`chrome-extension://${a.extensionId}/src/options/index.html`);
  const started = () => ext.evaluate(async () => ((await chrome.runtime.sendMessage({ type: 'ui.worker' })) as { value: { startedAt: number } }).value.startedAt);
  const before = await started();
  await stopWorker(a, page);
  const r = await pageFetch(page, '/api/watchlist');
  expect(r.status).toBe(200);
  expect((r.body as { quotes: unknown[] }).quotes).toHaveLength(3);
  // A new worker instance answered: the old one's memory (the master key in it) was gone.
  expect(await started()).toBeGreaterThan(before);
  await ext.close();
  await page.goto(demo.origin + '/');
  await expect(page.getByRole('heading', { level: 1 })).toHaveText(/^Welcome back/);
});

test('3. lock: the protected fetch fails with the typed error and the header is gone; unlock again works', async () => {
  const popup = await openPopup(a, demo.origin);
  await popup.getByRole('button', { name: 'Lock' }).click();
  await expect(popup.locator('body[data-state="locked"]')).toBeVisible();
  await popup.close();

  await page.goto(demo.origin + '/');
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Hello, visitor');
  const r = await pageFetch(page, '/api/watchlist');
  expect(r.code).toBe('locked');
  expect(r.status).toBeUndefined();

  (await unlock(a, IDENTITY, SECRET, demo.origin)).close();
  const again = await pageFetch(page, '/api/watchlist');
  expect(again.status).toBe(200);
  await page.reload();
  await expect(page.getByRole('heading', { level: 1 })).toHaveText(/^Welcome back/);
});

test('4. mobility: a fresh profile with the same identity and secret reaches the same account; a wrong secret is told plainly', async () => {
  const alias = await page.evaluate(async () => ((await (window as unknown as { janus: { status(): Promise<{ alias: string }> } }).janus.status()).alias));
  const b = await launch();
  try {
    const p = await b.context.newPage();
    await p.goto(demo.origin + '/watchlist');
    (await unlock(b, IDENTITY, SECRET)).close();
    await p.reload();
    await expect(p.locator('#quotes tbody tr')).toHaveCount(3);
    await p.goto(demo.origin + '/');
    await expect(p.getByRole('heading', { level: 1 })).toHaveText(`Welcome back, client ${alias}`);
  } finally {
    await b.context.close();
  }
  const c = await launch();
  try {
    const p = await c.context.newPage();
    await p.goto(demo.origin + '/');
    (await unlock(c, IDENTITY, 'not the right secret')).close();
    await p.goto(demo.origin + '/watchlist');
    await expect(p.locator('#quotes-status')).toContainText('you are not registered here');
    const r = await pageFetch(p, '/api/watchlist');
    expect(r.status).toBe(404);
    expect(r.body).toMatchObject({ error: { code: 'not_registered' } });
    const s = await p.evaluate(() => (window as unknown as { janus: { status(): Promise<unknown> } }).janus.status());
    expect(s).toMatchObject({ unlocked: true, registered: false, alias: null });
  } finally {
    await c.context.close();
  }
});

test('5. origin binding: a page on another origin cannot use or reveal the first origin’s key', async () => {
  const p = await a.context.newPage();
  await p.goto(otherOrigin + '/');
  const results = await p.evaluate(async (vendor) => {
    const j = (window as unknown as { janus: { status(): Promise<unknown>; register(d: unknown): Promise<unknown> } }).janus;
    const status = await j.status();
    // The relay, used directly: ask for the vendor's protected route, and for a UI-only message.
    const relay = (type: string, payload: unknown) =>
      new Promise<unknown>((resolve) => {
        const id = 'forged-' + type;
        const on = (e: Event) => {
          const d = JSON.parse((e as CustomEvent<string>).detail) as { id: string; reply: unknown };
          if (d.id !== id) return;
          document.removeEventListener('janus:response', on);
          resolve(d.reply);
        };
        document.addEventListener('janus:response', on);
        document.dispatchEvent(new CustomEvent('janus:request', { detail: JSON.stringify({ id, type, payload }) }));
      });
    const forgedFetch = await relay('page.fetch', { request: { url: vendor + '/api/watchlist', method: 'GET', headers: [], body: null } });
    const forgedUi = await relay('ui.vendors', {});
    const forgedAck = await relay('page.acknowledge', { which: null });
    let crossFetch: unknown;
    try {
      const r = await fetch(vendor + '/api/watchlist');
      crossFetch = { status: r.status };
    } catch (e) {
      crossFetch = { error: String(e) };
    }
    let register: unknown;
    try {
      register = await j.register({ watchlist: ['IBM'] });
    } catch (e) {
      register = { code: (e as { code?: string }).code };
    }
    return { status, forgedFetch, forgedUi, forgedAck, crossFetch, register };
  }, demo.origin);
  expect(results.status).toMatchObject({ registered: false, alias: null, janus: false });
  expect(results.forgedFetch).toMatchObject({ ok: false, error: { code: 'origin_not_allowed' } });
  expect(results.forgedUi).toMatchObject({ ok: false, error: { code: 'origin_not_allowed' } });
  expect(results.forgedAck).toMatchObject({ ok: false, error: { code: 'not_registered' } });
  expect(JSON.stringify(results)).not.toContain(await page.evaluate(async () => ((await (window as unknown as { janus: { status(): Promise<{ alias: string }> } }).janus.status()).alias)));
  expect(['wrong_vendor', 'malformed']).toContain((results.register as { code: string }).code);
  await p.close();
});

function walk(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    let st;
    try {
      st = statSync(p);
    } catch {
      continue;
    }
    if (st.isDirectory()) walk(p, out);
    else if (st.isFile()) out.push(p);
  }
  return out;
}

test('6. nothing secret on disk: the secret and derived keys appear nowhere in the profile', async () => {
  const { idC, master } = await stretchSecret(IDENTITY, SECRET);
  const k = vendorSession(master, idC, demo.origin, 0).k;
  const needles: [string, Buffer][] = [];
  for (const [what, bytes] of [
    ['secret', utf8(SECRET)],
    ['master', master],
    ['vendor key', k],
    ['K^m', k.subarray(32)],
  ] as const) {
    needles.push([`${what} raw`, Buffer.from(bytes)]);
    if (what === 'secret') continue;
    needles.push([`${what} hex`, Buffer.from(toHex(bytes))]);
    needles.push([`${what} base64`, Buffer.from(b64.encode(bytes).replace(/=+$/, ''))]);
    needles.push([`${what} base64url`, Buffer.from(b64u.encode(bytes))]);
  }
  // Let the browser write what it writes, then close it so everything is flushed.
  const p = await a.context.newPage();
  await p.goto(demo.origin + '/watchlist');
  await expect(p.locator('#quotes tbody tr')).toHaveCount(3);
  await a.context.close();
  const found: string[] = [];
  // Positive control: the non-secret vendor list (the alias) is on disk, so the search does see storage.local.
  const alias = Buffer.from(vendorSession(master, idC, demo.origin, 0).alias);
  let aliasSeen = false;
  for (const file of walk(a.profile)) {
    const data = readFileSync(file);
    if (data.includes(alias)) aliasSeen = true;
    for (const [what, n] of needles) if (data.includes(n)) found.push(`${what} in ${file}`);
  }
  expect(found).toEqual([]);
  expect(aliasSeen).toBe(true);
  a = await launch(a.profile);
});

test('7. screenshots: popup locked, popup unlocked on a vendor, options page', async ({}, testInfo) => {
  const shot = async (p: Page, name: string) => {
    const path = join(SHOTS, `${name}.png`);
    await p.screenshot({ path, fullPage: true });
    await testInfo.attach(name, { path, contentType: 'image/png' });
  };
  page = await a.context.newPage();
  await page.goto(demo.origin + '/');
  const popup = await openPopup(a, demo.origin);
  await popup.setViewportSize({ width: 372, height: 520 });
  await expect(popup.locator('body[data-state="locked"]')).toBeVisible();
  await shot(popup, 'popup-locked');
  await popup.close();
  const unlocked = await unlock(a, IDENTITY, SECRET, demo.origin);
  await unlocked.setViewportSize({ width: 372, height: 520 });
  await expect(unlocked.locator('#alias')).toBeVisible();
  await shot(unlocked, 'popup-unlocked-vendor');
  const options = await a.context.newPage();
  await options.setViewportSize({ width: 1000, height: 700 });
  await options.goto(optionsUrl(a));
  await expect(options.locator('#vendors tbody tr')).toHaveCount(1);
  await shot(options, 'options');
});

test('8. paid plan: non-repudiation SKEP with a PayWord chain, then EDDP deliveries with receipts and acknowledgements, across a worker restart', async () => {
  const b = await launch();
  try {
    const p = await b.context.newPage();
    await p.goto(demo.origin + '/');
    (await unlock(b, 'bob@example.com', 'another long secret for bob')).close();
    await p.bringToFront();
    await p.getByLabel('Card number').fill('4242 4242 4242 4242');
    await p.getByLabel('Name on the card').fill('Bob Example');
    await p.getByLabel('Expiry (MM/YY)').fill('12/39');
    const confirmOpened = b.context.waitForEvent('page', (x) => x.url().includes('/src/popup/confirm.html'));
    await p.getByRole('button', { name: 'Subscribe to intraday quotes' }).click();
    const confirm = await confirmOpened;
    await expect(confirm.locator('#data')).toContainText('•••• 4242');
    await expect(confirm.locator('#data')).not.toContainText('4242424242424242');
    await expect(confirm.locator('#terms')).toContainText('1000 deliveries');
    await confirm.getByRole('button', { name: 'Register' }).click();
    await expect(p.locator('#register-status')).toContainText('The extension keeps the signed receipt', { timeout: 30_000 });

    await p.goto(demo.origin + '/intraday');
    for (const i of [1, 2]) {
      await p.getByRole('button', { name: 'Get the intraday series (EDDP)' }).click();
      await expect(p.locator('#delivery')).toContainText(`Delivery ${i} of 1000`);
      await expect(p.locator('#delivery')).toContainText(`acknowledged with PayWord word w${i}`);
    }
    // Plain fetches: delivery 3 is acknowledged on the request for delivery 4 (piggybacked, §11.2),
    // which comes from a new worker: what the extension noted of delivery 3 outlived the old one.
    expect((await pageFetch(p, '/api/intraday/IBM')).status).toBe(200);
    await stopWorker(b, p);
    const fourth = await pageFetch(p, '/api/intraday/IBM');
    expect(fourth.status).toBe(200);
    expect((fourth.body as { symbol: string }).symbol).toBe('IBM');
    const options = await b.context.newPage();
    await options.goto(optionsUrl(b));
    await expect(options.locator('#vendors tbody tr')).toContainText('3 of 1000 acknowledged');
    await expect(options.locator('#vendors tbody tr td').nth(4)).toContainText('1');

    // Mobility on the paid plan: a fresh profile, same identity and secret, knows nothing of the
    // chain, and delivery 4 is still unacknowledged. The vendor's sealed 402 names it; the
    // extension acknowledges it (§11.3: no local record, so the vendor's count is trusted), learns
    // the chain's length from the sealed mark, and goes on delivering and acknowledging.
    const c = await launch();
    try {
      const q = await c.context.newPage();
      await q.goto(demo.origin + '/');
      (await unlock(c, 'bob@example.com', 'another long secret for bob')).close();
      await q.goto(demo.origin + '/intraday');
      const fifth = await pageFetch(q, '/api/intraday/LU');
      expect(fifth.status).toBe(200);
      expect((fifth.body as { delivery: { i: number } }).delivery.i).toBe(5);
      expect((await pageFetch(q, '/api/intraday/T')).status).toBe(200); // delivery 6, acknowledging 5
      const options2 = await c.context.newPage();
      await options2.goto(optionsUrl(c));
      await expect(options2.locator('#vendors tbody tr')).toContainText('5 of 1000 acknowledged');
    } finally {
      await c.context.close();
    }
  } finally {
    await b.context.close();
  }
});
