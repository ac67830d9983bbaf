/**
 * `node --import tsx test/support/with-postgres.ts CMD [ARGS...]` (scripts/with-postgres.sh): starts
 * a throwaway PostgreSQL cluster, runs CMD with JANUS_PG_URL (a superuser URL to its empty database
 * `janus`) and JANUS_PG_BIN in the environment, removes the cluster, and exits with CMD's status.
 */
import { spawn } from 'node:child_process';
import { startCluster } from './postgres.ts';

const [cmd, ...args] = process.argv.slice(2);
if (!cmd) {
  console.error('usage: scripts/with-postgres.sh CMD [ARGS...]');
  process.exit(2);
}
const cluster = await startCluster();
console.error(`with-postgres: PostgreSQL (${cluster.bin}) on ${new URL(cluster.url).host}, data in ${cluster.dir}`);
const child = spawn(cmd, args, { stdio: 'inherit', env: { ...process.env, JANUS_PG_URL: cluster.url, JANUS_PG_BIN: cluster.bin } });
// A signal to us goes to CMD; we stop the cluster when CMD has ended.
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, () => child.kill(sig));
const status = await new Promise<number>((ok) => {
  child.once('error', (e) => {
    console.error(`with-postgres: cannot run ${cmd}: ${e.message}`);
    ok(127);
  });
  child.once('exit', (code, signal) => ok(code ?? (signal ? 128 + (({ SIGINT: 2, SIGTERM: 15, SIGHUP: 1, SIGKILL: 9 }) as Record<string, number>)[signal]! || 1 : 1)));
});
await cluster.stop();
process.exit(status);
