/**
 * The long run of the vendor-side fuzz suite (test/support/fuzz.ts; test/fuzz.test.ts is the
 * bounded run in the test command): every endpoint from valid messages, mutated, against the SDK's
 * server and against `janus-vendor serve` in front of an Express site, each in its own process.
 * Prints what must stay at zero: accepted forgeries, 5xx, crashes, logged errors, store
 * inconsistencies, and legitimate requests refused. Exit 1 when any is not zero.
 *
 *   npx tsx bench/fuzz.ts [operations per vendor, default 24000] [seed, default the time] [--smoke]
 *
 * With the default, about 105 000 requests in all; a few minutes on two cores. --smoke: 100
 * operations per vendor (a few hundred requests), to prove the script works (the test command runs
 * it); the zeros it checks still count.
 */
import { useCryptoProvider } from '../src/crypto/provider.ts';
import { nodeCryptoProvider } from '../src/server/node-crypto.ts';
import { runFuzz, type FuzzReport } from '../test/support/fuzz.ts';

useCryptoProvider(nodeCryptoProvider);
const SMOKE = process.argv.includes('--smoke');
const args = process.argv.slice(2).filter((a) => a !== '--smoke');
const operations = Number(args[0] ?? (SMOKE ? 100 : 24_000));
const seed = Number(args[1] ?? Date.now() % 1_000_000_007);

const reports: FuzzReport[] = [];
const started = Date.now();
for (const mode of ['sdk', 'proxy'] as const) {
  const t = Date.now();
  const r = await runFuzz({ mode, operations, seed, concurrency: 4, progress: (l) => console.error(l) });
  reports.push(r);
  console.log(`${mode}: ${r.requests} requests (${r.mutants} mutants, ${r.mutantsAccepted} of them harmless and served) in ${((Date.now() - t) / 1000).toFixed(0)} s`);
}

const rows: [string, (r: FuzzReport) => number][] = [
  ['requests', (r) => r.requests],
  ['mutated requests', (r) => r.mutants],
  ['registrations acknowledged', (r) => r.registrationsAcknowledged],
  ['accepted forgeries', (r) => r.acceptedForgeries],
  ['5xx answers', (r) => r.fiveXX],
  ['vendor crashes', (r) => r.crashes],
  ['error lines logged', (r) => r.errorLogLines],
  ['store inconsistencies', (r) => r.storeInconsistencies],
  ['legitimate requests refused', (r) => r.legitimateRefused],
];
console.log(`\nseed ${seed}, ${operations} operations per vendor, ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
console.log(`| ${'measure'.padEnd(28)} | ${'SDK server'.padStart(10)} | ${'serve proxy'.padStart(11)} | ${'total'.padStart(8)} |`);
console.log(`|${'-'.repeat(30)}|${'-'.repeat(12)}|${'-'.repeat(13)}|${'-'.repeat(10)}|`);
for (const [name, f] of rows) {
  const [a, b] = reports.map(f) as [number, number];
  console.log(`| ${name.padEnd(28)} | ${String(a).padStart(10)} | ${String(b).padStart(11)} | ${String(a + b).padStart(8)} |`);
}
const mutations: Record<string, number> = {};
for (const r of reports) for (const [k, v] of Object.entries(r.byMutation)) mutations[k] = (mutations[k] ?? 0) + v;
console.log(`\nmutations: ${Object.entries(mutations).map(([k, v]) => `${k} ${v}`).join(', ')}`);
const problems = reports.flatMap((r) => r.problems.map((p) => `${r.mode}: ${p}`));
if (problems.length) console.log(`\nproblems:\n${problems.join('\n')}`);
const bad = reports.some((r) => r.acceptedForgeries || r.fiveXX || r.crashes || r.errorLogLines || r.storeInconsistencies || r.legitimateRefused);
process.exit(bad ? 1 : 0);
