/**
 * `npx tsx scripts/walkthrough.ts`: runs every Janus protocol between the client functions and an
 * in-memory vendor and prints each HTTP message, so the protocol can be watched end to end.
 */
import { fromUtf8, utf8 } from '../src/crypto/bytes.ts';
import { rotateOnResponse, rotateStart, paywordWord, skepOnResponse, skepStart, type HttpRequestMsg, type HttpResponseMsg } from '../src/protocol/index.ts';
import { MemoryVendor } from '../test/support/memory-vendor.ts';
import { deliver, discover, fetchChallenge, sessionFor } from '../test/support/client.ts';

const ORIGIN = 'https://quotes.example';
const now = Math.floor(Date.now() / 1000);

function show(label: string, m: HttpRequestMsg | HttpResponseMsg): void {
  const first = 'method' in m ? `${m.method} ${m.url}` : `HTTP ${m.status}`;
  console.log(`\n--- ${label}\n${first}`);
  for (const [k, v] of Object.entries(m.headers)) console.log(`${k}: ${v.length > 120 ? v.slice(0, 117) + '...' : v}`);
  if (m.body.length) console.log(`\n<${m.body.length} bytes${m.headers['content-encoding'] ? `, ${m.headers['content-encoding']}` : ''}>`);
}

console.log('Janus protocol walkthrough (in memory; docs/PROTOCOL.md explains every line).');
console.log('Generating the vendor key pair (RSA-3072)...');
const vendor = await MemoryVendor.create({
  origin: ORIGIN,
  receipt: 'offered',
  routes: [
    { path: '/api/watchlist', methods: null, level: 'sddp' },
    { path: '/api/intraday/*', methods: null, level: 'eddp+receipts' },
  ],
  app: (client, req) => ({ contentType: 'application/json', body: utf8(JSON.stringify({ alias: client.alias, path: req.path, LU: 86.5 })) }),
});
const peer = async (req: HttpRequestMsg) => {
  const res = await vendor.handle(req);
  return res;
};
const doc = await discover(peer, ORIGIN);
console.log(`Discovery: ${ORIGIN}/.well-known/janus, key fingerprint ${doc.key.fingerprint}`);
const alice = await sessionFor('alice@example.org', 'correct horse battery staple', ORIGIN);
console.log(`Client alias at ${ORIGIN}: ${alice.alias}`);

const { state, request } = await skepStart({ session: alice, discovery: doc, data: { watchlist: ['LU', 'T'] }, receipt: true, chain: 10, now });
show('SKEP message 1 (C -> V)', request);
let res = await peer(request);
show('SKEP message 2 (V -> C)', res);
let next = await skepOnResponse(state, res, now);
show('SKEP message 3 (C -> V)', next.request!);
res = await peer(next.request!);
show('SKEP message 4 with the receipt (V -> C)', res);
next = await skepOnResponse(next.state, res, now);
if (next.state.phase !== 'done') throw new Error('SKEP failed');
const result = next.state.result;
console.log(`\nRegistered; receipt signed by ${result.receipt?.fingerprint}; chain ${result.payword?.sub} of ${result.payword?.n}`);

const d = await deliver(peer, alice, 'sddp', '/api/watchlist', { now });
console.log(`\nSDDP /api/watchlist -> ${fromUtf8(d.body)}`);
const c = await fetchChallenge(peer, alice, doc);
const e1 = await deliver(peer, alice, 'eddp+receipts', '/api/intraday/LU', { now, challenge: c });
console.log(`EDDP delivery ${e1.receipt?.i} -> ${fromUtf8(e1.body)}`);
const w1 = paywordWord(alice.k, result.payword!.sub, 10, 1);
const e2 = await deliver(peer, alice, 'eddp+receipts', '/api/intraday/LU', { now, challenge: e1.challenge!, ack: { sub: result.payword!.sub, i: 1, w: w1 } });
console.log(`EDDP delivery ${e2.receipt?.i} (acknowledging 1, piggybacked challenge) -> ${fromUtf8(e2.body)}`);

const gen1 = await sessionFor('alice@example.org', 'correct horse battery staple', ORIGIN, 1);
// §13: the rotation settles the chain: it carries the acknowledgement of delivery 2 (else a sealed 402 ack_required).
const w2 = paywordWord(alice.k, result.payword!.sub, 10, 2);
const r = await rotateStart({ old: alice, next: gen1, discovery: doc, now, remaining: 8, ack: { sub: result.payword!.sub, i: 2, w: w2 } });
show('Key rotation (C -> V, under the old key, acknowledging delivery 2)', r.request);
const out = await rotateOnResponse(r.state, await peer(r.request));
console.log(`\nRotated to generation ${out.gen}; new receipt: ${out.receipt ? 'yes' : 'no'}`);
