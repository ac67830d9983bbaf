/**
 * The security review's findings against the extension (docs/THREAT-MODEL.md), each as a scenario
 * that failed on the extension before its fix, in each browser: the popup registering a site it
 * did not show, opaque-origin documents, the credential header's reach, racing registrations, a
 * lock undone by a racing rehydration, and what a page that is no Janus site can learn.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, test } from '@playwright/test';
import { startDemo, type Demo } from '../demo/server.ts';
import { b64u } from '../src/crypto/bytes.ts';
import { stretchSecret } from '../src/protocol/index.ts';
import { DIST } from './driver.ts';
import { PIPE_MIN_BYTES } from '../src/shared-ext/types.ts';
import { labBytes, PROBE_KINDS, startLab, startProbeSite, type Lab, type ProbeSite } from './lab.ts';
import {
  ENGINES,
  OPTIONS,
  ask,
  eventually,
  expectText,
  extensionState,
  janusCall,
  launch,
  openPopup,
  pageFetch,
  pageStatus,
  tempDir,
  unlock,
  type ExtBrowser,
} from './support.ts';

const IDENTITY = 'dave@example.com';
const SECRET = 'dave has a long secret as well';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

for (const engine of ENGINES) {
  test.describe(engine, () => {
    test.describe.configure({ mode: 'serial' });
    let demo: Demo;
    let lab: Lab;
    let probe: ProbeSite;
    let b: ExtBrowser;

    test.beforeAll(async () => {
      [demo, lab] = await Promise.all([startDemo({ port: 0, dataDir: tempDir('janus-demo-sec-'), quiet: true }), startLab()]);
      probe = await startProbeSite(lab.origin);
      b = await launch(engine);
      await (await unlock(b, IDENTITY, SECRET)).close();
    });

    test.afterAll(async () => {
      await b?.close().catch(() => {});
      await Promise.all([demo?.close(), lab?.close(), probe?.close()]);
    });

    test('S1. the popup registers only the site it showed: a page that navigates its tab away gets wrong_vendor', async () => {
      const page = await b.newPage();
      await page.goto(demo.origin + '/');
      const popup = await openPopup(b, demo.origin);
      await expectText(popup, '#site', `(${demo.origin}) is a Janus site`);
      // While the popup shows Quotes, the page sends its own tab to another Janus site.
      await page.goto(lab.origin + '/');
      await popup.click('#register');
      await expectText(popup, '#msg', `now shows ${lab.origin}`);
      expect(await lab.vendor.store.countClients()).toBe(0);
      expect(await demo.vendor.store.countClients()).toBe(0);
      await popup.close();
      await page.close();
    });

    test('S4. one confirmation window per site, only after a user gesture; closing it declines', async () => {
      const page = await b.newPage();
      await page.goto(lab.origin + '/race');
      await pageStatus(page);
      const opened = b.waitForPage((u) => u.includes('/src/popup/confirm.html'));
      await page.click('#go'); // five janus.register() calls in one click
      const confirm = await opened;
      await expectText(confirm, '#origin', lab.origin);
      // Four are refused at once; the fifth waits for the user.
      const four = await eventually(() => page.evaluate(() => (window as unknown as { raceResults: string[] }).raceResults), (r) => r.length === 4, 'four refusals');
      expect(four).toEqual(['registration_pending', 'registration_pending', 'registration_pending', 'registration_pending']);
      await sleep(1000);
      expect(await b.countPages((u) => u.includes('/src/popup/confirm.html'))).toBe(1);
      // Closing the window declines: the page's promise settles with user_declined.
      await confirm.close();
      const all = await eventually(() => page.evaluate(() => (window as unknown as { raceResults: string[] }).raceResults), (r) => r.length === 5, 'the fifth answer');
      expect(all[4]).toBe('user_declined');
      expect(await lab.vendor.store.countClients()).toBe(0);

      // A page that calls register() with no user gesture opens nothing (nothing here touches the
      // page before it reports: a driver's evaluate would count as a gesture).
      const eager = await b.newPage();
      await eager.goto(lab.origin + '/register-on-load');
      await eventually(async () => lab.reports.slice(-1)[0], (r) => r !== undefined, 'the page’s report');
      expect(lab.reports).toEqual(['refused user_activation_required']);
      expect(await b.countPages((u) => u.includes('/src/popup/confirm.html'))).toBe(0);
      await eager.close();
      await page.close();
    });

    test('S0. registering with the lab from the popup (the set-up of what follows)', async () => {
      const page = await b.newPage();
      await page.goto(lab.origin + '/');
      const popup = await openPopup(b, lab.origin);
      await popup.click('#register');
      await expectText(popup, '#msg', /Registered as [A-Za-z0-9_-]{22}/, 30_000);
      await popup.close();
      await page.reload();
      expect(await pageStatus(page)).toMatchObject({ registered: true, unlocked: true });
      expect((await pageFetch(page, '/api/data')).status).toBe(200);
      await page.close();
    });

    test('T1. protected bodies of every size arrive intact, one at a time and several at once', async () => {
      const page = await b.newPage();
      await page.goto(lab.origin + '/');
      await pageStatus(page);
      const sizes = [0, 1, 1024, PIPE_MIN_BYTES - 1, PIPE_MIN_BYTES, 64 * 1024, 1024 * 1024, 16 * 1024 * 1024];
      const want = Object.fromEntries(sizes.map((n) => [n, createHash('sha256').update(labBytes(n)).digest('hex')]));
      const digests = async (parallel: boolean) =>
        page.evaluate(
          async ({ sizes, parallel }) => {
            const one = async (n: number) => {
              const r = await fetch(`/api/bytes/${n}`);
              const b = new Uint8Array(await r.arrayBuffer());
              const d = new Uint8Array(await crypto.subtle.digest('SHA-256', b));
              return [n, [...d].map((x) => x.toString(16).padStart(2, '0')).join('')] as const;
            };
            const out = parallel ? await Promise.all(sizes.map(one)) : [];
            if (!parallel) for (const n of sizes) out.push(await one(n));
            return Object.fromEntries(out);
          },
          { sizes, parallel },
        );
      expect(await digests(false)).toEqual(want);
      expect(await digests(true)).toEqual(want);
      // A new background (Chrome's pipe channel is gone with the old one): still intact, twice.
      await b.stopBackground();
      expect(await digests(false)).toEqual(want);
      await page.close();
    });

    test('S2. opaque-origin documents of the vendor (sandbox) get wrong_vendor, a vendor page framed by another site origin_not_allowed: never the alias or the data', async () => {
      const page = await b.newPage();
      await page.goto(lab.origin + '/sandboxed');
      const status = await eventually(() => janusCall(page, 'status'), (r) => r['code'] !== 'no_janus', 'window.janus in the sandboxed page');
      expect(status['code']).toBe('wrong_vendor');
      const fetched = await pageFetch(page, lab.origin + '/api/data');
      expect(fetched.status === 200 && JSON.stringify(fetched.body).includes('lab data')).toBe(false);
      // A sandboxed iframe on the vendor's own page: the same.
      await page.goto(lab.origin + '/frames');
      const inFrame = await eventually(
        () => page.evaluateFrame('frame=sandboxed', async () => {
          const j = (window as unknown as { labJanus: { status(): Promise<unknown> } | null; labReady: Promise<boolean> });
          await j.labReady;
          if (!j.labJanus) return { code: 'no_janus' };
          try {
            return { value: await j.labJanus.status() };
          } catch (e) {
            return { code: (e as { code?: string }).code };
          }
        }),
        (r: { code?: string }) => r.code !== 'no_janus',
        'the sandboxed frame’s provider',
      );
      expect(inFrame).toEqual({ code: 'wrong_vendor' });
      // The same-origin frame beside it is the vendor's own: it works.
      const same = await page.evaluateFrame('frame=same', async () => {
        const j = (window as unknown as { labJanus: { status(): Promise<{ registered: boolean }> } | null; labReady: Promise<boolean> });
        await j.labReady;
        return j.labJanus ? (await j.labJanus.status()).registered : null;
      });
      expect(same).toBe(true);
      // The vendor's page framed by another site: refused, so that site cannot make it a tracker.
      await page.goto(probe.origins.crossSite + '/frame');
      const embedded = await eventually(
        () => page.evaluateFrame('frame=embedded', async () => {
          const j = (window as unknown as { labJanus: { status(): Promise<unknown> } | null; labReady: Promise<boolean> });
          await j.labReady;
          if (!j.labJanus) return { code: 'no_janus' };
          try {
            return { value: await j.labJanus.status() };
          } catch (e) {
            return { code: (e as { code?: string }).code };
          }
        }),
        (r: { code?: string }) => r.code !== 'no_janus',
        'the framed vendor page’s provider',
      );
      expect(embedded).toEqual({ code: 'origin_not_allowed' });
      await page.close();
    });

    test('S3. the credential header goes only where a SameSite=Lax cookie would', async () => {
      const visit = async (origin: string, tag: string) => {
        const page = await b.newPage();
        await page.goto(`${origin}/probe?tag=${tag}`);
        // Every subresource arrived (the beacon may take a moment)...
        await eventually(async () => new Set(lab.hits.filter((h) => h.tag.startsWith(tag + ':')).map((h) => h.tag)).size, (n) => n >= PROBE_KINDS.length, `${tag}'s requests`);
        // ...then a top-level link to the lab.
        await page.click('#nav');
        await eventually(async () => lab.hits.some((h) => h.tag === `${tag}:nav`), Boolean, `${tag}'s navigation`);
        await page.close();
        const got: Record<string, boolean> = {};
        for (const h of lab.hits) if (h.tag.startsWith(tag + ':')) got[h.tag.slice(tag.length + 1)] = h.credential;
        return got;
      };
      const all = (v: boolean) => Object.fromEntries(PROBE_KINDS.map((k) => [k, v]));
      // Same site (another port of the lab's host): every request, whatever its credentials mode.
      expect(await visit(probe.origins.sameSite, 'same')).toEqual({ ...all(true), nav: true });
      // Another site, with host permission: none of its subresources, but a top-level GET link (Lax).
      expect(await visit(probe.origins.crossSite, 'cross')).toEqual({ ...all(false), nav: true });
      // Another site without host permission: the same.
      expect(await visit(probe.origins.unpermitted, 'unpermitted')).toEqual({ ...all(false), nav: true });
    });

    test('P1. a page of a site that is no Janus vendor can learn nothing: no API, no answers, no discovery, no resources to probe', async () => {
      // Nothing web-accessible but Chrome's pipe frame, at a URL that changes every session.
      const manifest = (e: 'chromium' | 'firefox') => JSON.parse(readFileSync(join(DIST[e], 'manifest.json'), 'utf8')) as Record<string, unknown>;
      expect(manifest('firefox')['web_accessible_resources']).toBeUndefined();
      expect(manifest('chromium')['web_accessible_resources']).toEqual([expect.objectContaining({ resources: ['src/content/pipe.html'], use_dynamic_url: true })]);
      const page = await b.newPage();
      await page.goto(probe.origins.crossSite + '/');
      await sleep(500);
      expect(probe.discoveries()).toBe(0); // visiting a site sends it nothing
      const seen = await page.evaluate(async (base) => {
        const wait = (event: string, target: EventTarget, ms: number) =>
          new Promise<boolean>((resolve) => {
            target.addEventListener(event, () => resolve(true), { once: true });
            setTimeout(() => resolve(false), ms);
          });
        const announced = wait('janus:announceProvider', window, 1500);
        window.dispatchEvent(new Event('janus:requestProvider'));
        const ready = wait('janus:relay-ready', document, 1500);
        document.dispatchEvent(new CustomEvent('janus:page-ping'));
        // A web-accessible resource loads from any page (by the extension's id); anything else fails.
        const load = (path: string) => fetch(base + path).then(() => true, () => false);
        const resource = (await load('src/content/page.iife.js')) || (await load('src/content/pipe.html')) || (await load('manifest.json'));
        return {
          janus: typeof (window as { janus?: unknown }).janus,
          nativeFetch: Function.prototype.toString.call(window.fetch).includes('[native code]'),
          announced: await announced,
          ready: await ready,
          resource,
        };
      }, b.extensionBase);
      expect(seen).toEqual({ janus: 'undefined', nativeFetch: true, announced: false, ready: false, resource: false });
      // Asking for the provider is what makes the extension look (one discovery request, a 404 here).
      expect(probe.discoveries()).toBe(1);
      if (engine === 'chromium') {
        // The probe does see a web-accessible resource: the pipe frame at its per-session URL
        // (asked of the extension itself here), the only one Chrome's build has, loads that way...
        const ext = await b.openExtensionPage(OPTIONS);
        const dynamic = await ext.evaluate(() => (globalThis as unknown as { chrome: { runtime: { getURL(p: string): string } } }).chrome.runtime.getURL('src/content/pipe.html'));
        await ext.close();
        expect(dynamic.startsWith(b.extensionBase)).toBe(false);
        expect(await page.evaluate((u) => fetch(u).then(() => true, () => false), dynamic)).toBe(true);
        // ...and even a Janus page, where the relay put that frame, cannot see it or its URL.
        const janusPage = await b.newPage();
        await janusPage.goto(lab.origin + '/');
        await pageStatus(janusPage);
        const visible = await janusPage.evaluate(() => ({
          iframes: document.querySelectorAll('iframe').length,
          frames: window.length,
          html: document.documentElement.outerHTML.includes('-extension://'),
          timing: performance.getEntries().some((e) => e.name.includes('-extension://')),
        }));
        expect(visible).toEqual({ iframes: 0, frames: 0, html: false, timing: false });
        await janusPage.close();
      }
      // A Janus site's page that does not ask for the provider: no discovery request, no API.
      const before = lab.discoveries();
      await page.goto(lab.origin + '/quiet');
      await sleep(1000);
      expect(await page.evaluate(() => typeof (window as { janus?: unknown }).janus)).toBe('undefined');
      expect(lab.discoveries()).toBe(before);
      await page.close();
    });

    test('P2. storage.local: closed to content scripts where the browser can, and what the worker reads is validated', async () => {
      if (engine === 'chromium') {
        // The content script's own world (Chromium's isolated world for the extension), over CDP.
        const raw = (await b.newPage()) as unknown as { raw: import('@playwright/test').Page; goto(u: string): Promise<void>; close(): Promise<void> };
        const cdp = await (b as unknown as { context: import('@playwright/test').BrowserContext }).context.newCDPSession(raw.raw);
        const contexts: { id: number; auxData?: { type?: string }; origin: string; name: string }[] = [];
        cdp.on('Runtime.executionContextCreated', (e: { context: { id: number; auxData?: { type?: string }; origin: string; name: string } }) => contexts.push(e.context));
        await cdp.send('Runtime.enable');
        await raw.goto(lab.origin + '/quiet');
        const isolated = await eventually(async () => contexts.find((c) => c.auxData?.type === 'isolated' && c.name === 'Janus'), Boolean, 'the relay’s isolated world');
        const r = (await cdp.send('Runtime.evaluate', {
          contextId: isolated!.id,
          awaitPromise: true,
          expression: `chrome.storage.local.get(null).then((x) => 'read ' + Object.keys(x).join(','), (e) => 'refused: ' + e.message)`,
        })) as { result: { value?: string }; exceptionDetails?: unknown };
        const outcome = r.exceptionDetails ? 'refused: exception' : String(r.result.value);
        expect(outcome).toMatch(/^refused/);
        await cdp.detach();
        await raw.close();
      }
      // What a content script could write (Firefox has no setAccessLevel for storage.local):
      // nonsense settings and a malformed vendor entry. The worker reads them through its checks.
      const p = await b.openExtensionPage(OPTIONS);
      await p.evaluate(async () => {
        const api = ((globalThis as { browser?: unknown }).browser ?? (globalThis as { chrome?: unknown }).chrome) as { storage: { local: { get(k: string): Promise<Record<string, unknown>>; set(v: object): Promise<void> } } };
        const vendors = (await api.storage.local.get('vendors'))['vendors'] as Record<string, unknown>;
        await api.storage.local.set({
          settings: { autoLockMinutes: -5, showSlot: 'yes' },
          vendors: { ...vendors, 'https://forged.example': { origin: 'https://forged.example', alias: 'not an alias' } },
        });
      });
      await p.close();
      const settings = await eventually(() => ask<{ value: { autoLockMinutes: number; showSlot: boolean } }>(b, 'ui.settings'), (r) => r.value.autoLockMinutes !== -5, 'validated settings');
      expect(settings.value).toEqual({ autoLockMinutes: 30, showSlot: false });
      const vendors = (await ask<{ value: Record<string, unknown> }>(b, 'ui.vendors')).value;
      expect(Object.keys(vendors)).toEqual([lab.origin]);
    });

    test('S5. a lock is never undone by a background waking up at the same moment', async () => {
      const page = await b.newPage();
      await page.goto(lab.origin + '/');
      await pageStatus(page);
      const { idC, master } = await stretchSecret(IDENTITY, SECRET);
      const session = { idC, master: b64u.encode(master) };
      const ext = await b.openExtensionPage(OPTIONS);
      // The race of the review: the background stopped while unlocked; a page's janus.status()
      // wakes it (it reads the key back from storage.session) while the user locks.
      for (const delay of [0, 1, 2, 5, 10, 15, 20, 40]) {
        await ext.evaluate(async (s) => {
          const api = ((globalThis as { browser?: unknown }).browser ?? (globalThis as { chrome?: unknown }).chrome) as { storage: { session: { set(v: object): Promise<void> } } };
          await api.storage.session.set({ unlocked: s });
        }, session);
        await b.stopBackground();
        const status = janusCall(page, 'status');
        await sleep(delay);
        const locked = await ext.evaluate(async () => {
          const api = ((globalThis as { browser?: unknown }).browser ?? (globalThis as { chrome?: unknown }).chrome) as { runtime: { sendMessage(m: unknown): Promise<{ ok: boolean }> } };
          return (await api.runtime.sendMessage({ type: 'ui.lock', payload: {} })).ok;
        });
        expect(locked).toBe(true);
        await status;
        const state = await extensionState(b);
        expect({ delay, unlocked: state.unlocked, rules: state.rules }).toEqual({ delay, unlocked: false, rules: 0 });
        expect({ delay, code: (await pageFetch(page, '/api/data')).code }).toEqual({ delay, code: 'locked' });
        expect({ delay, status: (await janusCall(page, 'status'))['value'] }).toMatchObject({ delay, status: { unlocked: false, alias: null } });
      }
      await ext.close();
      await page.close();
    });
  });
}
