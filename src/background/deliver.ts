/**
 * Fetch interception, worker side: a page's request to a protected route (§5 routes) runs as SDDP
 * (§8) or EDDP (§9, with piggybacked challenges and PayWord acknowledgements, §11.2), and the
 * verified, decrypted answer goes back to the page. The origin is the sender frame's, never the page's word.
 * The rules (challenges, acknowledgements, retries) are the protocol core's delivery policy
 * (src/protocol/client-fetch.ts); this file gives it the worker's keys, network and memory.
 */
import { b64u, utf8, wipe } from '../crypto/bytes.ts';
import {
  ackRequest,
  clientFetch,
  isSealed,
  JanusError,
  nowSeconds,
  readErrorResponse,
  routeFor,
  vendorIdentity,
  type Ack,
  type ChainView,
  type Delivered,
  type DeliveryLevel,
  type Discovery,
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

/** The chain as the delivery policy sees it (src/protocol/client-fetch.ts), from the vendor list's entry. */
function chainView(entry: Frozen<VendorEntry> | undefined): ChainView | null {
  const c = entry?.chain;
  if (!entry || !c) return null;
  return { sub: c.sub, n: c.n, delivered: entry.lastDelivery?.sub === c.sub ? entry.lastDelivery.i : 0, acked: entry.lastAcked };
}

/** §11.2: the acknowledgement of the last delivery received, if it waits for one (a rotation carries it, §13). */
export async function pendingAck(idV: string, gen: number, entry: Frozen<VendorEntry> | undefined): Promise<Ack | undefined> {
  const c = chainView(entry);
  if (!c || c.delivered <= c.acked) return undefined;
  const words = await chainFor(idV, gen, c.sub, c.n);
  return { sub: c.sub, i: c.delivered, w: words.word(c.delivered) };
}

/** The verified answer as the page gets it: the vendor's covered headers, and its caching headers. */
function toPage(d: Delivered, res: HttpResponseMsg): WireResponse {
  const headers: [string, string][] = [['content-type', d.contentType]];
  // A sealed error (§6.3) is the vendor's word, refused after the request was recorded.
  if (d.error) headers.push(['janus-error', d.error]);
  if (res.headers['janus-receipt']) headers.push(['janus-receipt', res.headers['janus-receipt']]);
  for (const [k, v] of Object.entries(res.headers)) {
    if (k === 'cache-control' || k === 'date' || k === 'last-modified' || k === 'etag') headers.push([k, v]);
  }
  return { status: d.status, statusText: '', headers, body: d.body };
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

interface PageRequest {
  url: string;
  method: string;
  body: Uint8Array | null;
  contentType: string | null;
  accept: string | null;
}

/** One request through the client's delivery policy (src/protocol/client-fetch.ts), with this worker's keys and network. */
async function deliver(idV: string, doc: Discovery, level: DeliveryLevel, req: PageRequest): Promise<WireResponse> {
  const entry = (await vendorsItem.peek())[idV];
  let challenge: string | null = null;
  if (level !== 'sddp') {
    challenge = challenges.get(idV) ?? null;
    challenges.delete(idV); // usable once
  }
  const outcome = await clientFetch(
    {
      level,
      gen: entry?.gen ?? 0,
      chain: chainView(entry),
      challenge,
      challengeUrl: idV + doc.challengePath,
      request: {
        method: req.method,
        url: req.url,
        ...(req.body && req.body.length ? { body: req.body, contentType: req.contentType ?? 'application/octet-stream' } : {}),
        ...(req.accept ? { headers: { accept: req.accept } } : {}),
      },
      now: nowSeconds(),
    },
    {
      key: (gen) => sessionFor(idV, gen),
      word: async (sub, n, i, gen) => (await chainFor(idV, gen, sub, n)).word(i),
      exchange: send,
    },
  );
  if (outcome.challenge) challenges.set(idV, outcome.challenge);
  // A sealed answer (a delivery, or the vendor's sealed refusal) is the vendor's word: remembered.
  if (outcome.key && outcome.response && isSealed(outcome.response)) await remember(idV, doc, outcome.gen, outcome.key, outcome.chain, outcome.delivered?.receipt ?? null);
  if (outcome.delivered) return toPage(outcome.delivered, outcome.response!);
  const { error, response } = outcome.refused!;
  if (error.code === 'ack_required' && isSealed(response)) {
    return {
      status: 402,
      statusText: 'Payment Required',
      headers: [['content-type', 'application/json'], ['janus-error', 'ack_required']],
      body: utf8(JSON.stringify(error.toJSON())),
    };
  }
  return errorToPage(response, error);
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
 * profile: mobility) is added, with its key pinned now; the chain as the delivery policy left it
 * (deliveries received, acknowledgements stored, a chain learned from the vendor's sealed mark) is
 * noted. A note on a known vendor is applied once the page has its answer (applyNotes): the page
 * does not wait for it, and the next request, which acknowledges this delivery, reads it applied.
 */
async function remember(idV: string, doc: Discovery, gen: number, s: VendorSession, chain: ChainView | null, receipt: ReceiptMark | null): Promise<void> {
  const known = (await vendorsItem.peek())[idV];
  const before = chainView(known);
  const same = (a: ChainView | null, b: ChainView | null) => (a === null ? b === null : b !== null && a.sub === b.sub && a.n === b.n && a.delivered === b.delivered && a.acked === b.acked);
  // The common SDDP answer changes nothing: nothing to note.
  if (known && known.gen === gen && known.alias === s.alias && (chain === null || same(chain, before))) return;
  // A chain this machine has no record of (mobility: registered elsewhere) is learned from the
  // vendor's signed mark: sub and N, and w0 computed here from K.
  let learned: VendorEntry['chain'] = null;
  if (chain && known?.chain?.sub !== chain.sub) {
    learned = { sub: chain.sub, n: chain.n, w0: b64u.encode((await chainFor(idV, gen, chain.sub, chain.n)).word(0)) };
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
    if (chain && (e.chain?.sub === chain.sub || learned)) {
      e = {
        ...e,
        chain: e.chain?.sub === chain.sub ? e.chain : learned,
        lastDelivery: chain.delivered > 0 ? { sub: chain.sub, i: chain.delivered } : e.lastDelivery,
        lastAcked: chain.acked,
      };
    }
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
