/**
 * The client's delivery policy for one protected request (docs/PROTOCOL.md §8, §9, §11.2, §11.3,
 * §14.2), as a state machine shaped like skepStart / skepOnResponse: it never does I/O and never
 * holds a key it was not given. Each step says what it needs next (the session for a key
 * generation, a PayWord word, an HTTP exchange); the caller supplies it and gets the next step,
 * until the outcome: the vendor's verified answer, or its refusal, and what to remember.
 *
 * The rules it applies, all from the spec:
 * - EDDP uses the challenge piggybacked on the previous answer when there is one (§9.2), else
 *   asks the challenge endpoint (§9.1);
 * - on an eddp+receipts route the last delivery received and not yet acknowledged is
 *   acknowledged in the request (§11.2);
 * - an unsealed refusal (§14.2) is a hint, never a stored change: it may cause a retry, once with
 *   the hinted higher generation (`generation_mismatch`), once with a fresh challenge
 *   (`challenge_invalid`, `replayed`, `conflict`);
 * - the vendor's sealed `ack_required` names the delivery waiting; it is acknowledged and the
 *   request sent again, once, only if it is at most one beyond the last one this client
 *   acknowledged, or if this client has no record of that chain (another machine received it,
 *   §11.3); otherwise the refusal stands;
 * - a sealed answer means the vendor recorded the request and its acknowledgement (§11.2).
 */
import { JanusError } from '../errors.ts';
import type { Headers_, HttpRequestMsg, HttpResponseMsg } from './http.ts';
import { readErrorResponse } from './http.ts';
import { vendorIdentity } from './identity.ts';
import type { VendorSession } from './janus.ts';
import type { Ack, ReceiptMark } from './payword.ts';
import { isSealed } from './secure.ts';
import { challengeRequest, deliveryRequest, deliveryResponse, readChallengeResponse, type Delivered, type DeliveryLevel } from './delivery.ts';

/** What the client keeps of its receipt chain with this vendor between requests. */
export interface ChainView {
  readonly sub: string;
  readonly n: number;
  /** The last delivery received on this chain (0: none). */
  readonly delivered: number;
  /** The last delivery acknowledged and known to be stored by the vendor (0: none). */
  readonly acked: number;
}

export interface ClientFetchInput {
  readonly level: DeliveryLevel;
  /** The key generation the client believes current. */
  readonly gen: number;
  /** The open chain as this client knows it, or null (none, or registered on another machine). */
  readonly chain: ChainView | null;
  /** A challenge piggybacked on the previous EDDP answer, usable once; null if none. */
  readonly challenge: string | null;
  /** The vendor's challenge endpoint, absolute (id_V + discovery's challenge_path). */
  readonly challengeUrl: string;
  readonly request: {
    readonly method: string;
    readonly url: string;
    readonly body?: Uint8Array;
    readonly contentType?: string;
    readonly headers?: Headers_;
  };
  readonly now: number;
}

/** What the machine needs next, or its outcome. */
export type ClientFetchStep =
  | { readonly need: 'key'; readonly gen: number }
  | { readonly need: 'word'; readonly sub: string; readonly n: number; readonly i: number }
  | { readonly need: 'exchange'; readonly request: HttpRequestMsg }
  | { readonly need: 'nothing'; readonly outcome: ClientFetchOutcome };

/** The answer to a step: the session for `key`, the word for `word`, the response for `exchange`. */
export type ClientFetchAnswer = { readonly key: VendorSession } | { readonly word: Uint8Array } | { readonly response: HttpResponseMsg };

export interface ClientFetchOutcome {
  /** The vendor's verified answer (a sealed error included: `delivered.error`), or null when refused. */
  readonly delivered: Delivered | null;
  /** The refusal: an unsealed error (§14.2), or a sealed `ack_required` this client will not answer. */
  readonly refused: { readonly error: JanusError; readonly response: HttpResponseMsg } | null;
  /** The generation the request ended on (a hinted one after a retry: remember it only if `delivered`). */
  readonly gen: number;
  /** The session of that generation. */
  readonly key: VendorSession | null;
  /** The chain as the client should now remember it (learned from a sealed mark when it had none). */
  readonly chain: ChainView | null;
  /** The chain was learned from the vendor's sealed mark (sub and n), not known here before. */
  readonly learned: boolean;
  /** A challenge for the next EDDP request (piggybacked on this answer), or null. */
  readonly challenge: string | null;
  /** The vendor's last response, as it came (its uncovered headers are not the vendor's word). */
  readonly response: HttpResponseMsg | null;
}

export interface ClientFetchState {
  readonly input: ClientFetchInput;
  readonly gen: number;
  readonly key: VendorSession | null;
  readonly chain: ChainView | null;
  readonly learned: boolean;
  readonly challenge: string | null;
  /** The acknowledgement going with the request being built or sent. */
  readonly ack: Ack | null;
  /** The retries used, one of each kind at most: a hinted generation, a fresh challenge, an acknowledgement asked for. */
  readonly retried: ReadonlySet<'generation' | 'challenge' | 'ack'>;
  /** What the machine waits for. */
  readonly waiting: 'key' | 'word' | 'challenge' | 'delivery';
  readonly pending: Awaited<ReturnType<typeof deliveryRequest>>['pending'] | null;
  /** Send the request without the acknowledgement the chain view calls for (see the `replayed` retry). */
  readonly skipAck: boolean;
  readonly response: HttpResponseMsg | null;
}

function retry(state: ClientFetchState, kind: 'generation' | 'challenge' | 'ack'): ReadonlySet<'generation' | 'challenge' | 'ack'> {
  return new Set([...state.retried, kind]);
}

type Next = { state: ClientFetchState; step: ClientFetchStep };

/** The delivery of `chain` waiting for its acknowledgement, if any (§11.2). */
function waitingAck(chain: ChainView | null): number {
  return chain && chain.delivered > chain.acked ? chain.delivered : 0;
}

export function clientFetchStart(input: ClientFetchInput): Next {
  const state: ClientFetchState = {
    input,
    gen: input.gen,
    key: null,
    chain: input.chain,
    learned: false,
    challenge: input.level === 'sddp' ? null : input.challenge,
    ack: null,
    retried: new Set(),
    waiting: 'key',
    pending: null,
    skipAck: false,
    response: null,
  };
  return { state, step: { need: 'key', gen: input.gen } };
}

/** Feeds the answer to the last step; returns the next one. Throws only for a caller's mistake or a vendor's malformed sealed answer. */
export async function clientFetchOn(state: ClientFetchState, answer: ClientFetchAnswer): Promise<Next> {
  switch (state.waiting) {
    case 'key': {
      if (!('key' in answer)) throw new JanusError('bad_input', 'this step needs the session of a key generation');
      if (answer.key.gen !== state.gen || answer.key.idV !== vendorIdentity(new URL(state.input.request.url))) {
        throw new JanusError('bad_input', `the session must be generation ${state.gen} of the request's origin`);
      }
      return afterKey({ ...state, key: answer.key });
    }
    case 'word': {
      if (!('word' in answer)) throw new JanusError('bad_input', 'this step needs a PayWord word');
      const c = state.chain!;
      return build({ ...state, ack: { sub: c.sub, i: waitingAck(c), w: answer.word } });
    }
    case 'challenge': {
      if (!('response' in answer)) throw new JanusError('bad_input', 'this step needs the challenge response');
      const res = answer.response;
      const err = isSealed(res) ? null : readErrorResponse(res);
      if (err) return done({ ...state, response: res }, null, { error: err, response: res });
      return afterChallenge({ ...state, challenge: readChallengeResponse(res).challenge });
    }
    case 'delivery': {
      if (!('response' in answer)) throw new JanusError('bad_input', 'this step needs the vendor’s response');
      return onDelivery(state, answer.response);
    }
  }
}

function afterKey(state: ClientFetchState): Next | Promise<Next> {
  if (state.input.level !== 'sddp' && !state.challenge) {
    const s = { ...state, waiting: 'challenge' as const };
    return { state: s, step: { need: 'exchange', request: challengeRequest(state.key!.alias, state.input.challengeUrl) } };
  }
  return afterChallenge(state);
}

function afterChallenge(state: ClientFetchState): Next | Promise<Next> {
  const i = state.input.level === 'eddp+receipts' && !state.skipAck ? waitingAck(state.chain) : 0;
  if (i > 0) {
    const c = state.chain!;
    return { state: { ...state, waiting: 'word' }, step: { need: 'word', sub: c.sub, n: c.n, i } };
  }
  return build({ ...state, ack: null });
}

async function build(state: ClientFetchState): Promise<Next> {
  const r = state.input.request;
  const { request, pending } = await deliveryRequest({
    key: state.key!,
    level: state.input.level,
    method: r.method,
    url: r.url,
    now: state.input.now,
    ...(r.body && r.body.length ? { body: r.body, contentType: r.contentType ?? 'application/octet-stream' } : {}),
    ...(r.headers ? { headers: r.headers } : {}),
    ...(state.challenge ? { challenge: state.challenge } : {}),
    ...(state.ack ? { ack: state.ack } : {}),
  });
  // The challenge is spent by this request, whatever the answer.
  return { state: { ...state, waiting: 'delivery', pending, challenge: null }, step: { need: 'exchange', request } };
}

/** The chain after the vendor stored `ack` (a sealed answer says it did). */
function ackStored(chain: ChainView | null, ack: Ack | null): ChainView | null {
  if (!chain || !ack || ack.sub !== chain.sub) return chain;
  return { ...chain, acked: Math.max(chain.acked, ack.i) };
}

async function onDelivery(prior: ClientFetchState, res: HttpResponseMsg): Promise<Next> {
  const state = { ...prior, response: res };
  const level = state.input.level;
  if (!isSealed(res)) {
    // §14.2: nothing was recorded; the error is a hint for at most one retry.
    const err = readErrorResponse(res) ?? new JanusError('malformed', `an unsealed ${res.status} answer without a Janus error`);
    const hinted = err.details?.['generation'];
    if (!state.retried.has('generation') && err.code === 'generation_mismatch' && typeof hinted === 'number' && Number.isSafeInteger(hinted) && hinted > state.gen) {
      const s: ClientFetchState = { ...state, retried: retry(state, 'generation'), gen: hinted, key: null, waiting: 'key', ack: null, pending: null };
      return { state: s, step: { need: 'key', gen: hinted } };
    }
    if (!state.retried.has('challenge') && level !== 'sddp' && (err.code === 'challenge_invalid' || err.code === 'replayed' || err.code === 'conflict')) {
      // A spent challenge, or another delivery at that moment. `replayed` may instead mean that
      // this acknowledgement is older than the vendor's: the retry goes without one, and the
      // vendor's sealed answer says what waits (then §11.3 decides).
      const s: ClientFetchState = { ...state, retried: retry(state, 'challenge'), challenge: null, ack: null, pending: null, skipAck: err.code === 'replayed' && state.ack !== null };
      return afterKey(s);
    }
    return done(state, null, { error: err, response: res });
  }
  const d = await deliveryResponse(state.pending!, level, res);
  let chain = ackStored(state.chain, state.ack);
  let learned = state.learned;
  const next = { ...state, challenge: d.challenge, pending: null };
  if (d.ackRequired) {
    const mark = d.receipt!;
    const local = chain?.sub === mark.sub ? chain : null;
    if (!state.retried.has('ack') && (!local || mark.i <= local.acked + 1)) {
      // §11.3: acknowledge the delivery the vendor names (learning the chain from its sealed mark
      // if this client has none), then send the request again.
      chain = local ? { ...local, delivered: Math.max(local.delivered, mark.i), acked: Math.min(local.acked, mark.i - 1) } : { sub: mark.sub, n: mark.n, delivered: mark.i, acked: mark.i - 1 };
      learned = learned || !local;
      return afterKey({ ...next, retried: retry(state, 'ack'), chain, learned, ack: null, skipAck: false });
    }
    const error = new JanusError('ack_required', 'the site says an earlier delivery is unacknowledged', { sub: mark.sub, pending: mark.i });
    return done({ ...next, chain: local ? { ...local, acked: Math.min(local.acked, mark.i - 1) } : chain, learned }, null, { error, response: res });
  }
  if (d.receipt) chain = received(chain, d.receipt);
  if (d.receipt && state.chain?.sub !== d.receipt.sub && chain?.sub === d.receipt.sub) learned = true;
  return done({ ...next, chain, learned }, d, null);
}

/** The chain after delivery `mark` arrived: learned from the mark when this client had another or none. */
function received(chain: ChainView | null, mark: ReceiptMark): ChainView {
  if (!chain || chain.sub !== mark.sub) return { sub: mark.sub, n: mark.n, delivered: mark.i, acked: 0 };
  return { ...chain, delivered: Math.max(chain.delivered, mark.i) };
}

function done(state: ClientFetchState, delivered: Delivered | null, refused: ClientFetchOutcome['refused']): Next {
  const outcome: ClientFetchOutcome = {
    delivered,
    refused,
    gen: state.gen,
    key: state.key,
    chain: state.chain,
    learned: state.learned,
    challenge: state.challenge,
    response: state.response,
  };
  return { state, step: { need: 'nothing', outcome } };
}

/**
 * Runs the machine with the caller's means: `key(gen)` derives a session, `word(sub, n, i)` a
 * PayWord word, `exchange(request)` sends an HTTP request. For callers with nothing to do between steps.
 */
export async function clientFetch(
  input: ClientFetchInput,
  means: {
    key: (gen: number) => Promise<VendorSession> | VendorSession;
    word: (sub: string, n: number, i: number, gen: number) => Promise<Uint8Array> | Uint8Array;
    exchange: (request: HttpRequestMsg) => Promise<HttpResponseMsg>;
  },
): Promise<ClientFetchOutcome> {
  let { state, step } = clientFetchStart(input);
  for (;;) {
    switch (step.need) {
      case 'nothing':
        return step.outcome;
      case 'key':
        ({ state, step } = await clientFetchOn(state, { key: await means.key(step.gen) }));
        break;
      case 'word':
        ({ state, step } = await clientFetchOn(state, { word: await means.word(step.sub, step.n, step.i, state.gen) }));
        break;
      case 'exchange':
        ({ state, step } = await clientFetchOn(state, { response: await means.exchange(step.request) }));
        break;
    }
  }
}
