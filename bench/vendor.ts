/**
 * What does the protocol cost a vendor (paper §6)? Deliveries/s of an SDDP- and an EDDP-protected
 * route serving a 1 KiB personalized page, against a plain route of the same server serving the same
 * page, measured with autocannon on loopback in one run: rates and their ratios, the server's CPU
 * time per request, client-observed p50/p99, and the server's event-loop stalls over 10 ms. Against
 * the floor of a secure step (one HMAC-SHA256 over the request and one AES-256-GCM seal of the
 * answer on node:crypto), measured in the server process in the same run. Then, in a second process,
 * the same requests pushed through the vendor core without HTTP, split into phases
 * (bench/vendor-cpu.ts), one RSA private operation, and SKEP registrations/s against the raw RSA-OAEP
 * decryption rate of the vendor's key.
 *
 *   npx tsx bench/vendor.ts [--seconds 8] [--connections 16] [--smoke]
 *
 * The server runs in its own process (bench/vendor-server.ts, SQLite on a file), the load generator
 * here: on this 2-core machine each has about one core. --smoke: a few hundred requests per run and
 * a short in-process run, to prove the script works from a fresh clone (the test command runs it);
 * its figures mean nothing. JANUS_BENCH_PROFILE=<dir>: the server writes a V8 CPU profile there when
 * it exits, and bench/profile.ts attributes it to phases.
 */
import type autocannon from 'autocannon';
import { parseArgs } from 'node:util';
import { fromHex } from '../src/crypto/bytes.ts';
import { useCryptoProvider } from '../src/crypto/provider.ts';
import { HEADER, TAG } from '../src/protocol/index.ts';
import { nodeCryptoProvider } from '../src/server/node-crypto.ts';
import { fmtRun, pct, serverStats, signedGet, signedPool, startBundled, timedRun, type ClientKey, type RunResult } from './load.ts';
import type { ServerInfo } from './vendor-server.ts';
import type { CpuReport } from './vendor-cpu.ts';

useCryptoProvider(nodeCryptoProvider);
const { values } = parseArgs({ options: { seconds: { type: 'string', default: '8' }, connections: { type: 'string', default: '16' }, smoke: { type: 'boolean', default: false } } });
const SMOKE = values.smoke;
const seconds = Number(values.seconds);
const connections = SMOKE ? 2 : Number(values.connections);
const length = (requests = 300) => (SMOKE ? { amount: requests } : { duration: seconds });
const env = SMOKE ? { JANUS_BENCH_SMOKE: '1' } : {};

const server = await startBundled<ServerInfo>('vendor-server.ts', [JSON.stringify({ smoke: SMOKE })], env, process.env.JANUS_BENCH_PROFILE);
const info = server.info;
const key: ClientKey = { alias: info.alias!, gen: info.gen!, k: fromHex(info.k!) };
const ck = fromHex(info.ck);
const stats = () => serverStats(info.origin);
const floorOf = async () => ((await (await fetch(info.origin + '/floor')).json()) as { floor: number }).floor;
const run = async (title: string, requests: autocannon.Request[]): Promise<RunResult> => {
  const r = await timedRun({ title, url: info.origin, connections, ...length(), requests, stats });
  console.log(fmtRun(r));
  return r;
};

console.log(
  SMOKE
    ? `Janus vendor benchmark, smoke run (${connections} connections, 300 requests per run): proves the script works; the figures mean nothing`
    : `Janus vendor benchmark: ${connections} connections, ${seconds} s per run, loopback, 1 KiB personalized page, SQLite`,
);
const floorBefore = await floorOf();
// Warm-up, so the JIT and SQLite's page cache are in the same state for every run.
await timedRun({ title: 'warm-up', url: info.origin, connections, ...(SMOKE ? { amount: 100 } : { duration: 2 }), requests: [{ method: 'GET', path: '/plain' }], stats });
const plain = await run('plain route (baseline)', [{ method: 'GET', path: '/plain' }]);
// Pools sized for the run at the plain route's rate at most; past the end requests are signed on the fly.
const poolSize = SMOKE ? 400 : Math.min(400_000, Math.ceil(plain.rps * seconds * 0.8));
const sddpPool = signedPool({ keys: [key], idV: info.origin, path: '/sddp', level: 'sddp', count: poolSize });
const sddp = await run('SDDP route', [{ method: 'GET', path: '/sddp', setupRequest: (req) => ({ ...req, headers: sddpPool.pop() ?? signedGet(key, info.origin + '/sddp', TAG.sddp) }) }]);
sddpPool.length = 0;
// Steady state: every delivery carries a challenge an earlier EDDP answer piggybacked (§9.2).
const eddpPool = signedPool({ keys: [key], idV: info.origin, path: '/eddp', level: 'eddp', count: poolSize, ck });
const steady = await run('EDDP route, steady state', [
  { method: 'GET', path: '/eddp', setupRequest: (req) => ({ ...req, headers: eddpPool.pop() ?? signedPool({ keys: [key], idV: info.origin, path: '/eddp', level: 'eddp', count: 1, ck })[0]! }) },
]);
eddpPool.length = 0;
type Ctx = { challenge?: string };
const cold = await run('EDDP route, cold (challenge first)', [
  {
    method: 'POST',
    path: '/.janus/challenge',
    headers: { [HEADER.alias]: key.alias },
    onResponse: (_s, _b, context: Ctx, headers) => {
      context.challenge = (headers as Record<string, string>)[HEADER.challenge];
    },
  },
  { method: 'GET', path: '/eddp', setupRequest: (req, context: Ctx) => ({ ...req, headers: signedGet(key, info.origin + '/eddp', TAG.eddp, context.challenge) }) },
]);
const coldDeliveries = cold.rps / 2;
const floor = Math.min(floorBefore, await floorOf());

// ---- where the server's time goes: the same three routes again under V8's sampling profiler
// (slower while it samples), each phase scaled so that a route's phases add up to its CPU per
// request in the unprofiled run above.
type Phases = Map<string, { us: number; crypto: number }>;
async function profiled(path: string, base: RunResult, headers?: () => Record<string, string>): Promise<Phases> {
  await fetch(`${info.origin}/profile/start?interval=${SMOKE ? 500 : 50}`);
  const r = await timedRun({ title: 'profiled', url: info.origin, connections, ...(SMOKE ? { amount: 300 } : { duration: 3 }), requests: [{ method: 'GET', path, ...(headers ? { setupRequest: (req) => ({ ...req, headers: headers() }) } : {}) }], stats });
  const p = (await (await fetch(`${info.origin}/profile/stop`)).json()) as { busy: number; phases: [string, { us: number; crypto: number }][] };
  const scale = base.cpu / (p.busy / r.total);
  return new Map(p.phases.map(([k, v]) => [k, { us: (v.us / r.total) * scale, crypto: (v.crypto / r.total) * scale }]));
}
const profCount = SMOKE ? 400 : Math.min(200_000, Math.ceil(sddp.rps * 3 * 1.5));
const pool2 = signedPool({ keys: [key], idV: info.origin, path: '/sddp', level: 'sddp', count: profCount });
const pool3 = signedPool({ keys: [key], idV: info.origin, path: '/eddp', level: 'eddp', count: profCount, ck });
const phases = {
  plain: await profiled('/plain', plain),
  sddp: await profiled('/sddp', sddp, () => pool2.pop() ?? signedGet(key, info.origin + '/sddp', TAG.sddp)),
  eddp: await profiled('/eddp', steady, () => pool3.pop() ?? signedPool({ keys: [key], idV: info.origin, path: '/eddp', level: 'eddp', count: 1, ck })[0]!),
};
await server.stop();

// ---- in process: the same requests through the vendor core, per phase; RSA; SKEP
const cpuChild = await startBundled<CpuReport>('vendor-cpu.ts', [], env);
const c = cpuChild.info;
await cpuChild.stop();

console.log('\nServer CPU per request by phase over HTTP (us; in brackets the part inside node:crypto), from a profiled run of each route:');
const names = [...new Set([...phases.plain.keys(), ...phases.sddp.keys(), ...phases.eddp.keys()])].sort((a, b) => (phases.eddp.get(b)?.us ?? 0) - (phases.eddp.get(a)?.us ?? 0));
const cell = (m: Phases, k: string) => {
  const v = m.get(k);
  return v ? `${v.us.toFixed(1)}${v.crypto >= 0.05 ? ` (${v.crypto.toFixed(1)})` : ''}`.padStart(13) : '-'.padStart(13);
};
console.log(`  ${'phase'.padEnd(36)} ${'plain'.padStart(13)} ${'SDDP'.padStart(13)} ${'EDDP steady'.padStart(13)}`);
for (const k of names) console.log(`  ${k.padEnd(36)} ${cell(phases.plain, k)} ${cell(phases.sddp, k)} ${cell(phases.eddp, k)}`);
console.log(`  ${'total'.padEnd(36)} ${plain.cpu.toFixed(1).padStart(13)} ${sddp.cpu.toFixed(1).padStart(13)} ${steady.cpu.toFixed(1).padStart(13)}`);

const x = (a: number) => `${(a / floor).toFixed(1)}x the floor`;
console.log(`\nFloor of a secure step, in the server process: one HMAC-SHA256 + one AES-256-GCM seal of 1 KiB on node:crypto = ${floor.toFixed(1)} us`);
console.log("Results (ratios against the same run's baseline):");
console.log(`  SDDP deliveries/s vs plain                ${pct(sddp.rps, plain.rps)}`);
console.log(`  EDDP steady-state deliveries/s vs plain   ${pct(steady.rps, plain.rps)}`);
console.log(`  EDDP cold deliveries/s vs plain           ${pct(coldDeliveries, plain.rps)}   (challenge round trip every time)`);
console.log(`  server CPU added over HTTP: SDDP ${(sddp.cpu - plain.cpu).toFixed(1)} us = ${x(sddp.cpu - plain.cpu)} (goal <= 2x); EDDP steady ${(steady.cpu - plain.cpu).toFixed(1)} us = ${x(steady.cpu - plain.cpu)} (goal <= 3x)`);
console.log(`  p99: EDDP steady ${steady.p99.toFixed(2)} ms vs SDDP ${sddp.p99.toFixed(2)} ms = ${(steady.p99 / sddp.p99).toFixed(1)}x (goal <= 2x); stalls over 10 ms: plain ${plain.server.stalls}, SDDP ${sddp.server.stalls}, EDDP ${steady.server.stalls}`);
console.log(`  in process (no HTTP), vendor CPU per request: SDDP ${c.sddp.total.toFixed(1)} us = ${x(c.sddp.total)}, EDDP steady ${c.eddp.total.toFixed(1)} us = ${x(c.eddp.total)} (floor in that process ${c.floor.toFixed(1)} us)`);
for (const [name, p] of [['SDDP', c.sddp], ['EDDP', c.eddp]] as const) {
  console.log(`    ${name} by phase (us): ${Object.entries(p.phases).map(([k, v]) => `${k} ${v.toFixed(1)}`).join(', ')}`);
}
console.log(`  vendor CPU per SDDP request vs one RSA-${c.rsaBits} private operation (${c.rsaMicros.toFixed(0)} us): ${(c.rsaMicros / c.sddp.total).toFixed(0)}x cheaper in process, ${(c.rsaMicros / sddp.cpu).toFixed(0)}x over HTTP`);
console.log(`  SKEP registrations/s, one at a time: ${c.skepPerSecond.toFixed(0)} vs RSA-OAEP-${c.rsaBits} decryptions/s ${c.oaepPerSecond.toFixed(0)} = ${pct(c.skepPerSecond, c.oaepPerSecond)} (goal >= 80%)`);
const bad = [plain, sddp, steady, cold].filter((r) => r.non2xx || r.errors);
if (bad.length) {
  console.log(`  WARNING: ${bad.map((r) => r.title).join(', ')}: answers that were not 2xx; the figures above are not valid.`);
  process.exitCode = 1;
}
process.exit();
