/**
 * The extension's own UI end to end, in one browser, with its own Quotes instance: registering from
 * the popup's Register button, export / forget / import of the vendor list on the options page, a
 * vendor whose key changed after registration (refused with key_pin_mismatch, warned in the popup),
 * and the idle auto-lock (the configured alarm, then its firing wiping keys and rules).
 */
import { readFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { expect, test, type Page, type TestInfo, type Worker } from '@playwright/test';
import { startDemo, type Demo } from '../demo/server.ts';
import { launch, openPopup, optionsUrl, pageFetch, stopWorker, tempDir, unlock, type Browser } from './support.ts';

const IDENTITY = 'carol@example.com';
const SECRET = 'carol keeps a long secret too';
const SHOTS = 'test-results/e2e-screenshots';

let demo: Demo;
let port: number;
let b: Browser;
let page: Page;

test.describe.configure({ mode: 'serial' });

test.beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  demo = await startDemo({ port: 0, dataDir: tempDir('janus-demo-ui-'), quiet: true });
  port = Number(new URL(demo.origin).port);
  b = await launch();
});

test.afterAll(async () => {
  await b?.context.close().catch(() => {});
  await demo?.close();
});

/** The extension's service worker (a new one after a restart). */
function worker(): Worker {
  const w = b.context.serviceWorkers().find((x) => x.url().startsWith(`chrome-extension://${b.extensionId}/`));
  if (!w) throw new Error('no extension service worker');
  return w;
}

/** What the worker holds: header rules, the unlocked state in storage.session, the auto-lock alarm. */
async function workerState(): Promise<{ rules: number; unlocked: boolean; alarm: { scheduledTime: number } | null }> {
  return worker().evaluate(async () => {
    const c = (globalThis as unknown as { chrome: Record<string, any> }).chrome;
    const rules = (await c['declarativeNetRequest'].getSessionRules()) as unknown[];
    const s = (await c['storage'].session.get('unlocked')) as Record<string, unknown>;
    const alarm = ((await c['alarms'].get('janus-autolock')) as { scheduledTime: number } | undefined) ?? null;
    return { rules: rules.length, unlocked: s['unlocked'] !== undefined && s['unlocked'] !== null, alarm };
  });
}

async function shot(p: Page, name: string, testInfo: TestInfo): Promise<void> {
  const path = join(SHOTS, `${name}.png`);
  await p.screenshot({ path, fullPage: true });
  await testInfo.attach(name, { path, contentType: 'image/png' });
}

test('9. the popup’s Register button registers the current tab’s site', async () => {
  page = await b.context.newPage();
  await page.goto(demo.origin + '/');
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Hello, visitor');
  const popup = await unlock(b, IDENTITY, SECRET, demo.origin);
  await expect(popup.locator('#site')).toContainText('You are not registered here');
  // Keyboard only: the Register button is reachable and works from the keyboard.
  const register = popup.getByRole('button', { name: 'Register' });
  await register.focus();
  await popup.keyboard.press('Enter');
  await expect(popup.locator('#msg')).toContainText(/Registered as [A-Za-z0-9_-]{22}\./, { timeout: 30_000 });
  const alias = (await popup.locator('#alias').textContent())!;
  expect(alias).toMatch(/^[A-Za-z0-9_-]{22}$/);
  await expect(popup.locator('#site')).toContainText('registered as');
  await popup.close();

  // The vendor knows us by that alias: the header greets us, the protected route answers.
  await page.reload();
  await expect(page.getByRole('heading', { level: 1 })).toHaveText(`Welcome back, client ${alias}`);
  const r = await pageFetch(page, '/api/watchlist');
  expect(r.status).toBe(200);
  expect(r.body).toMatchObject({ alias });
});

test('10. options: export the vendor list, forget the vendor, import it back with its pinned fingerprint', async ({}, testInfo) => {
  const options = await b.context.newPage();
  await options.setViewportSize({ width: 1000, height: 700 });
  await options.goto(optionsUrl(b));
  const rows = options.locator('#vendors tbody tr');
  await expect(rows).toHaveCount(1);
  const fingerprint = demo.vendor.config.fingerprint;
  await expect(rows.first()).toContainText(fingerprint);
  const before = await rows.first().innerText();

  // Export: a JSON download with the non-secret list.
  const downloading = options.waitForEvent('download');
  await options.getByRole('button', { name: 'Export as JSON' }).click();
  const download = await downloading;
  expect(download.suggestedFilename()).toMatch(/^janus-sites-\d{4}-\d{2}-\d{2}\.json$/);
  const file = join(tempDir('janus-export-'), download.suggestedFilename());
  await download.saveAs(file);
  const doc = JSON.parse(readFileSync(file, 'utf8')) as { janus: string; vendors: { origin: string; alias: string; fingerprint: string }[] };
  expect(doc.janus).toBe('vendor-list');
  expect(doc.vendors).toHaveLength(1);
  expect(doc.vendors[0]).toMatchObject({ origin: demo.origin, fingerprint });
  expect(readFileSync(file, 'utf8')).not.toContain(SECRET);

  // Forget (after the browser's confirm dialog): the entry and its header rule go.
  options.once('dialog', (d) => void d.accept());
  await options.getByRole('button', { name: `Forget ${demo.origin}` }).click();
  await expect(options.locator('#msg')).toHaveText(`Forgot ${demo.origin}.`);
  await expect(rows).toHaveCount(0);
  await expect(options.locator('#vendors-caption')).toContainText('No sites yet');
  expect((await workerState()).rules).toBe(0);
  await page.reload();
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Hello, visitor');
  const popup = await openPopup(b, demo.origin);
  await expect(popup.locator('#site')).toContainText('You are not registered here');
  await popup.close();

  // Import: the vendor is back as it was, with the same pinned fingerprint, and the header with it.
  await options.locator('#import').setInputFiles(file);
  await expect(options.locator('#msg')).toHaveText('Imported 1 site(s).');
  await expect(rows).toHaveCount(1);
  await expect(rows.first()).toContainText(fingerprint);
  expect(await rows.first().innerText()).toBe(before);
  expect((await workerState()).rules).toBe(1);
  await shot(options, 'options-after-import', testInfo);
  await page.reload();
  await expect(page.getByRole('heading', { level: 1 })).toHaveText(/^Welcome back, client /);
  await options.close();
});

test('11. a vendor whose key changed after registration is refused with key_pin_mismatch and the popup warns', async ({}, testInfo) => {
  // Another Quotes on the same origin (same port) with another data directory: a new RSA key.
  await demo.close();
  demo = await startDemo({ port, dataDir: tempDir('janus-demo-ui-other-'), quiet: true });
  expect(demo.origin).toBe(`http://localhost:${port}`);

  // Registration re-reads the discovery document: the page's register() is refused, no window opens.
  await page.reload();
  const reg = await page.evaluate(async () => {
    try {
      await (window as unknown as { janus: { register(d: unknown): Promise<unknown> } }).janus.register({ watchlist: ['IBM'] });
      return { code: 'none' };
    } catch (e) {
      return { code: (e as { code?: string }).code, message: (e as Error).message };
    }
  });
  expect(reg.code).toBe('key_pin_mismatch');

  // The popup says so in plain words, with both fingerprints.
  const popup = await openPopup(b, demo.origin);
  await popup.setViewportSize({ width: 372, height: 520 });
  const problem = popup.locator('#problem');
  await expect(problem).toContainText('key changed since you registered');
  await expect(problem).toContainText('refuses to use it');
  await expect(problem).toContainText(demo.vendor.config.fingerprint);
  await expect(popup.getByRole('button', { name: 'Register' })).toHaveCount(0);
  await shot(popup, 'popup-key-changed', testInfo);
  await popup.close();

  // A protected fetch is refused too, a typed error and nothing sent, also by a worker that reads the
  // document afresh (after a restart, as after 30 s idle: its in-memory discovery cache is gone).
  await stopWorker(b, page);
  await page.reload();
  const r = await pageFetch(page, '/api/watchlist');
  expect(r.status).toBeUndefined();
  expect(r.code).toBe('key_pin_mismatch');
  // The pin is unchanged: the stored fingerprint is still the first key's.
  const options = await b.context.newPage();
  await options.goto(optionsUrl(b));
  await expect(options.locator('#vendors tbody tr')).toHaveCount(1);
  await expect(options.locator('#vendors tbody tr')).not.toContainText(demo.vendor.config.fingerprint);
  await options.close();
});

test('12. idle auto-lock: the alarm follows the configured time, and when it fires keys and rules are wiped', async () => {
  // The setting, through the options page (1 minute is the smallest the UI allows).
  const options = await b.context.newPage();
  await options.goto(optionsUrl(b));
  await options.getByLabel('Lock after this many minutes without use').fill('1');
  const saved = Date.now();
  await options.getByRole('button', { name: 'Save settings' }).click();
  await expect(options.locator('#msg')).toHaveText('Settings saved.');
  await options.reload();
  await expect(options.getByLabel('Lock after this many minutes without use')).toHaveValue('1');
  await options.close();

  const s = await workerState();
  expect(s.unlocked).toBe(true);
  expect(s.rules).toBe(1);
  expect(s.alarm).not.toBeNull();
  // Scheduled one minute after the save (a few seconds of slack for the test's own steps).
  expect(s.alarm!.scheduledTime - saved).toBeGreaterThan(55_000);
  expect(s.alarm!.scheduledTime - saved).toBeLessThan(65_000);

  // Waiting a real minute would double this file's time: the same alarm is moved to fire in 1 s
  // (unpacked extensions have no minimum alarm delay); the worker's own onAlarm listener then runs
  // the lock path.
  await worker().evaluate(() => {
    const c = (globalThis as unknown as { chrome: { alarms: { create(n: string, i: { when: number }): Promise<void> } } }).chrome;
    return c.alarms.create('janus-autolock', { when: Date.now() + 1000 });
  });
  await expect.poll(async () => (await workerState()).unlocked, { timeout: 15_000 }).toBe(false);
  const after = await workerState();
  expect(after.rules).toBe(0);
  expect(after.alarm).toBeNull();

  const popup = await openPopup(b, demo.origin);
  await expect(popup.locator('body[data-state="locked"]')).toBeVisible();
  await popup.close();
  await page.goto(demo.origin + '/');
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Hello, visitor');
  // The page learns only that the extension is locked (this origin's key changed in test 11, so a
  // protected fetch here would be refused for that reason first).
  const status = await page.evaluate(() => (window as unknown as { janus: { status(): Promise<unknown> } }).janus.status());
  expect(status).toMatchObject({ unlocked: false, alias: null });
});
