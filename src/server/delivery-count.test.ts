/**
 * A delivery counted only when it was delivered (docs/PROTOCOL.md §11.2), in the SDK: the one-time
 * values and the acknowledgement are stored before the handler runs, the delivery count only with
 * a 2xx answer, in one commit, before that answer leaves. Nothing is given back afterwards, so
 * nothing can fail to be given back.
 */
import { Hono } from 'hono';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { fromUtf8 } from '../crypto/bytes.ts';
import { JanusError } from '../errors.ts';
import { deliveryRequest, deliveryResponse, paywordWord, type Discovery, type HttpResponseMsg, type VendorSession } from '../protocol/index.ts';
import { discover, fetchChallenge, register, sessionFor, type Peer } from '../../test/support/client.ts';
import { fetchPeer, testKeyMaterial } from '../../test/support/vendor-kit.ts';
import { createVendor, Reply, type JanusVendor } from './core.ts';
import { janus, type JanusEnv } from './hono.ts';
import { SqliteStore } from './sqlite-store.ts';
import type { ClientRow, Commit, Store } from './store.ts';

const ORIGIN = 'https://shop.example';
const now = Math.floor(Date.now() / 1000);

/** The SQLite store, with commits that fail on demand (a storage failure at a chosen moment). */
class FlakyStore implements Store {
  readonly kind = 'flaky';
  readonly inner = new SqliteStore(':memory:');
  failIf: ((c: Commit) => boolean) | null = null;
  commits: Commit[] = [];
  getClient(alias: string, opts?: { fresh?: boolean }): Promise<ClientRow | null> {
    return this.inner.getClient(alias, opts);
  }
  async commit(c: Commit): Promise<void> {
    this.commits.push(c);
    if (this.failIf?.(c)) throw new Error('disk I/O error (injected)');
    return this.inner.commit(c);
  }
  cleanup(t: number): Promise<number> {
    return this.inner.cleanup(t);
  }
  countClients(): Promise<number> {
    return this.inner.countClients();
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

let store: FlakyStore;
let vendor: JanusVendor;
let peer: Peer;
let doc: Discovery;
let handlerRuns = 0;
let gate: Promise<void> | null = null;

/** The application's answer for an item: a refusal, a bug, a 404, or the item. */
async function item(name: string): Promise<{ status: 200 | 404; body: Record<string, unknown> }> {
  handlerRuns++;
  if (gate) await gate;
  if (name === 'throws') throw new JanusError('subscription_expired', 'refused by the application');
  if (name === 'bug') throw new TypeError('a bug in the handler');
  if (name === 'missing') return { status: 404, body: { error: 'no such item' } };
  return { status: 200, body: { item: name } };
}

/**
 * The same route served two ways: by a handler given to createVendor (what `serve` does), and by
 * the app's own Hono handler behind `janus.eddpReceipts(path)`.
 */
const SERVED_BY = {
  'a handler given to createVendor': async () => {
    vendor = createVendor({
      config: { origin: ORIGIN, keys: await testKeyMaterial() },
      store,
      routes: [
        {
          path: '/api/item/*',
          level: 'eddp+receipts',
          handler: async ({ url }) => {
            const r = await item(url.pathname.split('/').pop()!);
            return r.status === 200 ? r.body : new Reply(JSON.stringify(r.body), { status: r.status, contentType: 'application/json' });
          },
        },
      ],
    });
    peer = fetchPeer(async (r) => (await vendor.handle(r))!);
  },
  "the app's Hono handler behind the middleware": async () => {
    vendor = createVendor({ config: { origin: ORIGIN, keys: await testKeyMaterial() }, store });
    const j = janus(vendor);
    const app = new Hono<JanusEnv>();
    app.use(j);
    app.get('/api/item/:name', j.eddpReceipts('/api/item/*'), async (c) => {
      const r = await item(c.req.param('name'));
      return c.json(r.body, r.status);
    });
    // The app's own error page (Hono's default one logs every error); the SDK answers for it.
    app.onError((_e, c) => c.text('app error page', 500));
    peer = fetchPeer(async (r) => app.request(r));
  },
};

afterEach(() => {
  store.failIf = null;
});


async function customer(name: string, n = 5): Promise<{ s: VendorSession; sub: string }> {
  const s = await sessionFor(`${name}@example.org`, name, ORIGIN);
  const r = await register(peer, s, doc, { now, chain: n });
  return { s, sub: r.payword!.sub };
}

async function chainOf(alias: string): Promise<{ delivered: number; acked: number }> {
  return JSON.parse((await store.getClient(alias))!.chain!) as { delivered: number; acked: number };
}

async function get(s: VendorSession, item: string, challenge: string, ack?: { sub: string; i: number; n: number }) {
  const { request, pending } = await deliveryRequest({
    key: s,
    level: 'eddp+receipts',
    method: 'GET',
    url: `${ORIGIN}/api/item/${item}`,
    now,
    challenge,
    ...(ack ? { ack: { sub: ack.sub, i: ack.i, w: paywordWord(s.k, ack.sub, ack.n, ack.i) } } : {}),
  });
  const res = await peer(request);
  return { res, pending };
}

const sealed = (res: HttpResponseMsg) => res.headers['content-encoding'] === 'janus-gcm';

describe.each(Object.keys(SERVED_BY) as (keyof typeof SERVED_BY)[])('the delivery count of an eddp+receipts route (§11.2), served by %s', (servedBy) => {
  beforeAll(async () => {
    store = new FlakyStore();
    await SERVED_BY[servedBy]();
    doc = await discover(peer, ORIGIN);
  });
  afterAll(() => vendor.close());

  it('a handler that throws counts no delivery, even when the store fails the commit after it', async () => {
    const { s, sub } = await customer('ann');
    // Any commit that records no one-time value (what would give a counted delivery back) fails.
    store.failIf = (c) => !c.useOnce && c.update !== undefined;
    let r;
    try {
      r = await get(s, 'throws', await fetchChallenge(peer, s, doc));
    } finally {
      store.failIf = null;
    }
    expect(r.res.status).toBe(403);
    expect(await chainOf(s.alias)).toMatchObject({ delivered: 0, acked: 0 });
    // The next request needs no acknowledgement: it is delivery 1.
    const next = await get(s, 'book', await fetchChallenge(peer, s, doc));
    expect([next.res.status, next.res.headers['janus-receipt']]).toEqual([200, `${sub}.1.5`]);
  });

  it('a handler that answers 404 delivers nothing: no Janus-Receipt, nothing counted', async () => {
    const { s, sub } = await customer('ben');
    const missing = await get(s, 'missing', await fetchChallenge(peer, s, doc));
    expect(missing.res.status).toBe(404);
    expect(missing.res.headers['janus-receipt']).toBeUndefined();
    expect(await chainOf(s.alias)).toMatchObject({ delivered: 0 });
    const next = await get(s, 'book', missing.res.headers['janus-challenge']!);
    expect([next.res.status, next.res.headers['janus-receipt']]).toEqual([200, `${sub}.1.5`]);
  });

  it("a handler's JanusError is a sealed answer with its code; a bug is a sealed 500 internal, logged; neither is counted", async () => {
    const { s } = await customer('cay');
    const refused = await get(s, 'throws', await fetchChallenge(peer, s, doc));
    expect([refused.res.status, refused.res.headers['janus-error'], sealed(refused.res)]).toEqual([403, 'subscription_expired', true]);
    const opened = await deliveryResponse(refused.pending, 'eddp+receipts', refused.res);
    expect(JSON.parse(fromUtf8(opened.body))).toMatchObject({ error: { code: 'subscription_expired' } });
    const log = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      const bug = await get(s, 'bug', opened.challenge!);
      expect([bug.res.status, bug.res.headers['janus-error'], sealed(bug.res)]).toEqual([500, 'internal', true]);
      expect(log.mock.calls.map((c) => c.join(' ')).join('\n')).toMatch(/a bug in the handler/);
    } finally {
      log.mockRestore();
    }
    expect(await chainOf(s.alias)).toMatchObject({ delivered: 0 });
  });

  it('the count is one commit with the 2xx answer: when it fails, the answer is a sealed error and nothing is counted', async () => {
    const { s } = await customer('dee');
    const log = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    store.failIf = (c) => !c.useOnce && c.update !== undefined;
    let r;
    try {
      r = await get(s, 'book', await fetchChallenge(peer, s, doc));
    } finally {
      store.failIf = null;
      log.mockRestore();
    }
    expect([r.res.status, r.res.headers['janus-error'], r.res.headers['janus-receipt'], sealed(r.res)]).toEqual([500, 'internal', undefined, true]);
    expect(await chainOf(s.alias)).toMatchObject({ delivered: 0 });
  });

  it('the acknowledgement is stored with the one-time values, the count with the answer: two commits, no third', async () => {
    const { s, sub } = await customer('eve');
    const d1 = await get(s, 'book', await fetchChallenge(peer, s, doc));
    store.commits = [];
    const d2 = await get(s, 'pen', d1.res.headers['janus-challenge']!, { sub, i: 1, n: 5 });
    expect(d2.res.headers['janus-receipt']).toBe(`${sub}.2.5`);
    expect(store.commits).toHaveLength(2);
    expect(store.commits[0]!.useOnce?.length).toBe(2); // the nonce and the challenge
    expect(JSON.parse(store.commits[0]!.update!.chain!)).toMatchObject({ delivered: 1, acked: 1 });
    expect(store.commits[1]!.useOnce).toBeUndefined();
    expect(JSON.parse(store.commits[1]!.update!.chain!)).toMatchObject({ delivered: 2, acked: 1 });
  });

  it('two deliveries of one client at once: one is made, the other refused before anything is stored or run', async () => {
    const { s, sub } = await customer('fay');
    const [c1, c2] = [await fetchChallenge(peer, s, doc), await fetchChallenge(peer, s, doc)];
    let open!: () => void;
    gate = new Promise<void>((r) => (open = r));
    const before = handlerRuns;
    const first = get(s, 'book', c1);
    await new Promise((r) => setTimeout(r, 50));
    const second = await get(s, 'pen', c2);
    open();
    gate = null;
    const one = await first;
    expect([one.res.status, one.res.headers['janus-receipt']]).toEqual([200, `${sub}.1.5`]);
    expect([second.res.status, second.res.headers['janus-error'], sealed(second.res)]).toEqual([409, 'conflict', false]);
    expect(handlerRuns - before).toBe(1);
    // The refused one recorded nothing: its challenge is still good.
    const again = await get(s, 'pen', c2, { sub, i: 1, n: 5 });
    expect(again.res.headers['janus-receipt']).toBe(`${sub}.2.5`);
  });
});
