/** Client-side drivers over the protocol core, for tests: each runs one protocol against a peer. */
import { fromUtf8 } from '../../src/crypto/bytes.ts';
import {
  challengeRequest,
  clientFetch,
  JanusError,
  paywordWord,
  rotateOnResponse,
  rotateStart,
  deliveryRequest,
  deliveryResponse,
  parseDiscovery,
  readChallengeResponse,
  skepOnResponse,
  skepStart,
  stretchSecret,
  vendorSession,
  type Ack,
  type ClientFetchInput,
  type ClientFetchOutcome,
  type Delivered,
  type DeliveryLevel,
  type Discovery,
  type HttpRequestMsg,
  type HttpResponseMsg,
  type JsonObject,
  type PaywordCommitment,
  type Receipt,
  type SkepResult,
  type VendorSession,
} from '../../src/protocol/index.ts';
import { WELL_KNOWN } from '../../src/protocol/discovery.ts';

export type Peer = (req: HttpRequestMsg) => Promise<HttpResponseMsg>;

/** Small Argon2id parameters so protocol tests run fast; vectors also cover the real ones. */
export const FAST_ARGON2 = { m: 64, t: 1, p: 1 };

export async function sessionFor(identity: string, secret: string, idV: string, gen = 0): Promise<VendorSession> {
  const { idC, master } = await stretchSecret(identity, secret, { params: FAST_ARGON2 });
  return vendorSession(master, idC, idV, gen);
}

export async function discover(peer: Peer, idV: string): Promise<Discovery> {
  const res = await peer({ method: 'GET', url: idV + WELL_KNOWN, headers: {}, body: new Uint8Array(0) });
  return parseDiscovery(res.body, idV);
}

export async function register(
  peer: Peer,
  session: VendorSession,
  discovery: Discovery,
  opts: { data?: JsonObject; receipt?: boolean; chain?: number; now: number },
): Promise<SkepResult> {
  let { state, request } = await skepStart({
    session,
    discovery,
    data: opts.data ?? {},
    now: opts.now,
    ...(opts.receipt !== undefined ? { receipt: opts.receipt } : {}),
    ...(opts.chain !== undefined ? { chain: opts.chain } : {}),
  });
  for (let i = 0; i < 2; i++) {
    const res = await peer(request!);
    const next = await skepOnResponse(state, res, opts.now);
    state = next.state;
    request = next.request!;
  }
  if (state.phase !== 'done') throw new Error('SKEP did not finish');
  return state.result;
}

export async function fetchChallenge(peer: Peer, session: VendorSession, discovery: Discovery): Promise<string> {
  const res = await peer(challengeRequest(session.alias, session.idV + discovery.challengePath));
  if (res.status !== 200) {
    const { readErrorResponse } = await import('../../src/protocol/http.ts');
    throw readErrorResponse(res) ?? new Error(`status ${res.status}`);
  }
  return readChallengeResponse(res).challenge;
}

/**
 * One SDDP or EDDP exchange. A sealed error other than `ack_required` (the vendor recorded the
 * request, then refused it: §6.3, §11.2) is thrown as a JanusError with `details.sealed`; an
 * unsealed one as §14.2 says (`details.unauthenticated`).
 */
export async function deliver(
  peer: Peer,
  session: VendorSession,
  level: DeliveryLevel,
  path: string,
  opts: { now: number; challenge?: string; ack?: Ack; method?: string; body?: Uint8Array },
): Promise<Delivered & { json: unknown }> {
  const { request, pending } = await deliveryRequest({
    key: session,
    level,
    method: opts.method ?? 'GET',
    url: session.idV + path,
    now: opts.now,
    ...(opts.challenge ? { challenge: opts.challenge } : {}),
    ...(opts.ack ? { ack: opts.ack } : {}),
    ...(opts.body ? { body: opts.body, contentType: 'application/json' } : {}),
  });
  const res = await peer(request);
  const d = await deliveryResponse(pending, level, res);
  const json: unknown = d.body.length ? JSON.parse(fromUtf8(d.body)) : null;
  if (d.error && d.error !== 'ack_required') {
    const e = (json as { error?: Record<string, unknown> } | null)?.error ?? {};
    const { code: _c, message, ...details } = e;
    throw new JanusError(d.error, typeof message === 'string' ? message : undefined, { ...details, sealed: true, status: d.status, challenge: d.challenge });
  }
  return { ...d, json };
}

/** The acknowledgement of delivery `i` of the chain `c`, as the client derives it from its key (§11.1). */
export function ackFor(session: VendorSession, c: { sub: string; n: number }, i: number): Ack {
  return { sub: c.sub, i, w: paywordWord(session.k, c.sub, c.n, i) };
}

/**
 * A rotation (§13) from `old` to `next`. `remaining` is N - delivered of the open chain; `ack`
 * settles its delivery waiting. A sealed `ack_required` is thrown (details: sub, pending, n, sealed).
 */
export async function rotate(
  peer: Peer,
  old: VendorSession,
  next: VendorSession,
  discovery: Discovery,
  opts: { now: number; remaining?: number; ack?: Ack; sub?: string },
): Promise<{ alias: string; gen: number; receipt: Receipt | null; payword: PaywordCommitment | null }> {
  const { state, request } = await rotateStart({
    old,
    next,
    discovery,
    now: opts.now,
    ...(opts.remaining ? { remaining: opts.remaining } : {}),
    ...(opts.ack ? { ack: opts.ack } : {}),
    ...(opts.sub ? { fixed: { sub: opts.sub } } : {}),
  });
  return rotateOnResponse(state, await peer(request));
}

/**
 * A protected request as a client runs it: the delivery policy of src/protocol/client-fetch.ts
 * (challenges, acknowledgements, retries), with the keys of `key(gen)` and the words they give.
 */
export function protectedFetch(peer: Peer, key: (gen: number) => Promise<VendorSession> | VendorSession, input: ClientFetchInput): Promise<ClientFetchOutcome> {
  return clientFetch(input, {
    key,
    word: async (sub, n, i, gen) => paywordWord((await key(gen)).k, sub, n, i),
    exchange: peer,
  });
}
