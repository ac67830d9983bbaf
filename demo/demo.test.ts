/**
 * Quotes over real HTTP: a Node client built from the protocol core runs every protocol against
 * startDemo() (discovery, SKEP, SDDP, non-repudiation SKEP with a PayWord chain, EDDP with
 * piggybacked challenges and acknowledgements, the slot credential, a policy refusal), then the
 * server restarts on the same data directory and the registered clients carry on. Last, the demo
 * with its SDK store on PostgreSQL (a throwaway cluster, or $JANUS_PG_URL).
 */
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { b64u, fromUtf8, utf8 } from '../src/crypto/bytes.ts';
import { ackRequest, deliveryRequest, makeCredential, paywordWord, type Discovery, type SkepResult, type VendorSession } from '../src/protocol/index.ts';
import { deliver, discover, fetchChallenge, register, sessionFor, type Peer } from '../test/support/client.ts';
import { usePostgres } from '../test/support/pg-fixture.ts';
import { httpPeer } from '../test/support/vendor-kit.ts';
import { MONTH_SECONDS } from './plans.ts';
import { minuteOf, priceAt } from './quotes.ts';
import { startDemo, type Demo } from './server.ts';

const t = () => Math.floor(Date.now() / 1000);
/** A string containing `s`, as a matcher inside toMatchObject (vitest types its matchers `any`). */
const containing = (s: string): unknown => expect.stringContaining(s);
const CARD = '4242424242424242';
const exp = `12/${String((new Date().getUTCFullYear() + 2) % 100).padStart(2, '0')}`;

let dataDir: string;
let demo: Demo;
let peer: Peer;
let doc: Discovery;
let alice: VendorSession; // free plan
let bob: VendorSession; // intraday plan
let bobReg: SkepResult;
/** Bob's last piggybacked challenge and last delivery, carried across the restart. */
let bobChallenge: string;
let bobDelivered = 0;

const word = (i: number) => ({ sub: bobReg.payword!.sub, i, w: paywordWord(bob.k, bobReg.payword!.sub, bobReg.payword!.n, i) });

async function page(path: string, session?: VendorSession): Promise<Response> {
  const headers: Record<string, string> = session ? { 'janus-credential': makeCredential(session, demo.origin, t()).value } : {};
  return fetch(demo.url + path, { headers });
}

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'janus-demo-'));
  demo = await startDemo({ port: 0, dataDir, quiet: true });
  peer = httpPeer(demo.url);
  [alice, bob] = await Promise.all([
    sessionFor('alice@example.org', 'alice secret', demo.origin),
    sessionFor('bob@example.org', 'bob secret', demo.origin),
  ]);
}, 120_000);

afterAll(async () => {
  await demo?.close();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

describe('Quotes, the demo vendor, over HTTP', () => {
  it('listens on loopback with id_V http://localhost:<port> and made its key material', () => {
    expect(demo.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(demo.origin).toBe(`http://localhost:${new URL(demo.url).port}`);
    expect(demo.created.map((p) => p.slice(dataDir.length + 1)).sort()).toEqual(['kek.key', 'vendor-cert.pem', 'vendor-key.pem']);
    for (const secret of ['kek.key', 'vendor-key.pem']) expect(statSync(join(dataDir, secret)).mode & 0o777).toBe(0o600);
    expect(statSync(join(dataDir, 'vendor.db')).isFile()).toBe(true);
  });

  it('serves the discovery document: name, receipts offered, the routes and their levels', async () => {
    doc = await discover(peer, demo.origin);
    expect(doc.origin).toBe(demo.origin);
    expect(doc.name).toBe('Quotes');
    expect(doc.receipt).toBe('offered');
    expect(doc.key.fingerprint).toBe(demo.vendor.config.fingerprint);
    expect(doc.cert).toContain('BEGIN CERTIFICATE');
    // The pages declared to createVendor, then the routes its middleware declared.
    expect(doc.routes.map((r) => [r.path, r.methods, r.level])).toEqual([
      ['/', null, 'credential'],
      ['/watchlist', null, 'credential'],
      ['/intraday', null, 'credential'],
      ['/api/watchlist', ['GET', 'PUT'], 'sddp'],
      ['/api/intraday/*', ['GET'], 'eddp+receipts'],
    ]);
    expect(doc.subscription?.['plans']).toHaveLength(2);
  });

  it('greets a visitor, with page security headers and no inline script', async () => {
    const res = await page('/');
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain('Hello, visitor');
    expect(html).toContain('id="register-free"');
    expect(res.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)/);
    expect(html).not.toMatch(/\sstyle=|\son[a-z]+=/);
    for (const p of ['/watchlist', '/intraday']) expect((await page(p)).status).toBe(200);
    const js = await page('/app.js');
    expect(js.headers.get('content-type')).toMatch(/^text\/javascript/);
    expect(await js.text()).toContain("fetch(path");
    expect((await page('/no-such-page')).status).toBe(404);
  });

  it('refuses an unprotected request to a protected route (what a page sees without the extension)', async () => {
    const res = await page('/api/watchlist');
    expect(res.status).toBe(401);
    expect(res.headers.get('janus-error')).toBe('missing_signature');
  });

  it('SKEP, free plan (Example 1): registers alice with her watchlist', async () => {
    const r = await register(peer, alice, doc, { now: t(), data: { watchlist: ['LU', 'T'], email: 'alice@example.org' } });
    expect(r.alias).toBe(alice.alias);
    expect(r.validUntil).toBeNull();
    expect(r.receipt).toBeNull();
    expect(await demo.vendor.store.countClients()).toBe(1);
  });

  it('SDDP GET: alice gets the quotes of her watchlist, simulated per minute', async () => {
    const d = await deliver(peer, alice, 'sddp', '/api/watchlist', { now: t() });
    expect(d.status).toBe(200);
    const body = d.json as { alias: string; plan: string; watchlist: string[]; quotes: { symbol: string; price: number }[]; as_of: string };
    expect(body.alias).toBe(alice.alias);
    expect(body.plan).toBe('free');
    expect(body.watchlist).toEqual(['LU', 'T']);
    const minute = minuteOf(Date.parse(body.as_of) / 1000);
    expect(body.quotes.map((q) => [q.symbol, q.price])).toEqual([
      ['LU', priceAt('LU', minute)],
      ['T', priceAt('T', minute)],
    ]);
  });

  it('SDDP PUT: alice changes her watchlist (encrypted body); a bad one is refused', async () => {
    const d = await deliver(peer, alice, 'sddp', '/api/watchlist', { now: t(), method: 'PUT', body: utf8(JSON.stringify({ watchlist: ['IBM', 'MSFT', 'IBM'] })) });
    expect((d.json as { watchlist: string[] }).watchlist).toEqual(['IBM', 'MSFT']);
    const again = await deliver(peer, alice, 'sddp', '/api/watchlist', { now: t() });
    expect((again.json as { quotes: { symbol: string }[] }).quotes.map((q) => q.symbol)).toEqual(['IBM', 'MSFT']);
    await expect(
      deliver(peer, alice, 'sddp', '/api/watchlist', { now: t(), method: 'PUT', body: utf8(JSON.stringify({ watchlist: ['lu'] })) }),
    ).rejects.toMatchObject({ code: 'malformed', message: containing('ticker symbol') });
  });

  it('the slot credential: the home page greets alice; a wrong credential is a visitor', async () => {
    const html = await (await page('/', alice)).text();
    expect(html).toContain('Welcome back, alice@example.org');
    expect(html).toContain('<strong>free</strong>');
    const forged = makeCredential({ ...alice, k: new Uint8Array(64) }, demo.origin, t()).value;
    const res = await fetch(demo.url + '/', { headers: { 'janus-credential': forged } });
    expect(await res.text()).toContain('Hello, visitor');
  });

  it('EDDP for a free client: no intraday quotes (no receipt chain)', async () => {
    const c = await fetchChallenge(peer, alice, doc);
    await expect(deliver(peer, alice, 'eddp+receipts', '/api/intraday/LU', { now: t(), challenge: c })).rejects.toMatchObject({ code: 'subscription_required' });
  });

  it('policy: a bad card is malformed, names the member, and stores nothing', async () => {
    const carol = await sessionFor('carol@example.org', 'carol secret', demo.origin);
    const before = await demo.vendor.store.countClients();
    const paid = (card: Record<string, string>, months = 1) => ({ plan: 'intraday', months, card: { number: CARD, name: 'Carol', exp, ...card } });
    const cases: [Record<string, unknown>, string][] = [
      [paid({ number: '4242424242424241' }), 'card.number'],
      [paid({ exp: '01/20' }), 'card.exp'],
      [paid({}, 13), 'months'],
    ];
    for (const [data, member] of cases) {
      await expect(register(peer, carol, doc, { now: t(), receipt: true, chain: 5, data: data as never })).rejects.toMatchObject({
        code: 'malformed',
        message: containing(member),
      });
    }
    await expect(register(peer, carol, doc, { now: t(), data: { plan: 'intraday', months: 1, card: { number: CARD, name: 'C', exp } } })).rejects.toMatchObject({
      code: 'malformed',
      message: containing('payword'),
    });
    expect(await demo.vendor.store.countClients()).toBe(before);
    expect(await demo.vendor.store.getClient(carol.alias)).toBeNull();
  });

  it('non-repudiation SKEP, paid plan (Example 2): a signed receipt with the terms, never the card number', async () => {
    bobReg = await register(peer, bob, doc, { now: t(), receipt: true, chain: 5, data: { plan: 'intraday', months: 3, card: { number: CARD, name: 'Bob Example', exp } } });
    expect(bobReg.receipt).not.toBeNull();
    expect(bobReg.validUntil! - bobReg.validFrom).toBe(3 * MONTH_SECONDS);
    expect(bobReg.payword?.n).toBe(5);
    const payload = JSON.parse(fromUtf8(b64u.decode(bobReg.receipt!.payload))) as Record<string, unknown>;
    expect(payload['terms']).toEqual({ plan: 'intraday', months: 3, price_cents: 2700, card_last4: '4242' });
    expect(payload['payword']).toEqual(bobReg.payword);
    expect(JSON.stringify(payload)).not.toContain(CARD);
    // The stored record keeps only the last four digits.
    const db = new Database(join(dataDir, 'vendor.db'), { readonly: true });
    try {
      const row = db.prepare<[string], { data: string }>('SELECT data FROM clients WHERE alias = ?').get(bob.alias)!;
      expect(JSON.parse(row.data)).toMatchObject({ plan: 'intraday', months: 3, card: { last4: '4242', exp } });
      expect(row.data).not.toContain(CARD);
    } finally {
      db.close();
    }
    const html = await (await page('/', bob)).text();
    expect(html).toContain(`Welcome back, client ${bob.alias}`);
    expect(html).toContain('<strong>intraday</strong>');
  });

  it('EDDP with receipts: piggybacked challenges, and an acknowledgement before every next delivery', async () => {
    const c = await fetchChallenge(peer, bob, doc);
    const d1 = await deliver(peer, bob, 'eddp+receipts', '/api/intraday/LU', { now: t(), challenge: c });
    expect(d1.receipt).toEqual({ sub: bobReg.payword!.sub, i: 1, n: 5 });
    const b1 = d1.json as { symbol: string; as_of: string; series: { points: [string, number][]; last: number }; delivery: { i: number; n: number } };
    expect(b1.symbol).toBe('LU');
    expect(b1.series.points).toHaveLength(390);
    expect(b1.series.last).toBe(priceAt('LU', minuteOf(Date.parse(b1.as_of) / 1000)));
    expect(b1.delivery).toMatchObject({ i: 1, n: 5 });
    expect(d1.challenge).toBeTruthy();

    // No acknowledgement of delivery 1: a signed 402 naming it, nothing delivered. The request is
    // recorded (its challenge spent); the 402 carries the next challenge.
    const refused = await deliver(peer, bob, 'eddp+receipts', '/api/intraday/T', { now: t(), challenge: d1.challenge! });
    expect(refused).toMatchObject({
      status: 402,
      ackRequired: true,
      receipt: { sub: bobReg.payword!.sub, i: 1, n: 5 },
      json: { error: { code: 'ack_required' } },
    });
    // A wrong word is refused, unsealed: nothing is recorded, the challenge stays usable.
    await expect(
      deliver(peer, bob, 'eddp+receipts', '/api/intraday/T', { now: t(), challenge: refused.challenge!, ack: { ...word(1), w: new Uint8Array(32) } }),
    ).rejects.toMatchObject({ code: 'bad_ack', details: { unauthenticated: true } });
    // Acknowledged with w_1, piggybacked on the next request.
    const d2 = await deliver(peer, bob, 'eddp+receipts', '/api/intraday/T', { now: t(), challenge: refused.challenge!, ack: word(1) });
    expect(d2.receipt?.i).toBe(2);
    expect((d2.json as { delivery: { i: number } }).delivery).toMatchObject({ i: 2, acked: 1 });
    // The piggybacked challenge is usable once.
    await expect(deliver(peer, bob, 'eddp+receipts', '/api/intraday/T', { now: t(), challenge: refused.challenge!, ack: word(2) })).rejects.toMatchObject({
      code: 'replayed',
    });
    // Acknowledged at the ack endpoint instead (what janus.acknowledge() does).
    const ack = await peer(ackRequest(bob.alias, demo.origin + doc.ackPath, word(2)));
    expect(ack.status).toBe(200);
    expect(JSON.parse(fromUtf8(ack.body))).toEqual({ sub: bobReg.payword!.sub, acked: 2 });
    // A request the handler refuses (no such symbol) is answered sealed and is not counted as a delivery.
    await expect(deliver(peer, bob, 'eddp+receipts', '/api/intraday/lu%20x', { now: t(), challenge: d2.challenge! })).rejects.toMatchObject({
      code: 'malformed',
      message: containing('ticker symbol'),
      details: { sealed: true, status: 400 },
    });
    const d3 = await deliver(peer, bob, 'eddp+receipts', '/api/intraday/IBM', { now: t(), challenge: await fetchChallenge(peer, bob, doc) });
    expect(d3.receipt?.i).toBe(3);
    bobChallenge = d3.challenge!;
    bobDelivered = 3;
    const row = await demo.vendor.store.getClient(bob.alias);
    expect(JSON.parse(row!.chain!)).toMatchObject({ delivered: 3, acked: 2 });
  });

  it('a signed request with a method its route does not list: 405 method_not_allowed with Allow, typed, never the site\'s page', async () => {
    for (const [method, path, level, allow] of [
      ['DELETE', '/api/watchlist', 'sddp', 'GET, PUT'],
      ['POST', '/api/intraday/LU', 'eddp+receipts', 'GET'],
      ['HEAD', '/api/watchlist', 'sddp', 'GET, PUT'],
    ] as const) {
      const challenge = level === 'sddp' ? undefined : await fetchChallenge(peer, bob, doc);
      const { request } = await deliveryRequest({ key: level === 'sddp' ? alice : bob, level, method, url: demo.origin + path, now: t(), ...(challenge ? { challenge } : {}) });
      const res = await peer(request);
      expect([method, path, res.status, res.headers['janus-error'], res.headers['allow']]).toEqual([method, path, 405, 'method_not_allowed', allow]);
      if (method !== 'HEAD') expect(JSON.parse(fromUtf8(res.body))).toMatchObject({ error: { code: 'method_not_allowed', allow: allow.split(', ') } });
    }
  });

  it('restart on the same data directory: same key, same clients, same watchlists', async () => {
    const { fingerprint } = demo.vendor.config;
    const port = Number(new URL(demo.url).port);
    await demo.close();
    // This process's fetch pool must see its keep-alive sockets closed before it reuses the port.
    await new Promise((r) => setTimeout(r, 50));
    demo = await startDemo({ port, dataDir, quiet: true });
    peer = httpPeer(demo.url);
    expect(demo.created).toEqual([]);
    expect(demo.vendor.config.fingerprint).toBe(fingerprint);
    expect(await demo.vendor.store.countClients()).toBe(2);
    const again = await discover(peer, demo.origin);
    expect(again.key.fingerprint).toBe(doc.key.fingerprint);

    const d = await deliver(peer, alice, 'sddp', '/api/watchlist', { now: t() });
    expect((d.json as { watchlist: string[] }).watchlist).toEqual(['IBM', 'MSFT']);
    expect(await (await page('/', alice)).text()).toContain('Welcome back, alice@example.org');

    // Bob carries on: the challenge issued before the restart is still good (it is keyed by the KEK).
    const d4 = await deliver(peer, bob, 'eddp+receipts', '/api/intraday/LU', { now: t(), challenge: bobChallenge, ack: word(bobDelivered) });
    expect(d4.receipt?.i).toBe(4);
    const d5 = await deliver(peer, bob, 'eddp+receipts', '/api/intraday/LU', { now: t(), challenge: d4.challenge!, ack: word(4) });
    expect(d5.receipt?.i).toBe(5);
    // Five deliveries were committed to: the sixth is refused.
    // The refusal is sealed, and it stores the acknowledgement of the last delivery: the vendor's proof of all five.
    await expect(deliver(peer, bob, 'eddp+receipts', '/api/intraday/LU', { now: t(), challenge: d5.challenge!, ack: word(5) })).rejects.toMatchObject({
      code: 'chain_exhausted',
      details: { sealed: true, status: 402 },
    });
    expect(JSON.parse((await demo.vendor.store.getClient(bob.alias))!.chain!)).toMatchObject({ delivered: 5, acked: 5 });
  });

  it('a start with a key file missing under registered clients is refused, not silently re-keyed', async () => {
    const other = mkdtempSync(join(tmpdir(), 'janus-demo-'));
    try {
      const first = await startDemo({ port: 0, dataDir: other, quiet: true });
      const carol = await sessionFor('carol@example.org', 'carol secret', first.origin);
      const p = httpPeer(first.url);
      await register(p, carol, await discover(p, first.origin), { now: t(), data: {} });
      await first.close();
      rmSync(join(other, 'kek.key'));
      await expect(startDemo({ port: 0, dataDir: other, quiet: true })).rejects.toThrow(/kek\.key is missing/);
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
  }, 120_000);
});

const pgdb = usePostgres();

describe('Quotes with its clients on PostgreSQL (database: a postgres:// URL)', () => {
  it('registers a client there and answers its SDDP request; the watchlists stay in the SQLite file', async () => {
    const url = await pgdb.freshDatabase();
    const dir = mkdtempSync(join(tmpdir(), 'janus-demo-pg-'));
    const d = await startDemo({ port: 0, dataDir: dir, quiet: true, database: url });
    try {
      expect(d.vendor.store.kind).toBe('postgres');
      const p = httpPeer(d.url);
      const dave = await sessionFor('dave@example.org', 'dave secret', d.origin);
      expect((await register(p, dave, await discover(p, d.origin), { now: t(), data: { watchlist: ['LU'] } })).alias).toBe(dave.alias);
      const put = await deliver(p, dave, 'sddp', '/api/watchlist', { now: t(), method: 'PUT', body: utf8(JSON.stringify({ watchlist: ['IBM', 'T'] })) });
      expect(put.status).toBe(200);
      const got = await deliver(p, dave, 'sddp', '/api/watchlist', { now: t() });
      expect(got.json).toMatchObject({ alias: dave.alias, plan: 'free', watchlist: ['IBM', 'T'] });
      expect(await (await fetch(d.url + '/', { headers: { 'janus-credential': makeCredential(dave, d.origin, t()).value } })).text()).toContain('Welcome back');
      // The client row is in PostgreSQL, and not in vendor.db, which holds the demo's own table.
      expect(await d.vendor.store.countClients()).toBe(1);
      const db = new Database(join(dir, 'vendor.db'), { readonly: true });
      try {
        expect(db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'clients'").all()).toEqual([]);
        expect(db.prepare('SELECT alias FROM demo_watchlists').all()).toEqual([{ alias: dave.alias }]);
      } finally {
        db.close();
      }
    } finally {
      await d.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
