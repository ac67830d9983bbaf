/**
 * In-process measurements for bench/vendor.ts, in a process of their own: the vendor's CPU time per
 * SDDP and per steady-state EDDP request through JanusVendor.handleMessage (the entry the node:http
 * adapter uses: route match, parse, record lookup, MAC check, replay commit, handler, sealing; no
 * network, no Web Request/Response), split into phases by a V8 CPU profile of a second pass
 * (bench/profile.ts); the floor of a secure step; one RSA private operation with the vendor's own key
 * (RSA-3072, OAEP decryption on node:crypto, as raw as it gets); and SKEP registrations/s, one at a
 * time, each the vendor's side of messages 1 and 3 (the client's work is done outside the clock).
 * 16 requests in flight at a time, as in the HTTP runs, with the SQLite store on a file.
 *
 * Prints one JSON line (CpuReport).
 */
import { constants, createPrivateKey, privateDecrypt, publicEncrypt, createPublicKey, randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { useCryptoProvider } from '../src/crypto/provider.ts';
import { nowSeconds, skepOnResponse, skepStart, type Discovery, type HttpRequestMsg, type VendorSession } from '../src/protocol/index.ts';
import { createVendor, Reply } from '../src/server/core.ts';
import { nodeCryptoProvider } from '../src/server/node-crypto.ts';
import { SqliteStore } from '../src/server/sqlite-store.ts';
import { discover, register, sessionFor } from '../test/support/client.ts';
import { fetchPeer, fromResponse, testKeyMaterial, toRequest } from '../test/support/vendor-kit.ts';
import { signedPool, type ClientKey } from './load.ts';
import { page } from './page.ts';
import { attribute, phaseTable, startProfile } from './profile.ts';
import { cpuPerCall, floorMicros } from './stats.ts';

/** JANUS_BENCH_SMOKE=1 (bench/vendor.ts --smoke): every loop a few hundred times, to prove the script works. */
const SMOKE = process.env['JANUS_BENCH_SMOKE'] === '1';

export interface PhaseReport {
  /** CPU microseconds per request, unprofiled. */
  total: number;
  /** The same split by phase (profiled pass, scaled to `total`). */
  phases: Record<string, number>;
  /** Of `total`, inside node:crypto (the primitives). */
  primitives: number;
}

export interface CpuReport {
  sddp: PhaseReport;
  eddp: PhaseReport;
  floor: number;
  rsaBits: number;
  rsaMicros: number;
  oaepPerSecond: number;
  skepPerSecond: number;
}

export async function measure(): Promise<CpuReport> {
  useCryptoProvider(nodeCryptoProvider);
  const origin = 'https://bench.example';
  const keys = await testKeyMaterial();
  const vendor = createVendor({
    config: { origin, keys, rateLimits: { skepPerAddressPerMinute: 1e9, skepPerAliasPerMinute: 1e9, requestsPerClientPerSlot: 1e9 } },
    store: new SqliteStore(join(mkdtempSync(join(tmpdir(), 'janus-cpu-')), 'vendor.db')),
    routes: [
      { path: '/sddp', level: 'sddp', handler: ({ client }) => new Reply(page(client.alias), { contentType: 'application/json' }) },
      { path: '/eddp', level: 'eddp', handler: ({ client }) => new Reply(page(client.alias), { contentType: 'application/json' }) },
    ],
  });
  const peer = fetchPeer(async (r) => (await vendor.handle(r))!);
  const doc: Discovery = await discover(peer, origin);
  const s: VendorSession = await sessionFor('cpu@example.org', 'cpu secret', origin);
  const now = nowSeconds();
  await register(peer, s, doc, { now });
  const key: ClientKey = { alias: s.alias, gen: s.gen, k: s.k };
  const ck = vendor.config.vk.ck;

  const messages = (level: 'sddp' | 'eddp', n: number): HttpRequestMsg[] =>
    signedPool({ keys: [key], idV: origin, path: `/${level}`, level, count: n, ck }).map((headers) => ({ method: 'GET', url: `${origin}/${level}`, headers, body: new Uint8Array(0) }));
  const serve = async (msgs: HttpRequestMsg[]) => {
    for (let i = 0; i < msgs.length; i += 16) {
      for (const res of await Promise.all(msgs.slice(i, i + 16).map((m) => vendor.handleMessage(m)))) {
        if (res?.status !== 200) throw new Error(`status ${res?.status}`);
      }
    }
  };
  const N = SMOKE ? 300 : 20_000;
  const perLevel = async (level: 'sddp' | 'eddp'): Promise<PhaseReport> => {
    await serve(messages(level, SMOKE ? 50 : 4000)); // warm-up: the figure is the optimized steady state
    const reqs = messages(level, N);
    const c0 = process.cpuUsage();
    await serve(reqs);
    const c1 = process.cpuUsage(c0);
    const total = (c1.user + c1.system) / N;
    // A second pass under the sampling profiler, for the split by phase.
    const again = messages(level, N);
    const prof = await startProfile(SMOKE ? 200 : 25);
    await serve(again);
    const a = attribute(await prof.stop());
    const rows = phaseTable(a, N, total);
    return { total, phases: Object.fromEntries(rows.map((r) => [r.phase, r.us])), primitives: rows.reduce((t, r) => t + r.crypto, 0) };
  };
  const sddp = await perLevel('sddp');
  const eddp = await perLevel('eddp');

  // SKEP: the vendor's side of messages 1 and 3 for fresh clients (client work prepared outside the clock).
  const M = SMOKE ? 3 : 100;
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

  // The raw RSA-OAEP decryption with the vendor's own key, on node:crypto, timed the same way (wall clock, one at a time).
  const priv = createPrivateKey(keys.privateKeyPem);
  const pub = createPublicKey(priv);
  const rsaBits = priv.asymmetricKeyDetails!.modulusLength!;
  const ct = publicEncrypt({ key: pub, oaepHash: 'sha256', padding: constants.RSA_PKCS1_OAEP_PADDING }, randomBytes(64));
  const decrypt = () => privateDecrypt({ key: priv, oaepHash: 'sha256', padding: constants.RSA_PKCS1_OAEP_PADDING }, ct);
  const rsaMicros = cpuPerCall(decrypt, SMOKE ? 2 : 20, SMOKE ? 10 : 300);
  const R = SMOKE ? 10 : 300;
  const t = performance.now();
  for (let i = 0; i < R; i++) decrypt();
  const oaepPerSecond = R / ((performance.now() - t) / 1000);
  return { sddp, eddp, floor: floorMicros(SMOKE), rsaBits, rsaMicros, oaepPerSecond, skepPerSecond: (M / vendorMs) * 1000 };
}

// Run as a program (bench/vendor.ts runs this file bundled, in its own process): one JSON line.
if (process.argv[1] && /vendor-cpu\.(ts|mjs)$/.test(process.argv[1])) {
  process.stdout.write(JSON.stringify(await measure()) + '\n');
  process.exit(0);
}
