/**
 * Memory an attacker can make the vendor hold, measured in this run:
 *
 * 1. 200 stalled 1 MiB uploads to a protected route, without Janus headers, then 200 with the
 *    headers of a registered client (each sends all but the last byte and waits). The vendor runs in
 *    its own process (test/support/fuzz-vendor.ts, 1 MiB body limit) and reports its memory after a
 *    full collection; the baseline is the same process before the uploads.
 * 2. The replay memory one client fills: bytes per recorded one-time value in SqliteStore, and how
 *    many values one client at 1 700 requests/s can leave in memory with the per-client cap.
 *
 *   node --expose-gc --import tsx bench/memory.ts [--smoke]
 *
 * --smoke: 10 uploads of each kind and 2000 recorded values, to prove the script works (the test
 * command runs it); its figures mean nothing.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { toHex } from '../src/crypto/bytes.ts';
import { useCryptoProvider } from '../src/crypto/provider.ts';
import { deliveryRequest, nowSeconds, skepOnResponse, skepStart, stretchSecret, vendorSession, type HttpRequestMsg, type HttpResponseMsg } from '../src/protocol/index.ts';
import { parseDiscovery, WELL_KNOWN } from '../src/protocol/discovery.ts';
import { DEFAULT_LIMITS, DEFAULT_RATE_LIMITS } from '../src/server/config.ts';
import { nodeCryptoProvider } from '../src/server/node-crypto.ts';
import { SqliteStore } from '../src/server/sqlite-store.ts';
import { FAST_ARGON2 } from '../test/support/client.ts';
import { VendorProcess } from '../test/support/fuzz.ts';
import { freePort } from '../test/support/http-vendor.ts';
import { sendRaw } from '../test/support/raw-http.ts';
import { testKeyMaterial } from '../test/support/vendor-kit.ts';

useCryptoProvider(nodeCryptoProvider);
const SMOKE = process.argv.includes('--smoke');
const UPLOADS = SMOKE ? 10 : 200;
const MiB = 1024 * 1024;
const mb = (n: number) => `${(n / MiB).toFixed(1)} MB`;

// ---------------------------------------------------------------------------------------------
// 1. Stalled uploads

const dir = mkdtempSync(join(tmpdir(), 'janus-memory-'));
const keys = await testKeyMaterial();
const keyFile = join(dir, 'key.pem');
writeFileSync(keyFile, keys.privateKeyPem, { mode: 0o600 });
const port = await freePort();
const origin = `http://127.0.0.1:${port}`;
const vendor = new VendorProcess('sdk', join(dir, 'v.db'), toHex(keys.kek), keyFile, port);
vendor.env = { JANUS_FUZZ_MAX_BODY: String(MiB) };
await vendor.start();

const exchange = async (m: HttpRequestMsg): Promise<HttpResponseMsg> => {
  const u = new URL(m.url);
  const a = await sendRaw(port, { method: m.method, target: u.pathname, headers: [['Host', u.host], ...Object.entries(m.headers), ['Content-Length', String(m.body.length)]], body: m.body });
  return { status: a.status, headers: a.headers, body: a.body };
};
const now = nowSeconds;
const doc = parseDiscovery((await exchange({ method: 'GET', url: origin + WELL_KNOWN, headers: {}, body: new Uint8Array(0) })).body, origin);
const { master } = await stretchSecret('memory@example.org', 'x', { params: FAST_ARGON2 });
const alice = vendorSession(master, 'alice@memory.example', origin, 0);
{
  let { state, request } = await skepStart({ session: alice, discovery: doc, data: {}, now: now() });
  for (let i = 0; i < 2; i++) {
    const n = await skepOnResponse(state, await exchange(request!), now());
    state = n.state;
    request = n.request!;
  }
}

/** Opens `n` uploads of `head` + all but the last byte of `body`, and leaves them hanging. */
async function stall(n: number, make: () => Promise<{ head: string; body: Uint8Array }>): Promise<{ sockets: Socket[]; answered: Map<number, number> }> {
  const sockets: Socket[] = [];
  const answered = new Map<number, number>();
  for (let i = 0; i < n; i++) {
    const { head, body } = await make();
    const s = connect(port, '127.0.0.1');
    s.on('error', () => undefined);
    s.once('data', (c: Buffer) => {
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(c.toString('latin1'))?.[1] ?? 0);
      answered.set(status, (answered.get(status) ?? 0) + 1);
    });
    s.write(head);
    s.write(body.subarray(0, body.length - 1));
    sockets.push(s);
  }
  await new Promise((r) => setTimeout(r, 3000));
  return { sockets, answered };
}

const held = async () => {
  const u = await vendor.memory();
  return { rss: u.rss, buffers: u.arrayBuffers };
};
const before = await held();
const bare = await stall(UPLOADS, async () => ({ head: `POST /api/notes HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${MiB}\r\n\r\n`, body: new Uint8Array(MiB) }));
const afterBare = await held();
for (const s of bare.sockets) s.destroy();
await new Promise((r) => setTimeout(r, 500));
const before2 = await held();
const signed = await stall(UPLOADS, async () => {
  const { request } = await deliveryRequest({ key: alice, level: 'sddp', method: 'POST', url: origin + '/api/notes', now: now(), body: new Uint8Array(MiB - 100), contentType: 'application/json' });
  const head = `POST /api/notes HTTP/1.1\r\nHost: x\r\n${Object.entries(request.headers).map(([k, v]) => `${k}: ${v}\r\n`).join('')}Content-Length: ${request.body.length}\r\n\r\n`;
  return { head, body: request.body };
});
const afterSigned = await held();
for (const s of signed.sockets) s.destroy();
await vendor.stop();

const sent = UPLOADS * MiB;
if (SMOKE) console.log('smoke run: proves the script works; the figures mean nothing\n');
console.log(`1. ${UPLOADS} stalled uploads of 1 MiB each (all but the last byte sent), vendor process memory after a full GC (Buffer bytes held; RSS):`);
console.log(`   without Janus headers:            +${mb(afterBare.buffers - before.buffers)} buffers, +${mb(afterBare.rss - before.rss)} RSS; answers ${[...bare.answered].map(([k, v]) => `${v}x ${k}`).join(', ')}; ${((afterBare.buffers - before.buffers) / sent * 100).toFixed(1)}% of the ${mb(sent)} sent`);
console.log(`   with a registered client's headers: +${mb(afterSigned.buffers - before2.buffers)} buffers, +${mb(afterSigned.rss - before2.rss)} RSS; answers ${[...signed.answered].map(([k, v]) => `${v}x ${k}`).join(', ')}; budget for unverified bodies ${mb(DEFAULT_LIMITS.unverifiedBodyBytes)}`);

// ---------------------------------------------------------------------------------------------
// 2. Replay memory per client

const gc = (globalThis as { gc?: () => void }).gc;
const store = new SqliteStore(':memory:');
const heap = () => {
  gc?.();
  return process.memoryUsage().heapUsed;
};
const N = SMOKE ? 2_000 : 100_000;
const h0 = heap();
const expires = now() + 600;
for (let i = 0; i < N; i += 1000) {
  await Promise.all(Array.from({ length: 1000 }, (_, j) => store.commit({ now: now(), useOnce: [{ key: `nonce:${alice.alias}:${Buffer.from(`n${i + j}`).toString('base64url').padEnd(22, 'A')}`, expires }] })));
}
const perValue = (heap() - h0) / N;
await store.close();
const slots = 2 * 1 + 1; // window 1: a value lives until the end of slot n + w
const cap = DEFAULT_RATE_LIMITS.requestsPerClientPerSlot * slots;
console.log(`\n2. replay memory: ${perValue.toFixed(0)} bytes per recorded nonce (SqliteStore, ${N} values${gc ? '' : ', no --expose-gc: approximate'})`);
console.log(`   one client at 1700 requests/s for 60 s: ${102_000} values, ${mb(102_000 * perValue)} without a cap;`);
console.log(`   with requestsPerClientPerSlot = ${DEFAULT_RATE_LIMITS.requestsPerClientPerSlot}: at most ${cap} values (${slots} slots), ${mb(cap * perValue)}, ${((cap / 102_000) * 100).toFixed(0)}% of that`);
process.exit(0);
