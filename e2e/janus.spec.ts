/**
 * The extension end to end, in each browser (driver.ts): the built extension, the demo vendor
 * Quotes started here on http://localhost:<port>. The scenarios run in order, sharing one browser.
 */
import { readdirSync, readFileSync, statSync, mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { expect, test } from '@playwright/test';
import { startDemo, type Demo } from '../demo/server.ts';
import { b64, b64u, toHex, utf8 } from '../src/crypto/bytes.ts';
import { stretchSecret, vendorSession } from '../src/protocol/index.ts';
import {
  ENGINES,
  OPTIONS,
  backgroundStartedAt,
  expectCount,
  expectText,
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

const IDENTITY = 'alice@example.com';
const SECRET = 'correct horse battery staple 1997';
const SHOTS = 'test-results/e2e-screenshots';

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

const heading = (p: ExtPage) => text(p, 'h1');

for (const engine of ENGINES) {
  test.describe(engine, () => {
    test.describe.configure({ mode: 'serial' });
    let demo: Demo;
    let other: Server;
    let otherOrigin: string;
    let a: ExtBrowser;
    let page: ExtPage;

    test.beforeAll(async () => {
      mkdirSync(SHOTS, { recursive: true });
      demo = await startDemo({ port: 0, dataDir: tempDir('janus-demo-'), quiet: true });
      // A second local origin (another port): a plain page that is no Janus vendor.
      other = createServer((_req, res) => {
        res.writeHead(200, { 'content-type': 'text/html' });
        res.end('<!doctype html><title>Other</title><h1>Another origin</h1>');
      });
      await new Promise<void>((r) => other.listen(0, '127.0.0.1', () => r()));
      otherOrigin = `http://localhost:${(other.address() as { port: number }).port}`;
      a = await launch(engine);
    });

    test.afterAll(async () => {
      await a?.close().catch(() => {});
      await demo?.close();
      await new Promise((r) => other?.close(r));
    });

    test('1. unlock through the popup, register with Quotes, watchlist over intercepted fetch, greeted through the header', async () => {
      page = await a.newPage();
      await page.goto(demo.origin + '/');
      expect(await heading(page)).toBe('Hello, visitor');
      const popup = await unlock(a, IDENTITY, SECRET, demo.origin);
      await expectText(popup, '#register', 'Register');
      await popup.close();

      // The page proposes (janus.register); the user confirms in the extension's window.
      await page.bringToFront();
      const confirmOpened = a.waitForPage((u) => u.includes('/src/popup/confirm.html'));
      await page.click('#register-free button');
      const confirm = await confirmOpened;
      await expectText(confirm, '#data', '"watchlist"');
      expect(await text(confirm, '#origin')).toBe(demo.origin);
      await confirm.click('#confirm');
      await expectText(page, '#register-status', 'Registered.', 30_000);

      await page.goto(demo.origin + '/watchlist');
      await expectCount(page, '#quotes tbody tr', 3);
      await expectText(page, '#quotes-caption', 'delivered by SDDP');
      // The free plan on a paid route: the vendor's refusal reaches the page with its code.
      const paid = await pageFetch(page, '/api/intraday/IBM');
      expect(paid).toMatchObject({ status: 403, error: 'subscription_required', body: { error: { code: 'subscription_required' } } });

      await page.goto(demo.origin + '/');
      expect(await heading(page)).toMatch(/^Welcome back, client [A-Za-z0-9_-]{22}$/);
      expect(await pageStatus(page)).toMatchObject({ unlocked: true, registered: true, janus: true });
    });

    test('2. after the background is stopped, protected fetch and header still work without unlocking', async () => {
      const before = await backgroundStartedAt(a);
      await a.stopBackground();
      const r = await pageFetch(page, '/api/watchlist');
      expect(r.status).toBe(200);
      expect((r.body as { quotes: unknown[] }).quotes).toHaveLength(3);
      // A new background instance answered: the old one's memory (the master key in it) was gone.
      expect(await backgroundStartedAt(a)).toBeGreaterThan(before);
      await page.goto(demo.origin + '/');
      expect(await heading(page)).toMatch(/^Welcome back/);
    });

    test('3. lock: the protected fetch fails with the typed error and the header is gone; unlock again works', async () => {
      const popup = await openPopup(a, demo.origin);
      await popup.click('#lock');
      await expectText(popup, '#msg', 'Locked');
      await popup.close();

      await page.goto(demo.origin + '/');
      expect(await heading(page)).toBe('Hello, visitor');
      await pageStatus(page); // the page asked for the provider and has it
      const r = await pageFetch(page, '/api/watchlist');
      expect(r.code).toBe('locked');
      expect(r.status).toBeUndefined();

      await (await unlock(a, IDENTITY, SECRET, demo.origin)).close();
      const again = await pageFetch(page, '/api/watchlist');
      expect(again.status).toBe(200);
      await page.reload();
      expect(await heading(page)).toMatch(/^Welcome back/);
    });

    test('4. mobility: a fresh profile with the same identity and secret reaches the same account; a wrong secret is told plainly', async () => {
      const alias = (await pageStatus(page))['alias'];
      const b = await launch(engine);
      try {
        const p = await b.newPage();
        await p.goto(demo.origin + '/watchlist');
        await (await unlock(b, IDENTITY, SECRET)).close();
        // A fresh profile has no vendor list: the page asks for the provider, and the first
        // verified answer adds the vendor (mobility).
        await p.reload();
        await expectCount(p, '#quotes tbody tr', 3);
        await p.goto(demo.origin + '/');
        expect(await heading(p)).toBe(`Welcome back, client ${String(alias)}`);
      } finally {
        await b.close();
      }
      const c = await launch(engine);
      try {
        const p = await c.newPage();
        await p.goto(demo.origin + '/');
        await (await unlock(c, IDENTITY, 'not the right secret')).close();
        await p.goto(demo.origin + '/watchlist');
        await expectText(p, '#quotes-status', 'you are not registered here');
        const r = await pageFetch(p, '/api/watchlist');
        expect(r.status).toBe(404);
        expect(r.body).toMatchObject({ error: { code: 'not_registered' } });
        expect(await pageStatus(p)).toMatchObject({ unlocked: true, registered: false, alias: null });
      } finally {
        await c.close();
      }
    });

    test('5. origin binding: a page on another origin gets no API, no answer from the relay, and cannot use the first origin’s key', async () => {
      const p = await a.newPage();
      await p.goto(otherOrigin + '/');
      const results = await p.evaluate(async (vendor) => {
        // The relay, used directly: ask for the vendor's protected route, a UI-only message, an ack.
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
            setTimeout(() => resolve('no answer'), 1500);
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
        return { janus: typeof (window as { janus?: unknown }).janus, forgedFetch, forgedUi, forgedAck, crossFetch };
      }, demo.origin);
      expect(results).toMatchObject({ janus: 'undefined', forgedFetch: 'no answer', forgedUi: 'no answer', forgedAck: 'no answer' });
      expect(JSON.stringify(results)).not.toContain(String((await pageStatus(page))['alias']));
      await p.close();
    });

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
      const p = await a.newPage();
      await p.goto(demo.origin + '/watchlist');
      await expectCount(p, '#quotes tbody tr', 3);
      await a.close();
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
      a = await launch(engine, a.profile);
    });

    test('7. screenshots: popup locked, popup unlocked on a vendor, options page', async ({}, testInfo) => {
      const shot = async (p: ExtPage, name: string) => {
        const path = join(SHOTS, `${engine}-${name}.png`);
        await p.screenshot(path);
        await testInfo.attach(`${engine}-${name}`, { path, contentType: 'image/png' });
      };
      page = await a.newPage();
      await page.goto(demo.origin + '/');
      const popup = await openPopup(a, demo.origin);
      await popup.setViewport(372, 520);
      await expectText(popup, '#unlock', 'Unlock');
      await shot(popup, 'popup-locked');
      await popup.close();
      const unlocked = await unlock(a, IDENTITY, SECRET, demo.origin);
      await unlocked.setViewport(372, 520);
      await expectText(unlocked, '#alias', /^[A-Za-z0-9_-]{22}$/);
      await shot(unlocked, 'popup-unlocked-vendor');
      const options = await a.openExtensionPage(OPTIONS);
      await options.setViewport(1000, 700);
      await expectCount(options, '#vendors tbody tr', 1);
      // The subscription in words, under the labels of the vendor's discovery document.
      await expectText(options, '#vendors tbody tr', 'Symbols you follow');
      expect(await text(options, '#vendors tbody tr')).not.toContain('{"watchlist"');
      await shot(options, 'options');
    });

    test('8. paid plan: non-repudiation SKEP with a PayWord chain, then EDDP deliveries with receipts and acknowledgements, across a background restart', async () => {
      const b = await launch(engine);
      try {
        const p = await b.newPage();
        await p.goto(demo.origin + '/');
        await (await unlock(b, 'bob@example.com', 'another long secret for bob')).close();
        await p.bringToFront();
        await p.fill('#paid-number', '4242 4242 4242 4242');
        await p.fill('#paid-name', 'Bob Example');
        await p.fill('#paid-exp', '12/39');
        const confirmOpened = b.waitForPage((u) => u.includes('/src/popup/confirm.html'));
        await p.click('#register-paid button');
        const confirm = await confirmOpened;
        await expectText(confirm, '#data', '•••• 4242');
        expect(await text(confirm, '#data')).not.toContain('4242424242424242');
        await expectText(confirm, '#terms', '1000 deliveries');
        await confirm.click('#confirm');
        await expectText(p, '#register-status', 'The extension keeps the signed receipt', 30_000);

        await p.goto(demo.origin + '/intraday');
        for (const i of [1, 2]) {
          await p.click('#intraday-form button');
          await expectText(p, '#delivery', `Delivery ${i} of 1000`);
          await expectText(p, '#delivery', `acknowledged with PayWord word w${i}`);
        }
        // The application's refusal after the request was recorded is sealed (§6.3): the page gets
        // its code, and it is no delivery.
        const refused = await pageFetch(p, '/api/intraday/ibm');
        expect(refused).toMatchObject({ status: 400, error: 'malformed', body: { error: { code: 'malformed' } } });
        // Plain fetches: delivery 3 is acknowledged on the request for delivery 4 (piggybacked, §11.2),
        // which comes from a new background: what the extension noted of delivery 3 outlived the old one.
        expect((await pageFetch(p, '/api/intraday/IBM')).status).toBe(200);
        await b.stopBackground();
        const fourth = await pageFetch(p, '/api/intraday/IBM');
        expect(fourth.status).toBe(200);
        expect((fourth.body as { symbol: string }).symbol).toBe('IBM');
        const options = await b.openExtensionPage(OPTIONS);
        await expectText(options, '#vendors tbody tr', '3 of 1000 acknowledged');
        expect(await options.evaluate(() => document.querySelectorAll('#vendors tbody tr td')[4]?.textContent)).toContain('1');

        // Mobility on the paid plan: a fresh profile, same identity and secret, knows nothing of the
        // chain, and delivery 4 is still unacknowledged. The vendor's sealed 402 names it; the
        // extension acknowledges it (§11.3: no local record, so the vendor's count is trusted), learns
        // the chain's length from the sealed mark, and goes on delivering and acknowledging.
        const c = await launch(engine);
        try {
          const q = await c.newPage();
          await q.goto(demo.origin + '/');
          await (await unlock(c, 'bob@example.com', 'another long secret for bob')).close();
          await q.goto(demo.origin + '/intraday');
          await pageStatus(q); // the provider is there (asked for by the page)
          const fifth = await pageFetch(q, '/api/intraday/LU');
          expect(fifth.status).toBe(200);
          expect((fifth.body as { delivery: { i: number } }).delivery.i).toBe(5);
          expect((await pageFetch(q, '/api/intraday/T')).status).toBe(200); // delivery 6, acknowledging 5
          const options2 = await c.openExtensionPage(OPTIONS);
          await expectText(options2, '#vendors tbody tr', '5 of 1000 acknowledged');
        } finally {
          await c.close();
        }
      } finally {
        await b.close();
      }
    });

    test('9. janus calls settle on every kind of page: locked, background asleep, not registered', async () => {
      // Locked, with the background stopped: status answers, fetch rejects with `locked`.
      const popup = await openPopup(a, demo.origin);
      await popup.click('#lock');
      await expectText(popup, '#msg', 'Locked');
      await popup.close();
      await page.goto(demo.origin + '/');
      await a.stopBackground();
      expect(await pageStatus(page)).toMatchObject({ unlocked: false, alias: null });
      const r = await pageFetch(page, '/api/watchlist');
      expect(r.code).toBe('locked');
      expect(await janusCall(page, 'acknowledge')).toMatchObject({ code: expect.any(String) });
    });
  });
}
