/**
 * One vendor as three instances: three JanusVendor objects, each with its own PgStore (pool, row
 * cache, listening connection) on one PostgreSQL database, sharing the origin, the KEK and the
 * private key, each behind its own HTTP server. Requests are re-targeted at an instance; what they
 * sign is the shared id_V. Whatever one instance has done, the others honour at once.
 */
import pg from 'pg';
import { afterAll, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  deliveryRequest,
  makeCredential,
  rotateOnResponse,
  rotateStart,
  skepOnResponse,
  skepStart,
  type Discovery,
  type HttpRequestMsg,
  type HttpResponseMsg,
  type VendorSession,
} from '../protocol/index.ts';
import { discover, fetchChallenge, register, sessionFor, type Peer } from '../../test/support/client.ts';
import { usePostgres } from '../../test/support/pg-fixture.ts';
import { startPgVendor, type PgHttpVendor } from '../../test/support/pg-vendor.ts';
import { httpPeer, testKeyMaterial } from '../../test/support/vendor-kit.ts';
import type { RouteSpec } from './core.ts';
import type { VendorKeyMaterial } from './config.ts';

const ID_V = 'https://shop.example';
const now = () => Math.floor(Date.now() / 1000);
const LIMITS = { rateLimits: { skepPerAddressPerMinute: 100_000, skepPerAliasPerMinute: 1000, rotatePerAliasPerMinute: 1000 } };

const routes = (i: number): RouteSpec[] => [
  { path: '/api/me', level: 'sddp', handler: ({ client }) => ({ alias: client.alias, gen: client.gen, instance: i }) },
  { path: '/api/report', level: 'eddp', handler: ({ client }) => ({ alias: client.alias, instance: i }) },
  { path: '/', level: 'credential' },
];

const pgdb = usePostgres();

/** Status and error code of an answer (`Janus-Error`), for the refusals compared below. */
const outcome = (r: HttpResponseMsg) => `${r.status}${r.headers['janus-error'] ? ` ${r.headers['janus-error']}` : ''}`;

const sddp = async (key: VendorSession) => (await deliveryRequest({ key, level: 'sddp', method: 'GET', url: ID_V + '/api/me', now: now() })).request;
const eddp = async (key: VendorSession, challenge: string) => (await deliveryRequest({ key, level: 'eddp', method: 'GET', url: ID_V + '/api/report', now: now(), challenge })).request;

let users = 0;
/** Test identities by alias, so that a rotation can derive the next generation's session. */
const identities = new Map<string, string>();
async function newUser(): Promise<VendorSession> {
  const id = `user${users++}@example.org`;
  const s = await sessionFor(id, 'a secret', ID_V, 0);
  identities.set(s.alias, id);
  return s;
}

/** The same identity's session at generation `gen` (what the client derives for a rotation). */
async function newUserGen(s: VendorSession, gen: number): Promise<VendorSession> {
  const id = identities.get(s.alias);
  if (!id) throw new Error('unknown test user');
  const next = await sessionFor(id, 'a secret', ID_V, gen);
  identities.set(next.alias, id);
  return next;
}

async function startInstances(url: string, keys: VendorKeyMaterial, n: number, extra: Parameters<typeof startPgVendor>[0]['config'] = {}): Promise<PgHttpVendor[]> {
  // All at once, on a database that may be empty: they migrate it between them.
  return Promise.all(Array.from({ length: n }, (_, i) => startPgVendor({ url, origin: ID_V, keys, routes: routes(i), config: { ...LIMITS, ...extra } })));
}

describe('three vendor instances on one PostgreSQL database', () => {
  let setup: Promise<{ url: string; v: PgHttpVendor[]; peers: Peer[]; doc: Discovery }> | null = null;
  /** The three instances, started by the first test (inside it: a missing PostgreSQL fails tests, never skips them). */
  const three = () =>
    (setup ??= (async () => {
      const url = await pgdb.freshDatabase();
      const v = await startInstances(url, await testKeyMaterial(), 3);
      const peers = v.map((x) => httpPeer(x.base));
      return { url, v, peers, doc: await discover(peers[0]!, ID_V) };
    })());
  let url: string;
  let v: PgHttpVendor[] = [];
  let peers: Peer[] = [];
  let doc: Discovery;
  beforeEach(async () => {
    ({ url, v, peers, doc } = await three());
  });
  afterAll(async () => {
    const s = await setup?.catch(() => null);
    if (s) await Promise.all(s.v.map((x) => x.close()));
  });

  it('started together on an empty database, they applied each migration once', async () => {
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    try {
      expect((await c.query('SELECT version FROM janus_schema')).rows).toEqual([{ version: 1 }]);
    } finally {
      await c.end();
    }
    for (const p of peers) expect((await discover(p, ID_V)).key.fingerprint).toBe(doc.key.fingerprint);
  });

  it('a SKEP started on one instance finishes on another, and the client is served by all three', async () => {
    const alice = await newUser();
    const t = now();
    const start = await skepStart({ session: alice, discovery: doc, data: { plan: 'gold' }, now: t });
    const m2 = await peers[0]!(start.request);
    expect(m2.status).toBe(200);
    const s2 = await skepOnResponse(start.state, m2, t);
    const m4 = await peers[1]!(s2.request!);
    expect(outcome(m4)).toBe('201');
    expect((await skepOnResponse(s2.state, m4, t)).state.phase).toBe('done');
    // Message 3 again, on the third instance: the registration is done, nothing more is stored.
    expect(['409 already_registered', '409 replayed']).toContain(outcome(await peers[2]!(s2.request!)));
    expect(await v[2]!.store.countClients()).toBe(1);
    for (let i = 0; i < 3; i++) {
      const res = await peers[i]!(await sddp(alice));
      expect(outcome(res)).toBe('200');
    }
  });

  it('SKEP message 3 sent to two instances at once registers the client once', async () => {
    for (let round = 0; round < 4; round++) {
      const u = await newUser();
      const t = now();
      const start = await skepStart({ session: u, discovery: doc, data: {}, now: t });
      const s2 = await skepOnResponse(start.state, await peers[round % 3]!(start.request), t);
      const answers = await Promise.all([peers[(round + 1) % 3]!(s2.request!), peers[(round + 2) % 3]!(s2.request!)]);
      const outcomes = answers.map(outcome).sort();
      expect(outcomes[0]).toBe('201');
      expect(['409 already_registered', '409 replayed']).toContain(outcomes[1]);
      expect(outcome(await peers[round % 3]!(await sddp(u)))).toBe('200');
    }
  });

  it('an EDDP challenge issued by one instance is accepted once, by any, and refused on every other', async () => {
    const bob = await newUser();
    await register(peers[0]!, bob, doc, { now: now() });
    const challenge = await fetchChallenge(peers[0]!, bob, doc);
    const req = await eddp(bob, challenge);
    expect(outcome(await peers[1]!(req))).toBe('200');
    expect(outcome(await peers[2]!(req))).toBe('409 replayed'); // the same request again
    expect(outcome(await peers[0]!(req))).toBe('409 replayed');
    // Another request (its own nonce) with the spent challenge.
    expect(outcome(await peers[2]!(await eddp(bob, challenge)))).toBe('409 replayed');
    expect(outcome(await peers[2]!(await eddp(bob, await fetchChallenge(peers[1]!, bob, doc))))).toBe('200');
  });

  it('replays racing on all three instances: exactly one is accepted, every time', async () => {
    const carol = await newUser();
    await register(peers[0]!, carol, doc, { now: now() });
    const rounds = 40;
    let accepted = 0;
    for (let round = 0; round < rounds; round++) {
      const challenge = await fetchChallenge(peers[round % 3]!, carol, doc);
      // The same request on three instances, and two more requests (own nonces) with the same challenge.
      const same = await eddp(carol, challenge);
      const others = await Promise.all([eddp(carol, challenge), eddp(carol, challenge)]);
      const sent: [Peer, HttpRequestMsg][] = [
        [peers[0]!, same],
        [peers[1]!, same],
        [peers[2]!, same],
        [peers[(round + 1) % 3]!, others[0]!],
        [peers[(round + 2) % 3]!, others[1]!],
      ];
      const outcomes = (await Promise.all(sent.map(([p, r]) => p(r)))).map(outcome);
      expect(outcomes.filter((o) => o === '200'), `round ${round}: ${outcomes.join(', ')}`).toHaveLength(1);
      expect(outcomes.filter((o) => o === '409 replayed')).toHaveLength(4);
      accepted++;
    }
    expect(accepted).toBe(rounds);
  });

  it('after a rotation on one instance, the others refuse the retired key at once, and take the new one', async () => {
    let dave = await newUser();
    await register(peers[0]!, dave, doc, { now: now() });
    for (let round = 0; round < 6; round++) {
      const at = round % 3;
      const others = [(at + 1) % 3, (at + 2) % 3];
      // The other instances hold dave's current row (read just now, so cached), and a challenge for him.
      const challenges: string[] = [];
      for (const o of others) {
        expect(outcome(await peers[o]!(await sddp(dave)))).toBe('200');
        challenges.push(await fetchChallenge(peers[o]!, dave, doc));
      }
      const next = await newUserGen(dave, round + 1);
      const stale = { sddp: await sddp(dave), eddp: await Promise.all(challenges.map((c) => eddp(dave, c))) };
      const rot = await rotateStart({ old: dave, next, discovery: doc, now: now() });
      const res = await peers[at]!(rot.request);
      expect(outcome(res)).toBe('200');
      expect((await rotateOnResponse(rot.state, res)).gen).toBe(round + 1);
      // Immediately: the retired generation, on both other instances, SDDP and EDDP, all at once.
      const refusals = await Promise.all([
        ...others.map((o) => peers[o]!(stale.sddp)),
        ...others.map((o, i) => peers[o]!(stale.eddp[i]!)),
      ]);
      for (const r of refusals) expect(outcome(r)).toBe('409 generation_mismatch');
      dave = next;
      for (const o of others) expect(outcome(await peers[o]!(await sddp(dave)))).toBe('200');
    }
  });

  it("with another instance's notifications held back (its cache stale), the retired key is still refused by the commit", async () => {
    const erin = await newUser();
    await register(peers[0]!, erin, doc, { now: now() });
    expect(outcome(await peers[1]!(await sddp(erin)))).toBe('200');
    const cached = await v[1]!.store.getClient(erin.alias);
    expect(await v[1]!.store.getClient(erin.alias)).toBe(cached); // served from instance 1's cache
    // White box: instance 1 stops hearing other instances' writes, but believes it still does,
    // as if a notification were late. Its cache keeps erin at generation 0.
    const listener = (v[1]!.store as unknown as { listener: pg.Client }).listener;
    await listener.query('UNLISTEN *');
    try {
      const next = await newUserGen(erin, 1);
      const staleReq = await sddp(erin);
      const rot = await rotateStart({ old: erin, next, discovery: doc, now: now() });
      expect(outcome(await peers[0]!(rot.request))).toBe('200');
      expect(await v[1]!.store.getClient(erin.alias)).toBe(cached); // still stale: the request below verifies under the old key
      expect(outcome(await peers[1]!(staleReq))).toBe('409 generation_mismatch');
      // The refused commit dropped the stale row: the new key works on instance 1 right away.
      expect(outcome(await peers[1]!(await sddp(next)))).toBe('200');
    } finally {
      await listener.query('LISTEN janus_clients');
    }
  });

  it('after each rotation, a slot credential with the retired key sent at once to the other instances is refused', async () => {
    let frank = await newUser();
    await register(peers[0]!, frank, doc, { now: now() });
    const credential = (key: VendorSession) => new Request(ID_V + '/', { headers: { 'janus-credential': makeCredential(key, ID_V, now()).value } });
    // A row cache that lags the rotation by its notification (a few ms) gets a few percent of these
    // checks wrong (4 to 10 of 200 when measured): 100 rounds leave it no real chance to pass.
    const rounds = 100;
    let accepted = 0;
    let refused = 0;
    for (let round = 0; round < rounds; round++) {
      const at = round % 3;
      const others = [(at + 1) % 3, (at + 2) % 3];
      // The other instances hold frank's current row (read just now, so cached). (Waiting matters
      // only to a store whose credential reads lag: it keeps each round's count to its own rotation.)
      for (const o of others) {
        const until = Date.now() + 1000;
        while ((await v[o]!.vendor.identify(credential(frank)))?.gen !== round) {
          expect(Date.now(), `instance ${o} never identified generation ${round}`).toBeLessThan(until);
          await new Promise((ok) => setTimeout(ok, 1));
        }
      }
      const stale = others.map(() => credential(frank));
      const next = await newUserGen(frank, round + 1);
      const rot = await rotateStart({ old: frank, next, discovery: doc, now: now() });
      expect(outcome(await peers[at]!(rot.request))).toBe('200');
      // Immediately, on both other instances at once; then the new key, also at once.
      const answers = await Promise.all(others.map((o, i) => v[o]!.vendor.identify(stale[i]!)));
      accepted += answers.filter((c) => c !== null).length;
      for (const o of others) if ((await v[o]!.vendor.identify(credential(next)))?.gen !== round + 1) refused++;
      frank = next;
    }
    expect({ accepted, refused }, `of ${2 * rounds} checks each: retired key accepted, new key refused`).toEqual({ accepted: 0, refused: 0 });
  });
});

describe('one-time values expire by themselves', () => {
  it("each instance's minute timer deletes the expired values, and an old request stays refused", async () => {
    const url = await pgdb.freshDatabase();
    const keys = await testKeyMaterial();
    let clock = now();
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    let v: PgHttpVendor[] = [];
    try {
      v = await startInstances(url, keys, 2, { now: () => clock });
      const peers = v.map((x) => httpPeer(x.base));
      const doc = await discover(peers[0]!, ID_V);
      const gina = await newUser();
      await register(peers[0]!, gina, doc, { now: clock });
      const old = (await deliveryRequest({ key: gina, level: 'sddp', method: 'GET', url: ID_V + '/api/me', now: clock })).request;
      expect(outcome(await peers[0]!(old))).toBe('200');
      for (let i = 0; i < 5; i++) expect(outcome(await peers[i % 2]!((await deliveryRequest({ key: gina, level: 'sddp', method: 'GET', url: ID_V + '/api/me', now: clock })).request))).toBe('200');
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      try {
        const live = async () => Number((await c.query<{ n: string }>('SELECT count(*) AS n FROM janus_used')).rows[0]!.n);
        const before = await live();
        expect(before).toBeGreaterThanOrEqual(7); // six nonces and the SKEP token (and its message-1 nonce)
        vi.advanceTimersByTime(60_000); // a minute, before the values expire: nothing goes
        await new Promise((ok) => setTimeout(ok, 200));
        expect(await live()).toBe(before);
        clock += 3600; // an hour later every window has closed
        vi.advanceTimersByTime(60_000);
        const until = Date.now() + 5000;
        while ((await live()) > 0 && Date.now() < until) await new Promise((ok) => setTimeout(ok, 20));
        expect(await live()).toBe(0);
        // The forgotten nonce does not make its request acceptable: the slot window refuses it first.
        expect(outcome(await peers[1]!(old))).toBe('401 slot_out_of_window');
        expect(outcome(await peers[1]!((await deliveryRequest({ key: gina, level: 'sddp', method: 'GET', url: ID_V + '/api/me', now: clock })).request))).toBe('200');
      } finally {
        await c.end();
      }
    } finally {
      vi.useRealTimers();
      await Promise.all(v.map((x) => x.close()));
    }
  });
});
