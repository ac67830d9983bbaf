/**
 * Unlock state: the stretched master M and id_C (docs/PROTOCOL.md §3.3), in memory and in
 * storage.session (memory-only, survives a service-worker restart, cleared when the browser closes),
 * as base64url JSON. Never in storage.local. Vendor keys are derived from M when needed.
 *
 * During a secret change (move.ts) there are two masters: the one of the secret the user unlocked
 * with, and the other (the new secret's, or the previous one's). Each vendor's key comes from the
 * master whose alias for that vendor is the alias in the vendor list, so sites already moved and
 * sites still waiting both work. Until every site has moved, each master is also kept sealed under
 * the other in storage.session (memory only): the next unlock with either secret, in this browser
 * session, recovers the other and finishes the move.
 *
 * Lock wins every race: each lock (and unlock) starts a new epoch, and whatever awaited across
 * one (a rehydration from storage.session, a derivation, a header-rule rebuild in dnr.ts) checks
 * the epoch after its await and drops what it got instead of bringing the keys back.
 */
import { gcm } from '@noble/ciphers/aes.js';
import { b64u, equalBytes, randomBytes, utf8, wipe } from '../crypto/bytes.ts';
import { JANUS_ARGON2, type Argon2Params } from '../crypto/argon2.ts';
import { hkdfSha256 } from '../crypto/hash.ts';
import { clearSlotKeys, JanusError, stretchSecret, vendorAlias, vendorSession, type VendorSession } from '../protocol/index.ts';
import { StorageItem, vendorsItem } from '../shared-ext/storage.ts';
import { chainWords, type ChainWords } from './chains.ts';

interface Unlocked {
  idC: string;
  master: Uint8Array;
  /** The other master of a secret change still under way, or null. */
  other: Uint8Array | null;
  /** Whether `other` is the new secret's (the change's target) rather than the previous one's. */
  otherIsTarget: boolean;
}

interface SessionForm {
  idC: string;
  master: string;
  other?: string;
  otherIsTarget?: boolean;
}

/** A master sealed under a key derived from the other one (secret change; memory only). */
interface Sealed {
  iv: string;
  box: string;
}
interface MovingForm {
  idC: string;
  /** The new secret's master sealed under the previous one's, and the previous under the new. */
  targetUnderPrevious: Sealed;
  previousUnderTarget: Sealed;
}

const sessionItem = new StorageItem<SessionForm | null>('unlocked', null, 'session');
const movingItem = new StorageItem<MovingForm | null>('moving', null, 'session');

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
function argon2Params(): Argon2Params {
  return JANUS_ARGON2;
}

/** The key that seals one master under another (extension-internal, never on the wire). */
function sealingKey(under: Uint8Array): Uint8Array {
  return hkdfSha256(under, new Uint8Array(0), utf8('janus/1 extension: master sealed during a secret change'), 32);
}

function sealMaster(master: Uint8Array, under: Uint8Array): Sealed {
  const iv = randomBytes(12);
  return { iv: b64u.encode(iv), box: b64u.encode(gcm(sealingKey(under), iv).encrypt(master)) };
}

function openMaster(s: Sealed, under: Uint8Array): Uint8Array | null {
  try {
    return gcm(sealingKey(under), b64u.decode(s.iv)).decrypt(b64u.decode(s.box));
  } catch {
    return null; // sealed under the other master
  }
}

/** Stretches a secret for the unlocked identity (Argon2id). */
export async function stretchFor(idC: string, secret: string, onProgress?: (f: number) => void): Promise<Uint8Array> {
  return (await stretchSecret(idC, secret, { params: argon2Params(), ...(onProgress ? { onProgress } : {}) })).master;
}

async function save(u: Unlocked): Promise<void> {
  await sessionItem.set({ idC: u.idC, master: b64u.encode(u.master), ...(u.other ? { other: b64u.encode(u.other), otherIsTarget: u.otherIsTarget } : {}) });
}

function movingForm(idC: string, target: Uint8Array, previous: Uint8Array): MovingForm {
  return { idC, targetUnderPrevious: sealMaster(target, previous), previousUnderTarget: sealMaster(previous, target) };
}

export async function unlock(identity: string, secret: string, onProgress: (f: number) => void): Promise<string> {
  const started = ++epoch;
  const { idC, master } = await stretchSecret(identity, secret, { params: argon2Params(), onProgress });
  if (epoch !== started) {
    // Locked (or unlocked again) while Argon2id ran: this result is stale.
    wipe(master);
    throw new JanusError('locked', 'the extension was locked while unlocking');
  }
  // A secret change of this identity still under way in this browser session: the other master.
  const moving = await movingItem.get();
  let other: Uint8Array | null = null;
  let otherIsTarget = false;
  if (moving && moving.idC === idC) {
    other = openMaster(moving.targetUnderPrevious, master);
    otherIsTarget = other !== null; // unlocked with the previous secret: the other is the new one
    other ??= openMaster(moving.previousUnderTarget, master);
  }
  lockMemory();
  current = { idC, master, other, otherIsTarget };
  await save(current);
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
  current = { idC: s.idC, master: b64u.decode(s.master), other: s.other ? b64u.decode(s.other) : null, otherIsTarget: s.otherIsTarget === true };
  return current;
}

export async function requireUnlocked(): Promise<Unlocked> {
  const u = await unlocked();
  if (!u) throw new JanusError('locked', 'the extension is locked: unlock it with your identity and secret');
  return u;
}

/** Whether `secret` is the secret of the master the extension is unlocked with (constant time). */
export async function isUnlockedSecret(secret: string): Promise<boolean> {
  const u = await requireUnlocked();
  const m = await stretchFor(u.idC, secret);
  try {
    return equalBytes(m, u.master);
  } finally {
    wipe(m);
  }
}

/**
 * Starts a secret change: `next` becomes the master (new registrations use it) and the unlocked one
 * becomes the other, kept until every site has moved (move.ts).
 */
export async function beginMove(next: Uint8Array): Promise<void> {
  const u = await requireUnlocked();
  if (u.other) throw new JanusError('bad_input', 'a change of secret is still under way: finish it first');
  const at = epoch;
  const previous = u.master;
  await movingItem.set(movingForm(u.idC, next, previous));
  if (epoch !== at || current !== u) throw new JanusError('locked', 'the extension was locked');
  dropDerived();
  current = { idC: u.idC, master: next.slice(), other: previous, otherIsTarget: false };
  await save(current);
}

/**
 * Takes `other` as the second master: the user typed the other secret to finish a move after the
 * browser forgot it. `otherIsTarget`: whether it is the new secret's.
 */
export async function adoptOther(other: Uint8Array, otherIsTarget: boolean): Promise<void> {
  const u = await requireUnlocked();
  if (equalBytes(other, u.master)) throw new JanusError('bad_input', 'that is the secret you unlocked with; type the other one');
  dropDerived();
  current = { ...u, other: other.slice(), otherIsTarget };
  await movingItem.set(otherIsTarget ? movingForm(u.idC, other, u.master) : movingForm(u.idC, u.master, other));
  await save(current);
}

/** Every site has moved: the new secret's master stays, the previous one is forgotten here and in storage.session. */
export async function endMove(): Promise<void> {
  const u = await requireUnlocked();
  await movingItem.remove();
  if (!u.other) return;
  const target = u.otherIsTarget ? u.other : u.master;
  const previous = u.otherIsTarget ? u.master : u.other;
  wipe(previous);
  dropDerived();
  current = { idC: u.idC, master: target, other: null, otherIsTarget: false };
  await save(current);
}

/**
 * Which master serves `idV`: the one whose alias there is the vendor list's; for a site not in the
 * list, the new secret's during a change (a registration made now must not need moving).
 */
async function masterFor(u: Unlocked, idV: string): Promise<Uint8Array> {
  if (!u.other) return u.master;
  const listed = (await vendorsItem.peek())[idV]?.alias;
  if (listed && vendorAlias(u.master, u.idC, idV) === listed) return u.master;
  if (listed && vendorAlias(u.other, u.idC, idV) === listed) return u.other;
  return u.otherIsTarget ? u.other : u.master;
}

/** The key material for one vendor origin and generation (§3.4), from the master that serves it. */
export async function sessionFor(idV: string, gen: number): Promise<VendorSession> {
  const at = epoch;
  const u = await requireUnlocked();
  const master = await masterFor(u, idV);
  if (epoch !== at || current !== u) throw new JanusError('locked', 'the extension was locked');
  const id = `${master === u.master ? 'm' : 'o'} ${gen} ${idV}`;
  let s = sessions.get(id);
  if (!s) {
    s = vendorSession(master, u.idC, idV, gen);
    sessions.set(id, s);
  }
  return s;
}

/**
 * For a secret change: the vendor's session under the previous secret's master and under the new
 * one's (at generation 0), or null when that master is not held (the user must type that secret).
 */
export async function moveSessions(idV: string, gen: number): Promise<{ from: VendorSession | null; to: VendorSession | null }> {
  const u = await requireUnlocked();
  const target = u.otherIsTarget ? u.other : u.master;
  const previous = u.otherIsTarget ? u.master : u.other;
  return {
    from: previous ? vendorSession(previous, u.idC, idV, gen) : null,
    to: target ? vendorSession(target, u.idC, idV, 0) : null,
  };
}

/** Which secret's master a vendor-list alias comes from: 'target' (the new or only one), 'previous', or null (neither held). */
export async function whoseAlias(idV: string, alias: string): Promise<'target' | 'previous' | null> {
  const u = await requireUnlocked();
  const target = u.otherIsTarget ? u.other! : u.master;
  const previous = u.other ? (u.otherIsTarget ? u.master : u.other) : null;
  if (vendorAlias(target, u.idC, idV) === alias) return 'target';
  if (previous && vendorAlias(previous, u.idC, idV) === alias) return 'previous';
  return null;
}

/** The words of receipt chain `sub` (length n) under this origin and generation's K (§11.1). */
export async function chainFor(idV: string, gen: number, sub: string, n: number): Promise<ChainWords> {
  const at = epoch;
  const s = await sessionFor(idV, gen);
  if (epoch !== at) throw new JanusError('locked', 'the extension was locked');
  const id = `${s.alias} ${gen} ${idV} ${sub} ${n}`; // the alias tells the two masters of a secret change apart
  let c = chains.get(id);
  if (!c) {
    c = chainWords(s.k, sub, n);
    chains.set(id, c);
  }
  return c;
}

/** Derived keys and words go (a master changed); the masters stay. */
function dropDerived(): void {
  for (const c of chains.values()) c.wipe();
  chains.clear();
  for (const s of sessions.values()) wipe(s.k);
  sessions.clear();
  clearSlotKeys(); // the slot keys derived from those K go with them
}

function lockMemory(): void {
  dropDerived();
  if (current) {
    wipe(current.master);
    if (current.other) wipe(current.other);
  }
  current = null;
}

export async function lock(): Promise<void> {
  epoch++;
  lockMemory();
  await sessionItem.remove();
}
