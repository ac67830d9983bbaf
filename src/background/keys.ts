/**
 * Unlock state: the stretched master M and id_C (docs/PROTOCOL.md §3.3), in memory and in
 * storage.session (memory-only, survives a service-worker restart, cleared when the browser closes),
 * as base64url JSON. Never in storage.local. Vendor keys are derived from M when needed.
 *
 * Lock wins every race: each lock (and unlock) starts a new epoch, and whatever awaited across
 * one (a rehydration from storage.session, a derivation, a header-rule rebuild in dnr.ts) checks
 * the epoch after its await and drops what it got instead of bringing the keys back.
 */
import { b64u, wipe } from '../crypto/bytes.ts';
import { JANUS_ARGON2, type Argon2Params } from '../crypto/argon2.ts';
import { JanusError, stretchSecret, vendorSession, type VendorSession } from '../protocol/index.ts';
import { StorageItem } from '../shared-ext/storage.ts';
import { chainWords, type ChainWords } from './chains.ts';

interface Unlocked {
  idC: string;
  master: Uint8Array;
}

interface SessionForm {
  idC: string;
  master: string;
}

const sessionItem = new StorageItem<SessionForm | null>('unlocked', null, 'session');

let current: Unlocked | null = null;
/** Derived vendor sessions, memory only, dropped on lock. */
const sessions = new Map<string, VendorSession>();
/** PayWord words of the receipt chains in use (chains.ts), memory only, wiped on lock. */
const chains = new Map<string, ChainWords>();
/** Bumped by every lock and unlock: a value computed in an older epoch is never kept. */
let epoch = 0;

/** The current epoch: callers that await between reading keys and acting on them check it after. */
export function keyEpoch(): number {
  return epoch;
}

/** The Argon2id parameters: the real ones, unless a build flag (tests of the UI only) says otherwise. */
export function argon2Params(): Argon2Params {
  return JANUS_ARGON2;
}

export async function unlock(identity: string, secret: string, onProgress: (f: number) => void): Promise<string> {
  const started = ++epoch;
  const { idC, master } = await stretchSecret(identity, secret, { params: argon2Params(), onProgress });
  if (epoch !== started) {
    // Locked (or unlocked again) while Argon2id ran: this result is stale.
    wipe(master);
    throw new JanusError('locked', 'the extension was locked while unlocking');
  }
  lockMemory();
  current = { idC, master };
  await sessionItem.set({ idC, master: b64u.encode(master) });
  if (epoch !== started) {
    // A lock ran during the write: its remove() may have come first; make sure nothing stays.
    await sessionItem.remove();
    throw new JanusError('locked', 'the extension was locked while unlocking');
  }
  return idC;
}

/** The unlocked state, rehydrated lazily from storage.session after a worker restart. */
export async function unlocked(): Promise<Unlocked | null> {
  if (current) return current;
  const at = epoch;
  const s = await sessionItem.get();
  // A lock during the read must not be undone by what the read returned.
  if (!s || epoch !== at) return current;
  current = { idC: s.idC, master: b64u.decode(s.master) };
  return current;
}

export async function requireUnlocked(): Promise<Unlocked> {
  const u = await unlocked();
  if (!u) throw new JanusError('locked', 'the extension is locked: unlock it with your identity and secret');
  return u;
}

/** The key material for one vendor origin and generation (§3.4). */
export async function sessionFor(idV: string, gen: number): Promise<VendorSession> {
  const at = epoch;
  const u = await requireUnlocked();
  if (epoch !== at || current !== u) throw new JanusError('locked', 'the extension was locked');
  const id = `${gen} ${idV}`;
  let s = sessions.get(id);
  if (!s) {
    s = vendorSession(u.master, u.idC, idV, gen);
    sessions.set(id, s);
  }
  return s;
}

/** The words of receipt chain `sub` (length n) under this origin and generation's K (§11.1). */
export async function chainFor(idV: string, gen: number, sub: string, n: number): Promise<ChainWords> {
  const at = epoch;
  const s = await sessionFor(idV, gen);
  if (epoch !== at) throw new JanusError('locked', 'the extension was locked');
  const id = `${gen} ${idV} ${sub} ${n}`;
  let c = chains.get(id);
  if (!c) {
    c = chainWords(s.k, sub, n);
    chains.set(id, c);
  }
  return c;
}

function lockMemory(): void {
  for (const c of chains.values()) c.wipe();
  chains.clear();
  for (const s of sessions.values()) wipe(s.k);
  sessions.clear();
  if (current) wipe(current.master);
  current = null;
}

export async function lock(): Promise<void> {
  epoch++;
  lockMemory();
  await sessionItem.remove();
}
