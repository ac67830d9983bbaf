/**
 * The SDK in-process, Hono style (`app.request(new Request(...))`): every protocol through the
 * Hono middleware, the SQLite store underneath.
 */
import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { utf8 } from '../crypto/bytes.ts';
import { rotateOnResponse, rotateStart, type Discovery, type VendorSession } from '../protocol/index.ts';
import { deliver, discover, fetchChallenge, register, sessionFor, type Peer } from '../../test/support/client.ts';
import { fetchPeer, testKeyMaterial } from '../../test/support/vendor-kit.ts';
import { createVendor, Reply, type JanusVendor } from './core.ts';
import { janus, type JanusVariables } from './hono.ts';
import { SqliteStore } from './sqlite-store.ts';

const ORIGIN = 'https://quotes.example';
let vendor: JanusVendor;
let app: Hono<{ Variables: JanusVariables }>;
let peer: Peer;
let doc: Discovery;
let alice: VendorSession;
const now = Math.floor(Date.now() / 1000);

beforeAll(async () => {
  vendor = createVendor({
    config: { origin: ORIGIN, keys: await testKeyMaterial(), receipt: 'offered', policy: (d, t) => ({ validFrom: t, validUntil: typeof d['months'] === 'number' ? t + d['months'] * 2_592_000 : null, terms: {} }) },
    store: new SqliteStore(':memory:'),
    routes: [
      { path: '/api/watchlist', level: 'sddp', handler: ({ client }) => ({ alias: client.alias, watchlist: client.data['watchlist'] ?? [] }) },
      { path: '/api/echo', level: 'sddp', methods: ['POST'], handler: (ctx) => ({ got: ctx.json() }) },
      { path: '/api/intraday/*', level: 'eddp+receipts', handler: ({ url, client, delivery }) => ({ symbol: url.pathname.split('/').pop(), delivered: client.chain?.delivered, delivery: delivery?.i }) },
      { path: '/api/reset', level: 'sddp', methods: ['POST'], handler: () => new Reply('', { status: 205 }) },
      { path: '/', level: 'credential' },
    ],
  });
  app = new Hono<{ Variables: JanusVariables }>();
  app.use(janus(vendor));
  app.get('/', (c) => c.text(c.get('janusClient') ? `welcome back ${c.get('janusClient')!.alias}` : 'hello visitor'));
  peer = fetchPeer(async (r) => app.request(r));
  doc = await discover(peer, ORIGIN);
  alice = await sessionFor('alice@example.org', 'alice secret', ORIGIN);
});

afterAll(() => vendor.close());

describe('a bodiless answer through Hono (Web Response)', () => {
  it('a 205 goes out with a null body and opens from Janus-Sealed', async () => {
    const carol = await sessionFor('carol@example.org', 'carol secret', ORIGIN);
    await register(peer, carol, doc, { now });
    const d = await deliver(peer, carol, 'sddp', '/api/reset', { now, method: 'POST', body: utf8('{}') });
    expect(d.status).toBe(205);
    expect(d.body.length).toBe(0);
  });
});

describe('vendor SDK through Hono, in-process', () => {
  it('serves the discovery document with the declared routes', async () => {
    expect(doc.routes.map((r) => [r.path, r.level])).toEqual([
      ['/api/watchlist', 'sddp'],
      ['/api/echo', 'sddp'],
      ['/api/intraday/*', 'eddp+receipts'],
      ['/api/reset', 'sddp'],
      ['/', 'credential'],
    ]);
    expect(doc.key.fingerprint).toBe(vendor.config.fingerprint);
  });

  it('SKEP, SDDP with an encrypted body, the slot credential', async () => {
    await register(peer, alice, doc, { now, data: { watchlist: ['LU', 'T'] } });
    const d = await deliver(peer, alice, 'sddp', '/api/watchlist', { now });
    expect(d.json).toEqual({ alias: alice.alias, watchlist: ['LU', 'T'] });
    const e = await deliver(peer, alice, 'sddp', '/api/echo', { now, method: 'POST', body: utf8('{"x":1}') });
    expect(e.json).toEqual({ got: { x: 1 } });
    const { makeCredential } = await import('../protocol/index.ts');
    const page = await app.request(new Request(ORIGIN + '/', { headers: { 'janus-credential': makeCredential(alice, ORIGIN, now).value } }));
    expect(await page.text()).toBe(`welcome back ${alice.alias}`);
    expect(await (await app.request(new Request(ORIGIN + '/'))).text()).toBe('hello visitor');
  });

  it('non-repudiation SKEP, EDDP with receipts and acknowledgements, rotation', async () => {
    const bob = await sessionFor('bob@example.org', 'bob secret', ORIGIN);
    const r = await register(peer, bob, doc, { now, receipt: true, chain: 3, data: { months: 1 } });
    expect(r.receipt).not.toBeNull();
    const c = await fetchChallenge(peer, bob, doc);
    const d1 = await deliver(peer, bob, 'eddp+receipts', '/api/intraday/LU', { now, challenge: c });
    // The handler sees the deliveries made so far, and which one its 2xx answer will be.
    expect(d1.json).toEqual({ symbol: 'LU', delivered: 0, delivery: 1 });
    const { paywordWord } = await import('../protocol/index.ts');
    const d2 = await deliver(peer, bob, 'eddp+receipts', '/api/intraday/T', {
      now,
      challenge: d1.challenge!,
      ack: { sub: r.payword!.sub, i: 1, w: paywordWord(bob.k, r.payword!.sub, 3, 1) },
    });
    expect(d2.receipt).toEqual({ sub: r.payword!.sub, i: 2, n: r.payword!.n });
    const next = await sessionFor('bob@example.org', 'bob secret', ORIGIN, 1);
    // §13: delivery 2 is acknowledged in the rotation itself.
    const rot = await rotateStart({ old: bob, next, discovery: doc, now, remaining: 1, ack: { sub: r.payword!.sub, i: 2, w: paywordWord(bob.k, r.payword!.sub, 3, 2) } });
    const out = await rotateOnResponse(rot.state, await peer(rot.request));
    expect(out.gen).toBe(1);
  });
});
