/**
 * In-memory runs of every protocol between the client functions and a vendor made of the vendor
 * functions (test/support/memory-vendor.ts): SKEP, non-repudiation SKEP, SDDP, EDDP with piggybacked
 * challenges, slot credentials, PayWord acks, key rotation and secret change.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { b64u, fromUtf8, utf8 } from '../crypto/bytes.ts';
import { verifyWord } from './payword.ts';
import {
  ackRequest,
  deliveryRequest,
  deliveryResponse,
  HEADER,
  makeCredential,
  parseCredential,
  paywordWord,
  rotateOnResponse,
  rotateStart,
  verifyCredential,
  verifyReceipt,
  JanusError,
  type Discovery,
  type VendorSession,
} from './index.ts';
import { MemoryVendor } from '../../test/support/memory-vendor.ts';
import { deliver, discover, fetchChallenge, register, sessionFor, type Peer } from '../../test/support/client.ts';

const ORIGIN = 'https://quotes.example';
const NOW = 1_764_000_000;

let vendor: MemoryVendor;
let peer: Peer;
let doc: Discovery;
let alice: VendorSession;

beforeAll(async () => {
  vendor = await MemoryVendor.create({
    origin: ORIGIN,
    now: NOW,
    routes: [
      { path: '/api/watchlist', methods: null, level: 'sddp' },
      { path: '/api/intraday/*', methods: null, level: 'eddp' },
      { path: '/api/paid/*', methods: null, level: 'eddp+receipts' },
    ],
    policy: (data, now) => ({ validFrom: now, validUntil: typeof data['months'] === 'number' ? now + data['months'] * 30 * 86400 : null, terms: { plan: data['plan'] ?? 'free' } }),
  });
  peer = (req) => vendor.handle(req);
  doc = await discover(peer, ORIGIN);
  alice = await sessionFor('alice@example.org', 'correct horse battery staple', ORIGIN);
});

async function expectCode(p: Promise<unknown>, code: string): Promise<void> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err, `expected ${code}`).toBeInstanceOf(JanusError);
  expect((err as JanusError).code).toBe(code);
}

describe('SKEP (paper Fig. 1)', () => {
  it('registers, stores the record, and a second registration is refused', async () => {
    const r = await register(peer, alice, doc, { now: NOW, data: { watchlist: ['LU', 'T'] } });
    expect(r.alias).toBe(alice.alias);
    expect(r.receipt).toBeNull();
    const rec = vendor.records.get(alice.alias)!;
    expect(rec.k).toEqual(alice.k);
    expect(rec.data).toEqual({ watchlist: ['LU', 'T'] });
    await expectCode(register(peer, alice, doc, { now: NOW }), 'already_registered');
  });

  it('the identity is canonicalized: same account from another spelling', async () => {
    const again = await sessionFor('  Alice@Example.ORG ', 'correct horse battery staple', ORIGIN);
    expect(again.alias).toBe(alice.alias);
    expect(again.k).toEqual(alice.k);
  });
});

describe('non-repudiation SKEP (paper Fig. 2) with a PayWord chain', () => {
  it('returns a receipt that verifies with the vendor key and commits to w0', async () => {
    const bob = await sessionFor('bob@example.org', 'another secret', ORIGIN);
    const r = await register(peer, bob, doc, { now: NOW, receipt: true, chain: 5, data: { plan: 'intraday', months: 1, card: '4111 1111 1111 1111' } });
    expect(r.receipt).not.toBeNull();
    const p = await verifyReceipt(r.receipt!, doc.key.spki);
    expect(p.vendor).toBe(ORIGIN);
    expect(p.alias).toBe(bob.alias);
    expect(p.terms).toEqual({ plan: 'intraday' });
    expect(p.valid_until).toBe(NOW + 30 * 86400);
    expect(p.payword!.w0).toBe(b64u.encode(paywordWord(bob.k, p.payword!.sub, 5, 0)));
    // The receipt carries a digest of the data, never the card number.
    expect(fromUtf8(b64u.decode(r.receipt!.payload))).not.toContain('4111');
  });
});

describe('SDDP (paper Fig. 3)', () => {
  it('delivers personalized data, encrypted and bound to the nonce', async () => {
    const d = await deliver(peer, alice, 'sddp', '/api/watchlist', { now: NOW + 10 });
    expect(d.status).toBe(200);
    expect(d.json).toEqual({ hello: alice.alias, path: '/api/watchlist' });
    expect(d.headers['content-encoding']).toBe('janus-gcm');
  });

  it('carries an encrypted request body', async () => {
    vendor.routes.push({ path: '/api/echo', methods: ['POST'], level: 'sddp' });
    const orig = vendor.app;
    (vendor as { app: typeof orig }).app = (_c, req) => ({ contentType: 'application/json', body: req.body });
    try {
      const d = await deliver(peer, alice, 'sddp', '/api/echo', { now: NOW, method: 'POST', body: utf8('{"add":"LU"}') });
      expect(d.json).toEqual({ add: 'LU' });
    } finally {
      (vendor as { app: typeof orig }).app = orig;
      vendor.routes.pop();
    }
  });
});

describe('bodiless answers (§6.3: 204, 205, 304 and HEAD carry their seal in Janus-Sealed)', () => {
  it('a 204 and a HEAD answer are sealed in the header, and that seal is checked like a body', async () => {
    vendor.routes.push({ path: '/api/nothing', methods: null, level: 'sddp' });
    const orig = vendor.app;
    (vendor as { app: typeof orig }).app = (_c, req) => (req.method === 'DELETE' ? { status: 204, contentType: 'text/plain', body: new Uint8Array(0) } : { contentType: 'application/json', body: utf8('{"x":1}') });
    try {
      const del = await deliveryRequest({ key: alice, level: 'sddp', method: 'DELETE', url: ORIGIN + '/api/nothing', now: NOW });
      const res = await peer(del.request);
      expect(res.status).toBe(204);
      expect(res.body.length).toBe(0);
      expect(res.headers[HEADER.sealed]).toMatch(/^[A-Za-z0-9_-]{38}$/);
      expect(await deliveryResponse(del.pending, 'sddp', res)).toMatchObject({ status: 204, body: new Uint8Array(0) });
      // The seal covers the status, and only a bodiless answer may carry it in the header.
      await expectCode(deliveryResponse(del.pending, 'sddp', { ...res, status: 205 }), 'bad_signature');
      await expectCode(deliveryResponse(del.pending, 'sddp', { ...res, status: 200 }), 'malformed');
      await expectCode(deliveryResponse(del.pending, 'sddp', { ...res, body: new Uint8Array(28) }), 'malformed');
      const { [HEADER.sealed]: seal, ...unsealed } = res.headers;
      await expectCode(deliveryResponse(del.pending, 'sddp', { ...res, headers: unsealed }), 'malformed');
      await expectCode(deliveryResponse(del.pending, 'sddp', { ...res, headers: { ...res.headers, [HEADER.sealed]: seal!.replace(/^./, (ch) => (ch === 'A' ? 'B' : 'A')) } }), 'bad_signature');
      // HEAD: the status is 200, the plaintext is not sent, the seal is over the empty plaintext.
      const head = await deliveryRequest({ key: alice, level: 'sddp', method: 'HEAD', url: ORIGIN + '/api/nothing', now: NOW });
      const hres = await peer(head.request);
      expect(hres.status).toBe(200);
      expect(hres.body.length).toBe(0);
      expect((await deliveryResponse(head.pending, 'sddp', hres)).body).toEqual(new Uint8Array(0));
      // A GET of the same route has its body, and no Janus-Sealed.
      const get = await deliver(peer, alice, 'sddp', '/api/nothing', { now: NOW });
      expect(get.json).toEqual({ x: 1 });
      expect(get.headers[HEADER.sealed]).toBeUndefined();
    } finally {
      (vendor as { app: typeof orig }).app = orig;
      vendor.routes.pop();
    }
  });
});

describe('EDDP (paper Fig. 4)', () => {
  it('needs a challenge, and each response piggybacks the next one', async () => {
    await expectCode(deliver(peer, alice, 'eddp', '/api/intraday/LU', { now: NOW, challenge: 'c1.AAAA' }), 'challenge_invalid');
    const c1 = await fetchChallenge(peer, alice, doc);
    const d1 = await deliver(peer, alice, 'eddp', '/api/intraday/LU', { now: NOW, challenge: c1 });
    expect(d1.json).toEqual({ hello: alice.alias, path: '/api/intraday/LU' });
    expect(d1.challenge).toMatch(/^c1\./);
    const d2 = await deliver(peer, alice, 'eddp', '/api/intraday/T', { now: NOW, challenge: d1.challenge! });
    expect(d2.status).toBe(200);
    // A challenge is usable once.
    await expectCode(deliver(peer, alice, 'eddp', '/api/intraday/T', { now: NOW, challenge: d1.challenge! }), 'replayed');
  });

  it('refuses a client not in good standing before any cryptography', async () => {
    const stranger = await sessionFor('mallory@example.org', 'x', ORIGIN);
    await expectCode(fetchChallenge(peer, stranger, doc), 'unknown_client');
  });
});

describe('subscription validity', () => {
  it('an expired subscription gets subscription_expired on EDDP and SDDP', async () => {
    const dave = await sessionFor('dave@example.org', 'dave secret', ORIGIN);
    await register(peer, dave, doc, { now: NOW, data: { months: 1 } });
    const later = NOW + 31 * 86400;
    vendor.now = later;
    try {
      await expectCode(fetchChallenge(peer, dave, doc), 'subscription_expired');
      await expectCode(deliver(peer, dave, 'sddp', '/api/watchlist', { now: later }), 'subscription_expired');
    } finally {
      vendor.now = NOW;
    }
  });
});

describe('PayWord acknowledgements (paper §5)', () => {
  it('delivers once per acknowledged word, proves i deliveries, and refuses bad acks', async () => {
    const erin = await sessionFor('erin@example.org', 'erin secret', ORIGIN);
    const r = await register(peer, erin, doc, { now: NOW, receipt: true, chain: 3, data: { plan: 'intraday', months: 1 } });
    const sub = r.payword!.sub;
    let c = await fetchChallenge(peer, erin, doc);
    const d1 = await deliver(peer, erin, 'eddp+receipts', '/api/paid/LU', { now: NOW, challenge: c });
    expect(d1.receipt).toEqual({ sub, i: 1, n: 3 });
    expect(d1.ackRequired).toBe(false);
    c = d1.challenge!;
    // Delivery 2 before acknowledging 1: a sealed 402 that names the delivery to acknowledge and
    // carries the next challenge (what a client on a fresh machine learns it from).
    const refused = await deliver(peer, erin, 'eddp+receipts', '/api/paid/LU', { now: NOW, challenge: c });
    expect(refused).toMatchObject({ status: 402, ackRequired: true, receipt: { sub, i: 1, n: 3 }, json: { error: { code: 'ack_required' } } });
    expect(vendor.records.get(erin.alias)!.chain!.delivered).toBe(1); // nothing was delivered
    c = refused.challenge!;
    // A wrong word.
    await expectCode(
      deliver(peer, erin, 'eddp+receipts', '/api/paid/LU', { now: NOW, challenge: c, ack: { sub, i: 1, w: new Uint8Array(32) } }),
      'bad_ack',
    );
    c = await fetchChallenge(peer, erin, doc);
    const w1 = paywordWord(erin.k, sub, 3, 1);
    const d2 = await deliver(peer, erin, 'eddp+receipts', '/api/paid/LU', { now: NOW, challenge: c, ack: { sub, i: 1, w: w1 } });
    expect(d2.receipt).toEqual({ sub, i: 2, n: 3 });
    // The explicit ack endpoint.
    const w2 = paywordWord(erin.k, sub, 3, 2);
    const res = await peer(ackRequest(erin.alias, ORIGIN + doc.ackPath, { sub, i: 2, w: w2 }));
    expect(res.status).toBe(200);
    expect(JSON.parse(fromUtf8(res.body))).toEqual({ sub, acked: 2 });
    // The same acknowledgement again is accepted and changes nothing (a client that lost the answer
    // sends it again, §11.2); an older one is replayed, and another word for i = a is bad_ack.
    const again = await peer(ackRequest(erin.alias, ORIGIN + doc.ackPath, { sub, i: 2, w: w2 }));
    expect(again.status).toBe(200);
    expect(JSON.parse(fromUtf8(again.body))).toEqual({ sub, acked: 2 });
    const older = await peer(ackRequest(erin.alias, ORIGIN + doc.ackPath, { sub, i: 1, w: w1 }));
    expect(older.headers['janus-error']).toBe('replayed');
    const other = await peer(ackRequest(erin.alias, ORIGIN + doc.ackPath, { sub, i: 2, w: new Uint8Array(32) }));
    expect(other.headers['janus-error']).toBe('bad_ack');
    // The vendor's proof: w_2 hashes to w_0 in two steps; a third party checks it.
    const chain = vendor.records.get(erin.alias)!.chain!;
    expect(chain.acked).toBe(2);
    expect(verifyWord(b64u.decode(chain.w0), 2, b64u.decode(chain.ackedW))).toBe(true);
    expect(verifyWord(b64u.decode(chain.w0), 3, b64u.decode(chain.ackedW))).toBe(false);
    const d3 = await deliver(peer, erin, 'eddp+receipts', '/api/paid/LU', { now: NOW, challenge: d2.challenge! });
    expect(d3.receipt).toEqual({ sub, i: 3, n: 3 });
    c = d3.challenge!;
    await expectCode(
      deliver(peer, erin, 'eddp+receipts', '/api/paid/LU', { now: NOW, challenge: c, ack: { sub, i: 3, w: paywordWord(erin.k, sub, 3, 3) } }),
      'chain_exhausted',
    );
  });
});

describe('slot credential (§10)', () => {
  it('verifies within the window only, and only for its own key and origin', () => {
    const cred = makeCredential(alice, ORIGIN, NOW);
    const p = parseCredential(cred.value, NOW + 300, 1);
    expect(p.alias).toBe(alice.alias);
    verifyCredential(p, alice.k, ORIGIN);
    expect(() => verifyCredential(p, alice.k, 'https://evil.example')).toThrowError(expect.objectContaining({ code: 'bad_credential' }));
    expect(() => parseCredential(cred.value, NOW + 600, 1)).toThrowError(expect.objectContaining({ code: 'slot_out_of_window' }));
    expect(() => parseCredential(cred.value.slice(0, -2), NOW, 1)).toThrowError(expect.objectContaining({ code: 'malformed' }));
  });
});

describe('key rotation and secret change (§13)', () => {
  it('moves a relationship to the next generation; the old key stops working', async () => {
    const frank = await sessionFor('frank@example.org', 'frank secret', ORIGIN);
    await register(peer, frank, doc, { now: NOW, data: { watchlist: ['IBM'] } });
    const next = await sessionFor('frank@example.org', 'frank secret', ORIGIN, 1);
    const { state, request } = await rotateStart({ old: frank, next, discovery: doc, now: NOW });
    const out = await rotateOnResponse(state, await peer(request));
    expect(out).toMatchObject({ alias: frank.alias, gen: 1 });
    await expectCode(deliver(peer, frank, 'sddp', '/api/watchlist', { now: NOW }), 'generation_mismatch');
    const ok = await deliver(peer, next, 'sddp', '/api/watchlist', { now: NOW });
    expect(ok.status).toBe(200);
    expect(vendor.records.get(frank.alias)!.data).toEqual({ watchlist: ['IBM'] });
  });

  it('moves a relationship to a new secret (new alias), keeping the subscription and issuing a new receipt and chain', async () => {
    const oldS = await sessionFor('grace@example.org', 'old secret', ORIGIN);
    const r = await register(peer, oldS, doc, { now: NOW, receipt: true, chain: 10, data: { plan: 'intraday', months: 1 } });
    const c = await fetchChallenge(peer, oldS, doc);
    await deliver(peer, oldS, 'eddp+receipts', '/api/paid/X', { now: NOW, challenge: c });
    const newS = await sessionFor('grace@example.org', 'new secret', ORIGIN);
    expect(newS.alias).not.toBe(oldS.alias);
    // §13: the rotation settles the old chain: it carries the acknowledgement of delivery 1.
    const ack = { sub: r.payword!.sub, i: 1, w: paywordWord(oldS.k, r.payword!.sub, 10, 1) };
    const { state, request } = await rotateStart({ old: oldS, next: newS, discovery: doc, now: NOW, remaining: 9, ack });
    const out = await rotateOnResponse(state, await peer(request));
    expect(out.alias).toBe(newS.alias);
    expect(out.receipt).not.toBeNull();
    const rec = vendor.records.get(newS.alias)!;
    expect(vendor.records.has(oldS.alias)).toBe(false);
    expect(rec.closedChains).toHaveLength(1);
    expect(rec.closedChains[0]).toMatchObject({ sub: r.payword!.sub, delivered: 1, acked: 1 });
    expect(rec.chain!.sub).not.toBe(r.payword!.sub);
    expect(rec.chain!.n).toBe(9);
    expect(rec.validUntil).toBe(NOW + 30 * 86400);
    await expectCode(fetchChallenge(peer, oldS, doc), 'unknown_client');
    const c2 = await fetchChallenge(peer, newS, doc);
    const d = await deliver(peer, newS, 'eddp+receipts', '/api/paid/X', { now: NOW, challenge: c2 });
    expect(d.receipt!.i).toBe(1);
  });
});
