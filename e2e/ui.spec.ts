/**
 * The extension's own UI end to end, in each browser, with its own Quotes instance: registering from
 * the popup's Register button, export / forget / import of the vendor list on the options page, a
 * vendor whose key changed after registration (refused with key_pin_mismatch, warned in the popup),
 * and the idle auto-lock (the configured alarm, then its firing wiping keys and rules).
 */
import { readFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, test, type TestInfo } from '@playwright/test';
import { startDemo, type Demo } from '../demo/server.ts';
import {
  ENGINES,
  OPTIONS,
  ask,
  eventually,
  expectCount,
  expectText,
  extensionState,
  janusCall,
  launch,
  openPopup,
  pageFetch,
  pageStatus,
  tempDir,
  text,
  unlock,
  type ExtBrowser,
  type ExtPage,
} from './support.ts';

const IDENTITY = 'carol@example.com';
const SECRET = 'carol keeps a long secret too';
const SHOTS = 'test-results/e2e-screenshots';

for (const engine of ENGINES) {
  test.describe(engine, () => {
    test.describe.configure({ mode: 'serial' });
    let demo: Demo;
    let port: number;
    let b: ExtBrowser;
    let page: ExtPage;

    test.beforeAll(async () => {
      mkdirSync(SHOTS, { recursive: true });
      demo = await startDemo({ port: 0, dataDir: tempDir('janus-demo-ui-'), quiet: true });
      port = Number(new URL(demo.origin).port);
      b = await launch(engine);
    });

    test.afterAll(async () => {
      await b?.close().catch(() => {});
      await demo?.close();
    });

    async function shot(p: ExtPage, name: string, testInfo: TestInfo): Promise<void> {
      const path = join(SHOTS, `${engine}-${name}.png`);
      await p.screenshot(path);
      await testInfo.attach(`${engine}-${name}`, { path, contentType: 'image/png' });
    }

    test('10. the popup’s Register button registers the current tab’s site', async () => {
      page = await b.newPage();
      await page.goto(demo.origin + '/');
      expect(await text(page, 'h1')).toBe('Hello, visitor');
      const popup = await unlock(b, IDENTITY, SECRET, demo.origin);
      await expectText(popup, '#site', 'You are not registered here');
      // Keyboard only: the Register button is reachable and works from the keyboard.
      await popup.press('#register', 'Enter');
      await expectText(popup, '#msg', /Registered as [A-Za-z0-9_-]{22}\./, 30_000);
      const alias = (await text(popup, '#alias'))!;
      expect(alias).toMatch(/^[A-Za-z0-9_-]{22}$/);
      await expectText(popup, '#site', 'registered as');
      await popup.close();

      // The vendor knows us by that alias: the header greets us, the protected route answers.
      await page.reload();
      expect(await text(page, 'h1')).toBe(`Welcome back, client ${alias}`);
      const r = await pageFetch(page, '/api/watchlist');
      expect(r.status).toBe(200);
      expect(r.body).toMatchObject({ alias });
    });

    test('11. options: export the vendor list, forget the vendor, import it back with its pinned fingerprint', async ({}, testInfo) => {
      const options = await b.openExtensionPage(OPTIONS);
      await options.setViewport(1000, 700);
      await expectCount(options, '#vendors tbody tr', 1);
      const fingerprint = demo.vendor.config.fingerprint;
      await expectText(options, '#vendors tbody tr', fingerprint);
      const before = await text(options, '#vendors tbody tr');

      // Export: the JSON the Export button downloads (the worker's ui.export), non-secret.
      const doc = (await ask<{ value: { janus: string; vendors: { origin: string; fingerprint: string }[] } }>(b, 'ui.export')).value;
      expect(doc.janus).toBe('vendor-list');
      expect(doc.vendors).toHaveLength(1);
      expect(doc.vendors[0]).toMatchObject({ origin: demo.origin, fingerprint });
      const file = join(tempDir('janus-export-'), 'janus-sites.json');
      writeFileSync(file, JSON.stringify(doc));
      expect(readFileSync(file, 'utf8')).not.toContain(SECRET);
      if (engine === 'chromium') {
        // The button's download, as a user gets it (Playwright sees downloads in Chromium).
        const raw = (options as unknown as { raw: import('@playwright/test').Page }).raw;
        const downloading = raw.waitForEvent('download');
        await options.click('#export');
        const download = await downloading;
        expect(download.suggestedFilename()).toMatch(/^janus-sites-\d{4}-\d{2}-\d{2}\.json$/);
      }

      // Forget (after the browser's confirm dialog): the entry and its header rules go.
      await options.evaluate(() => {
        window.confirm = () => true;
      });
      await options.click(`button[aria-label="Forget ${demo.origin}"]`);
      await expectText(options, '#msg', `Forgot ${demo.origin}.`);
      await expectCount(options, '#vendors tbody tr', 0);
      await expectText(options, '#vendors-caption', 'No sites yet');
      expect((await extensionState(b)).rules).toBe(0);
      await page.reload();
      expect(await text(page, 'h1')).toBe('Hello, visitor');
      const popup = await openPopup(b, demo.origin);
      await expectText(popup, '#site', 'You are not registered here');
      await popup.close();

      // Import: the vendor is back as it was, with the same pinned fingerprint, and the header with it.
      const imported = await ask<{ ok: boolean; value: { imported: number } }>(b, 'ui.import', { document: doc });
      expect(imported.value.imported).toBe(1);
      await options.reload();
      await expectCount(options, '#vendors tbody tr', 1);
      expect(await text(options, '#vendors tbody tr')).toBe(before);
      expect((await extensionState(b)).rules).toBe(2); // the credential's two rules (dnr.ts)
      await shot(options, 'options-after-import', testInfo);
      await page.reload();
      expect(await text(page, 'h1')).toMatch(/^Welcome back, client /);
      await options.close();
    });

    test('12. a vendor whose key changed after registration is refused with key_pin_mismatch and the popup warns', async ({}, testInfo) => {
      // Another Quotes on the same origin (same port) with another data directory: a new RSA key.
      await demo.close();
      demo = await startDemo({ port, dataDir: tempDir('janus-demo-ui-other-'), quiet: true });
      expect(demo.origin).toBe(`http://localhost:${port}`);

      // Registration re-reads the discovery document: the page's register() is refused, no window opens.
      await page.reload();
      await pageStatus(page);
      const reg = await janusCall(page, 'register', { watchlist: ['IBM'] });
      expect(reg['code']).toBe('key_pin_mismatch');

      // The popup says so in plain words, with both fingerprints.
      const popup = await openPopup(b, demo.origin);
      await popup.setViewport(372, 520);
      await expectText(popup, '#problem', 'key changed since you registered');
      await expectText(popup, '#problem', 'refuses to use it');
      await expectText(popup, '#problem', demo.vendor.config.fingerprint);
      expect(await popup.evaluate(() => document.querySelector('#register'))).toBeNull();
      await shot(popup, 'popup-key-changed', testInfo);
      await popup.close();

      // A protected fetch is refused too, a typed error and nothing sent, also by a background that
      // reads the document afresh (after a restart, as after idling: its in-memory discovery cache is gone).
      await b.stopBackground();
      await page.reload();
      await pageStatus(page); // the page asked for the provider and has it
      const r = await pageFetch(page, '/api/watchlist');
      expect(r.status).toBeUndefined();
      expect(r.code).toBe('key_pin_mismatch');
      // The pin is unchanged: the stored fingerprint is still the first key's.
      const options = await b.openExtensionPage(OPTIONS);
      await expectCount(options, '#vendors tbody tr', 1);
      expect(await text(options, '#vendors tbody tr')).not.toContain(demo.vendor.config.fingerprint);
      await options.close();
    });

    test('13. idle auto-lock: the alarm follows the configured time, and when it fires keys and rules are wiped', async () => {
      // The setting, through the options page (1 minute is the smallest the UI allows).
      const options = await b.openExtensionPage(OPTIONS);
      await options.fill('#autolock', '1');
      const saved = Date.now();
      await options.click('#settings-form button[type="submit"]');
      await expectText(options, '#msg', 'Settings saved.');
      await options.reload();
      expect(await options.evaluate(() => (document.querySelector('#autolock') as HTMLInputElement).value)).toBe('1');

      const s = await extensionState(b);
      expect(s.unlocked).toBe(true);
      expect(s.rules).toBe(2);
      expect(s.alarm).not.toBeNull();
      // Scheduled one minute after the save (a few seconds of slack for the test's own steps).
      expect(s.alarm!.scheduledTime - saved).toBeGreaterThan(55_000);
      expect(s.alarm!.scheduledTime - saved).toBeLessThan(65_000);

      // Waiting a real minute would double this file's time: the same alarm is moved to fire in 1 s
      // (unpacked extensions have no minimum alarm delay); the background's own onAlarm listener
      // then runs the lock path.
      await options.evaluate(() => {
        const api = ((globalThis as { browser?: unknown }).browser ?? (globalThis as { chrome?: unknown }).chrome) as { alarms: { create(n: string, i: { when: number }): Promise<void> } };
        return api.alarms.create('janus-autolock', { when: Date.now() + 1000 });
      });
      await options.close();
      await eventually(() => extensionState(b), (x) => !x.unlocked, 'the auto-lock to fire');
      const after = await extensionState(b);
      expect(after.rules).toBe(0);
      expect(after.alarm).toBeNull();

      const popup = await openPopup(b, demo.origin);
      await eventually(() => popup.evaluate(() => document.body.dataset['state']), (x) => x === 'locked', 'the popup to show locked');
      await popup.close();
      await page.goto(demo.origin + '/');
      expect(await text(page, 'h1')).toBe('Hello, visitor');
      // The page learns only that the extension is locked (this origin's key changed in test 12, so a
      // protected fetch here would be refused for that reason first).
      expect(await pageStatus(page)).toMatchObject({ unlocked: false, alias: null });
    });
  });
}
