/**
 * The user's own keys, in each browser: changing the secret (every site moves with the rotation
 * message, one offline site waits and moves later, on the next unlock with either secret or with the
 * Finish button), a new key for one site (with its receipt chain settled and committed again), the
 * receipts view and its export checked by the third party's tool, the subscription in words, and
 * the secret's strength at the first unlock on a device.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, test } from '@playwright/test';
import { startDemo, type Demo } from '../demo/server.ts';
import { startLab, type Lab } from './lab.ts';
import {
  ENGINES,
  OPTIONS,
  ask,
  eventually,
  expectText,
  launch,
  openPopup,
  pageFetch,
  tempDir,
  unlock,
  type Engine,
  type ExtBrowser,
} from './support.ts';

const IDENTITY = 'frank@example.com';
const S1 = 'frank first long secret 2026';
const S2 = 'frank second long secret 2026';
const S3 = 'frank third long secret 2026';
const SHOTS = 'test-results/e2e-screenshots';

async function registerFromPopup(b: ExtBrowser, origin: string): Promise<void> {
  const page = await b.newPage();
  await page.goto(origin + '/');
  const popup = await openPopup(b, origin);
  await popup.click('#register');
  await expectText(popup, '#msg', /Registered as [A-Za-z0-9_-]{22}/, 30_000);
  await popup.close();
  await page.close();
}

/** What a fresh profile unlocked with `secret` gets from each protected route: its status, or its error code. */
async function reaches(engine: Engine, secret: string, routes: [string, string][]): Promise<Record<string, number | string>> {
  const c = await launch(engine);
  try {
    await (await unlock(c, IDENTITY, secret)).close();
    const out: Record<string, number | string> = {};
    for (const [origin, path] of routes) {
      const p = await c.newPage();
      await p.goto(origin + '/');
      const r = await pageFetch(p, path);
      out[origin] = r.status ?? r.code ?? 'none';
      await p.close();
    }
    return out;
  } finally {
    await c.close();
  }
}

async function changeSecret(b: ExtBrowser, from: string, to: string): Promise<string> {
  const options = await b.openExtensionPage(OPTIONS);
  await options.fill('#secret-current', from);
  await options.fill('#secret-next', to);
  await options.fill('#secret-again', to);
  await options.click('#secret-change');
  const said = await expectText(options, '#msg', /Done:|still wait/, 60_000);
  await options.close();
  return said;
}

async function lockAndUnlock(b: ExtBrowser, secret: string): Promise<void> {
  const popup = await openPopup(b);
  await popup.click('#lock');
  await expectText(popup, '#msg', 'Locked');
  await popup.close();
  await (await unlock(b, IDENTITY, secret)).close();
}

const pending = (b: ExtBrowser) => ask<{ value: { sites: { origin: string }[]; need: string } }>(b, 'ui.pendingMoves').then((r) => r.value);

for (const engine of ENGINES) {
  test.describe(engine, () => {
    test.describe.configure({ mode: 'serial' });
    let demo: Demo;
    let demoDir: string;
    let demoPort: number;
    let lab: Lab & { state: { dir: string; port: number } };
    let b: ExtBrowser;

    test.beforeAll(async () => {
      mkdirSync(SHOTS, { recursive: true });
      demoDir = tempDir('janus-demo-keys-');
      demo = await startDemo({ port: 0, dataDir: demoDir, quiet: true });
      demoPort = Number(new URL(demo.origin).port);
      lab = await startLab();
      b = await launch(engine);
    });

    test.afterAll(async () => {
      await b?.close().catch(() => {});
      await Promise.all([demo?.close().catch(() => {}), lab?.close().catch(() => {})]);
    });

    const routes = (): [string, string][] => [
      [demo.origin, '/api/watchlist'],
      [lab.origin, '/api/data'],
    ];

    test('K1. change of secret: a site that is offline waits and keeps the previous key; the next unlock with either secret moves it', async ({}, testInfo) => {
      await (await unlock(b, IDENTITY, S1)).close();
      await registerFromPopup(b, demo.origin);
      await registerFromPopup(b, lab.origin);

      // Quotes is down while the secret changes: the lab moves, Quotes waits.
      await demo.close();
      expect(await changeSecret(b, S1, S2)).toContain('1 site(s) moved; 1 still wait');
      const options = await b.openExtensionPage(OPTIONS);
      await expectText(options, '#moves-list', demo.origin);
      await expectText(options, '#moves-list', 'could not be reached');
      await expectText(options, '#vendors tbody', 'waiting to move to your new secret');
      const shot = join(SHOTS, `${engine}-options-move-waiting.png`);
      await options.screenshot(shot);
      await testInfo.attach(`${engine}-options-move-waiting`, { path: shot, contentType: 'image/png' });
      await options.close();
      expect((await pending(b)).sites.map((s) => s.origin)).toEqual([demo.origin]);

      // Quotes back, not moved yet: the new secret reaches the lab only, the previous one Quotes only.
      demo = await startDemo({ port: demoPort, dataDir: demoDir, quiet: true });
      expect(await reaches(engine, S2, routes())).toEqual({ [demo.origin]: 404, [lab.origin]: 200 });
      expect(await reaches(engine, S1, routes())).toEqual({ [demo.origin]: 200, [lab.origin]: 404 });

      // The next unlock, with the previous secret: the move finishes by itself.
      await lockAndUnlock(b, S1);
      await eventually(() => pending(b), (p) => p.sites.length === 0, 'the move to finish');
      expect(await reaches(engine, S2, routes())).toEqual({ [demo.origin]: 200, [lab.origin]: 200 });
      expect(await reaches(engine, S1, routes())).toEqual({ [demo.origin]: 404, [lab.origin]: 404 });
    });

    test('K2. after the browser closed, Finish moving with the other secret moves the site still waiting', async () => {
      // The lab is down this time, while S2 becomes S3.
      await lab.close();
      expect(await changeSecret(b, S2, S3)).toContain('still wait');
      // The browser closes: the previous secret's key is gone from memory with it.
      const profile = b.profile;
      await b.close();
      lab = await startLab(lab.state);
      b = await launch(engine, profile);
      await (await unlock(b, IDENTITY, S3)).close();
      expect(await pending(b)).toMatchObject({ sites: [{ origin: lab.origin }], need: 'previous' });
      const options = await b.openExtensionPage(OPTIONS);
      await expectText(options, '#moves-secret-label', 'Your previous secret');
      // A wrong one is refused and changes nothing.
      await options.fill('#moves-secret', 'not my previous secret');
      await options.click('#moves-finish');
      await expectText(options, '#msg', 'not your previous secret');
      await options.fill('#moves-secret', S2);
      await options.click('#moves-finish');
      await expectText(options, '#msg', 'Done: 1 site(s) moved');
      await options.close();
      expect((await pending(b)).sites).toEqual([]);
      expect(await reaches(engine, S3, routes())).toEqual({ [demo.origin]: 200, [lab.origin]: 200 });
      expect(await reaches(engine, S2, routes())).toEqual({ [demo.origin]: 404, [lab.origin]: 404 });
    });

    test('K3. a new key for one site on the paid plan: the chain is settled and committed again; receipts view and evidence checked by janus-vendor verify-receipt', async () => {
      const c = await launch(engine);
      try {
        await (await unlock(c, 'grace@example.com', 'grace has a long secret too')).close();
        const p = await c.newPage();
        await p.goto(demo.origin + '/');
        await p.fill('#paid-number', '4242 4242 4242 4242');
        await p.fill('#paid-name', 'Grace Example');
        await p.fill('#paid-exp', '12/39');
        await p.fill('#paid-watchlist', 'IBM, LU');
        const confirmOpened = c.waitForPage((u) => u.includes('/src/popup/confirm.html'));
        await p.click('#register-paid button');
        await (await confirmOpened).click('#confirm');
        await expectText(p, '#register-status', 'The extension keeps the signed receipt', 30_000);
        // Two deliveries; the second is not acknowledged yet.
        expect((await pageFetch(p, '/api/intraday/IBM')).status).toBe(200);
        expect((await pageFetch(p, '/api/intraday/LU')).status).toBe(200);

        const options = await c.openExtensionPage(OPTIONS);
        // The subscription in words (the site names its fields; the card as its last digits).
        await expectText(options, '#vendors tbody', 'IBM, LU');
        await expectText(options, '#vendors tbody', 'card ending 4242');
        await expectText(options, '#vendors tbody', '2 of 1000 delivered');
        await options.evaluate(() => {
          window.confirm = () => true;
        });
        await options.click(`button[aria-label="New key for ${demo.origin}"]`);
        await expectText(options, '#msg', 'now knows your key of generation 1');
        // The rest of the chain, under the new key: 998 deliveries, and a second receipt for it.
        await expectText(options, '#vendors tbody', '0 of 998 delivered');
        const after = await pageFetch(p, '/api/intraday/T');
        expect(after.status).toBe(200);
        expect((after.body as { delivery: { i: number; n: number } }).delivery).toMatchObject({ i: 1, n: 998 });

        // The receipts: both verified, in words.
        await options.reload();
        await options.click(`button[aria-label="Receipts of ${demo.origin}"]`);
        await expectText(options, '#evidence-body', 'Receipt 2 of 2');
        expect(await options.evaluate(() => document.querySelectorAll('#evidence-body .verified').length)).toBe(2);
        await expectText(options, '#evidence-body', 'key generation 1');
        await expectText(options, '#evidence-body', 'Chain length');

        // The evidence file, as the third party checks it.
        await pageFetch(p, '/api/intraday/LU'); // acknowledges delivery 1 of the new chain
        const doc = (await ask<{ value: { key: { spki: string }; payword: { acknowledged: { i: number; w: string } } } }>(c, 'ui.exportEvidence', { origin: demo.origin })).value;
        const dir = tempDir('janus-evidence-');
        writeFileSync(join(dir, 'evidence.json'), JSON.stringify(doc));
        writeFileSync(join(dir, 'vendor.spki'), doc.key.spki);
        const word = doc.payword.acknowledged;
        expect(word.i).toBe(1);
        const out = execFileSync('node', ['bin/janus-vendor.js', 'verify-receipt', '--cert', join(dir, 'vendor.spki'), '--word', `${word.i}:${word.w}`, join(dir, 'evidence.json')], { encoding: 'utf8' });
        expect(out).toMatch(/^VALID/);
        expect(out).toContain('key generation 1');
        expect(out).toContain('length 998');
        await options.close();
      } finally {
        await c.close();
      }
    });

    test('K4. the first unlock on a device says how strong the secret is; later unlocks do not', async () => {
      const c = await launch(engine);
      try {
        const popup = await unlock(c, 'henry@example.com', 'password1');
        await expectText(popup, '#strength', 'not enough');
        await expectText(popup, '#strength', '64 MiB');
        await popup.click('#lock');
        await expectText(popup, '#msg', 'Locked');
        await popup.close();
        const again = await unlock(c, 'henry@example.com', 'password1');
        expect(await again.evaluate(() => document.getElementById('strength')!.hidden)).toBe(true);
      } finally {
        await c.close();
      }
    });
  });
}
