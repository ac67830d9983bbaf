/**
 * The server half of the vendor benchmarks, in its own process: one vendor (Hono on
 * @hono/node-server, as a site would run it) with a plain, an SDDP and an EDDP route serving the same
 * 1 KiB personalized page, and for the comparison with what sites do today a route behind a signed
 * session cookie (Hono's getSignedCookie). Options as one JSON argument (ServerOptions below).
 *
 * Prints one JSON line (ServerInfo) once it listens. Besides the routes: GET /stats (bench/stats.ts:
 * CPU time, event-loop stalls and GC pauses since the last call, and the store's counters) and
 * GET /floor (the floor of a secure step, measured in this process).
 *
 * With `instances` this process is a node:cluster primary: its workers share the port (the primary
 * hands out connections round-robin, Node's own load balancer) and GET /stats on the primary's
 * `control` port sums theirs. GET /rsa: CPU microseconds of one RSA-OAEP decryption with the
 * vendor's own key on node:crypto, in this process.
 */
import cluster from 'node:cluster';
import { execFileSync } from 'node:child_process';
import { constants, createPrivateKey, createPublicKey, privateDecrypt, publicEncrypt } from 'node:crypto';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { generateSignedCookie, getSignedCookie } from 'hono/cookie';
import { fromHex, randomBytes, toHex } from '../src/crypto/bytes.ts';
import { useCryptoProvider } from '../src/crypto/provider.ts';
import { createVendor, Reply } from '../src/server/core.ts';
import { janus, type JanusVariables } from '../src/server/hono.ts';
import { nodeCryptoProvider } from '../src/server/node-crypto.ts';
import { openStore } from '../src/server/open-store.ts';
import { page } from './page.ts';
import { attribute, startProfile } from './profile.ts';
import { cpuPerCall, floorMicros, watchServer, type ServerStats } from './stats.ts';
import { discover, register, sessionFor } from '../test/support/client.ts';
import { freePort } from '../test/support/http-vendor.ts';
import { httpPeer, testKeyMaterial } from '../test/support/vendor-kit.ts';

export interface ServerOptions {
  /** A SQLite path or a postgres:// URL (openStore); default a new SQLite file in a temporary folder. */
  store?: string;
  /** The KEK (hex), shared with a bulk loader or other instances; default random. */
  kek?: string;
  /** The vendor's private key (PKCS#8 PEM), shared by instances; default a fresh RSA-3072 key. */
  privateKeyPem?: string;
  /** Register one client over SKEP and print its key (vendor.ts); default true. */
  register?: boolean;
  /** Also serve HTTPS: one listener with an RSA-2048 certificate and one with ECDSA P-256 (openssl, made at start). */
  https?: boolean;
  /** Listen here (default any free port); the origin is http://127.0.0.1:port. */
  port?: number;
  /** SqliteStore's / PgStore's client-row cache (default theirs). */
  cacheSize?: number;
  /** node:cluster workers on `port`: this process is then the primary (1 included: the same path for every count). */
  instances?: number;
  smoke?: boolean;
}

export interface ServerInfo {
  origin: string;
  /** https listeners: origin by certificate kind. */
  https?: { rsa: string; ecdsa: string };
  /** The registered client (register: true). */
  alias?: string;
  gen?: number;
  k?: string;
  /** The vendor's EDDP challenge key (hex), for minting steady-state challenges (bench/load.ts). */
  ck: string;
  /** The signed session cookie of the /cookie route. */
  cookie: string;
  /** The primary's control port (instances > 1). */
  control?: number;
  pid: number;
  workers?: number[];
}

const opts = JSON.parse(process.argv[2] ?? '{}') as ServerOptions;
useCryptoProvider(nodeCryptoProvider);
process.on('SIGINT', () => process.exit(0));
process.on('SIGTERM', () => process.exit(0));

const COOKIE_SECRET = 'bench session secret, 32 bytes..';
const say = (o: unknown) => process.stdout.write(JSON.stringify(o) + '\n');

if (opts.instances && cluster.isPrimary) await primary();
else await worker();

async function primary(): Promise<void> {
  const n = opts.instances!;
  const kek = opts.kek ?? toHex(randomBytes(32));
  const privateKeyPem = opts.privateKeyPem ?? (await testKeyMaterial()).privateKeyPem;
  const port = opts.port ?? (await freePort());
  const workers: { w: ReturnType<typeof cluster.fork>; info: ServerInfo }[] = [];
  cluster.schedulingPolicy = cluster.SCHED_RR;
  for (let i = 0; i < n; i++) {
    // Each worker starts with the same options (port, KEK, key), given in its environment (a message
    // sent now could arrive before the worker listens for it, and be lost), and reports like a single server.
    const w = cluster.fork({ JANUS_BENCH_WORKER: JSON.stringify({ ...opts, port, kek, privateKeyPem, register: false, instances: 0 }) });
    const info = await new Promise<ServerInfo>((ok) => w.once('message', (m: { info: ServerInfo }) => ok(m.info)));
    workers.push({ w, info });
  }
  process.on('exit', () => {
    for (const { w } of workers) w.process.kill('SIGTERM');
  });
  // The control port: /stats sums the workers' counters.
  const sumStats = async (): Promise<ServerStats> => {
    const all = await Promise.all(
      workers.map(
        ({ w }) =>
          new Promise<ServerStats>((ok) => {
            w.once('message', (m: { stats: ServerStats }) => ok(m.stats));
            w.send({ stats: true });
          }),
      ),
    );
    const sum: ServerStats = { cpu: 0, stalls: 0, preempted: 0, stallMax: 0, gcOver: 0, gcMs: 0 };
    for (const s of all) {
      sum.cpu += s.cpu;
      sum.stalls += s.stalls;
      sum.preempted += s.preempted;
      sum.gcOver += s.gcOver;
      sum.gcMs += s.gcMs;
      sum.stallMax = Math.max(sum.stallMax, s.stallMax);
    }
    return sum;
  };
  const control = createHttpServer((req, res) => {
    if (req.url !== '/stats') return void res.writeHead(404).end();
    sumStats().then(
      (sum) => void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(sum)),
      (e: unknown) => void res.writeHead(500).end(String(e)),
    );
  });
  await new Promise<void>((ok) => control.listen(0, '127.0.0.1', ok));
  const first = workers[0]!.info;
  say({ ...first, control: (control.address() as { port: number }).port, pid: process.pid, workers: workers.map(({ w }) => w.process.pid!) } satisfies ServerInfo);
}

async function worker(): Promise<void> {
  let o = opts;
  const given = process.env['JANUS_BENCH_WORKER'];
  if (given) o = JSON.parse(given) as ServerOptions;
  const app = new Hono<{ Variables: JanusVariables }>();
  // The origin must be known before the vendor exists: listen first. The env (the Node request and
  // response) goes through: the janus middleware reads headers from it.
  const server = serve({ fetch: (r, env) => app.fetch(r, env), port: o.port ?? 0, hostname: '127.0.0.1', createServer: createHttpServer });
  await new Promise<void>((ok) => (server.listening ? ok() : server.once('listening', ok)));
  const port = (server.address() as { port: number }).port;
  const origin = `http://127.0.0.1:${port}`;

  const keys = o.privateKeyPem ? { privateKeyPem: o.privateKeyPem, kek: fromHex(o.kek!) } : await testKeyMaterial(o.kek ? fromHex(o.kek) : undefined);
  const store = await openStore(o.store ?? join(mkdtempSync(join(tmpdir(), 'janus-bench-')), 'vendor.db'), {
    ...(o.cacheSize !== undefined ? { sqlite: { cacheSize: o.cacheSize }, postgres: { cacheSize: o.cacheSize } } : {}),
  });
  const vendor = createVendor({
    config: { origin, keys, rateLimits: { skepPerAddressPerMinute: 1e9, skepPerAliasPerMinute: 1e9, requestsPerClientPerSlot: 1e9 } },
    store,
    routes: [
      { path: '/sddp', level: 'sddp', handler: ({ client }) => new Reply(page(client.alias), { contentType: 'application/json' }) },
      { path: '/eddp', level: 'eddp', handler: ({ client }) => new Reply(page(client.alias), { contentType: 'application/json' }) },
    ],
  });
  const watch = watchServer();
  app.use(janus(vendor));
  // The baseline: the same page from a plain route of the same server (the paper's "Hello World").
  app.get('/plain', (c) => c.body(page('plain-route-alias-xxxx'), 200, { 'content-type': 'application/json' }));
  // What sites do today: a session cookie signed with HMAC-SHA256 (Hono's helper), the user's page.
  app.get('/cookie', async (c) => {
    const user = await getSignedCookie(c, COOKIE_SECRET, 'session');
    if (!user) return c.text('sign in first', 401);
    return c.body(page(user), 200, { 'content-type': 'application/json' });
  });
  app.get('/stats', (c) => c.json(watch.take()));
  app.get('/floor', (c) => c.json({ floor: floorMicros(o.smoke) }));
  app.get('/rsa', (c) => {
    const priv = createPrivateKey(keys.privateKeyPem);
    const oaep = { oaepHash: 'sha256', padding: constants.RSA_PKCS1_OAEP_PADDING } as const;
    const ct = publicEncrypt({ key: createPublicKey(priv), ...oaep }, randomBytes(64));
    const us = Math.min(...[0, 1, 2].map(() => cpuPerCall(() => privateDecrypt({ key: priv, ...oaep }, ct), o.smoke ? 2 : 20, o.smoke ? 5 : 200)));
    return c.json({ bits: priv.asymmetricKeyDetails!.modulusLength, us });
  });
  // A sampling profile of this process over one run, attributed to phases (bench/profile.ts).
  let profiling: Awaited<ReturnType<typeof startProfile>> | null = null;
  app.get('/profile/start', async (c) => {
    profiling = await startProfile(Number(c.req.query('interval') ?? 50));
    return c.json({ ok: true });
  });
  app.get('/profile/stop', async (c) => {
    const a = attribute(await profiling!.stop());
    profiling = null;
    return c.json({ busy: a.busy, phases: [...a.phases.entries()] });
  });
  process.on('message', (m: { stats?: boolean }) => {
    if (m.stats) process.send!({ stats: watch.take() });
  });

  let tls: ServerInfo['https'];
  if (o.https) {
    const dir = mkdtempSync(join(tmpdir(), 'janus-bench-tls-'));
    const listen = async (kind: 'rsa' | 'ecdsa') => {
      // A self-signed certificate made now: RSA-2048 (the paper's SSL, and still the common web
      // certificate) or ECDSA P-256 (what certbot issues by default today).
      const key = join(dir, `${kind}.key`);
      const cert = join(dir, `${kind}.crt`);
      const alg = kind === 'rsa' ? ['-newkey', 'rsa:2048'] : ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'];
      execFileSync('openssl', ['req', '-x509', ...alg, '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
      const s = serve({ fetch: (r, env) => app.fetch(r, env), port: 0, hostname: '127.0.0.1', createServer: createHttpsServer, serverOptions: { key: readFileSync(key), cert: readFileSync(cert) } });
      await new Promise<void>((ok) => (s.listening ? ok() : s.once('listening', ok)));
      return `https://127.0.0.1:${(s.address() as { port: number }).port}`;
    };
    tls = { rsa: await listen('rsa'), ecdsa: await listen('ecdsa') };
  }

  const info: ServerInfo = {
    origin,
    ck: toHex(vendor.config.vk.ck),
    cookie: (await generateSignedCookie('session', 'cookie-user-alias-xxxxx', COOKIE_SECRET)).split(';')[0]!,
    pid: process.pid,
    ...(tls ? { https: tls } : {}),
  };
  if (o.register !== false) {
    const peer = httpPeer(origin);
    const doc = await discover(peer, origin);
    const s = await sessionFor('bench@example.org', 'bench secret', origin);
    await register(peer, s, doc, { now: Math.floor(Date.now() / 1000) });
    Object.assign(info, { alias: s.alias, gen: s.gen, k: toHex(s.k) });
  }
  watch.take();
  if (process.send) process.send({ info });
  else say(info);
}
