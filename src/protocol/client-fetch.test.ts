/**
 * The client's delivery policy (client-fetch.ts) against a vendor made of the vendor functions
 * (test/support/memory-vendor.ts): every rule of its header, each with the exchanges it makes.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { fromUtf8 } from '../crypto/bytes.ts';
import { clientFetchOn, clientFetchStart, type ChainView, type ClientFetchInput } from './client-fetch.ts';
import { JanusError, rotateOnResponse, rotateStart, type DeliveryLevel, type Discovery, type HttpRequestMsg } from './index.ts';
import { MemoryVendor } from '../../test/support/memory-vendor.ts';
import { discover, protectedFetch, register, sessionFor, type Peer } from '../../test/support/client.ts';

const ORIGIN = 'https://quotes.example';
const NOW = 1_764_000_000;

let vendor: MemoryVendor;
let doc: Discovery;
/** Every request the vendor saw, by path. */
const seen: string[] = [];
const peer: Peer = (req) => {
  seen.push(new URL(req.url).pathname);
  return vendor.handle(req);
};

beforeAll(async () => {
  vendor = await MemoryVendor.create({
    origin: ORIGIN,
    now: NOW,
    routes: [
      { path: '/api/watchlist', methods: null, level: 'sddp' },
      { path: '/api/intraday/*', methods: null, level: 'eddp' },
      { path: '/api/paid/*', methods: null, level: 'eddp+receipts' },
    ],
    policy: (data, now) => ({ validFrom: now, validUntil: now + 30 * 86400, terms: { plan: data['plan'] ?? 'free' } }),
  });
  doc = await discover(peer, ORIGIN);
});

/** A user: identity and secret; the machine derives what it needs from them. */
function user(name: string) {
  const key = (gen: number) => sessionFor(`${name}@example.org`, `${name} secret`, ORIGIN, gen);
  return {
    key,
    /** Runs one request through the policy and counts its exchanges. */
    async fetch(level: DeliveryLevel, path: string, o: { gen?: number; chain?: ChainView | null; challenge?: string | null } = {}) {
      const input: ClientFetchInput = {
        level,
        gen: o.gen ?? 0,
        chain: o.chain ?? null,
        challenge: o.challenge ?? null,
        challengeUrl: ORIGIN + doc.challengePath,
        request: { method: 'GET', url: ORIGIN + path },
        now: NOW,
      };
      /** The acknowledgements the requests carried. */
      const words: { sub: string; i: number }[] = [];
      const from = seen.length;
      const outcome = await protectedFetch(
        (req) => {
          const h = req.headers['janus-ack'];
          if (h) words.push({ sub: h.split('.')[0]!, i: Number(h.split('.')[1]) });
          return peer(req);
        },
        key,
        input,
      );
      return { outcome, words, exchanges: seen.slice(from) };
    },
  };
}

describe('client delivery policy: SDDP and EDDP', () => {
  it('SDDP: one exchange, the verified answer', async () => {
    const alice = user('alice');
    await register(peer, await alice.key(0), doc, { now: NOW, data: { watchlist: ['LU'] } });
    const { outcome, exchanges } = await alice.fetch('sddp', '/api/watchlist');
    expect(exchanges).toEqual(['/api/watchlist']);
    expect(outcome.refused).toBeNull();
    expect(outcome.delivered!.status).toBe(200);
    expect(JSON.parse(fromUtf8(outcome.delivered!.body))).toMatchObject({ path: '/api/watchlist' });
    expect(outcome.challenge).toBeNull();
  });

  it('EDDP: the challenge endpoint without a piggybacked challenge, none with one', async () => {
    const alice = user('alice');
    const first = await alice.fetch('eddp', '/api/intraday/LU');
    expect(first.exchanges).toEqual([doc.challengePath, '/api/intraday/LU']);
    expect(first.outcome.challenge).toMatch(/./);
    const second = await alice.fetch('eddp', '/api/intraday/LU', { challenge: first.outcome.challenge });
    expect(second.exchanges).toEqual(['/api/intraday/LU']);
    expect(second.outcome.delivered!.status).toBe(200);
  });

  it('a spent challenge: the unsealed refusal causes one retry with a fresh challenge', async () => {
    const alice = user('alice');
    const first = await alice.fetch('eddp', '/api/intraday/LU');
    await alice.fetch('eddp', '/api/intraday/LU', { challenge: first.outcome.challenge });
    const again = await alice.fetch('eddp', '/api/intraday/LU', { challenge: first.outcome.challenge }); // spent
    expect(again.exchanges).toEqual(['/api/intraday/LU', doc.challengePath, '/api/intraday/LU']);
    expect(again.outcome.delivered!.status).toBe(200);
  });

  it('a hinted higher generation: one retry under that generation’s key; the outcome names it', async () => {
    const frank = user('frank');
    await register(peer, await frank.key(0), doc, { now: NOW, data: {} });
    const { state, request } = await rotateStart({ old: await frank.key(0), next: await frank.key(1), discovery: doc, now: NOW });
    await rotateOnResponse(state, await peer(request));
    const { outcome, exchanges } = await frank.fetch('sddp', '/api/watchlist', { gen: 0 });
    expect(exchanges).toEqual(['/api/watchlist', '/api/watchlist']);
    expect(outcome).toMatchObject({ gen: 1, refused: null });
    expect(outcome.delivered!.status).toBe(200);
  });

  it('a refusal that is no hint is the outcome, without a retry', async () => {
    const nobody = user('nobody');
    const { outcome, exchanges } = await nobody.fetch('sddp', '/api/watchlist');
    expect(exchanges).toEqual(['/api/watchlist']);
    expect(outcome.delivered).toBeNull();
    expect(outcome.refused!.error.code).toBe('unknown_client');
  });
});

describe('client delivery policy: PayWord acknowledgements (§11.2, §11.3)', () => {
  it('acknowledges the last delivery in the next request; the chain view follows', async () => {
    const erin = user('erin');
    const r = await register(peer, await erin.key(0), doc, { now: NOW, receipt: true, chain: 10, data: { plan: 'intraday' } });
    let chain: ChainView = { sub: r.payword!.sub, n: 10, delivered: 0, acked: 0 };
    const d1 = await erin.fetch('eddp+receipts', '/api/paid/LU', { chain });
    expect(d1.words).toEqual([]);
    expect(d1.outcome.delivered!.receipt).toEqual({ sub: chain.sub, i: 1, n: 10 });
    chain = d1.outcome.chain!;
    expect(chain).toEqual({ sub: chain.sub, n: 10, delivered: 1, acked: 0 });
    const d2 = await erin.fetch('eddp+receipts', '/api/paid/LU', { chain, challenge: d1.outcome.challenge });
    expect(d2.words).toEqual([{ sub: chain.sub, i: 1 }]);
    expect(d2.exchanges).toEqual(['/api/paid/LU']);
    expect(d2.outcome.chain).toEqual({ sub: chain.sub, n: 10, delivered: 2, acked: 1 });
    expect(vendor.records.get((await erin.key(0)).alias)!.chain).toMatchObject({ delivered: 2, acked: 1 });
    expect(d2.outcome.learned).toBe(false);
  });

  it('a spent challenge on a paid route: the retry goes without the acknowledgement, which the sealed 402 then asks for', async () => {
    const gus = user('gus');
    const r = await register(peer, await gus.key(0), doc, { now: NOW, receipt: true, chain: 5, data: { plan: 'intraday' } });
    const first = await gus.fetch('eddp+receipts', '/api/paid/LU', { chain: { sub: r.payword!.sub, n: 5, delivered: 0, acked: 0 } });
    await gus.fetch('eddp', '/api/intraday/LU', { challenge: first.outcome.challenge }); // spends it
    const { outcome, words, exchanges } = await gus.fetch('eddp+receipts', '/api/paid/LU', { chain: first.outcome.chain, challenge: first.outcome.challenge });
    expect(exchanges).toEqual(['/api/paid/LU', doc.challengePath, '/api/paid/LU', '/api/paid/LU']);
    expect(words).toEqual([{ sub: r.payword!.sub, i: 1 }, { sub: r.payword!.sub, i: 1 }]);
    expect(outcome.chain).toEqual({ sub: r.payword!.sub, n: 5, delivered: 2, acked: 1 });
  });

  it('a fresh machine learns the chain from the vendor’s sealed 402 and acknowledges the delivery another machine received', async () => {
    const erin = user('erin');
    const rec = vendor.records.get((await erin.key(0)).alias)!;
    const { outcome, words, exchanges } = await erin.fetch('eddp+receipts', '/api/paid/LU', { chain: null });
    expect(exchanges).toEqual([doc.challengePath, '/api/paid/LU', '/api/paid/LU']);
    expect(words).toEqual([{ sub: rec.chain!.sub, i: 2 }]);
    expect(outcome.learned).toBe(true);
    expect(outcome.chain).toEqual({ sub: rec.chain!.sub, n: 10, delivered: 3, acked: 2 });
    expect(outcome.delivered!.receipt!.i).toBe(3);
  });

  it('refuses to acknowledge more than one delivery beyond its own record: the 402 stands, no retry', async () => {
    const erin = user('erin');
    const sub = vendor.records.get((await erin.key(0)).alias)!.chain!.sub;
    // This machine's record says it saw delivery 1 and acknowledged nothing: delivery 3 is not its to pay for.
    const { outcome, words, exchanges } = await erin.fetch('eddp+receipts', '/api/paid/LU', { chain: { sub, n: 10, delivered: 1, acked: 0 } });
    // Its acknowledgement of 1 is older than the vendor's (replayed, unsealed): the retry goes
    // without it, and the vendor's sealed 402 names delivery 3.
    expect(words).toEqual([{ sub, i: 1 }]);
    expect(exchanges).toEqual([doc.challengePath, '/api/paid/LU', doc.challengePath, '/api/paid/LU']);
    expect(outcome.delivered).toBeNull();
    expect(outcome.refused!.error.code).toBe('ack_required');
    expect(outcome.refused!.error.details).toMatchObject({ sub, pending: 3 });
    expect(vendor.records.get((await erin.key(0)).alias)!.chain).toMatchObject({ delivered: 3, acked: 2 });
  });

  it('a sealed application error is a verified answer, not a refusal and no delivery; the acknowledgement it carried is stored', async () => {
    const erin = user('erin');
    const alias = (await erin.key(0)).alias;
    const sub = vendor.records.get(alias)!.chain!.sub;
    const app = vendor.app;
    (vendor as { app: typeof app }).app = () => {
      throw new JanusError('malformed', 'no such symbol');
    };
    try {
      const { outcome } = await erin.fetch('eddp+receipts', '/api/paid/lu', { chain: { sub, n: 10, delivered: 3, acked: 2 } });
      expect(outcome.refused).toBeNull();
      expect(outcome.delivered).toMatchObject({ status: 400, error: 'malformed', receipt: null });
      expect(outcome.chain).toEqual({ sub, n: 10, delivered: 3, acked: 3 });
    } finally {
      (vendor as { app: typeof app }).app = app;
    }
    expect(vendor.records.get(alias)!.chain).toMatchObject({ delivered: 3, acked: 3 });
  });
});

describe('client delivery policy: the machine itself', () => {
  it('asks for exactly what it needs, and refuses an answer of the wrong kind', async () => {
    const alice = user('alice');
    const input: ClientFetchInput = { level: 'sddp', gen: 0, chain: null, challenge: 'ignored-for-sddp', challengeUrl: ORIGIN + doc.challengePath, request: { method: 'GET', url: ORIGIN + '/api/watchlist' }, now: NOW };
    const { state, step } = clientFetchStart(input);
    expect(step).toEqual({ need: 'key', gen: 0 });
    await expect(clientFetchOn(state, { word: new Uint8Array(32) })).rejects.toMatchObject({ code: 'bad_input' });
    await expect(clientFetchOn(state, { key: await alice.key(1) })).rejects.toMatchObject({ code: 'bad_input' });
    const next = await clientFetchOn(state, { key: await alice.key(0) });
    expect(next.step.need).toBe('exchange');
    const req = (next.step as { request: HttpRequestMsg }).request;
    expect(req.headers['janus-challenge']).toBeUndefined();
    const last = await clientFetchOn(next.state, { response: await peer(req) });
    expect(last.step.need).toBe('nothing');
  });
});
