/**
 * SKEP registrations/s against the raw RSA-OAEP decryption rate of the vendor's own key (RSA-3072)
 * in the same run: what a registration costs the vendor beyond its one private-key operation.
 *
 *   npx tsx bench/skep.ts [--seconds 8] [--concurrency 4] [--smoke]
 *
 * The vendor is bench/vendor-server.ts (Hono, SQLite); clients register over HTTP on loopback,
 * `concurrency` at a time, each message 1 prepared before the clock (the client's RSA-OAEP
 * encryption is the client's cost), then message 1, message 2 opened, message 3, and its 201. The
 * vendor decrypts with WebCrypto (on libuv's thread pool, so its event loop keeps serving), and the
 * raw figure is node:crypto's synchronous privateDecrypt with the same key in the same process
 * (GET /rsa). Compared two ways: the server's CPU time per registration against the decryption's,
 * and registrations/s against decryptions/s on one core. --smoke: a few registrations, to prove the
 * script works (the test command runs it); its figures mean nothing.
 */
import { parseArgs } from 'node:util';
import { useCryptoProvider } from '../src/crypto/provider.ts';
import { parseDiscovery, skepOnResponse, skepStart, stretchSecret, vendorSession, WELL_KNOWN, type HttpRequestMsg, type HttpResponseMsg } from '../src/protocol/index.ts';
import { nodeCryptoProvider } from '../src/server/node-crypto.ts';
import { FAST_ARGON2 } from '../test/support/client.ts';
import { pct, percentile, serverStats, startBundled } from './load.ts';
import type { ServerInfo } from './vendor-server.ts';

useCryptoProvider(nodeCryptoProvider);
const { values } = parseArgs({ options: { seconds: { type: 'string', default: '8' }, concurrency: { type: 'string', default: '4' }, smoke: { type: 'boolean', default: false } } });
const SMOKE = values.smoke;
const seconds = Number(values.seconds);
const concurrency = SMOKE ? 2 : Number(values.concurrency);

const server = await startBundled<ServerInfo>('vendor-server.ts', [JSON.stringify({ register: false, smoke: SMOKE })]);
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
const now = () => Math.floor(Date.now() / 1000);
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
console.log(`  wall clock: ${(done / wall).toFixed(0)} registrations/s against ${(1e6 / rsaUs).toFixed(0)} decryptions/s on one core = ${pct(done / wall, 1e6 / rsaUs)} (the decryptions run on the thread pool; the load generator shares the machine)`);
if (failed) process.exitCode = 1;
process.exit();
