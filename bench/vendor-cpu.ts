/**
 * In-process measurements for bench/vendor.ts: the vendor core's CPU time per SDDP request (a
 * pre-signed GET through JanusVendor.handle, response sealed, no network) and SKEP registrations/s.
 */
import { useCryptoProvider, type CryptoProvider } from '../src/crypto/provider.ts';
import { deliveryRequest, skepOnResponse, skepStart, type Discovery, type VendorSession } from '../src/protocol/index.ts';
import { createVendor, nodeCryptoProvider, Reply, SqliteStore } from '../src/vendor/index.ts';
import { discover, register, sessionFor } from '../test/support/client.ts';
import { fetchPeer, fromResponse, testKeyMaterial, toRequest } from '../test/support/vendor-kit.ts';
import { page } from './page.ts';

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

export async function measure(): Promise<{ sddpMicros: number; sddpCryptoMicros: number; skepPerSecond: number }> {
  useCryptoProvider(nodeCryptoProvider);
  const origin = 'https://bench.example';
  const vendor = createVendor({
    config: { origin, keys: await testKeyMaterial(), rateLimits: { skepPerAddressPerMinute: 1e9, skepPerAliasPerMinute: 1e9 } },
    store: new SqliteStore(':memory:'),
    routes: [{ path: '/sddp', level: 'sddp', handler: ({ client }) => new Reply(page(client.alias), { contentType: 'application/json' }) }],
  });
  const peer = fetchPeer(async (r) => (await vendor.handle(r))!);
  const doc: Discovery = await discover(peer, origin);
  const s: VendorSession = await sessionFor('cpu@example.org', 'cpu secret', origin);
  const now = Math.floor(Date.now() / 1000);
  await register(peer, s, doc, { now });

  const N = 3000;
  const reqs = [];
  for (let i = 0; i < N + 300; i++) reqs.push(toRequest((await deliveryRequest({ key: s, level: 'sddp', method: 'GET', url: origin + '/sddp', now })).request));
  for (const r of reqs.splice(0, 300)) await vendor.handle(r); // warm-up
  const c0 = process.cpuUsage();
  for (const r of reqs) {
    const res = await vendor.handle(r);
    if (res!.status !== 200) throw new Error(`SDDP status ${res!.status}`);
    await res!.arrayBuffer();
  }
  const c1 = process.cpuUsage(c0);
  const sddpMicros = (c1.user + c1.system) / N;

  // The same requests again with a stopwatch on the primitives (fresh nonces: a new batch).
  const timed = timedProvider();
  const again = [];
  for (let i = 0; i < 1000; i++) again.push(toRequest((await deliveryRequest({ key: s, level: 'sddp', method: 'GET', url: origin + '/sddp', now })).request));
  useCryptoProvider(timed.provider);
  for (const r of again) await (await vendor.handle(r))!.arrayBuffer();
  useCryptoProvider(nodeCryptoProvider);
  const sddpCryptoMicros = timed.micros() / again.length;

  // SKEP: the vendor's side of messages 1-4 for fresh clients (client work prepared outside the clock).
  const M = 40;
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
  return { sddpMicros, sddpCryptoMicros, skepPerSecond: (M / vendorMs) * 1000 };
}

// Run as a program (bench/vendor.ts runs this file bundled, in its own process): one JSON line.
if (process.argv[1] && /vendor-cpu\.(ts|mjs)$/.test(process.argv[1])) {
  process.stdout.write(JSON.stringify(await measure()) + '\n');
  process.exit(0);
}
