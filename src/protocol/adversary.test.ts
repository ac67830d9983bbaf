/**
 * The adversary of paper §3, who controls the network: it replays, reorders, drops, modifies and
 * forges messages. Every attack must fail with its error code (docs/PROTOCOL.md §14), and a failed
 * protocol run must leave the vendor's records as they were.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { b64u, randomBytes, utf8 } from '../crypto/bytes.ts';
import { contentDigest } from '../crypto/digest.ts';
import {
  deliveryRequest,
  deliveryResponse,
  JanusError,
  rotateOnResponse,
  rotateStart,
  verifyWord,
  type Ack,
  sealRequest,
  sealResponse,
  skepOnResponse,
  skepStart,
  TAG,
  type Discovery,
  type HttpRequestMsg,
  type HttpResponseMsg,
  type VendorSession,
} from './index.ts';
import { parseDiscovery } from './discovery.ts';
import { jsonBytes } from './http.ts';
import { MemoryVendor } from '../../test/support/memory-vendor.ts';
import { ackFor, deliver, discover, fetchChallenge, register, rotate, sessionFor, type Peer } from '../../test/support/client.ts';

const ORIGIN = 'https://quotes.example';
const OTHER = 'https://quotes.example.evil';
const NOW = 1_764_000_000;

let vendor: MemoryVendor;
let peer: Peer;
let doc: Discovery;
let alice: VendorSession;
let bob: VendorSession;

beforeAll(async () => {
  vendor = await MemoryVendor.create({
    origin: ORIGIN,
    now: NOW,
    routes: [
      { path: '/api/watchlist', methods: null, level: 'sddp' },
      { path: '/api/intraday/*', methods: null, level: 'eddp' },
    ],
  });
  peer = (req) => vendor.handle(req);
  doc = await discover(peer, ORIGIN);
  alice = await sessionFor('alice@example.org', 'alice secret', ORIGIN);
  bob = await sessionFor('bob@example.org', 'bob secret', ORIGIN);
  await register(peer, alice, doc, { now: NOW });
  await register(peer, bob, doc, { now: NOW });
});

function codeOf(res: HttpResponseMsg): string | undefined {
  return res.headers['janus-error'];
}

async function rejects(p: Promise<unknown>, code: string): Promise<void> {
  const e = await p.then(() => null, (x: unknown) => x);
  expect(e, `expected ${code}`).toBeInstanceOf(JanusError);
  expect((e as JanusError).code).toBe(code);
}

const sddp = (key: VendorSession, extra: Partial<Parameters<typeof deliveryRequest>[0]> = {}) =>
  deliveryRequest({ key, level: 'sddp', method: 'GET', url: ORIGIN + '/api/watchlist', now: NOW, ...extra });

const clone = (r: HttpRequestMsg): HttpRequestMsg => ({ ...r, headers: { ...r.headers }, body: r.body.slice() });

describe('replayed messages', () => {
  it('an SDDP request is accepted once', async () => {
    const { request } = await sddp(alice);
    expect((await peer(clone(request))).status).toBe(200);
    const again = await peer(clone(request));
    expect(again.status).toBe(409);
    expect(codeOf(again)).toBe('replayed');
  });

  it('SKEP message 3 is accepted once, and message 1 for a registered alias is refused', async () => {
    const carol = await sessionFor('carol@example.org', 'c', ORIGIN);
    let { state, request } = await skepStart({ session: carol, discovery: doc, data: {}, now: NOW });
    const hello = clone(request);
    ({ state, request } = (await skepOnResponse(state, await peer(request), NOW)) as { state: typeof state; request: HttpRequestMsg });
    const m3 = clone(request);
    expect((await peer(clone(m3))).status).toBe(201);
    const replay = await peer(m3);
    expect(codeOf(replay)).toBe('already_registered');
    expect(codeOf(await peer(hello))).toBe('already_registered');
  });

  it('an EDDP challenge is usable once', async () => {
    const c = await fetchChallenge(peer, alice, doc);
    await deliver(peer, alice, 'eddp', '/api/intraday/LU', { now: NOW, challenge: c });
    await rejects(deliver(peer, alice, 'eddp', '/api/intraday/LU', { now: NOW, challenge: c }), 'replayed');
  });
});

describe('reordered and dropped messages', () => {
  it('SKEP message 3 carrying another run’s token is refused, and a dropped run stores nothing', async () => {
    const dan = await sessionFor('dan@example.org', 'd', ORIGIN);
    const erin = await sessionFor('erin@example.org', 'e', ORIGIN);
    const before = vendor.records.size;
    const a = await skepStart({ session: dan, discovery: doc, data: {}, now: NOW });
    const b = await skepStart({ session: erin, discovery: doc, data: {}, now: NOW });
    const a2 = await skepOnResponse(a.state, await peer(a.request), NOW);
    const b2 = await skepOnResponse(b.state, await peer(b.request), NOW);
    const swapped = clone(a2.request!);
    swapped.headers['janus-skep-token'] = b2.request!.headers['janus-skep-token']!;
    expect(codeOf(await peer(swapped))).toBe('malformed');
    // Messages 3 dropped: nothing was stored for either run.
    expect(vendor.records.size).toBe(before);
    // Delivered after the token expired: refused, still nothing stored.
    vendor.now = NOW + 121;
    try {
      expect(codeOf(await peer(clone(a2.request!)))).toBe('skep_token_invalid');
    } finally {
      vendor.now = NOW;
    }
    expect(vendor.records.size).toBe(before);
  });

  it('an EDDP challenge issued to another client is refused', async () => {
    const forBob = await fetchChallenge(peer, bob, doc);
    await rejects(deliver(peer, alice, 'eddp', '/api/intraday/LU', { now: NOW, challenge: forBob }), 'challenge_invalid');
  });

  it('a response delivered for another request does not open: N_C is in its additional data', async () => {
    const one = await sddp(alice);
    const two = await sddp(alice);
    const resOne = await peer(one.request);
    await rejects(deliveryResponse(two.pending, 'sddp', resOne), 'bad_signature');
    // Same key, same route, same slot: only the nonce differs.
    expect(two.pending.keyid).toBe(one.pending.keyid);
    expect((await deliveryResponse(one.pending, 'sddp', resOne)).status).toBe(200);
  });
});

describe('modified messages', () => {
  it('request: body, digest, URL, method and covered headers', async () => {
    vendor.routes.push({ path: '/api/echo', methods: null, level: 'sddp' });
    try {
      const base = await sddp(alice, { method: 'POST', url: ORIGIN + '/api/echo', body: utf8('{"q":"LU"}'), contentType: 'application/json' });
      const flipped = clone(base.request);
      flipped.body[flipped.body.length - 1]! ^= 1;
      expect(codeOf(await peer(flipped))).toBe('bad_digest');
      const redigested = clone(flipped);
      redigested.headers['content-digest'] = contentDigest(redigested.body);
      expect(codeOf(await peer(redigested))).toBe('bad_signature');
      const moved = clone(base.request);
      moved.url = ORIGIN + '/api/watchlist';
      expect(codeOf(await peer(moved))).toBe('bad_signature');
      const put = clone(base.request);
      put.method = 'PUT';
      expect(codeOf(await peer(put))).toBe('bad_signature');
    } finally {
      vendor.routes.pop();
    }
    const target = await sddp(alice);
    const query = clone(target.request);
    query.url += '?symbol=EVIL';
    expect(codeOf(await peer(query))).toBe('bad_signature');
    const c = await fetchChallenge(peer, alice, doc);
    const e = await deliveryRequest({ key: alice, level: 'eddp', method: 'GET', url: ORIGIN + '/api/intraday/LU', now: NOW, challenge: c });
    const c2 = await fetchChallenge(peer, alice, doc);
    const swapped = clone(e.request);
    swapped.headers['janus-challenge'] = c2;
    expect(codeOf(await peer(swapped))).toBe('bad_signature');
  });

  it('response: body, status and piggybacked challenge', async () => {
    const { request, pending } = await sddp(alice);
    const res = await peer(request);
    const body = { ...res, headers: { ...res.headers }, body: res.body.slice() };
    body.body[20]! ^= 1;
    await rejects(deliveryResponse(pending, 'sddp', body), 'bad_signature');
    await rejects(deliveryResponse(pending, 'sddp', { ...res, status: 203 }), 'bad_signature');
    await rejects(deliveryResponse(pending, 'sddp', { ...res, headers: { ...res.headers, 'content-type': 'text/html' } }), 'bad_signature');
    await rejects(deliveryResponse(pending, 'sddp', { ...res, body: res.body.subarray(0, 27) }), 'malformed');
    const { 'content-encoding': _coding, ...plain } = res.headers;
    await rejects(deliveryResponse(pending, 'sddp', { ...res, headers: plain }), 'missing_signature');
    expect((await deliveryResponse(pending, 'sddp', res)).status).toBe(200);

    const c = await fetchChallenge(peer, alice, doc);
    const e = await deliveryRequest({ key: alice, level: 'eddp', method: 'GET', url: ORIGIN + '/api/intraday/LU', now: NOW, challenge: c });
    const eres = await peer(e.request);
    const other = await fetchChallenge(peer, alice, doc);
    await rejects(deliveryResponse(e.pending, 'eddp', { ...eres, headers: { ...eres.headers, 'janus-challenge': other } }), 'bad_signature');
    // A value that would add a line to the additional data is refused before any decryption.
    await rejects(deliveryResponse(e.pending, 'eddp', { ...eres, headers: { ...eres.headers, 'janus-challenge': `${other}\nstatus: 200` } }), 'malformed');
  });
});

describe('forged messages', () => {
  it('a request under a random key, and another client’s key under Alice’s alias', async () => {
    const forged: VendorSession = { ...alice, k: randomBytes(64) };
    expect(codeOf(await peer((await sddp(forged)).request))).toBe('bad_signature');
    const bobAsAlice: VendorSession = { ...alice, k: bob.k };
    expect(codeOf(await peer((await sddp(bobAsAlice)).request))).toBe('bad_signature');
  });

  it('a response forged under a random key', async () => {
    const { request, pending } = await sddp(alice);
    await peer(request);
    const fake = await sealRequest({ key: { ...alice, k: randomBytes(64) }, method: 'GET', url: ORIGIN + '/x', tag: TAG.sddp, now: NOW });
    const res: HttpResponseMsg = {
      status: 200,
      headers: { 'content-type': 'application/json', 'content-encoding': 'janus-gcm', 'cache-control': 'no-store' },
      body: await sealResponse(pending, fake.pending.slot, { status: 200, contentType: 'application/json', body: utf8('{"price":1}') }).then((r) => r.body),
    };
    // Bound to the right request, sealed under another key: without K_n^e no valid tag can be made.
    await rejects(deliveryResponse(pending, 'sddp', res), 'bad_signature');
    // A request's sealed body pasted onto a response: other additional data.
    const post = await sealRequest({ key: alice, method: 'POST', url: ORIGIN + '/api/watchlist', tag: TAG.sddp, now: NOW, body: utf8('{"price":1}') });
    await rejects(deliveryResponse(pending, 'sddp', { ...res, body: post.request.body }), 'bad_signature');
  });

  it('a forged SKEP token and a forged EDDP challenge', async () => {
    const a = await skepStart({ session: await sessionFor('f@example.org', 'f', ORIGIN), discovery: doc, data: {}, now: NOW });
    const a2 = await skepOnResponse(a.state, await peer(a.request), NOW);
    const m3 = clone(a2.request!);
    const t = m3.headers['janus-skep-token']!;
    m3.headers['janus-skep-token'] = t.slice(0, 10) + (t[10] === 'A' ? 'B' : 'A') + t.slice(11);
    expect(codeOf(await peer(m3))).toBe('skep_token_invalid');
    await rejects(deliver(peer, alice, 'eddp', '/api/intraday/LU', { now: NOW, challenge: 'c1.' + 'A'.repeat(54) }), 'challenge_invalid');
  });

  it('a request with no signature, and a signed-looking 2xx without one', async () => {
    const res = await peer({ method: 'GET', url: ORIGIN + '/api/watchlist', headers: {}, body: new Uint8Array(0) });
    expect(codeOf(res)).toBe('missing_signature');
    expect(res.status).toBe(401);
    const { pending } = await sddp(alice);
    await rejects(deliveryResponse(pending, 'sddp', { status: 200, headers: { 'content-type': 'text/html' }, body: utf8('<h1>hi</h1>') }), 'missing_signature');
  });

  it('an unauthenticated error reaches the client as a hint, flagged as such', async () => {
    const { pending } = await sddp(alice);
    const fake: HttpResponseMsg = {
      status: 403,
      headers: { 'janus-error': 'subscription_expired', 'content-type': 'application/json' },
      body: jsonBytes({ error: { code: 'subscription_expired', message: 'x' } }),
    };
    const e = await deliveryResponse(pending, 'sddp', fake).catch((x: JanusError) => x);
    expect(e).toBeInstanceOf(JanusError);
    expect((e as JanusError).code).toBe('subscription_expired');
    expect((e as JanusError).details?.['unauthenticated']).toBe(true);
  });
});

describe('time slots outside the window', () => {
  it('a client clock 10 minutes fast or slow is refused; created must lie in slot n', async () => {
    expect(codeOf(await peer((await sddp(alice, { now: NOW + 600 })).request))).toBe('slot_out_of_window');
    expect(codeOf(await peer((await sddp(alice, { now: NOW - 600 })).request))).toBe('slot_out_of_window');
    expect((await peer((await sddp(alice, { now: NOW + 299 })).request)).status).toBe(200);
    const lying = await sealRequest({ key: alice, method: 'GET', url: ORIGIN + '/api/watchlist', tag: TAG.sddp, now: NOW, slot: Math.floor(NOW / 300) + 1 });
    expect(codeOf(await peer(lying.request))).toBe('slot_out_of_window');
  });
});

describe('another origin', () => {
  it("SKEP message 1 encrypted for another origin does not decrypt at this vendor", async () => {
    const gina = await sessionFor('gina@example.org', 'g', OTHER);
    const docForOther: Discovery = { ...doc, origin: OTHER };
    const { request } = await skepStart({ session: gina, discovery: docForOther, data: {}, now: NOW });
    const res = await peer({ ...request, url: ORIGIN + doc.skepPath });
    expect(codeOf(res)).toBe('decrypt_failed');
  });

  it('a request signed for another origin fails; a discovery document for another origin is refused', async () => {
    const { request } = await deliveryRequest({ key: alice, level: 'sddp', method: 'GET', url: OTHER + '/api/watchlist', now: NOW });
    expect(codeOf(await peer({ ...request, url: ORIGIN + '/api/watchlist' }))).toBe('bad_signature');
    const res = await peer({ method: 'GET', url: ORIGIN + '/.well-known/janus', headers: {}, body: new Uint8Array(0) });
    expect(() => parseDiscovery(res.body, OTHER)).toThrowError(expect.objectContaining({ code: 'wrong_vendor' }));
  });

  it('the same person gets an unrelated key and alias at a look-alike origin', async () => {
    const lookalike = await sessionFor('alice@example.org', 'alice secret', OTHER);
    expect(lookalike.alias).not.toBe(alice.alias);
    expect(Buffer.from(lookalike.k).equals(Buffer.from(alice.k))).toBe(false);
    expect(codeOf(await peer((await sddp({ ...lookalike, alias: alice.alias })).request))).toBe('bad_signature');
  });
});

/**
 * The payment holes of §11-§13: a client that rotates to skip an acknowledgement, a chain id used
 * twice, and a delivery counted that was never made. Each would let one side take or claim a
 * delivery the other did not agree to.
 */
describe('payments: every delivery acknowledged once, and only deliveries counted', () => {
  let shop: MemoryVendor;
  let shopPeer: Peer;
  let shopDoc: Discovery;

  beforeAll(async () => {
    shop = await MemoryVendor.create({
      origin: ORIGIN,
      now: NOW,
      routes: [{ path: '/api/paid/*', methods: null, level: 'eddp+receipts' }],
      app: (client, req) => {
        if (req.path.endsWith('/missing')) return { status: 404, contentType: 'application/json', body: jsonBytes({ error: 'no such item' }) };
        if (req.path.endsWith('/refuse')) throw new JanusError('subscription_expired', 'refused by the application');
        return { contentType: 'application/json', body: jsonBytes({ hello: client.alias }) };
      },
    });
    shopPeer = (req) => shop.handle(req);
    shopDoc = await discover(shopPeer, ORIGIN);
  });

  const paid = (s: VendorSession, path: string, challenge: string, ack?: Ack) => deliver(shopPeer, s, 'eddp+receipts', path, { now: NOW, challenge, ...(ack ? { ack } : {}) });

  it('a rotation with an unacknowledged delivery is refused (sealed ack_required under the old key); carrying the acknowledgement it settles the old chain', async () => {
    const s = await sessionFor('rita@example.org', 'r', ORIGIN);
    const reg = await register(shopPeer, s, shopDoc, { now: NOW, receipt: true, chain: 3 });
    const chain = reg.payword!;
    await paid(s, '/api/paid/LU', await fetchChallenge(shopPeer, s, shopDoc));
    const next = await sessionFor('rita@example.org', 'r', ORIGIN, 1);
    const before = shop.records.get(s.alias)!;
    // Rotating away from delivery 1 without paying for it: refused, nothing moves.
    const e = await rotate(shopPeer, s, next, shopDoc, { now: NOW, remaining: 2 }).then(() => null, (x: unknown) => x);
    expect(e).toBeInstanceOf(JanusError);
    expect((e as JanusError).code).toBe('ack_required');
    expect((e as JanusError).details).toMatchObject({ sub: chain.sub, pending: 1, n: 3, sealed: true });
    expect(shop.records.get(s.alias)).toBe(before);
    // An unauthenticated ack_required forged by the network does not pass for the vendor's word.
    const fake: HttpResponseMsg = { status: 402, headers: { 'content-type': 'application/json', 'janus-error': 'ack_required' }, body: jsonBytes({ error: { code: 'ack_required', sub: chain.sub, pending: 1 } }) };
    const { state } = await rotateStart({ old: s, next, discovery: shopDoc, now: NOW, remaining: 2 });
    const forged = await rotateOnResponse(state, fake).then(() => null, (x: JanusError) => x);
    expect(forged?.details?.['unauthenticated']).toBe(true);
    // The rotation that carries w_1 settles the old chain and moves the rest (2 deliveries) to a new one.
    const out = await rotate(shopPeer, s, next, shopDoc, { now: NOW, remaining: 2, ack: ackFor(s, chain, 1) });
    expect(out.gen).toBe(1);
    const rec = shop.records.get(s.alias)!;
    expect(rec.closedChains).toEqual([expect.objectContaining({ sub: chain.sub, delivered: 1, acked: 1 })]);
    expect(verifyWord(b64u.decode(chain.w0), 1, b64u.decode(rec.closedChains[0]!.ackedW))).toBe(true);
    expect(rec.chain).toMatchObject({ sub: out.payword!.sub, n: 2, delivered: 0 });
  });

  it('a new chain that reuses a sub of the record (the current or a closed one) is refused with chain_reused, and nothing changes', async () => {
    const s = await sessionFor('sam@example.org', 's', ORIGIN);
    const reg = await register(shopPeer, s, shopDoc, { now: NOW, chain: 4 });
    const first = reg.payword!;
    const d1 = await paid(s, '/api/paid/LU', await fetchChallenge(shopPeer, s, shopDoc));
    const gen1 = await sessionFor('sam@example.org', 's', ORIGIN, 1);
    const before = shop.records.get(s.alias)!;
    await rejects(rotate(shopPeer, s, gen1, shopDoc, { now: NOW, remaining: 3, ack: ackFor(s, first, 1), sub: first.sub }), 'chain_reused');
    expect(shop.records.get(s.alias)).toBe(before);
    // A fresh sub is accepted; then the first chain, now closed, still owns its sub.
    const moved = await rotate(shopPeer, s, gen1, shopDoc, { now: NOW, remaining: 3, ack: ackFor(s, first, 1) });
    const d2 = await paid(gen1, '/api/paid/LU', d1.challenge!);
    expect(d2.receipt).toEqual({ sub: moved.payword!.sub, i: 1, n: 3 });
    const gen2 = await sessionFor('sam@example.org', 's', ORIGIN, 2);
    const mid = shop.records.get(s.alias)!;
    await rejects(rotate(shopPeer, gen1, gen2, shopDoc, { now: NOW, remaining: 2, ack: ackFor(gen1, moved.payword!, 1), sub: first.sub }), 'chain_reused');
    expect(shop.records.get(s.alias)).toBe(mid);
  });

  it('an answer that is not 2xx delivers nothing: no mark, no count, and the acknowledgement it carried is stored (sealed)', async () => {
    const s = await sessionFor('tom@example.org', 't', ORIGIN);
    const reg = await register(shopPeer, s, shopDoc, { now: NOW, chain: 3 });
    const d1 = await paid(s, '/api/paid/LU', await fetchChallenge(shopPeer, s, shopDoc));
    const missing = await paid(s, '/api/paid/missing', d1.challenge!, ackFor(s, reg.payword!, 1));
    expect(missing).toMatchObject({ status: 404, receipt: null, error: null });
    expect(shop.records.get(s.alias)!.chain).toMatchObject({ delivered: 1, acked: 1 });
    const refusedByApp = await paid(s, '/api/paid/refuse', missing.challenge!).then(() => null, (x: JanusError) => x);
    expect(refusedByApp).toMatchObject({ code: 'subscription_expired', details: { sealed: true } });
    expect(shop.records.get(s.alias)!.chain).toMatchObject({ delivered: 1, acked: 1 });
    // The next request needs no acknowledgement: nothing was delivered in between.
    const d2 = await paid(s, '/api/paid/LU', refusedByApp!.details!['challenge'] as string);
    expect(d2.receipt).toEqual({ sub: reg.payword!.sub, i: 2, n: 3 });
  });

  it('the last acknowledgement is kept: chain_exhausted is sealed and stores it; a lost answer is acknowledged again without harm', async () => {
    const s = await sessionFor('uma@example.org', 'u', ORIGIN);
    const reg = await register(shopPeer, s, shopDoc, { now: NOW, chain: 1 });
    const d1 = await paid(s, '/api/paid/LU', await fetchChallenge(shopPeer, s, shopDoc));
    const e = await paid(s, '/api/paid/LU', d1.challenge!, ackFor(s, reg.payword!, 1)).then(() => null, (x: JanusError) => x);
    expect(e).toMatchObject({ code: 'chain_exhausted', details: { sealed: true, sub: reg.payword!.sub, n: 1 } });
    expect(shop.records.get(s.alias)!.chain).toMatchObject({ delivered: 1, acked: 1 });
    // The same acknowledgement again (the client did not see the answer): accepted, the same refusal.
    const again = await paid(s, '/api/paid/LU', e!.details!['challenge'] as string, ackFor(s, reg.payword!, 1)).then(() => null, (x: JanusError) => x);
    expect(again?.code).toBe('chain_exhausted');
  });
});
