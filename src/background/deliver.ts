/**
 * Fetch interception, worker side: a page's request to a protected route (§5 routes) runs as SDDP
 * (§8) or EDDP (§9, with piggybacked challenges and PayWord acknowledgements, §11.2), and the
 * verified, decrypted answer goes back to the page. The origin is the sender frame's, never the page's word.
 */
import { b64u, utf8, wipe } from '../crypto/bytes.ts';
import {
  nowSeconds,
  ackRequest,
  challengeRequest,
  deliveryRequest,
  deliveryResponse,
  isSealed,
  JanusError,
  readChallengeResponse,
  readErrorResponse,
  routeFor,
  vendorIdentity,
  type Ack,
  type Discovery,
  type DeliveryLevel,
  type HttpResponseMsg,
  type ReceiptMark,
  type VendorSession,
} from '../protocol/index.ts';
import { vendorsItem, type Frozen } from '../shared-ext/storage.ts';
import type { VendorEntry, WireRequest, WireResponse } from '../shared-ext/types.ts';
import { decodeBody } from '../shared-ext/wire.ts';
import { pinnedDiscovery } from './discovery.ts';
import { vendorListChanged } from './pagescript.ts';
import { labelsOf } from './register.ts';
import { chainFor, sessionFor } from './keys.ts';
import { send } from './net.ts';

/** At most one unused EDDP challenge per vendor, in memory (§9.2). */
const challenges = new Map<string, string>();

export function forgetChallenges(): void {
  challenges.clear();
}

/** Unsigned error answers (§14.2) pass to the page as they came, with `unknown_client` said plainly. */
function errorToPage(res: HttpResponseMsg, err: JanusError): WireResponse {
  if (err.code === 'unknown_client') {
    const body = { error: { code: 'not_registered', message: 'not registered with this site, or unlocked with another identity or secret' } };
    return {
      status: 404,
      statusText: 'Not Registered',
      headers: [['content-type', 'application/json'], ['janus-error', 'not_registered']],
      body: utf8(JSON.stringify(body)),
    };
  }
  const keep = ['content-type', 'janus-error', 'retry-after'];
  return {
    status: res.status,
    statusText: '',
    headers: Object.entries(res.headers).filter(([k]) => keep.includes(k)),
    body: res.body,
  };
}

class VendorRefused extends Error {
  constructor(
    readonly res: HttpResponseMsg,
    readonly err: JanusError,
  ) {
    super(err.message);
  }
}

/** §11.2: the vendor's sealed 402: delivery `mark.i` waits for its acknowledgement; nothing was delivered. */
class AckRequired extends Error {
  constructor(
    readonly res: HttpResponseMsg,
    readonly s: VendorSession,
    readonly mark: ReceiptMark,
    /** The acknowledgement the refused request carried: the sealed answer says it was stored. */
    readonly acked: Ack | undefined,
  ) {
    super('ack_required');
  }
}

function unsignedError(res: HttpResponseMsg): JanusError | null {
  if (isSealed(res)) return null;
  return readErrorResponse(res);
}

async function challengeFor(s: VendorSession, doc: Discovery): Promise<string> {
  const cached = challenges.get(s.idV);
  if (cached) {
    challenges.delete(s.idV); // usable once
    return cached;
  }
  const res = await send(challengeRequest(s.alias, s.idV + doc.challengePath));
  const err = unsignedError(res);
  if (err) throw new VendorRefused(res, err);
  return readChallengeResponse(res).challenge;
}

/** §11.2: the acknowledgement of the last delivery received, piggybacked on the next request. */
export async function pendingAck(idV: string, gen: number, entry: Frozen<VendorEntry> | undefined): Promise<Ack | undefined> {
  const d = entry?.lastDelivery;
  const c = entry?.chain;
  if (!d || !c || d.sub !== c.sub || d.i <= (entry?.lastAcked ?? 0)) return undefined;
  const words = await chainFor(idV, gen, c.sub, c.n);
  return { sub: d.sub, i: d.i, w: words.word(d.i) };
}

async function once(
  idV: string,
  doc: Discovery,
  level: DeliveryLevel,
  gen: number,
  req: { url: string; method: string; body: Uint8Array | null; contentType: string | null; accept: string | null },
): Promise<{ s: VendorSession; out: WireResponse; acked: Ack | undefined; receipt: ReceiptMark | null }> {
  const s = await sessionFor(idV, gen);
  const challenge = level === 'sddp' ? undefined : await challengeFor(s, doc);
  applyNotes(); // a request that finished meanwhile may have noted the delivery to acknowledge
  const ack = level === 'eddp+receipts' ? await pendingAck(idV, gen, (await vendorsItem.peek())[idV]) : undefined;
  const { request, pending } = await deliveryRequest({
    key: s,
    level,
    method: req.method,
    url: req.url,
    now: nowSeconds(),
    ...(req.body && req.body.length ? { body: req.body, contentType: req.contentType ?? 'application/octet-stream' } : {}),
    ...(req.accept ? { headers: { accept: req.accept } } : {}),
    ...(challenge ? { challenge } : {}),
    ...(ack ? { ack } : {}),
  });
  const res = await send(request);
  const err = unsignedError(res);
  if (err) throw new VendorRefused(res, err);
  const d = await deliveryResponse(pending, level, res);
  if (d.challenge) challenges.set(idV, d.challenge);
  if (d.ackRequired) throw new AckRequired(res, s, d.receipt!, ack);
  const headers: [string, string][] = [['content-type', d.contentType]];
  // A sealed error (§6.3) is the vendor's word, refused after the request was recorded.
  if (d.error) headers.push(['janus-error', d.error]);
  if (res.headers['janus-receipt']) headers.push(['janus-receipt', res.headers['janus-receipt']]);
  for (const [k, v] of Object.entries(res.headers)) {
    if (k === 'cache-control' || k === 'date' || k === 'last-modified' || k === 'etag') headers.push([k, v]);
  }
  return { s, out: { status: d.status, statusText: '', headers, body: d.body }, acked: ack, receipt: d.receipt };
}

function requestBody(b: unknown): Uint8Array {
  if (b instanceof Uint8Array) return b; // Firefox: a structured clone
  try {
    if (typeof b !== 'string') throw new TypeError('not a string');
    return decodeBody(b);
  } catch {
    throw new JanusError('bad_input', 'the request body must be bytes or base64url');
  }
}

/**
 * Paid requests to one vendor, one at a time: each acknowledges the delivery before it (§11.2),
 * and the vendor refuses a second paid delivery to a client while one runs (409 conflict).
 */
const paidQueue = new Map<string, Promise<unknown>>();

function inTurn<T>(idV: string, run: () => Promise<T>): Promise<T> {
  const before = paidQueue.get(idV) ?? Promise.resolve();
  const mine = before.then(run, run);
  const tail = mine.catch(() => {});
  paidQueue.set(idV, tail);
  void tail.then(() => {
    if (paidQueue.get(idV) === tail) paidQueue.delete(idV);
  });
  return mine;
}

/** A page's fetch of a protected route on its own origin `idV`. */
export async function proxyFetch(idV: string, wire: WireRequest): Promise<WireResponse> {
  applyNotes();
  let target: URL;
  try {
    target = new URL(wire.url);
  } catch {
    throw new JanusError('bad_input', 'not a URL');
  }
  if (vendorIdentity(target) !== idV) throw new JanusError('origin_not_allowed', 'a page may use only its own origin’s key');
  const doc = await pinnedDiscovery(idV);
  const method = wire.method.toUpperCase();
  const route = routeFor(doc.routes, target.pathname, method);
  if (!route || route.level === 'credential') throw new JanusError('bad_input', `${target.pathname} is not a protected route`);
  const level = route.level as DeliveryLevel;
  const header = (name: string) => wire.headers.find(([k]) => k.toLowerCase() === name)?.[1] ?? null;
  const req = {
    url: target.href,
    method,
    body: wire.body ? requestBody(wire.body) : null,
    contentType: header('content-type'),
    accept: header('accept'),
  };
  return level === 'eddp+receipts' ? inTurn(idV, () => deliver(idV, doc, level, req)) : deliver(idV, doc, level, req);
}

type PageRequest = Parameters<typeof once>[4];

async function deliver(idV: string, doc: Discovery, level: DeliveryLevel, req: PageRequest): Promise<WireResponse> {
  let gen = (await vendorsItem.peek())[idV]?.gen ?? 0;
  let retried = false;
  for (;;) {
    try {
      const r = await once(idV, doc, level, gen, req);
      await remember(idV, doc, gen, r.s, r.acked, r.receipt);
      return r.out;
    } catch (e) {
      if (e instanceof AckRequired) {
        // §11.3: with a record of this chain, acknowledge at most one delivery beyond the last one
        // acknowledged here; without one (a fresh machine), trust the vendor's signed count. Once.
        const entry = (await vendorsItem.peek())[idV];
        const local = entry?.chain?.sub === e.mark.sub ? entry : undefined;
        if (!retried && (!local || e.mark.i <= local.lastAcked + 1)) {
          await remember(idV, doc, gen, e.s, e.acked, e.mark, { pending: true });
          applyNotes();
          retried = true;
          continue;
        }
        const err = new JanusError('ack_required', 'the site says an earlier delivery is unacknowledged', { sub: e.mark.sub, pending: e.mark.i });
        return {
          status: 402,
          statusText: 'Payment Required',
          headers: [['content-type', 'application/json'], ['janus-error', 'ack_required']],
          body: utf8(JSON.stringify(err.toJSON())),
        };
      }
      if (!(e instanceof VendorRefused)) throw e;
      const code = e.err.code;
      // §14.2: hints from an unauthenticated source may cause one retry, never a stored change.
      const hinted = e.err.details?.['generation'];
      if (!retried && code === 'generation_mismatch' && typeof hinted === 'number' && hinted > gen) {
        gen = hinted;
        retried = true;
        continue;
      }
      // conflict, unsealed: another paid delivery to this client ran at that moment (another
      // machine's), and nothing was recorded.
      if (!retried && (code === 'challenge_invalid' || code === 'replayed' || code === 'conflict') && level !== 'sddp') {
        challenges.delete(idV);
        retried = true;
        continue;
      }
      return errorToPage(e.res, e.err);
    }
  }
}

type Note = (all: Record<string, VendorEntry>) => Record<string, VendorEntry>;
/** Changes remember() noted and has not applied to the vendor list yet. */
const notes: Note[] = [];

/**
 * Applies the noted changes to the vendor list (in memory at once, storage.local right after).
 * Runs right after the page's answer is posted, and before anything here reads the list
 * (proxyFetch, acknowledge, and every message through dispatch), whichever comes first.
 */
export function applyNotes(): void {
  if (notes.length === 0) return;
  const batch = notes.splice(0);
  vendorsItem
    .update((all) => batch.reduce((acc, note) => note(acc), all))
    .catch((e: unknown) => console.warn('Janus: the vendor list could not be saved', e instanceof Error ? e.message : e));
}

/**
 * After a verified answer: the vendor holds our key, so a vendor missing from the list (a fresh
 * profile: mobility) is added, with its key pinned now; receipts and acknowledgements are noted.
 * A note on a known vendor is applied once the page has its answer (applyNotes): the page does
 * not wait for it, and the next request, which acknowledges this delivery, reads it applied.
 */
async function remember(
  idV: string,
  doc: Discovery,
  gen: number,
  s: VendorSession,
  acked: Ack | undefined,
  receipt: ReceiptMark | null,
  opts: { pending?: boolean } = {},
): Promise<void> {
  // The common SDDP answer changes nothing: nothing to note.
  const known = (await vendorsItem.peek())[idV];
  if (known && known.gen === gen && known.alias === s.alias && !acked && !receipt) return;
  // A chain this machine has no record of (mobility: registered elsewhere) is learned from the
  // vendor's signed mark: sub and N, and w0 computed here from K.
  let learned: VendorEntry['chain'] = null;
  if (receipt && known?.chain?.sub !== receipt.sub) {
    learned = { sub: receipt.sub, n: receipt.n, w0: b64u.encode((await chainFor(idV, gen, receipt.sub, receipt.n)).word(0)) };
  }
  const note: Note = (all) => {
    let e: VendorEntry = all[idV] ?? {
      origin: idV,
      alias: s.alias,
      gen,
      fingerprint: doc.key.fingerprint,
      spki: b64u.encode(doc.key.spki),
      ...labelsOf(doc),
      name: doc.name,
      registeredAt: null,
      validUntil: null,
      subscription: null,
      receipts: [],
      chain: null,
      lastDelivery: null,
      lastAcked: 0,
    };
    e = { ...e, gen, alias: s.alias };
    if (learned && e.chain?.sub !== learned.sub) e = { ...e, chain: learned, lastAcked: 0 };
    if (acked) e = { ...e, lastAcked: Math.max(e.lastAcked, acked.i) };
    if (receipt) e = { ...e, lastDelivery: { sub: receipt.sub, i: receipt.i } };
    // The vendor's signed word that delivery i still waits: acknowledged here or not, it is not there.
    if (receipt && opts.pending) e = { ...e, lastAcked: Math.min(e.lastAcked, receipt.i - 1) };
    return { ...all, [idV]: e };
  };
  if (!known || known.gen !== gen) {
    // Rare (a new vendor or generation): saved, and its header rule made, before the page goes on.
    applyNotes();
    await vendorsItem.update(note);
    await vendorListChanged();
    return;
  }
  notes.push(note);
  // A macrotask: it runs after the answer is posted (a chain of microtasks from here).
  setTimeout(() => {
    applyNotes();
    if (receipt) prepareAck(idV, gen, receipt);
  }, 0);
}

/** Walks the chain to the word that will acknowledge `receipt`, so the next request finds it ready. */
function prepareAck(idV: string, gen: number, receipt: ReceiptMark): void {
  void (async () => {
    const c = (await vendorsItem.peek())[idV]?.chain;
    if (!c || c.sub !== receipt.sub || receipt.i > c.n) return;
    wipe((await chainFor(idV, gen, c.sub, c.n)).word(receipt.i));
  })().catch(() => {});
}

/** janus.acknowledge({sub, i}): only the delivery the extension itself last received. */
export async function acknowledge(idV: string, which: { sub: string; i: number } | null): Promise<{ acked: number }> {
  applyNotes();
  const entry = (await vendorsItem.peek())[idV];
  if (!entry) throw new JanusError('not_registered');
  const d = entry.lastDelivery;
  const chain = entry.chain;
  if (!d || !chain || d.sub !== chain.sub) throw new JanusError('bad_input', 'no delivery to acknowledge');
  if (which && (which.sub !== d.sub || which.i !== d.i)) throw new JanusError('bad_input', 'only the last delivery received can be acknowledged');
  if (d.i <= entry.lastAcked) return { acked: entry.lastAcked };
  const doc = await pinnedDiscovery(idV);
  const s = await sessionFor(idV, entry.gen);
  const words = await chainFor(idV, entry.gen, chain.sub, chain.n);
  const ack: Ack = { sub: d.sub, i: d.i, w: words.word(d.i) };
  const res = await send(ackRequest(s.alias, idV + doc.ackPath, ack));
  if (res.status >= 400) throw readErrorResponse(res) ?? new JanusError('internal', `acknowledgement failed with status ${res.status}`);
  await vendorsItem.update((all) => (all[idV] ? { ...all, [idV]: { ...all[idV], lastAcked: Math.max(all[idV].lastAcked, d.i) } } : all));
  return { acked: d.i };
}
