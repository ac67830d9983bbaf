/**
 * Janus against what sites do today, on the same server in the same run: the same 1 KiB personalized
 * page served
 *   - behind a session cookie signed with HMAC-SHA256 (Hono's getSignedCookie) over HTTPS with
 *     keep-alive: today's common case;
 *   - the same over HTTPS with a full TLS handshake for every request (the paper's SSL comparison),
 *     with an RSA-2048 certificate and with an ECDSA P-256 one;
 *   - Janus SDDP and steady-state EDDP over plain HTTP and over HTTPS with keep-alive;
 *   - and the plain route over HTTP as the floor of the server itself.
 *
 *   npx tsx bench/sites.ts [--seconds 8] [--connections 16] [--smoke]
 *
 * One server process (bench/vendor-server.ts: Hono on @hono/node-server, SQLite) with an HTTP
 * listener and two HTTPS listeners on self-signed certificates made at start with openssl (TLS 1.3,
 * Node's defaults). Keep-alive runs use autocannon; the handshake runs use a small loop here (16
 * at a time: tls.connect with no session to resume, one `Connection: close` request, wait for the
 * end), because autocannon counts no answer on a connection it resets. The load generator's own CPU
 * is printed beside each run: near 1.0 core it, not the server, limits the rate, and the server's
 * CPU per request is the figure to compare. --smoke: a few hundred requests per run, to prove the
 * script works (the test command runs it); its figures mean nothing.
 */
import type autocannon from 'autocannon';
import { connect } from 'node:tls';
import { parseArgs } from 'node:util';
import { fromHex } from '../src/crypto/bytes.ts';
import { useCryptoProvider } from '../src/crypto/provider.ts';
import { nodeCryptoProvider } from '../src/server/node-crypto.ts';
import { fmtRun, pct, percentile, serverStats, signedPool, startBundled, timedRun, type ClientKey, type RunResult } from './load.ts';
import type { ServerInfo } from './vendor-server.ts';

useCryptoProvider(nodeCryptoProvider);
const { values } = parseArgs({ options: { seconds: { type: 'string', default: '8' }, connections: { type: 'string', default: '16' }, smoke: { type: 'boolean', default: false } } });
const SMOKE = values.smoke;
const seconds = Number(values.seconds);
const connections = SMOKE ? 2 : Number(values.connections);
const length = SMOKE ? { amount: 300 } : { duration: seconds };

const server = await startBundled<ServerInfo>('vendor-server.ts', [JSON.stringify({ https: true, smoke: SMOKE })], SMOKE ? { JANUS_BENCH_SMOKE: '1' } : {});
const info = server.info;
const tls = info.https!;
const key: ClientKey = { alias: info.alias!, gen: info.gen!, k: fromHex(info.k!) };
const ck = fromHex(info.ck);
const stats = () => serverStats(info.origin);

async function keepAlive(title: string, url: string, path: string, headers?: () => Record<string, string>): Promise<RunResult> {
  const requests: autocannon.Request[] = [{ method: 'GET', path, ...(headers ? { setupRequest: (req) => ({ ...req, headers: headers() }) } : {}) }];
  const r = await timedRun({ title, url, connections, ...length, requests, stats });
  console.log(fmtRun(r));
  return r;
}

/** `connections` loops, each: a new TLS connection (full handshake), one request, read to the end. */
async function handshakes(title: string, origin: string, path: string, headers: Record<string, string>): Promise<RunResult> {
  const u = new URL(origin);
  const head = `GET ${path} HTTP/1.1\r\nHost: ${u.host}\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('')}Connection: close\r\n\r\n`;
  await stats(); // reset
  const lat: number[] = [];
  let non2xx = 0;
  let errors = 0;
  let sent = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const deadline = t0 + seconds * 1000;
  const more = () => (SMOKE ? sent < 300 : performance.now() < deadline);
  const one = () =>
    new Promise<void>((ok) => {
      const start = performance.now();
      let first = '';
      // The request is written and the connection left open: the server closes it after answering (Connection: close).
      const s = connect({ host: u.hostname, port: Number(u.port), rejectUnauthorized: false }, () => s.write(head));
      s.on('data', (c: Buffer) => {
        if (first.length < 16) first += c.toString('latin1', 0, 16);
      });
      s.on('error', () => {
        errors++;
        ok();
      });
      s.on('end', () => s.end());
      s.on('close', () => {
        if (/^HTTP\/1\.1 2\d\d/.test(first)) lat.push(performance.now() - start);
        else {
          non2xx++;
          if (process.env['JANUS_DEV_DEBUG']) console.error(JSON.stringify(first));
        }
        ok();
      });
    });
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (more()) {
        sent++;
        await one();
      }
    }),
  );
  const wall = (performance.now() - t0) * 1000;
  const c = process.cpuUsage(cpu0);
  const server = await stats();
  const sorted = Float64Array.from(lat).sort();
  const total = lat.length + non2xx;
  const r: RunResult = { title, rps: total / (wall / 1e6), total, non2xx, errors, p50: percentile(sorted, 50), p99: percentile(sorted, 99), cpu: server.cpu / Math.max(1, total), server, loadCores: (c.user + c.system) / wall };
  console.log(fmtRun(r));
  return r;
}

console.log(
  SMOKE
    ? `Janus against sites today, smoke run (${connections} connections, 300 requests per run): proves the script works; the figures mean nothing`
    : `Janus against sites today: ${connections} connections, ${seconds} s per run, loopback, 1 KiB personalized page, one server process`,
);
await timedRun({ title: 'warm-up', url: info.origin, connections, ...(SMOKE ? { amount: 100 } : { duration: 2 }), requests: [{ method: 'GET', path: '/plain' }], stats });
const cookie = { cookie: info.cookie };
const plain = await keepAlive('plain route, HTTP', info.origin, '/plain');
const cookieTls = await keepAlive('signed cookie, HTTPS keep-alive', tls.rsa, '/cookie', () => cookie);
const fullRsa = await handshakes('signed cookie, HTTPS handshake each (RSA-2048)', tls.rsa, '/cookie', cookie);
const fullEc = await handshakes('signed cookie, HTTPS handshake each (P-256)', tls.ecdsa, '/cookie', cookie);
const size = SMOKE ? 400 : Math.min(300_000, Math.ceil(plain.rps * seconds * 0.8));
const pools = () => ({
  sddp: signedPool({ keys: [key], idV: info.origin, path: '/sddp', level: 'sddp', count: size }),
  eddp: signedPool({ keys: [key], idV: info.origin, path: '/eddp', level: 'eddp', count: size, ck }),
});
let p = pools();
const next = (q: Record<string, string>[], level: 'sddp' | 'eddp') => () => q.pop() ?? signedPool({ keys: [key], idV: info.origin, path: `/${level}`, level, count: 1, ck })[0]!;
const sddpHttp = await keepAlive('Janus SDDP, HTTP', info.origin, '/sddp', next(p.sddp, 'sddp'));
const eddpHttp = await keepAlive('Janus EDDP steady, HTTP', info.origin, '/eddp', next(p.eddp, 'eddp'));
p = pools();
const sddpTls = await keepAlive('Janus SDDP, HTTPS keep-alive', tls.rsa, '/sddp', next(p.sddp, 'sddp'));
const eddpTls = await keepAlive('Janus EDDP steady, HTTPS keep-alive', tls.rsa, '/eddp', next(p.eddp, 'eddp'));
await server.stop();

const all = [plain, cookieTls, fullRsa, fullEc, sddpHttp, eddpHttp, sddpTls, eddpTls];
console.log('\nResults: server CPU per request (what each costs the vendor) and rate, against the two ways sites work today:');
console.log(`  ${''.padEnd(46)} ${'CPU us/req'.padStart(10)} ${'req/s'.padStart(8)}   vs cookie+HTTPS keep-alive (CPU, rate)   vs HTTPS handshake each, RSA / P-256 (CPU)`);
for (const r of all) {
  const vsK = `${(r.cpu / cookieTls.cpu).toFixed(2)}x, ${pct(r.rps, cookieTls.rps)}`;
  const vsF = `${(r.cpu / fullRsa.cpu).toFixed(2)}x / ${(r.cpu / fullEc.cpu).toFixed(2)}x`;
  console.log(`  ${r.title.padEnd(46)} ${r.cpu.toFixed(1).padStart(10)} ${r.rps.toFixed(0).padStart(8)}   ${vsK.padEnd(38)}   ${vsF}`);
}
const busy = all.filter((r) => r.loadCores > 0.9);
if (busy.length) console.log(`  The load generator used ${busy.map((r) => `${r.loadCores.toFixed(2)} cores on "${r.title}"`).join(', ')}: there it limited the rate; compare CPU per request.`);
else console.log('  The load generator stayed under 0.9 core in every run: the server limited the rates.');
const bad = all.filter((r) => r.non2xx || r.errors);
if (bad.length) {
  console.log(`  WARNING: ${bad.map((r) => r.title).join(', ')}: answers that were not 2xx; the figures above are not valid.`);
  process.exitCode = 1;
}
process.exit();
