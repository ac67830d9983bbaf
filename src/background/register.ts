/**
 * Registration (SKEP §7, non-repudiation SKEP §7.5, PayWord commitment §11.1). A page may only
 * propose: the user sees the proposed subscription data in extension UI and confirms it there.
 */
import { b64u, randomBytes } from '../crypto/bytes.ts';
import { JanusError, skepOnResponse, skepStart, type HttpRequestMsg, type JsonObject, type SkepResult } from '../protocol/index.ts';
import { openExtensionWindow } from '../shared-ext/browser.ts';
import { vendorsItem, StorageItem } from '../shared-ext/storage.ts';
import type { Proposal, RegisterResult, VendorEntry } from '../shared-ext/types.ts';
import { pinnedDiscovery } from './discovery.ts';
import { refreshRules } from './dnr.ts';
import { requireUnlocked, sessionFor } from './keys.ts';
import { send } from './net.ts';

/** Proposals waiting for the user (non-secret: what the page proposed), surviving a worker restart. */
const proposalsItem = new StorageItem<Record<string, Proposal>>('proposals', {}, 'session');
const waiting = new Map<string, { resolve: (r: RegisterResult) => void; reject: (e: unknown) => void }>();

const now = () => Math.floor(Date.now() / 1000);

/** What is kept of data_C locally: everything but the card number (its last four digits stay). */
export function redact(data: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...data };
  const card = out['card'];
  if (card && typeof card === 'object') {
    const number = (card as Record<string, unknown>)['number'];
    out['card'] = { last4: typeof number === 'string' ? number.slice(-4) : null, exp: (card as Record<string, unknown>)['exp'] ?? null };
  }
  delete out['payword'];
  return out;
}

function checkData(data: unknown): JsonObject {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) throw new JanusError('bad_input', 'subscription data must be an object');
  const json = JSON.stringify(data);
  if (json.length > 16 * 1024) throw new JanusError('too_large', 'subscription data exceeds 16 KiB');
  return JSON.parse(json) as JsonObject;
}

/** The page's register(data, opts): shows the proposal to the user and waits for the decision. */
export async function proposeFromPage(idV: string, data: unknown, opts: { receipt?: unknown; chain?: unknown }): Promise<RegisterResult> {
  await requireUnlocked();
  const doc = await pinnedDiscovery(idV, { fresh: true });
  const chain = opts.chain === undefined || opts.chain === null ? null : Number(opts.chain);
  if (chain !== null && (!Number.isInteger(chain) || chain < 1 || chain > 100_000)) throw new JanusError('bad_input', 'chain must be 1..100000');
  const p: Proposal = {
    id: b64u.encode(randomBytes(12)),
    origin: idV,
    name: doc.name,
    data: checkData(data),
    receipt: opts.receipt === true,
    chain,
    receiptPolicy: doc.receipt,
    subscription: doc.subscription,
  };
  await proposalsItem.update((all) => ({ ...all, [p.id]: p }));
  const result = new Promise<RegisterResult>((resolve, reject) => waiting.set(p.id, { resolve, reject }));
  await openExtensionWindow(`src/popup/confirm.html?id=${encodeURIComponent(p.id)}`);
  return result;
}

export async function getProposal(id: string): Promise<Proposal> {
  const p = (await proposalsItem.get())[id];
  if (!p) throw new JanusError('bad_input', 'this registration request is no longer open');
  return p;
}

/** The user's decision in the confirmation page. */
export async function decide(id: string, accept: boolean): Promise<RegisterResult | null> {
  const p = await getProposal(id);
  await proposalsItem.update((all) => {
    const { [id]: _gone, ...rest } = all;
    return rest;
  });
  const w = waiting.get(id);
  waiting.delete(id);
  if (!accept) {
    w?.reject(new JanusError('bad_input', 'the user declined the registration'));
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

/** SKEP with the vendor at `idV`, then the vendor joins the list and the header rules. */
export async function register(idV: string, data: JsonObject, opts: { receipt: boolean; chain: number | null }): Promise<RegisterResult> {
  const doc = await pinnedDiscovery(idV, { fresh: true });
  const old = (await vendorsItem.get())[idV];
  const session = await sessionFor(idV, old?.gen ?? 0);
  const t = now();
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
  await refreshRules();
  return { alias: r.alias, gen: r.gen, registeredAt: r.registeredAt, validUntil: r.validUntil, receipt: r.receipt !== null };
}
