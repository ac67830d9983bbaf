/**
 * SKEP registrations/s against the raw RSA-OAEP decryption rate of the vendor's own key (RSA-3072)
 * in the same run: what a registration costs the vendor beyond its one private-key operation.
 *
 *   npx tsx bench/skep.ts [--seconds 8] [--concurrency 4] [--smoke]
 *
 * The vendor is bench/vendor-server.ts (Hono, SQLite); clients register over HTTP on loopback,
 * `concurrency` at a time, each message 1 prepared before the clock (the client's RSA-OAEP
 * encryption is the client's cost), then message 1, message 2 opened, message 3, and its 201. The
 * vendor decrypts with WebCrypto (on libuv's thread pool; the part that keeps the event loop busy is
 * printed), and the raw figure is node:crypto's synchronous privateDecrypt with the same key in the
 * same process (GET /rsa). Compared two ways: the server's CPU time per registration against the
 * decryption's, and registrations/s against decryptions/s on one core. Then where a registration's
 * CPU goes: the same registrations through the vendor core in this process (no HTTP), against the
 * decryption alone. --smoke: a few registrations, to prove the script works (the test command runs
 * it); its figures mean nothing.
 */
import { constants, createPrivateKey, createPublicKey, privateDecrypt, publicEncrypt, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { oaepDecrypt } from '../src/crypto/rsa.ts';
import { useCryptoProvider } from '../src/crypto/provider.ts';
import { createVendor } from '../src/server/core.ts';
import { SqliteStore } from '../src/server/sqlite-store.ts';
import { testKeyMaterial } from '../test/support/vendor-kit.ts';
import { nowSeconds, parseDiscovery, skepOnResponse, skepStart, stretchSecret, vendorSession, WELL_KNOWN, type HttpRequestMsg, type HttpResponseMsg } from '../src/protocol/index.ts';
import { nodeCryptoProvider } from '../src/server/node-crypto.ts';
import { FAST_ARGON2 } from '../test/support/client.ts';
import { pct, percentile, serverStats, startBundled } from './load.ts';
import type { ServerInfo } from './vendor-server.ts';

useCryptoProvider(nodeCryptoProvider);
const { values } = parseArgs({ options: { seconds: { type: 'string', default: '8' }, concurrency: { type: 'string', default: '4' }, smoke: { type: 'boolean', default: false } } });
const SMOKE = values.smoke;
const seconds = Number(values.seconds);
const concurrency = SMOKE ? 2 : Number(values.concurrency);

const server = await startBundled<ServerInfo>('vendor-server.ts', [JSON.stringify({ register: false, smoke: SMOKE })], {}, process.env['JANUS_BENCH_PROFILE']);
const info = server.info;
const origin = info.origin;
const exchange = async (m: HttpRequestMsg): Promise<HttpResponseMsg> => {
  const u = new URL(m.url);
  const r = await fetch(origin + u.pathname + u.search, { method: m.method, headers: m.headers, ...(m.method === 'GET' ? {} : { body: m.body as unknown as BodyInit }) });
  const headers: Record<string, string> = {};
  r.headers.forEach((v, k) => void (headers[k] = v));
  return { status: r.status, headers, body: new Uint8Array(await r.arrayBuffer()) };
};
const doc = parseDiscovery((await exchange({ method: 'GET', url: origin + WELL_KNOWN, headers: {}, body: new Uint8Array(0) })).body, origin);
const { master } = await stretchSecret('skep@example.org', 'bench secret', { params: FAST_ARGON2 });
const now = nowSeconds;
let made = 0;
/** Message 1 of a fresh client (its own identity), made outside the clock. */
const prepare = async () => skepStart({ session: vendorSession(master, `client${made++}@example.org`, origin, 0), discovery: doc, data: {}, now: now() });

console.log(
  SMOKE
    ? `SKEP benchmark, smoke run (a few registrations): proves the script works; the figures mean nothing`
    : `SKEP benchmark: ${concurrency} registrations at a time for ${seconds} s, loopback, vendor key as generated for the tests`,
);
// Warm-up, then the run: each lane keeps one registration prepared ahead.
const lat: number[] = [];
let done = 0;
let failed = 0;
async function lanes(until: () => boolean, record: boolean): Promise<void> {
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      let next = await prepare();
      while (until()) {
        const { state, request } = next;
        const t = performance.now();
        const m2 = await exchange(request);
        const s3 = await skepOnResponse(state, m2, now());
        const m4 = await exchange(s3.request!);
        const ms = performance.now() - t;
        next = await prepare(); // the next client's message 1 (its RSA encryption) while nothing is timed for this one
        if (!record) continue;
        if (m4.status === 201) {
          done++;
          lat.push(ms);
        } else failed++;
      }
    }),
  );
}
let warm = 0;
await lanes(() => warm++ < (SMOKE ? 2 : 40), false);
const rsa = (await (await fetch(origin + '/rsa')).json()) as { bits: number; us: number };
await serverStats(origin); // reset
const t0 = performance.now();
const end = t0 + seconds * 1000;
let started = 0;
await lanes(() => (SMOKE ? started++ < 6 : performance.now() < end), true);
const wall = (performance.now() - t0) / 1000;
const s = await serverStats(origin);
const rsaAfter = (await (await fetch(origin + '/rsa')).json()) as { bits: number; us: number };
await server.stop();

const rsaUs = Math.min(rsa.us, rsaAfter.us);
const perReg = s.cpu / Math.max(1, done);
const sorted = Float64Array.from(lat).sort();
console.log(`  registrations           ${done} in ${wall.toFixed(1)} s: ${(done / wall).toFixed(0)}/s, p50 ${percentile(sorted, 50).toFixed(1)} ms, p99 ${percentile(sorted, 99).toFixed(1)} ms; server CPU ${(perReg / 1000).toFixed(2)} ms per registration${failed ? `; FAILED ${failed}` : ''}`);
console.log(`  raw RSA-OAEP-${rsa.bits} decryption, node:crypto, same process: ${(rsaUs / 1000).toFixed(2)} ms CPU: ${(1e6 / rsaUs).toFixed(0)}/s on one core`);
console.log('\nResults:');
console.log(`  server CPU: a registration costs ${(perReg / rsaUs).toFixed(2)}x one raw decryption: registrations at ${pct(rsaUs, perReg)} of the raw decryption rate per core (goal >= 80%)`);
console.log(`  wall clock: ${(done / wall).toFixed(0)} registrations/s against ${(1e6 / rsaUs).toFixed(0)} decryptions/s on one core = ${pct(done / wall, 1e6 / rsaUs)} (the load generator shares the machine)`);

// ---- Where a registration's CPU goes: the same registrations pushed through the vendor core in
// this process (no HTTP), and the decryption alone, the vendor's way (WebCrypto) and node:crypto's
// synchronous call, all timed with process.cpuUsage (every thread of this process).
const ipOrigin = 'http://127.0.0.1:9';
const ipKeys = await testKeyMaterial();
const dir = mkdtempSync(join(tmpdir(), 'janus-bench-skep-'));
const ipVendor = createVendor({ config: { origin: ipOrigin, keys: ipKeys, rateLimits: { skepPerAddressPerMinute: 1e9, skepPerAliasPerMinute: 1e9 } }, store: new SqliteStore(join(dir, 'vendor.db')) });
const ipDoc = parseDiscovery((await ipVendor.handleMessage({ method: 'GET', url: ipOrigin + WELL_KNOWN, headers: {}, body: new Uint8Array(0) }))!.body, ipOrigin);
const IP = SMOKE ? 4 : 300;
const ipPrepared: Awaited<ReturnType<typeof skepStart>>[] = [];
for (let i = 0; i < IP + 20; i++) ipPrepared.push(await skepStart({ session: vendorSession(master, `inproc${i}@example.org`, ipOrigin, 0), discovery: ipDoc, data: {}, now: now() }));
let ipCpu = 0;
let ipOk = 0;
for (let i = 0; i < ipPrepared.length; i++) {
  const { state, request } = ipPrepared[i]!;
  const c0 = process.cpuUsage();
  const m2 = (await ipVendor.handleMessage(request))!;
  let c = process.cpuUsage(c0);
  const s3 = await skepOnResponse(state, m2, now()); // the client's work, not counted
  const c1 = process.cpuUsage();
  const m4 = (await ipVendor.handleMessage(s3.request!))!;
  c = { user: c.user + process.cpuUsage(c1).user, system: c.system + process.cpuUsage(c1).system };
  if (i < 20) continue; // warm-up
  ipCpu += c.user + c.system;
  if (m4.status === 201) ipOk++;
}
const priv = createPrivateKey(ipKeys.privateKeyPem);
const pkcs8 = new Uint8Array(priv.export({ type: 'pkcs8', format: 'der' }));
const oaep = { oaepHash: 'sha256', padding: constants.RSA_PKCS1_OAEP_PADDING } as const;
const label = new TextEncoder().encode('bench');
const ct = publicEncrypt({ key: createPublicKey(priv), ...oaep, oaepLabel: label }, randomBytes(64));
const D = SMOKE ? 4 : 200;
await oaepDecrypt(pkcs8, ct, label);
let c0 = process.cpuUsage();
const e0 = performance.eventLoopUtilization();
for (let i = 0; i < D; i++) await oaepDecrypt(pkcs8, ct, label);
const e = performance.eventLoopUtilization(e0);
let c = process.cpuUsage(c0);
const webUs = (c.user + c.system) / D;
const webMainUs = (e.active * 1000) / D;
c0 = process.cpuUsage();
for (let i = 0; i < D; i++) privateDecrypt({ key: priv, ...oaep, oaepLabel: label }, ct);
c = process.cpuUsage(c0);
const syncUs = (c.user + c.system) / D;
rmSync(dir, { recursive: true, force: true });
const ipPer = ipCpu / Math.max(1, ipOk);
console.log(`\nWhere a registration's CPU goes (this process, no HTTP; ${ipOk} registrations${ipOk < IP ? `, ${IP - ipOk} FAILED` : ''}):`);
console.log(`  the vendor's two messages in process      ${(ipPer / 1000).toFixed(2)} ms`);
console.log(`    of which the RSA-OAEP decryption        ${(webUs / 1000).toFixed(2)} ms (WebCrypto, the vendor's way; ${(webMainUs / 1000).toFixed(2)} ms of it on the event loop) vs ${(syncUs / 1000).toFixed(2)} ms node:crypto synchronous`);
console.log(`    the rest of the protocol                ${((ipPer - webUs) / 1000).toFixed(2)} ms`);
console.log(`  HTTP around the two messages (server)     ${((perReg - ipPer) / 1000).toFixed(2)} ms`);
console.log(`  for 80% of the raw rate a registration may cost ${((rsaUs / 0.8) / 1000).toFixed(2)} ms: ${((rsaUs / 0.8 - rsaUs) / 1000).toFixed(2)} ms beside the raw decryption`);
if (failed || ipOk < IP) process.exitCode = 1;
process.exit();
