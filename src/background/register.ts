/**
 * Registration (SKEP §7, non-repudiation SKEP §7.5, PayWord commitment §11.1). A page may only
 * propose: the user sees the proposed subscription data in extension UI and confirms it there.
 */
import { b64u, randomBytes } from '../crypto/bytes.ts';
import { JanusError, nowSeconds, skepOnResponse, skepStart, type HttpRequestMsg, type JsonObject, type SkepResult } from '../protocol/index.ts';
import { openExtensionWindow } from '../shared-ext/browser.ts';
import { redact } from '../shared-ext/describe.ts';
import { vendorsItem, StorageItem } from '../shared-ext/storage.ts';
import type { Proposal, RegisterResult, VendorEntry } from '../shared-ext/types.ts';
import { pinnedDiscovery } from './discovery.ts';
import { requireUnlocked, sessionFor } from './keys.ts';
import { vendorListChanged } from './pagescript.ts';
import { send } from './net.ts';

/**
 * Proposals waiting for the user (non-secret: what the page proposed), surviving a worker restart,
 * with the window that shows each. At most one per origin: a page cannot stack windows.
 */
const proposalsItem = new StorageItem<Record<string, Proposal & { windowId: number | null; tabId: number | null }>>('proposals', {}, 'session');
const waiting = new Map<string, { resolve: (r: RegisterResult) => void; reject: (e: unknown) => void }>();

function checkData(data: unknown): JsonObject {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) throw new JanusError('bad_input', 'subscription data must be an object');
  const json = JSON.stringify(data);
  if (json.length > 16 * 1024) throw new JanusError('too_large', 'subscription data exceeds 16 KiB');
  return JSON.parse(json) as JsonObject;
}

/**
 * The page's register(data, opts): shows the proposal to the user and waits for the decision.
 * Only right after a user gesture on the page (`userActivation`, read by the relay), and one at a
 * time per origin; closing the window declines.
 */
export async function proposeFromPage(
  idV: string,
  data: unknown,
  opts: { receipt?: unknown; chain?: unknown },
  userActivation: boolean,
): Promise<RegisterResult> {
  if (!userActivation) throw new JanusError('user_activation_required', 'janus.register() opens a window only right after the user clicked or typed on the page');
  await requireUnlocked();
  const chain = opts.chain === undefined || opts.chain === null ? null : Number(opts.chain);
  if (chain !== null && (!Number.isInteger(chain) || chain < 1 || chain > 100_000)) throw new JanusError('bad_input', 'chain must be 1..100000');
  const checked = checkData(data);
  const id = b64u.encode(randomBytes(12));
  // Claimed before any await that could let a second call in: one proposal per origin.
  await proposalsItem.update((all) => {
    if (Object.values(all).some((p) => p.origin === idV)) throw new JanusError('registration_pending', 'a registration proposal from this site is already waiting for you in its window');
    return { ...all, [id]: { id, origin: idV, name: null, data: checked, receipt: opts.receipt === true, chain, receiptPolicy: 'none', subscription: null, windowId: null, tabId: null } };
  });
  try {
    const doc = await pinnedDiscovery(idV, { fresh: true });
    const result = new Promise<RegisterResult>((resolve, reject) => waiting.set(id, { resolve, reject }));
    const shown = await openExtensionWindow(`src/popup/confirm.html?id=${encodeURIComponent(id)}`);
    await proposalsItem.update((all) => (all[id] ? { ...all, [id]: { ...all[id], name: doc.name, receiptPolicy: doc.receipt, subscription: doc.subscription, ...shown } } : all));
    return await result;
  } catch (e) {
    waiting.delete(id);
    await dropProposal(id);
    throw e;
  }
}

async function dropProposal(id: string): Promise<boolean> {
  let had = false;
  await proposalsItem.update((all) => {
    had = Object.hasOwn(all, id);
    const { [id]: _gone, ...rest } = all;
    return rest;
  });
  return had;
}

/** A confirmation window or tab closed: its open proposal is declined (the page's promise rejects). */
export async function onConfirmationClosed(where: { windowId?: number; tabId?: number }): Promise<void> {
  const open = Object.values(await proposalsItem.get()).filter(
    (p) => (where.windowId !== undefined && p.windowId === where.windowId) || (where.tabId !== undefined && p.tabId === where.tabId),
  );
  for (const p of open) {
    if (!(await dropProposal(p.id))) continue;
    const w = waiting.get(p.id);
    waiting.delete(p.id);
    w?.reject(new JanusError('user_declined', 'the confirmation window was closed'));
  }
}

export async function getProposal(id: string): Promise<Proposal> {
  const p = (await proposalsItem.get())[id];
  if (!p) throw new JanusError('bad_input', 'this registration request is no longer open');
  const { windowId: _w, tabId: _t, ...proposal } = p;
  return proposal;
}

/** The user's decision in the confirmation page. */
export async function decide(id: string, accept: boolean): Promise<RegisterResult | null> {
  const p = await getProposal(id);
  // Taken out first, so that a second click or the window's closing cannot decide it again.
  if (!(await dropProposal(id))) throw new JanusError('bad_input', 'this registration request is no longer open');
  const w = waiting.get(id);
  waiting.delete(id);
  if (!accept) {
    w?.reject(new JanusError('user_declined', 'the user declined the registration'));
    return null;
  }
  try {
    const r = await register(p.origin, p.data as JsonObject, { receipt: p.receipt, chain: p.chain });
    w?.resolve(r);
    return r;
  } catch (e) {
    w?.reject(e);
    throw e;
  }
}

/** The site's names for its subscription data (discovery `subscription.fields`: display only). */
export function labelsOf(doc: { subscription: Record<string, unknown> | null }): { labels?: Record<string, string> } {
  const f = doc.subscription?.['fields'];
  if (typeof f !== 'object' || f === null || Array.isArray(f)) return {};
  const labels = Object.fromEntries(Object.entries(f).filter((kv): kv is [string, string] => typeof kv[1] === 'string' && kv[1].length <= 100).slice(0, 50));
  return Object.keys(labels).length ? { labels } : {};
}

/** SKEP with the vendor at `idV`, then the vendor joins the list and the header rules. */
export async function register(idV: string, data: JsonObject, opts: { receipt: boolean; chain: number | null }): Promise<RegisterResult> {
  const doc = await pinnedDiscovery(idV, { fresh: true });
  const old = (await vendorsItem.get())[idV];
  const session = await sessionFor(idV, old?.gen ?? 0);
  const t = nowSeconds();
  const started = await skepStart({
    session,
    discovery: doc,
    data,
    now: t,
    receipt: opts.receipt,
    ...(opts.chain ? { chain: opts.chain } : {}),
  });
  let state = started.state;
  let request: HttpRequestMsg | undefined = started.request;
  for (let i = 0; i < 2 && request; i++) {
    const res = await send(request);
    const next = await skepOnResponse(state, res, t);
    state = next.state;
    request = next.request;
  }
  if (state.phase !== 'done') throw new JanusError('internal', 'SKEP did not finish');
  const r: SkepResult = state.result;
  const entry: VendorEntry = {
    origin: idV,
    alias: r.alias,
    gen: r.gen,
    fingerprint: r.fingerprint,
    spki: b64u.encode(doc.key.spki),
    ...labelsOf(doc),
    name: doc.name,
    registeredAt: r.registeredAt,
    validUntil: r.validUntil,
    subscription: redact(data),
    receipts: [...(old?.receipts ?? []), ...(r.receipt ? [r.receipt] : [])],
    chain: r.payword ? { sub: r.payword.sub, n: r.payword.n, w0: r.payword.w0 } : null,
    lastDelivery: null,
    lastAcked: 0,
  };
  await vendorsItem.update((all) => ({ ...all, [idV]: entry }));
  await vendorListChanged();
  return { alias: r.alias, gen: r.gen, registeredAt: r.registeredAt, validUntil: r.validUntil, receipt: r.receipt !== null };
}
