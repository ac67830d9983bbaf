/**
 * In-process measurements for bench/vendor.ts: the vendor's CPU time per SDDP request, the floor of
 * any secure step on node:crypto, one RSA-2048 private operation (all in this one process) and SKEP
 * registrations/s. An SDDP request here is a pre-signed GET through JanusVendor.handleMessage (the
 * entry the node:http adapter uses): parse, record lookup, MAC check, replay log commit, handler,
 * sealing. No network and no Web Request/Response objects; 16 requests in flight at a time, as in
 * the HTTP runs, with the SQLite store on a file.
 */
import { useCryptoProvider, type CryptoProvider } from '../src/crypto/provider.ts';
import { challengeRequest, deliveryRequest, deliveryResponse, HEADER, type PendingRequest, skepOnResponse, skepStart, type Discovery, type VendorSession } from '../src/protocol/index.ts';
import { createVendor, nodeCryptoProvider, PATHS, Reply, SqliteStore } from '../src/server/index.ts';
import { discover, register, sessionFor } from '../test/support/client.ts';
import { fetchPeer, fromResponse, testKeyMaterial, toRequest } from '../test/support/vendor-kit.ts';
import { page } from './page.ts';
import { constants, createCipheriv, createHmac, generateKeyPairSync, privateDecrypt, publicEncrypt, randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { HttpRequestMsg } from '../src/protocol/index.ts';

/** JANUS_BENCH_SMOKE=1 (bench/vendor.ts --smoke): every loop a few hundred times, to prove the script works. */
const SMOKE = process.env['JANUS_BENCH_SMOKE'] === '1';

/** node:crypto with a stopwatch around every primitive, to split a request's cost into crypto and the rest. */
function timedProvider(): { provider: CryptoProvider; micros: () => number } {
  let ns = 0n;
  const time =
    <A extends unknown[], R>(f: (...a: A) => R) =>
    (...a: A): R => {
      const t = process.hrtime.bigint();
      try {
        return f(...a);
      } finally {
        ns += process.hrtime.bigint() - t;
      }
    };
  const p = nodeCryptoProvider;
  return {
    provider: {
      name: 'node:crypto (timed)',
      sha256: time(p.sha256),
      hmacSha256: time(p.hmacSha256),
      hkdfSha256: time(p.hkdfSha256),
      aesGcm: { seal: time(p.aesGcm!.seal), open: time(p.aesGcm!.open) },
    },
    micros: () => Number(ns) / 1000,
  };
}

/** CPU microseconds per call of `f`, after `warm` calls that are not counted. */
function cpuPerCall(f: () => unknown, warm: number, n: number): number {
  for (let i = 0; i < warm; i++) f();
  const t = process.cpuUsage();
  for (let i = 0; i < n; i++) f();
  const d = process.cpuUsage(t);
  return (d.user + d.system) / n;
}

/**
 * The floor of any secure step on this stack: one HMAC-SHA256 over a 250-byte request signature base
 * and one AES-256-GCM seal of a 1 KiB page with 200 bytes of additional data, straight on node:crypto.
 */
function floorMicros(): number {
  const key = randomBytes(32);
  const base = randomBytes(250);
  const aad = randomBytes(200);
  const body = randomBytes(1024);
  const iv = randomBytes(12);
  const once = () => {
    createHmac('sha256', key).update(base).digest();
    const c = createCipheriv('aes-256-gcm', key, iv);
    c.setAAD(aad);
    return Buffer.concat([c.update(body), c.final(), c.getAuthTag()]);
  };
  return SMOKE ? cpuPerCall(once, 100, 500) : cpuPerCall(once, 5000, 50_000);
}

/** One RSA-2048 private operation (OAEP decryption, as SKEP message 1 costs), in this process. */
function rsaMicros(): number {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const ct = publicEncrypt({ key: publicKey, oaepHash: 'sha256', padding: constants.RSA_PKCS1_OAEP_PADDING }, randomBytes(64));
  return cpuPerCall(() => privateDecrypt({ key: privateKey, oaepHash: 'sha256', padding: constants.RSA_PKCS1_OAEP_PADDING }, ct), SMOKE ? 2 : 20, SMOKE ? 10 : 300);
}

export async function measure(): Promise<{ sddpMicros: number; sddpCryptoMicros: number; floorMicros: number; rsaMicros: number; eddpMicros: number; skepPerSecond: number }> {
  useCryptoProvider(nodeCryptoProvider);
  const origin = 'https://bench.example';
  const vendor = createVendor({
    config: { origin, keys: await testKeyMaterial(), rateLimits: { skepPerAddressPerMinute: 1e9, skepPerAliasPerMinute: 1e9, requestsPerClientPerSlot: 1e9 } },
    store: new SqliteStore(join(mkdtempSync(join(tmpdir(), 'janus-cpu-')), 'vendor.db')),
    routes: [
      { path: '/sddp', level: 'sddp', handler: ({ client }) => new Reply(page(client.alias), { contentType: 'application/json' }) },
      { path: '/eddp', level: 'eddp', handler: ({ client }) => new Reply(page(client.alias), { contentType: 'application/json' }) },
    ],
  });
  const peer = fetchPeer(async (r) => (await vendor.handle(r))!);
  const doc: Discovery = await discover(peer, origin);
  const s: VendorSession = await sessionFor('cpu@example.org', 'cpu secret', origin);
  const now = Math.floor(Date.now() / 1000);
  await register(peer, s, doc, { now });

  const signed = async (n: number) => {
    const out: HttpRequestMsg[] = [];
    for (let i = 0; i < n; i++) out.push((await deliveryRequest({ key: s, level: 'sddp', method: 'GET', url: origin + '/sddp', now })).request);
    return out;
  };
  const serve = async (msgs: HttpRequestMsg[]) => {
    for (let i = 0; i < msgs.length; i += 16) {
      for (const res of await Promise.all(msgs.slice(i, i + 16).map((m) => vendor.handleMessage(m)))) {
        if (res?.status !== 200) throw new Error(`SDDP status ${res?.status}`);
      }
    }
  };
  const N = SMOKE ? 300 : 20_000;
  const reqs = await signed(N);
  await serve(await signed(SMOKE ? 50 : 3000)); // warm-up: the figure is the optimized steady state
  const c0 = process.cpuUsage();
  await serve(reqs);
  const c1 = process.cpuUsage(c0);
  const sddpMicros = (c1.user + c1.system) / N;

  // The same again with a stopwatch on the primitives (fresh nonces: a new batch).
  const timed = timedProvider();
  const again = await signed(SMOKE ? 100 : 2000);
  useCryptoProvider(timed.provider);
  await serve(again);
  useCryptoProvider(nodeCryptoProvider);
  const sddpCryptoMicros = timed.micros() / again.length;

  // EDDP, steady state: 16 clients in lockstep, each request carrying the challenge of its previous
  // response; the client's signing happens outside the clock, only handleMessage is timed.
  let eddpCpu = 0;
  let eddpCount = 0;
  const lanes = 16;
  const challenges: string[] = [];
  for (let i = 0; i < lanes; i++) {
    const res = (await vendor.handleMessage(challengeRequest(s.alias, origin + PATHS.challenge)))!;
    challenges.push(res.headers[HEADER.challenge]!);
  }
  const rounds = SMOKE ? 20 : 900;
  const warmRounds = SMOKE ? 5 : 200;
  for (let round = 0; round < rounds; round++) {
    const batch: { request: HttpRequestMsg; pending: PendingRequest }[] = [];
    for (let i = 0; i < lanes; i++) batch.push(await deliveryRequest({ key: s, level: 'eddp', method: 'GET', url: origin + '/eddp', now, challenge: challenges[i]! }));
    const c = process.cpuUsage();
    const answers = await Promise.all(batch.map((b) => vendor.handleMessage(b.request)));
    const d = process.cpuUsage(c);
    if (round >= warmRounds) {
      eddpCpu += d.user + d.system; // the first 200 rounds (3200 requests) warm up, as for SDDP
      eddpCount += lanes;
    }
    for (let i = 0; i < lanes; i++) {
      if (answers[i]?.status !== 200) throw new Error(`EDDP status ${answers[i]?.status}`);
      challenges[i] = (await deliveryResponse(batch[i]!.pending, 'eddp', answers[i]!)).challenge!;
    }
  }
  const eddpMicros = eddpCpu / eddpCount;

  // SKEP: the vendor's side of messages 1-4 for fresh clients (client work prepared outside the clock).
  const M = SMOKE ? 3 : 40;
  const runs = [];
  for (let i = 0; i < M; i++) {
    const c = await sessionFor(`skep${i}@example.org`, 'x', origin);
    runs.push(await skepStart({ session: c, discovery: doc, data: {}, now }));
  }
  let vendorMs = 0;
  for (const { state, request } of runs) {
    let t = performance.now();
    const m2 = await fromResponse((await vendor.handle(toRequest(request)))!);
    vendorMs += performance.now() - t;
    const s3 = await skepOnResponse(state, m2, now);
    t = performance.now();
    const m4 = await vendor.handle(toRequest(s3.request!));
    vendorMs += performance.now() - t;
    if (m4!.status !== 201) throw new Error(`SKEP status ${m4!.status}`);
  }
  await vendor.close();
  return { sddpMicros, sddpCryptoMicros, floorMicros: floorMicros(), rsaMicros: rsaMicros(), eddpMicros, skepPerSecond: (M / vendorMs) * 1000 };
}

// Run as a program (bench/vendor.ts runs this file bundled, in its own process): one JSON line.
if (process.argv[1] && /vendor-cpu\.(ts|mjs)$/.test(process.argv[1])) {
  process.stdout.write(JSON.stringify(await measure()) + '\n');
  process.exit(0);
}
