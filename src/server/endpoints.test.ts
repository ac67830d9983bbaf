/**
 * Every vendor endpoint over real HTTP, fed malformed, truncated, oversized, replayed,
 * out-of-window, unknown-client, expired-subscription and wrong-key requests: each gets a 4xx with
 * its stable code from docs/PROTOCOL.md §14, never a 5xx, and the store is left exactly as it was.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { b64u, fromUtf8, randomBytes, utf8 } from '../crypto/bytes.ts';
import { Reply } from './core.ts';
import {
  deliveryResponse,
  ackRequest,
  challengeRequest,
  deliveryRequest,
  jsonBytes,
  paywordWord,
  rotateStart,
  skepOnResponse,
  skepStart,
  type Discovery,
  type HttpRequestMsg,
  type HttpResponseMsg,
  type VendorSession,
} from '../protocol/index.ts';
import { discover, fetchChallenge, register, sessionFor, type Peer } from '../../test/support/client.ts';
import { startHttpVendor, type HttpVendor } from '../../test/support/http-vendor.ts';
import { httpPeer } from '../../test/support/vendor-kit.ts';
import type { ClientRow } from './store.ts';

let clock = Math.floor(Date.now() / 1000);
let v: HttpVendor;
let peer: Peer;
let doc: Discovery;
let alice: VendorSession; // free, registered
let bob: VendorSession; // paid (1 month, receipts, chain of 3)
let bobSub: string;
let stranger: VendorSession; // never registered

beforeAll(async () => {
  v = await startHttpVendor({
    config: {
      now: () => clock,
      limits: { maxBodyBytes: 64 * 1024, maxHeaderBytes: 8 * 1024 },
      rateLimits: { skepPerAddressPerMinute: 1000, skepPerAliasPerMinute: 1000 },
      policy: (d, t) => ({ validFrom: t, validUntil: typeof d['months'] === 'number' ? t + d['months'] * 2_592_000 : null, terms: {} }),
    },
    routes: [
      { path: '/api/sddp', level: 'sddp', handler: ({ client }) => ({ alias: client.alias }) },
      { path: '/api/eddp', level: 'eddp', handler: () => ({ ok: true }) },
      { path: '/api/paid', level: 'eddp+receipts', handler: () => ({ paid: true }) },
      { path: '/api/empty', level: 'sddp', handler: ({ method }) => (method === 'DELETE' ? new Reply('', { status: 204 }) : { here: true }) },
    ],
  });
  peer = httpPeer(v.origin);
  doc = await discover(peer, v.origin);
  alice = await sessionFor('alice@example.org', 'alice secret', v.origin);
  bob = await sessionFor('bob@example.org', 'bob secret', v.origin);
  stranger = await sessionFor('nobody@example.org', 'x', v.origin);
  await register(peer, alice, doc, { now: clock });
  bobSub = (await register(peer, bob, doc, { now: clock, receipt: true, chain: 3, data: { months: 1 } })).payword!.sub;
});

afterAll(() => v.close());

/** The whole store, to compare before and after. */
async function snapshot(): Promise<Record<string, ClientRow | null>> {
  const out: Record<string, ClientRow | null> = {};
  for (const s of [alice, bob, stranger]) out[s.alias] = await v.store.getClient(s.alias);
  return { ...out, count: (await v.store.countClients()) as unknown as ClientRow };
}

async function expectRefused(req: HttpRequestMsg, code: string): Promise<HttpResponseMsg> {
  const before = await snapshot();
  const res = await peer(req);
  expect(res.status, `${req.method} ${new URL(req.url).pathname} -> ${code}`).toBeGreaterThanOrEqual(400);
  expect(res.status).toBeLessThan(500);
  expect(res.headers['janus-error']).toBe(code);
  expect((JSON.parse(new TextDecoder().decode(res.body)) as { error: { code: string } }).error.code).toBe(code);
  expect(await snapshot()).toEqual(before);
  return res;
}

const url = (p: string) => v.origin + p;
const raw = (method: string, path: string, headers: Record<string, string> = {}, body: Uint8Array = new Uint8Array(0)): HttpRequestMsg => ({ method, url: url(path), headers, body });
const sddp = async (key: VendorSession, extra: Partial<Parameters<typeof deliveryRequest>[0]> = {}) =>
  (await deliveryRequest({ key, level: 'sddp', method: 'GET', url: url('/api/sddp'), now: clock, ...extra })).request;
const eddp = async (key: VendorSession, challenge: string, path = '/api/eddp', extra: Partial<Parameters<typeof deliveryRequest>[0]> = {}) =>
  (await deliveryRequest({ key, level: path === '/api/paid' ? 'eddp+receipts' : 'eddp', method: 'GET', url: url(path), now: clock, challenge, ...extra })).request;

describe('discovery', () => {
  it('GET works; other methods are malformed', async () => {
    expect((await peer(raw('GET', '/.well-known/janus'))).status).toBe(200);
    await expectRefused(raw('POST', '/.well-known/janus', {}, utf8('{}')), 'malformed');
  });
});

describe('SKEP message 1', () => {
  it('malformed, truncated, oversized, wrong version, wrong key, replayed, out of window', async () => {
    const start = await skepStart({ session: stranger, discovery: doc, data: {}, now: clock });
    const good = start.request;
    await expectRefused(raw('POST', '/.janus/skep', { 'content-type': 'application/json' }, utf8('not json')), 'malformed');
    await expectRefused(raw('POST', '/.janus/skep', {}, good.body.subarray(0, good.body.length - 20)), 'malformed');
    await expectRefused(raw('POST', '/.janus/skep', {}, new Uint8Array(70 * 1024).fill(32)), 'too_large');
    await expectRefused(raw('POST', '/.janus/skep', { 'x-big': 'a'.repeat(12 * 1024) }, good.body), 'too_large');
    await expectRefused(raw('GET', '/.janus/skep'), 'malformed');
    const body = JSON.parse(new TextDecoder().decode(good.body)) as { slot: number };
    await expectRefused(raw('POST', '/.janus/skep', {}, jsonBytes({ ...body, v: 2 })), 'unsupported_version');
    await expectRefused(raw('POST', '/.janus/skep', {}, jsonBytes({ ...body, ek: b64u.encode(randomBytes(384)) })), 'decrypt_failed');
    await expectRefused(raw('POST', '/.janus/skep', {}, jsonBytes({ ...body, alias: alice.alias })), 'already_registered');
    await expectRefused(raw('POST', '/.janus/skep', {}, jsonBytes({ ...body, slot: body.slot + 20 })), 'slot_out_of_window');
    // Message 1 alone stores nothing, however often it is replayed.
    expect((await peer(good)).status).toBe(200);
    expect((await peer(good)).status).toBe(200);
    expect(await v.store.getClient(stranger.alias)).toBeNull();
  });

  it('is rate-limited per address before any RSA work', async () => {
    const rl = await startHttpVendor({ config: { rateLimits: { skepPerAddressPerMinute: 2, skepPerAliasPerMinute: 100 } }, routes: [] });
    try {
      const p = httpPeer(rl.origin);
      const d = await discover(p, rl.origin);
      const codes = [];
      for (const who of ['a1', 'a2', 'a3']) {
        const s = await sessionFor(`${who}@example.org`, 'x', rl.origin);
        const m1 = (await skepStart({ session: s, discovery: d, data: {}, now: Math.floor(Date.now() / 1000) })).request;
        const res = await p(m1);
        codes.push(res.headers['janus-error'] ?? res.status);
      }
      expect(codes).toEqual([200, 200, 'rate_limited']);
    } finally {
      await rl.close();
    }
  });

  it('is rate-limited per alias before any RSA work', async () => {
    const rl = await startHttpVendor({ config: { rateLimits: { skepPerAddressPerMinute: 100, skepPerAliasPerMinute: 2 } }, routes: [] });
    try {
      const p = httpPeer(rl.origin);
      const d = await discover(p, rl.origin);
      const s = await sessionFor('rl@example.org', 'x', rl.origin);
      const m1 = (await skepStart({ session: s, discovery: d, data: {}, now: Math.floor(Date.now() / 1000) })).request;
      expect((await p(m1)).status).toBe(200);
      expect((await p(m1)).status).toBe(200);
      const third = await p(m1);
      expect(third.status).toBe(429);
      expect(third.headers['janus-error']).toBe('rate_limited');
    } finally {
      await rl.close();
    }
  });
});

describe('SKEP message 3', () => {
  it('forged token, truncated body, wrong key, expired token, replay: no record is ever half-made', async () => {
    const s = await sessionFor('carol@example.org', 'carol', v.origin);
    const start = await skepStart({ session: s, discovery: doc, data: {}, now: clock });
    const s2 = await skepOnResponse(start.state, await peer(start.request), clock);
    const m3 = s2.request!;
    const tok = m3.headers['janus-skep-token']!;
    await expectRefused({ ...m3, headers: { ...m3.headers, 'janus-skep-token': tok.slice(0, -4) + 'AAAA' } }, 'skep_token_invalid');
    const { 'janus-skep-token': _t, ...noToken } = m3.headers;
    await expectRefused({ ...m3, headers: noToken }, 'malformed');
    await expectRefused({ ...m3, body: m3.body.subarray(0, 30) }, 'bad_digest');
    const wrongKey = await skepStart({ session: { ...s, k: randomBytes(64) }, discovery: doc, data: {}, now: clock });
    const w2 = await skepOnResponse(wrongKey.state, await peer(wrongKey.request), clock);
    const forged = await (async () => {
      // Message 3 under a key other than the one in the token.
      const other = await skepStart({ session: s, discovery: doc, data: {}, now: clock });
      const o2 = await skepOnResponse(other.state, await peer(other.request), clock);
      return { ...w2.request!, headers: { ...w2.request!.headers, 'janus-skep-token': o2.request!.headers['janus-skep-token']! } };
    })();
    await expectRefused(forged, 'bad_signature');
    clock += 200;
    try {
      await expectRefused(m3, 'skep_token_invalid');
    } finally {
      clock -= 200;
    }
    expect(await v.store.getClient(s.alias)).toBeNull();
    expect((await peer(m3)).status).toBe(201);
    await expectRefused(m3, 'already_registered');
  });
});

describe('SDDP route', () => {
  it('no signature, malformed signature, wrong key, unknown client, out of window, replay, oversized, truncated', async () => {
    await expectRefused(raw('GET', '/api/sddp'), 'missing_signature');
    const good = await sddp(alice);
    await expectRefused({ ...good, headers: { ...good.headers, 'signature-input': 'janus=(' } }, 'malformed');
    await expectRefused(await sddp({ ...alice, k: randomBytes(64) }), 'bad_signature');
    await expectRefused(await sddp({ ...alice, k: bob.k }), 'bad_signature');
    await expectRefused(await sddp(stranger), 'unknown_client');
    await expectRefused(await sddp(alice, { now: clock + 3600 }), 'slot_out_of_window');
    await expectRefused(await sddp({ ...alice, gen: 3 }), 'generation_mismatch');
    await expectRefused(await sddp(alice, { method: 'POST', body: new Uint8Array(70 * 1024) }), 'too_large');
    const post = await sddp(alice, { method: 'POST', body: utf8('{"a":1}'), contentType: 'application/json' });
    await expectRefused({ ...post, body: post.body.subarray(0, post.body.length - 5) }, 'bad_digest');
    expect((await peer(good)).status).toBe(200);
    await expectRefused(good, 'replayed');
  });
});

describe('bodiless answers over HTTP (§6.3)', () => {
  it('a 204 and an answer to HEAD arrive without a body and open from Janus-Sealed', async () => {
    for (const [method, status] of [['DELETE', 204], ['HEAD', 200]] as const) {
      const { request, pending } = await deliveryRequest({ key: alice, level: 'sddp', method, url: url('/api/empty'), now: clock });
      const res = await peer(request);
      expect(res.status).toBe(status);
      expect(res.body.length).toBe(0);
      expect((await deliveryResponse(pending, 'sddp', res)).status).toBe(status);
    }
    const { request, pending } = await deliveryRequest({ key: alice, level: 'sddp', method: 'GET', url: url('/api/empty'), now: clock });
    expect(JSON.parse(fromUtf8((await deliveryResponse(pending, 'sddp', await peer(request))).body))).toEqual({ here: true });
  });
});

describe('EDDP routes and the challenge endpoint', () => {
  it('challenge: unknown client, expired subscription, malformed alias', async () => {
    await expectRefused(challengeRequest(stranger.alias, url('/.janus/challenge')), 'unknown_client');
    await expectRefused(raw('POST', '/.janus/challenge', { 'janus-alias': 'short' }), 'malformed');
    await expectRefused(raw('POST', '/.janus/challenge'), 'malformed');
    clock += 31 * 86400;
    try {
      await expectRefused(challengeRequest(bob.alias, url('/.janus/challenge')), 'subscription_expired');
      // And the delivery itself, with a challenge from before.
    } finally {
      clock -= 31 * 86400;
    }
  });

  it('forged, foreign, expired and replayed challenges; expired subscriptions; wrong key', async () => {
    const c = await fetchChallenge(peer, alice, doc);
    await expectRefused(await eddp(alice, 'c1.' + 'A'.repeat(54)), 'challenge_invalid');
    const forBob = await fetchChallenge(peer, bob, doc);
    await expectRefused(await eddp(alice, forBob), 'challenge_invalid');
    await expectRefused(await eddp({ ...alice, k: randomBytes(64) }, c), 'bad_signature');
    clock += 200;
    try {
      await expectRefused(await eddp(alice, c), 'challenge_invalid');
    } finally {
      clock -= 200;
    }
    const ok = await eddp(alice, c);
    expect((await peer(ok)).status).toBe(200);
    await expectRefused(await eddp(alice, c), 'replayed');
    const cb = await fetchChallenge(peer, bob, doc);
    clock += 31 * 86400;
    try {
      await expectRefused(await eddp(bob, cb, '/api/paid'), 'challenge_invalid');
    } finally {
      clock -= 31 * 86400;
    }
  });

  it('receipts: ack required, bad ack, a repeated ack; the explicit ack endpoint', async () => {
    let c = await fetchChallenge(peer, bob, doc);
    const r1 = await peer(await eddp(bob, c, '/api/paid'));
    expect(r1.status).toBe(200);
    c = r1.headers['janus-challenge']!;
    // Delivery 2 before acknowledging 1: verified, so the refusal is signed (§11.2), and nothing is stored.
    const before = await snapshot();
    const { request, pending } = await deliveryRequest({ key: bob, level: 'eddp+receipts', method: 'GET', url: url('/api/paid'), now: clock, challenge: c });
    const refused = await peer(request);
    expect([refused.status, refused.headers['janus-error']]).toEqual([402, 'ack_required']);
    expect(await deliveryResponse(pending, 'eddp+receipts', refused)).toMatchObject({ status: 402, ackRequired: true, receipt: { sub: bobSub, i: 1, n: 3 } });
    expect(await snapshot()).toEqual(before);
    await expectRefused(await eddp(bob, c, '/api/paid', { ack: { sub: bobSub, i: 1, w: randomBytes(32) } }), 'bad_ack');
    await expectRefused(ackRequest(bob.alias, url('/.janus/ack'), { sub: bobSub, i: 1, w: randomBytes(32) }), 'bad_ack');
    await expectRefused(raw('POST', '/.janus/ack', { 'janus-alias': bob.alias, 'janus-ack': 'nonsense' }), 'malformed');
    await expectRefused(ackRequest(stranger.alias, url('/.janus/ack'), { sub: bobSub, i: 1, w: randomBytes(32) }), 'unknown_client');
    const w1 = paywordWord(bob.k, bobSub, 3, 1);
    expect((await peer(ackRequest(bob.alias, url('/.janus/ack'), { sub: bobSub, i: 1, w: w1 }))).status).toBe(200);
    // The same acknowledgement again changes nothing and is answered alike (§11.2: a client that lost the answer resends it).
    const again = await peer(ackRequest(bob.alias, url('/.janus/ack'), { sub: bobSub, i: 1, w: w1 }));
    expect([again.status, JSON.parse(fromUtf8(again.body))]).toEqual([200, { sub: bobSub, acked: 1 }]);
    await expectRefused(ackRequest(alice.alias, url('/.janus/ack'), { sub: bobSub, i: 1, w: w1 }), 'bad_ack');
  });
});

describe('rotation', () => {
  it('wrong old key, unknown client, replay', async () => {
    const next = await sessionFor('alice@example.org', 'alice secret', v.origin, 1);
    await expectRefused((await rotateStart({ old: { ...alice, k: randomBytes(64) }, next, discovery: doc, now: clock })).request, 'bad_signature');
    await expectRefused((await rotateStart({ old: stranger, next: { ...next, alias: stranger.alias }, discovery: doc, now: clock })).request, 'unknown_client');
    const takeBob = await rotateStart({ old: alice, next: { ...next, alias: bob.alias, gen: 0 }, discovery: doc, now: clock });
    await expectRefused(takeBob.request, 'already_registered');
  });
});
