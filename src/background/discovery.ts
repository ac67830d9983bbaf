/**
 * Discovery (docs/PROTOCOL.md §5): GET /.well-known/janus of an origin, parsed against the id_V the
 * extension computed, cached in memory for a few minutes; key pinning against the vendor list.
 */
import { checkPin, JanusError, parseDiscovery, WELL_KNOWN, type Discovery } from '../protocol/index.ts';
import { vendorsItem } from '../shared-ext/storage.ts';

const TTL_MS = 5 * 60_000;
const MISS_TTL_MS = 60_000;

type Cached = { at: number; doc: Discovery | null; error: JanusError | null };
const cache = new Map<string, Cached>();
const inflight = new Map<string, Promise<Cached>>();

async function load(idV: string): Promise<Cached> {
  let res: Response;
  try {
    res = await fetch(idV + WELL_KNOWN, { credentials: 'omit', cache: 'no-store', redirect: 'error' });
  } catch (e) {
    // Down or offline: not "no Janus site", and not remembered (the next look asks again).
    return { at: 0, doc: null, error: new JanusError('unreachable', `${idV} could not be reached (${e instanceof Error ? e.message : String(e)})`) };
  }
  try {
    if (!res.ok) return { at: Date.now(), doc: null, error: null };
    const bytes = new Uint8Array(await res.arrayBuffer());
    return { at: Date.now(), doc: parseDiscovery(bytes, idV), error: null };
  } catch (e) {
    // Not a Janus site (no document, network error) or a document we refuse (wrong origin, bad key).
    return { at: Date.now(), doc: null, error: e instanceof JanusError ? e : null };
  }
}

/** The vendor's discovery document, or null when the origin is not a Janus vendor. */
export async function discover(idV: string, opts: { fresh?: boolean } = {}): Promise<Cached> {
  const hit = cache.get(idV);
  if (!opts.fresh && hit && Date.now() - hit.at < (hit.doc ? TTL_MS : MISS_TTL_MS)) return hit;
  let p = inflight.get(idV);
  if (!p) {
    p = load(idV).finally(() => inflight.delete(idV));
    inflight.set(idV, p);
  }
  const got = await p;
  cache.set(idV, got);
  return got;
}

/** The document, checked against the pinned fingerprint: key_pin_mismatch when the key changed. */
export async function pinnedDiscovery(idV: string, opts: { fresh?: boolean } = {}): Promise<Discovery> {
  const { doc, error } = await discover(idV, opts);
  if (error) throw error;
  if (!doc) throw new JanusError('wrong_vendor', `${idV} is not a Janus site (no /.well-known/janus)`);
  const entry = (await vendorsItem.peek())[idV];
  checkPin(doc, entry?.fingerprint);
  return doc;
}

export function forgetDiscovery(idV?: string): void {
  if (idV) cache.delete(idV);
  else cache.clear();
}
