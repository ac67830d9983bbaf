/**
 * Flat as clients grow? SDDP and steady-state EDDP deliveries/s, p50 and p99 with 1 000, 100 000 and
 * 1 000 000 registered clients, on SQLite and on PostgreSQL, in two workloads:
 *   - active: requests from 10 000 clients (all of them when fewer are registered) drawn at random
 *     among the registered ones, each request from one of them at random: more registered clients,
 *     the same number online;
 *   - cold: each request from a client drawn at random among all registered ones (SDDP only): at a
 *     million, nearly every request is the first from its client in the run, the worst case for
 *     every cache (the row, the decrypted key, the slot key).
 *
 *   npx tsx bench/scale.ts [--seconds 8] [--connections 16] [--sizes 1000,100000,1000000] [--stores sqlite,postgres] [--active 10000] [--pg-shared-buffers 1GB] [--smoke]
 *
 * The clients are written by the bulk loader (bench/bulk.ts: each row what a registration stores,
 * the key sealed under the record key), growing one store from one size to the next. For each size
 * a fresh vendor process (bench/vendor-server.ts, Hono) opens the store with its default caches, is
 * warmed up for 2 s, then serves pre-signed requests (bench/load.ts) from autocannon here.
 * PostgreSQL is a throwaway cluster started by this script (test/support/postgres.ts: Debian's
 * server, loopback, fsync and synchronous_commit off, as for every test here). Its backends' CPU
 * time is read from /proc. --smoke: 100 and 1 000 clients and a few hundred requests per run, to
 * prove the script works (the test command runs it); its figures mean nothing.
 */
import { readFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { fromHex, randomBytes, toHex } from '../src/crypto/bytes.ts';
import { useCryptoProvider } from '../src/crypto/provider.ts';
import { nodeCryptoProvider } from '../src/server/node-crypto.ts';
import { createDatabase, startCluster, type PgCluster } from '../test/support/postgres.ts';
import { testKeyMaterial } from '../test/support/vendor-kit.ts';
import { clientKey, fill } from './bulk.ts';
import { childrenOf, fmtRun, serverStats, signedPool, startBundled, timedRun, type ClientKey, type RunResult } from './load.ts';
import type { ServerInfo } from './vendor-server.ts';

useCryptoProvider(nodeCryptoProvider);
const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '8' },
    connections: { type: 'string', default: '16' },
    sizes: { type: 'string' },
    stores: { type: 'string', default: 'sqlite,postgres' },
    active: { type: 'string', default: '10000' },
    'pg-shared-buffers': { type: 'string' },
    smoke: { type: 'boolean', default: false },
  },
});
const SMOKE = values.smoke;
const seconds = Number(values.seconds);
const connections = SMOKE ? 2 : Number(values.connections);
const sizes = (values.sizes ?? (SMOKE ? '100,1000' : '1000,100000,1000000')).split(',').map(Number);
const stores = values.stores.split(',') as ('sqlite' | 'postgres')[];
const ACTIVE = SMOKE ? 50 : Number(values.active);
const length = SMOKE ? { amount: 300 } : { duration: seconds };

const keys = await testKeyMaterial();
const seed = randomBytes(32);
let cluster: PgCluster | null = null;
process.on('exit', () => void cluster?.stop());

/** Pre-signed requests for `count` deliveries, each from the client `pick()` names. */
function pool(info: ServerInfo, pick: () => number, level: 'sddp' | 'eddp', count: number): Record<string, string>[] {
  const keysFor = new Array<ClientKey>(count);
  for (let i = 0; i < count; i++) keysFor[i] = clientKey(seed, pick());
  return signedPool({ keys: keysFor, idV: info.origin, path: `/${level}`, level, count, ck: fromHex(info.ck) });
}

/** `k` distinct client numbers drawn at random among `n` (all of them when k >= n). */
function workingSet(n: number, k: number): number[] {
  if (k >= n) return Array.from({ length: n }, (_, i) => i);
  const set = new Set<number>();
  while (set.size < k) set.add(Math.floor(Math.random() * n));
  return [...set];
}

interface Row {
  store: string;
  clients: number;
  sddp: RunResult;
  eddp: RunResult;
  cold: RunResult;
}
const results: Row[] = [];
console.log(
  SMOKE
    ? `Janus scale benchmark, smoke run (${sizes.join(', ')} clients; a few hundred requests per run): proves the script works; the figures mean nothing`
    : `Janus scale benchmark: ${connections} connections, ${seconds} s per run, loopback; requests from clients drawn uniformly among all registered`,
);
for (const kind of stores) {
  let location: string;
  let pgPids: () => number[] = () => [];
  if (kind === 'sqlite') location = join(mkdtempSync(join(tmpdir(), 'janus-scale-')), 'vendor.db');
  else {
    cluster ??= await startCluster(values['pg-shared-buffers'] ? { shared_buffers: values['pg-shared-buffers'] } : {});
    location = await createDatabase(cluster.url);
    const postmaster = Number(readFileSync(join(cluster.dir, 'data', 'postmaster.pid'), 'utf8').split('\n')[0]);
    pgPids = () => childrenOf(postmaster);
  }
  let loaded = 0;
  for (const n of sizes) {
    const took = await fill(location, keys, 'http://127.0.0.1', seed, loaded, n);
    console.log(`  ${kind}: ${n} clients registered (${n - loaded} loaded in ${took.toFixed(1)} s)`);
    loaded = n;
    const server = await startBundled<ServerInfo>('vendor-server.ts', [JSON.stringify({ store: location, kek: toHex(keys.kek), privateKeyPem: keys.privateKeyPem, register: false, smoke: SMOKE })]);
    const info = server.info;
    const stats = () => serverStats(info.origin);
    const others = kind === 'postgres' ? () => ({ postgres: pgPids() }) : undefined;
    const count = SMOKE ? 400 : Math.ceil(16_000 * seconds);
    const run = async (title: string, level: 'sddp' | 'eddp', pick: () => number, p: Record<string, string>[], len: { amount: number } | { duration: number }) => {
      const r = await timedRun({ title, url: info.origin, connections, ...len, requests: [{ method: 'GET', path: `/${level}`, setupRequest: (req) => ({ ...req, headers: p.pop() ?? pool(info, pick, level, 1)[0]! }) }], stats, ...(others ? { others } : {}) });
      p.length = 0;
      return r;
    };
    const active = workingSet(n, ACTIVE);
    const online = () => active[Math.floor(Math.random() * active.length)]!;
    const anyone = () => Math.floor(Math.random() * n);
    await run('warm-up', 'sddp', online, pool(info, online, 'sddp', SMOKE ? 100 : 40_000), SMOKE ? { amount: 100 } : { duration: 2 });
    const sddp = await run(`${kind}, ${n} clients, ${active.length} active, SDDP`, 'sddp', online, pool(info, online, 'sddp', count), length);
    console.log(fmtRun(sddp));
    const eddp = await run(`${kind}, ${n} clients, ${active.length} active, EDDP`, 'eddp', online, pool(info, online, 'eddp', count), length);
    console.log(fmtRun(eddp));
    const cold = await run(`${kind}, ${n} clients, all active, SDDP`, 'sddp', anyone, pool(info, anyone, 'sddp', count), length);
    console.log(fmtRun(cold));
    await server.stop();
    results.push({ store: kind, clients: n, sddp, eddp, cold });
  }
}
await cluster?.stop();
cluster = null;

console.log(`\nResults: deliveries/s (p50 / p99 ms), and against the smallest size (goal: at 1 000 000 within 10%, p99 <= 5 ms)`);
for (const kind of stores) {
  const rows = results.filter((r) => r.store === kind);
  const first = rows[0]!;
  for (const r of rows) {
    const cell = (x: RunResult, base: RunResult) => `${x.rps.toFixed(0).padStart(6)}/s (${x.p50.toFixed(2)} / ${x.p99.toFixed(2).padStart(5)}) ${r === first ? '    ' : `${(((x.rps - base.rps) / base.rps) * 100).toFixed(0).padStart(3)}%`}`;
    console.log(`  ${kind.padEnd(9)} ${String(r.clients).padStart(8)} clients   ${Math.min(ACTIVE, r.clients)} active: SDDP ${cell(r.sddp, first.sddp)}  EDDP ${cell(r.eddp, first.eddp)}   all active: SDDP ${cell(r.cold, first.cold)}`);
  }
}
const bad = results.flatMap((r) => [r.sddp, r.eddp]).filter((r) => r.non2xx || r.errors);
if (bad.length) {
  console.log(`  WARNING: ${bad.map((r) => r.title).join(', ')}: answers that were not 2xx; the figures above are not valid.`);
  process.exitCode = 1;
}
process.exit();
