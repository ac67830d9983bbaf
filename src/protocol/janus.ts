/**
 * The Janus function (paper §2; docs/PROTOCOL.md §3): a stretched master per unlock, then an HKDF
 * PRF per vendor, so keys for other vendors say nothing about this one (modular security).
 */
import { argon2id, JANUS_ARGON2, type Argon2Params } from '../crypto/argon2.ts';
import { b64u, concat, lp, u32be, utf8 } from '../crypto/bytes.ts';
import { hkdfSha256, sha256 } from '../crypto/hash.ts';
import { JanusError } from '../errors.ts';
import { KEY_BYTES, LABEL } from './constants.ts';
import { canonicalClientId, canonicalSecret } from './identity.ts';

/** The shared key K = K^e || K^m for one vendor and generation (§3.4). */
export interface VendorKey {
  readonly k: Uint8Array;
  readonly gen: number;
}

/** §3.3: the salt is bound to id_C, so no precomputation covers every user, and nothing is stored. */
export function masterSalt(idC: string): Uint8Array {
  return sha256(concat(utf8(LABEL.argon2Salt), new Uint8Array([0]), utf8(idC)));
}

/**
 * §3.3: M = Argon2id(secret, salt(id_C)). `identity` and `secret` are canonicalized here.
 * `params` exists for tests and vectors; clients use JANUS_ARGON2.
 */
export async function stretchSecret(
  identity: string,
  secret: string,
  opts: { params?: Argon2Params; onProgress?: (fraction: number) => void } = {},
): Promise<{ idC: string; master: Uint8Array }> {
  const idC = canonicalClientId(identity);
  const password = canonicalSecret(secret);
  const master = await argon2id(password, masterSalt(idC), opts.params ?? JANUS_ARGON2, {
    dkLen: 32,
    ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
  });
  password.fill(0);
  return { idC, master };
}

function checkGen(gen: number): void {
  if (!Number.isSafeInteger(gen) || gen < 0 || gen > 0xffffffff) {
    throw new JanusError('bad_input', `generation must be a uint32, got ${gen}`);
  }
}

function checkMaster(master: Uint8Array): void {
  if (!(master instanceof Uint8Array) || master.length !== 32) throw new JanusError('bad_input', 'master must be 32 bytes');
}

/** §3.4: K = HKDF(M, "janus/1", "janus/1 vendor key" || lp(id_C) || lp(id_V) || u32(gen), 64). */
export function vendorKey(master: Uint8Array, idC: string, idV: string, gen: number): VendorKey {
  checkMaster(master);
  checkGen(gen);
  const info = concat(utf8(LABEL.vendorKey), lp(idC), lp(idV), u32be(gen));
  return { k: hkdfSha256(master, utf8(LABEL.hkdfSalt), info, KEY_BYTES), gen };
}

/** §3.4: the per-vendor pseudonym the vendor sees instead of id_C; independent of the generation. */
export function vendorAlias(master: Uint8Array, idC: string, idV: string): string {
  checkMaster(master);
  const info = concat(utf8(LABEL.alias), lp(idC), lp(idV));
  return b64u.encode(hkdfSha256(master, utf8(LABEL.hkdfSalt), info, 16));
}

/** Everything a client needs to talk to one vendor: derived in memory, never stored. */
export interface VendorSession {
  readonly idV: string;
  readonly alias: string;
  readonly gen: number;
  readonly k: Uint8Array;
}

export function vendorSession(master: Uint8Array, idC: string, idV: string, gen = 0): VendorSession {
  return { idV, alias: vendorAlias(master, idC, idV), gen, k: vendorKey(master, idC, idV, gen).k };
}

export const ALIAS_RE = /^[A-Za-z0-9_-]{22}$/;
