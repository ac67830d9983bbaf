/**
 * Unlock state: the stretched master M and id_C (docs/PROTOCOL.md §3.3), in memory and in
 * storage.session (memory-only, survives a service-worker restart, cleared when the browser closes),
 * as base64url JSON. Never in storage.local. Vendor keys are derived from M when needed.
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

/** The Argon2id parameters: the real ones, unless a build flag (tests of the UI only) says otherwise. */
export function argon2Params(): Argon2Params {
  return JANUS_ARGON2;
}

export async function unlock(identity: string, secret: string, onProgress: (f: number) => void): Promise<string> {
  const { idC, master } = await stretchSecret(identity, secret, { params: argon2Params(), onProgress });
  lockMemory();
  current = { idC, master };
  await sessionItem.set({ idC, master: b64u.encode(master) });
  return idC;
}

/** The unlocked state, rehydrated lazily from storage.session after a worker restart. */
export async function unlocked(): Promise<Unlocked | null> {
  if (current) return current;
  const s = await sessionItem.get();
  if (!s) return null;
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
  const u = await requireUnlocked();
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
  const s = await sessionFor(idV, gen);
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
  lockMemory();
  await sessionItem.remove();
}
