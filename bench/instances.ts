/**
 * Several vendor instances on one PostgreSQL: SDDP and steady-state EDDP deliveries/s with 1, 2 and
 * 3 instances behind a load balancer we do not write (Node's cluster module: the primary accepts
 * connections and hands them to its workers round-robin), and where the CPU goes: the instances,
 * PostgreSQL's backends and the load generator, each in cores over the run.
 *
 *   npx tsx bench/instances.ts [--seconds 8] [--connections 16] [--counts 1,2,3] [--clients 10000] [--smoke]
 *
 * Every count starts fresh workers (bench/vendor-server.ts with `instances`) on the same database,
 * filled once by the bulk loader (bench/bulk.ts) with 10 000 clients; requests come from those
 * clients at random (bench/load.ts: pre-signed). PostgreSQL is a throwaway cluster started here
 * (test/support/postgres.ts: loopback, fsync and synchronous_commit off). On this project's 2-core
 * machines every instance competes for the same two cores with PostgreSQL and the load generator,
 * so the figures say where the bottleneck goes, not what more machines would give. --smoke: one and
 * two instances, a few hundred requests each, to prove the script works (the test command runs it);
 * its figures mean nothing.
 */
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { fromHex, randomBytes, toHex } from '../src/crypto/bytes.ts';
import { useCryptoProvider } from '../src/crypto/provider.ts';
import { nodeCryptoProvider } from '../src/server/node-crypto.ts';
import { createDatabase, startCluster } from '../test/support/postgres.ts';
import { testKeyMaterial } from '../test/support/vendor-kit.ts';
import { clientKey, fill } from './bulk.ts';
import { childrenOf, fmtRun, signedPool, startBundled, timedRun, type ClientKey, type RunResult } from './load.ts';
import type { ServerInfo } from './vendor-server.ts';
import type { ServerStats } from './stats.ts';

useCryptoProvider(nodeCryptoProvider);
const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '8' },
    connections: { type: 'string', default: '16' },
    counts: { type: 'string' },
    clients: { type: 'string', default: '10000' },
    smoke: { type: 'boolean', default: false },
  },
});
const SMOKE = values.smoke;
const seconds = Number(values.seconds);
const connections = SMOKE ? 2 : Number(values.connections);
const counts = (values.counts ?? (SMOKE ? '1,2' : '1,2,3')).split(',').map(Number);
const N = SMOKE ? 200 : Number(values.clients);
const length = SMOKE ? { amount: 300 } : { duration: seconds };

const keys = await testKeyMaterial();
const seed = randomBytes(32);
const cluster = await startCluster();
process.on('exit', () => void cluster.stop());
const url = await createDatabase(cluster.url);
const took = await fill(url, keys, 'http://127.0.0.1', seed, 0, N);
const postmaster = Number(readFileSync(join(cluster.dir, 'data', 'postmaster.pid'), 'utf8').split('\n')[0]);
console.log(
  SMOKE
    ? `Janus instances benchmark, smoke run (${counts.join(', ')} instances, a few hundred requests each): proves the script works; the figures mean nothing`
    : `Janus instances benchmark: ${connections} connections, ${seconds} s per run, loopback, PostgreSQL with ${N} clients (loaded in ${took.toFixed(1)} s), ${cpus().length} cores`,
);

const clients: ClientKey[] = Array.from({ length: N }, (_, i) => clientKey(seed, i));
const pick = () => clients[Math.floor(Math.random() * N)]!;
const results: { n: number; sddp: RunResult; eddp: RunResult }[] = [];
for (const n of counts) {
  const server = await startBundled<ServerInfo>('vendor-server.ts', [JSON.stringify({ store: url, kek: toHex(keys.kek), privateKeyPem: keys.privateKeyPem, register: false, instances: n, smoke: SMOKE })]);
  const info = server.info;
  const stats = async () => (await (await fetch(`http://127.0.0.1:${info.control}/stats`)).json()) as ServerStats;
  const others = () => ({ instances: info.workers!, postgres: childrenOf(postmaster) });
  const count = SMOKE ? 400 : Math.ceil(16_000 * seconds);
  const pool = (level: 'sddp' | 'eddp', k: number) => signedPool({ keys: Array.from({ length: k }, pick), idV: info.origin, path: `/${level}`, level, count: k, ck: fromHex(info.ck) });
  const run = async (title: string, level: 'sddp' | 'eddp', p: Record<string, string>[], len: { amount: number } | { duration: number }) => {
    const r = await timedRun({ title, url: info.origin, connections, ...len, requests: [{ method: 'GET', path: `/${level}`, setupRequest: (req) => ({ ...req, headers: p.pop() ?? pool(level, 1)[0]! }) }], stats, others });
    p.length = 0;
    return r;
  };
  await run('warm-up', 'sddp', pool('sddp', SMOKE ? 100 : 30_000), SMOKE ? { amount: 100 } : { duration: 2 });
  const sddp = await run(`${n} instance${n > 1 ? 's' : ''}, SDDP`, 'sddp', pool('sddp', count), length);
  console.log(fmtRun(sddp));
  const eddp = await run(`${n} instance${n > 1 ? 's' : ''}, EDDP steady`, 'eddp', pool('eddp', count), length);
  console.log(fmtRun(eddp));
  await server.stop();
  results.push({ n, sddp, eddp });
}
await cluster.stop();

console.log('\nResults: deliveries/s (p50 / p99 ms), and where the CPU went (cores, of the machine\'s ' + cpus().length + '):');
const base = results[0]!;
for (const { n, sddp, eddp } of results) {
  const where = (r: RunResult) => {
    const o = r.otherCores!;
    const total = o['instances']! + o['postgres']! + r.loadCores;
    return `instances ${o['instances']!.toFixed(2)} + PostgreSQL ${o['postgres']!.toFixed(2)} + load generator ${r.loadCores.toFixed(2)} = ${total.toFixed(2)}`;
  };
  const cell = (r: RunResult, b: RunResult) => `${r.rps.toFixed(0).padStart(6)}/s (${r.p50.toFixed(2)} / ${r.p99.toFixed(2)}) ${(r.rps / b.rps).toFixed(2)}x`;
  console.log(`  ${n} instance${n > 1 ? 's' : ' '}  SDDP ${cell(sddp, base.sddp)}  [${where(sddp)}]`);
  console.log(`              EDDP ${cell(eddp, base.eddp)}  [${where(eddp)}]`);
}
const bad = results.flatMap((r) => [r.sddp, r.eddp]).filter((r) => r.non2xx || r.errors);
if (bad.length) {
  console.log(`  WARNING: ${bad.map((r) => r.title).join(', ')}: answers that were not 2xx; the figures above are not valid.`);
  process.exitCode = 1;
}
process.exit();
