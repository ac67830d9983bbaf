/**
 * Moving sites to new keys with the rotation message (docs/PROTOCOL.md §13): one site to its next
 * key generation, or every site to the keys of a new secret.
 *
 * A site moves atomically (the vendor replaces alias, key and generation in one commit, and its
 * answer under the new key proves it holds it), one site at a time. A site that cannot be reached
 * or refuses keeps its old key, so its account is never lost and always reachable with one of the
 * two secrets: it is marked `move` in the vendor list with the reason, and moved later (the next
 * unlock with either secret in this browser session, or the Finish button with the other secret).
 * Its open receipt chain is settled in the rotation itself (the delivery waiting is acknowledged in
 * the request) and the rest of the chain is committed again under the new key (§13).
 */
import { wipe } from '../crypto/bytes.ts';
import {
  nowSeconds,
  challengeRequest,
  deliveryRequest,
  deliveryResponse,
  isSealed,
  JanusError,
  readChallengeResponse,
  readErrorResponse,
  rotateOnResponse,
  rotateStart,
  routeFor,
  vendorAlias,
  type DeliveryLevel,
  type Discovery,
  type VendorSession,
} from '../protocol/index.ts';
import { vendorsItem } from '../shared-ext/storage.ts';
import type { MoveReport, MoveStep, PendingMove, PendingMoves, VendorEntry } from '../shared-ext/types.ts';
import { applyNotes, pendingAck } from './deliver.ts';
import { pinnedDiscovery } from './discovery.ts';
import { adoptOther, beginMove, chainFor, endMove, isUnlockedSecret, moveSessions, requireUnlocked, sessionFor, stretchFor, unlocked, whoseAlias } from './keys.ts';
import { send } from './net.ts';
import { vendorListChanged } from './pagescript.ts';

/** The reason a move did not happen, in words a user can act on. */
function pendingOf(e: unknown): PendingMove {
  if (e instanceof JanusError) {
    const reason = e.details?.['unauthenticated'] ? `the site refused: ${e.message} (${e.code})` : e.message;
    return { at: nowSeconds(), code: e.code, reason };
  }
  return { at: nowSeconds(), code: 'internal', reason: e instanceof Error ? e.message : String(e) };
}

/** Deliveries left on the entry's chain, as this machine knows it (the vendor checks the count, §13). */
function remaining(entry: VendorEntry): number {
  const c = entry.chain;
  if (!c) return 0;
  const delivered = entry.lastDelivery?.sub === c.sub ? entry.lastDelivery.i : 0;
  return Math.max(0, c.n - delivered);
}

/**
 * Whether the vendor already holds `next` (a rotation whose answer was lost): an authenticated
 * request under the new key to a plain SDDP or EDDP route, whose sealed answer proves it.
 */
async function answersTo(next: VendorSession, doc: Discovery): Promise<boolean> {
  const route = doc.routes.find((r) => (r.level === 'sddp' || r.level === 'eddp') && !r.path.endsWith('/*') && (r.methods === null || r.methods.includes('GET')));
  if (!route || routeFor(doc.routes, route.path, 'GET') !== route) return false;
  let challenge: string | undefined;
  if (route.level === 'eddp') {
    const cr = await send(challengeRequest(next.alias, next.idV + doc.challengePath));
    if (cr.status !== 200) return false;
    challenge = readChallengeResponse(cr).challenge;
  }
  const level = route.level as DeliveryLevel; // sddp or eddp, found above
  const { request, pending } = await deliveryRequest({ key: next, level, method: 'GET', url: next.idV + route.path, now: nowSeconds(), ...(challenge ? { challenge } : {}) });
  const res = await send(request);
  if (!isSealed(res)) return false;
  await deliveryResponse(pending, level, res);
  return true;
}

/**
 * Rotates one site from `from` to `to` (§13) and returns its entry as it is now. Throws a
 * JanusError when the site is unreachable or refuses; the site then still holds `from`.
 */
async function rotateOne(entry: VendorEntry, from: VendorSession, to: VendorSession): Promise<VendorEntry> {
  const idV = entry.origin;
  const doc = await pinnedDiscovery(idV, { fresh: true });
  // A rotation settles the open chain first (§13): the delivery waiting rides in the request.
  let ack = await pendingAck(idV, entry.gen, entry);
  let left = remaining(entry);
  for (let attempt = 0; ; attempt++) {
    const { state, request } = await rotateStart({ old: from, next: to, discovery: doc, now: nowSeconds(), ...(left > 0 ? { remaining: left } : {}), ...(ack ? { ack } : {}) });
    let res;
    try {
      res = await send(request);
    } catch (e) {
      // No answer: the rotation may or may not have happened. The new key tells.
      if (await answersTo(to, doc).catch(() => false)) return moved(entry, to, state.payword, null);
      throw e;
    }
    try {
      const out = await rotateOnResponse(state, res);
      return moved(entry, to, out.payword, out.receipt);
    } catch (e) {
      // The vendor's sealed word that a delivery this machine has not seen waits (another machine
      // received it): acknowledged once, under the rules of §11.3, and the rotation sent again.
      if (e instanceof JanusError && e.code === 'ack_required' && e.details?.['sealed'] === true && attempt === 0) {
        const sub = e.details['sub'];
        const i = e.details['pending'];
        const n = e.details['n'];
        if (typeof sub === 'string' && typeof i === 'number' && typeof n === 'number' && i >= 1 && i <= n) {
          const local = entry.chain?.sub === sub ? entry : undefined;
          if (!local || i <= local.lastAcked + 1) {
            ack = { sub, i, w: (await chainFor(idV, entry.gen, sub, n)).word(i) };
            left = n - i;
            continue;
          }
        }
      }
      // An unsigned refusal naming the old key (unknown_client, generation_mismatch) may mean an
      // earlier attempt moved it and its answer was lost: believed only when the new key answers.
      const err = e instanceof JanusError ? e : readErrorResponse(res);
      if (err && (err.code === 'unknown_client' || err.code === 'generation_mismatch') && (await answersTo(to, doc).catch(() => false))) {
        return moved(entry, to, state.payword, null);
      }
      throw e;
    }
  }
}

function moved(entry: VendorEntry, to: VendorSession, payword: { sub: string; n: number; w0: string } | null, receipt: unknown): VendorEntry {
  return {
    ...entry,
    alias: to.alias,
    gen: to.gen,
    // The rest of the chain, committed anew under the new key (§13), or none.
    chain: payword ? { sub: payword.sub, n: payword.n, w0: payword.w0 } : null,
    lastDelivery: null,
    lastAcked: 0,
    receipts: receipt ? [...entry.receipts, receipt] : entry.receipts,
    move: null,
  };
}

async function saveEntry(e: VendorEntry): Promise<void> {
  await vendorsItem.update((all) => ({ ...all, [e.origin]: e }));
}

/** Rotate one site's key to its next generation (its row's "New key"). */
export async function rotateGeneration(idV: string): Promise<VendorEntry> {
  applyNotes();
  const entry = (await vendorsItem.get())[idV];
  if (!entry) throw new JanusError('not_registered', `${idV} is not in your list`);
  if (entry.move) throw new JanusError('bad_input', 'this site is still waiting to move to your new secret: finish that first');
  const from = await sessionFor(idV, entry.gen);
  const to = { ...(await sessionFor(idV, entry.gen + 1)) };
  const next = await rotateOne(entry, from, to);
  await saveEntry(next);
  await vendorListChanged();
  return next;
}

/** Moves every site marked `move` (or every site when `all`), one by one, reporting each step. */
async function moveAll(onStep: (s: MoveStep) => void): Promise<MoveReport> {
  applyNotes();
  const report: MoveReport = { moved: [], pending: [] };
  for (const entry of Object.values(await vendorsItem.get())) {
    if (!entry.move) continue;
    const step = { origin: entry.origin, name: entry.name };
    onStep({ ...step, state: 'moving' });
    try {
      const { from, to } = await moveSessions(entry.origin, entry.gen);
      if (!from || !to) throw new JanusError('locked', 'both secrets are needed to move this site');
      const next = await rotateOne(entry, from, to);
      await saveEntry(next);
      report.moved.push(entry.origin);
      onStep({ ...step, state: 'moved' });
    } catch (e) {
      const move = pendingOf(e);
      await saveEntry({ ...((await vendorsItem.get())[entry.origin] ?? entry), move });
      report.pending.push({ origin: entry.origin, code: move.code, reason: move.reason });
      onStep({ ...step, state: 'pending', reason: move.reason, code: move.code });
    }
  }
  await vendorListChanged();
  // Every site moved: the previous secret is forgotten (it no longer opens any account).
  if (report.pending.length === 0) await endMove();
  return report;
}

/**
 * Change of secret (options page): `current` must be the secret the extension is unlocked with.
 * Every site in the list moves to the keys of `next` (same identity, generation 0).
 */
export async function changeSecret(current: string, next: string, onStep: (s: MoveStep) => void): Promise<MoveReport> {
  const u = await requireUnlocked();
  if (Object.values(await vendorsItem.peek()).some((e) => e.move)) throw new JanusError('bad_input', 'some sites still wait to move to your last new secret: finish that first');
  if (!(await isUnlockedSecret(current))) throw new JanusError('bad_input', 'the current secret is not the one Janus is unlocked with');
  if (next === current) throw new JanusError('bad_input', 'the new secret is the same as the current one');
  const nextMaster = await stretchFor(u.idC, next);
  try {
    await beginMove(nextMaster);
  } finally {
    wipe(nextMaster);
  }
  // Every site waits, until it has moved: a stop halfway (the browser closing) leaves the list true.
  await vendorsItem.update((all) => Object.fromEntries(Object.entries(all).map(([o, e]) => [o, { ...e, move: { at: nowSeconds(), code: 'waiting', reason: 'not moved yet' } }])));
  return moveAll(onStep);
}

/** The sites still waiting, and whether both secrets are at hand to move them now. */
export async function pendingMoves(): Promise<PendingMoves> {
  const entries = Object.values(await vendorsItem.peek()).filter((e): e is VendorEntry & { move: PendingMove } => !!e.move);
  const sites = entries.map((e) => ({ origin: e.origin, name: e.name, move: e.move }));
  if (entries.length === 0) return { sites, need: 'nothing' };
  if (!(await unlocked())) return { sites, need: 'unlock' };
  const first = entries[0]!;
  const { from, to } = await moveSessions(first.origin, first.gen);
  // A waiting site's alias is the previous secret's: whether the unlocked one is that or the new one.
  const need = from && to ? 'nothing' : (await whoseAlias(first.origin, first.alias)) === 'target' ? 'new' : 'previous';
  return { sites, need };
}

/**
 * Finishes the move of the sites still waiting. `other`: the other secret, when the extension
 * holds only one (after the browser was closed): the previous one if unlocked with the new, or the
 * new one if unlocked with the previous.
 */
export async function finishMoves(other: string | null, onStep: (s: MoveStep) => void): Promise<MoveReport> {
  const u = await requireUnlocked();
  const { sites, need } = await pendingMoves();
  if (sites.length === 0) {
    await endMove();
    return { moved: [], pending: [] };
  }
  if (need === 'unlock') throw new JanusError('locked');
  if (need !== 'nothing') {
    if (!other) throw new JanusError('bad_input', need === 'previous' ? 'type your previous secret to move the sites still waiting' : 'type your new secret to move the sites still waiting');
    const m = await stretchFor(u.idC, other);
    try {
      // Checked before it is taken: a waiting site's alias comes from the previous secret, a moved
      // site's from the new one. (With no site moved yet there is nothing to check a new secret
      // against: the options page asks for it twice.)
      const all = Object.values(await vendorsItem.peek());
      const probe = need === 'previous' ? all.find((e) => e.move) : all.find((e) => !e.move);
      if (probe && vendorAlias(m, u.idC, probe.origin) !== probe.alias) {
        throw new JanusError('bad_input', need === 'previous' ? 'that is not your previous secret' : 'that is not your new secret');
      }
      await adoptOther(m, need === 'new');
    } finally {
      wipe(m);
    }
  }
  return moveAll(onStep);
}
