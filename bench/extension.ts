/**
 * What does the extension cost its user (issue 4, "Benchmark")? In real Chromium (Debian's
 * /usr/bin/chromium) with the built extension (dist/), against the demo vendor Quotes started here
 * and a second small vendor (this file) that serves a 1 KiB and a 1 MiB body both plainly and over
 * SDDP. One run prints:
 *
 *   - unlock: the popup's `ui.unlock` message, Argon2id at the real parameters (JANUS_ARGON2);
 *   - per-vendor key derivation (HKDF per origin): (a) the protocol's `vendorSession`, bundled by this
 *     script and run inside the extension's service worker (same V8, same code, not the extension's
 *     own copy of it); (b) a cross-check through existing messages only: importing N new origins
 *     (each derived and given a header rule) against importing the same N again (derived already);
 *   - added latency of intercepted fetches over plain fetches on the same server on loopback, from the
 *     page, p50 and p99, interleaved so both see the same noise: Quotes' /api/watchlist (SDDP) and
 *     /api/intraday/<SYM> (EDDP with receipts, paid plan, steady state) against its /favicon.svg; and
 *     the bench vendor's SDDP route against a plain route with the same 1 KiB body;
 *   - bulk: checking and decrypting a 1 MiB SDDP response (`deliveryResponse`) inside the service
 *     worker, MB/s; and the whole intercepted 1 MiB fetch as the page sees it (relay included).
 *
 *   npx tsx bench/extension.ts [--n 200]
 *
 * No timed assertion anywhere: figures and ratios are printed; the exit code says only whether
 * the run worked.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';
import type { Page, Worker } from '@playwright/test';
import { CHROMIUM, DIST, launch } from '../e2e/support.ts';
import { startDemo } from '../demo/server.ts';
import { toHex } from '../src/crypto/bytes.ts';
import { derToPem, generateVendorKeyPair } from '../src/crypto/rsa.ts';
import { randomBytes } from '../src/crypto/bytes.ts';
import { stretchSecret, vendorSession } from '../src/protocol/index.ts';
import { createVendor, type RouteSpec } from '../src/vendor/core.ts';
import { createJanusServer } from '../src/vendor/node-http.ts';
import { SqliteStore } from '../src/vendor/sqlite-store.ts';

const { values } = parseArgs({ options: { n: { type: 'string', default: '200' } } });
const N = Number(values.n);
const IDENTITY = 'bench@example.com';
const SECRET = 'a long benchmark secret, 2026';
const temps: string[] = [];
const temp = (p: string) => {
  const d = mkdtempSync(join(tmpdir(), p));
  temps.push(d);
  return d;
};

// ---------------------------------------------------------------------------------------------
// Statistics

const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);
function pct(xs: number[], p: number): number {
  const s = sorted(xs);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}
const median = (xs: number[]) => pct(xs, 50);
const ms = (x: number) => `${x.toFixed(2)} ms`;

// ---------------------------------------------------------------------------------------------
// The extension build, the vendors

if (!existsSync(join(DIST, 'manifest.json'))) {
  console.log('dist/ is missing: npm run build');
  const r = spawnSync('npm', ['run', 'build'], { stdio: 'inherit' });
  if (r.status !== 0) process.exit(1);
}

console.log('Janus extension benchmark: Chromium', CHROMIUM, `, ${N} requests per series, loopback`);
const demo = await startDemo({ port: 0, dataDir: temp('janus-bench-demo-'), quiet: true });

const KIB = new Uint8Array(1024).fill(0x61) as Uint8Array<ArrayBuffer>;
const MIB = randomBytes(1024 * 1024) as Uint8Array<ArrayBuffer>;
const benchRoutes: RouteSpec[] = [
  { path: '/sddp1k', level: 'sddp', methods: ['GET'], handler: () => KIB },
  { path: '/sddp1m', level: 'sddp', methods: ['GET'], handler: () => MIB },
];
const { pkcs8 } = await generateVendorKeyPair(3072);
// The origin depends on the port: find a free one first, then make the vendor and its server.
const probe = createNetServer();
await new Promise<void>((ok) => probe.listen(0, '127.0.0.1', ok));
const benchPort = (probe.address() as { port: number }).port;
await new Promise<void>((ok) => probe.close(() => ok()));
const benchOrigin = `http://127.0.0.1:${benchPort}`;
const benchVendor = createVendor({
  config: { origin: benchOrigin, name: 'Bench', keys: { privateKeyPem: derToPem(pkcs8, 'PRIVATE KEY'), kek: randomBytes(32) } },
  store: new SqliteStore(':memory:'),
  routes: benchRoutes,
});
const plainHeaders = { 'cache-control': 'no-store' };
const benchServer: Server = createJanusServer(benchVendor, (req) => {
  const path = new URL(req.url).pathname;
  if (path === '/') return new Response('<!doctype html><title>Bench</title><h1>Bench vendor</h1>', { headers: { 'content-type': 'text/html', ...plainHeaders } });
  if (path === '/plain1k') return new Response(KIB, { headers: { 'content-type': 'application/octet-stream', ...plainHeaders } });
  if (path === '/plain1m') return new Response(MIB, { headers: { 'content-type': 'application/octet-stream', ...plainHeaders } });
  return new Response('Not Found', { status: 404 });
});
await new Promise<void>((ok) => benchServer.listen(benchPort, '127.0.0.1', ok));

// ---------------------------------------------------------------------------------------------
// Chromium with the extension (the flags of ../shared/PLATFORM.md)

// The same launch as the e2e tests (e2e/support.ts).
const { context, extensionId } = await launch(temp('janus-bench-profile-'));
const firstWorker = context.serviceWorkers()[0] ?? (await context.waitForEvent('serviceworker'));
const worker = (): Worker => context.serviceWorkers().find((w) => w.url().startsWith(`chrome-extension://${extensionId}/`)) ?? firstWorker;

let failed = false;
try {
  const ext = await context.newPage();
  await ext.goto(`chrome-extension://${extensionId}/src/options/index.html`);
  const ask = (type: string, payload: unknown = {}) =>
    ext.evaluate(async ({ type, payload }) => (await chrome.runtime.sendMessage({ type, payload })) as { ok: boolean; value?: unknown; error?: unknown }, { type, payload });

  // ---- unlock ------------------------------------------------------------------------------
  const unlocks: number[] = [];
  for (let i = 0; i < 3; i++) {
    const r = await ext.evaluate(
      async ({ identity, secret }) => {
        const t0 = performance.now();
        const reply = (await chrome.runtime.sendMessage({ type: 'ui.unlock', payload: { identity, secret } })) as { ok: boolean };
        return { ms: performance.now() - t0, ok: reply.ok };
      },
      { identity: IDENTITY, secret: SECRET },
    );
    if (!r.ok) throw new Error('unlock failed');
    unlocks.push(r.ms);
  }

  // ---- registration: the paid plan at Quotes (as e2e test 8), plain SKEP at the bench vendor ----
  const q = await context.newPage();
  await q.goto(demo.origin + '/');
  await q.getByLabel('Card number').fill('4242 4242 4242 4242');
  await q.getByLabel('Name on the card').fill('Bench Example');
  await q.getByLabel('Expiry (MM/YY)').fill('12/39');
  let confirmOpened = context.waitForEvent('page', (x) => x.url().includes('/src/popup/confirm.html'));
  await q.getByRole('button', { name: 'Subscribe to intraday quotes' }).click();
  let confirm = await confirmOpened;
  await confirm.getByRole('button', { name: 'Register' }).click();
  await q.locator('#register-status').filter({ hasText: 'The extension keeps the signed receipt' }).waitFor({ timeout: 30_000 });

  const bp = await context.newPage();
  await bp.goto(benchOrigin + '/');
  confirmOpened = context.waitForEvent('page', (x) => x.url().includes('/src/popup/confirm.html'));
  const registered = bp.evaluate(() => (window as unknown as { janus: { register(d: unknown): Promise<unknown> } }).janus.register({ plan: 'bench' }));
  confirm = await confirmOpened;
  await confirm.getByRole('button', { name: 'Register' }).click();
  await registered;

  // ---- latency, interleaved ----------------------------------------------------------------
  /** Runs `rounds` rounds of every path (rotating the order), after `warm` untimed rounds; ms per fetch. */
  const series = (page: Page, paths: string[], rounds: number, warm: number) =>
    page.evaluate(
      async ({ paths, rounds, warm }) => {
        const out: Record<string, number[]> = Object.fromEntries(paths.map((p) => [p, []]));
        for (let r = 0; r < warm + rounds; r++) {
          for (let j = 0; j < paths.length; j++) {
            const p = paths[(r + j) % paths.length]!;
            const t0 = performance.now();
            const res = await fetch(p, { cache: 'no-store' });
            await res.arrayBuffer();
            const dt = performance.now() - t0;
            if (res.status !== 200) throw new Error(`${p}: status ${res.status}`);
            if (r >= warm) out[p]!.push(dt);
          }
        }
        return out;
      },
      { paths, rounds, warm },
    );

  await q.goto(demo.origin + '/');
  const intraday = '/api/intraday/IBM';
  const qs = await series(q, ['/favicon.svg', '/api/watchlist', intraday], N, 20);
  const bs = await series(bp, ['/plain1k', '/sddp1k'], N, 20);
  const big = await series(bp, ['/plain1m', '/sddp1m'], 20, 3);

  // ---- bulk decryption inside the service worker, and key derivation (a) --------------------
  const bundle = await build({
    stdin: {
      contents: `import { deliveryRequest, deliveryResponse, vendorSession } from './src/protocol/index.ts';
                 import { fromHex } from './src/crypto/bytes.ts';
                 globalThis.__janusBench = { deliveryRequest, deliveryResponse, vendorSession, fromHex };`,
      resolveDir: resolve('.'),
      loader: 'ts',
    },
    bundle: true,
    format: 'iife',
    platform: 'browser',
    target: 'chrome116',
    write: false,
    logLevel: 'error',
  });
  const code = bundle.outputFiles[0]!.text;
  const sw = worker();
  await sw.evaluate(code);
  const { idC, master } = await stretchSecret(IDENTITY, SECRET);
  const s = vendorSession(master, idC, benchOrigin, 0);
  type Bench = {
    deliveryRequest: typeof import('../src/protocol/index.ts').deliveryRequest;
    deliveryResponse: typeof import('../src/protocol/index.ts').deliveryResponse;
    vendorSession: typeof vendorSession;
    fromHex: (h: string) => Uint8Array;
  };
  const inWorker = await sw.evaluate(
    async ({ alias, k, url, master, idC, runs, origins }) => {
      const J = (globalThis as unknown as { __janusBench: Bench }).__janusBench;
      const key = { alias, gen: 0, k: J.fromHex(k) };
      const decrypt: number[] = [];
      let bytes = 0;
      for (let i = 0; i < runs; i++) {
        const { request, pending } = await J.deliveryRequest({ key, level: 'sddp', method: 'GET', url, now: Math.floor(Date.now() / 1000) });
        const res = await fetch(request.url, { headers: request.headers, credentials: 'omit', cache: 'no-store' });
        const headers: Record<string, string> = {};
        res.headers.forEach((v, name) => (headers[name] = v));
        const msg = { status: res.status, headers, body: new Uint8Array(await res.arrayBuffer()) };
        const t0 = performance.now();
        const d = await J.deliveryResponse(pending, 'sddp', msg);
        decrypt.push(performance.now() - t0);
        bytes = d.body.length;
      }
      const m = J.fromHex(master);
      // performance.now() is coarsened to 100 us here (no cross-origin isolation): time whole batches.
      const derive: number[] = [];
      for (let batch = 0; batch < 5; batch++) {
        const t0 = performance.now();
        for (let i = 0; i < origins; i++) J.vendorSession(m, idC, `https://v${batch}-${i}.example`, 0);
        derive.push((performance.now() - t0) / origins);
      }
      return { decrypt, bytes, derive };
    },
    { alias: s.alias, k: toHex(s.k), url: benchOrigin + '/sddp1m', master: toHex(master), idC, runs: 12, origins: 1000 },
  );

  // ---- key derivation (b): through existing messages only -----------------------------------
  const B = 300;
  const freshImports: number[] = [];
  const againImports: number[] = [];
  for (let batch = 0; batch < 3; batch++) {
    const doc = {
      janus: 'vendor-list',
      vendors: Array.from({ length: B }, (_, i) => ({ origin: `https://b${batch}-${i}.example`, alias: 'A'.repeat(22), fingerprint: 'sha256:bench' })),
    };
    const time = () =>
      ext.evaluate(async (d) => {
        const t0 = performance.now();
        const r = (await chrome.runtime.sendMessage({ type: 'ui.import', payload: { document: d } })) as { ok: boolean };
        if (!r.ok) throw new Error('import failed');
        return performance.now() - t0;
      }, doc);
    const fresh = await time(); // B new origins: B derivations, plus the rules
    const again = [await time(), await time()]; // the same origins: derived already, the same rules
    freshImports.push(fresh);
    againImports.push(...again);
  }

  // ---- report --------------------------------------------------------------------------------
  const line = (label: string, text: string) => console.log(`  ${label.padEnd(46)} ${text}`);
  const added = (base: number[], prot: number[], goal: string) => {
    const a50 = median(prot) - median(base);
    const a99 = pct(prot, 99) - pct(base, 99);
    return `p50 ${ms(median(prot))} vs ${ms(median(base))}: added p50 ${ms(a50)} (${goal}); p99 ${ms(pct(prot, 99))} vs ${ms(pct(base, 99))}: added p99 ${ms(a99)}`;
  };
  console.log('\nResults (protected against plain, same run, same server, interleaved):');
  line('unlock (Argon2id, real parameters, 3 runs)', `median ${ms(median(unlocks))} (${unlocks.map((x) => x.toFixed(0)).join(', ')} ms)`);
  const d50 = median(inWorker.derive) * 1000;
  line('key derivation per vendor, in the worker', `${d50.toFixed(0)} us (vendorSession: K and alias, two HKDFs; median of 5 batches of 1000 origins)`);
  const fi = median(freshImports);
  const ai = median(againImports);
  line(
    '  cross-check: ui.import of 300 origins',
    `new ${ms(fi)} vs the same again ${ms(ai)}: ${(((fi - ai) / B) * 1000).toFixed(0)} us per new origin (storage and header rules dominate; noisy)`,
  );
  line('SDDP fetch, Quotes /api/watchlist', added(qs['/favicon.svg']!, qs['/api/watchlist']!, 'goal <= 3 ms'));
  line('EDDP fetch (steady), Quotes /api/intraday/IBM', added(qs['/favicon.svg']!, qs[intraday]!, 'goal <= 5 ms'));
  line('SDDP fetch, same 1 KiB body as plain route', added(bs['/plain1k']!, bs['/sddp1k']!, 'goal <= 3 ms'));
  const dec = median(inWorker.decrypt);
  const mb = inWorker.bytes / 1e6;
  line('bulk: 1 MiB SDDP response, verify + decrypt', `median ${ms(dec)} in the worker: ${(mb / (dec / 1000)).toFixed(0)} MB/s (goal >= 100 MB/s)`);
  const e2e = median(big['/sddp1m']!);
  line('bulk: whole intercepted 1 MiB fetch (page)', `median ${ms(e2e)} vs plain ${ms(median(big['/plain1m']!))}: ${(mb / (e2e / 1000)).toFixed(0)} MB/s as the page sees it`);
} catch (e) {
  failed = true;
  console.error('bench failed:', e);
} finally {
  await context.close().catch(() => {});
  await demo.close();
  benchServer.closeAllConnections();
  await new Promise<void>((ok) => benchServer.close(() => ok()));
  await benchVendor.close();
  for (const d of temps) rmSync(d, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
