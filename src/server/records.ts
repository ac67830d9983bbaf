/** ClientRecord <-> ClientRow, with the client key encrypted at rest (a copy of the database alone yields no key). */
import { concat, randomBytes, u32be, utf8 } from '../crypto/bytes.ts';
import { aesGcmSync } from '../crypto/sealed.ts';
import { JanusError } from '../errors.ts';
import type { ChainState, ClientRecord, JsonObject, Receipt } from '../protocol/index.ts';
import type { ClientRow } from './store.ts';

function aad(alias: string, gen: number): Uint8Array {
  return concat(utf8('janus/1 record key '), utf8(alias), u32be(gen));
}

function seal(rk: Uint8Array, iv: Uint8Array, pt: Uint8Array, ad: Uint8Array): Uint8Array {
  // The AAD binds the ciphertext to its row: a key copied to another alias does not decrypt.
  // Native AES-GCM where the provider has it (a vendor reading a client it has not cached decrypts here).
  return aesGcmSync.seal(rk, iv, pt, ad);
}

function encryptKey(rk: Uint8Array, alias: string, gen: number, k: Uint8Array): Uint8Array {
  const iv = randomBytes(12);
  return concat(iv, seal(rk, iv, k, aad(alias, gen)));
}

export function decryptKey(rk: Uint8Array, alias: string, gen: number, keyEnc: Uint8Array): Uint8Array {
  const k = keyEnc.length > 12 ? aesGcmSync.open(rk, keyEnc.subarray(0, 12), keyEnc.subarray(12), aad(alias, gen)) : null;
  // Wrong KEK, or a row tampered with: an operator problem, not the client's.
  if (!k) throw new JanusError('internal', `the stored key of ${alias} does not decrypt (wrong key-encryption key?)`);
  // A copy of its own: node:crypto's output is a view into a shared 8 KiB allocation slab, which a
  // cached key would keep alive.
  return k.slice();
}

export function toRow(rk: Uint8Array, r: ClientRecord, version: number): ClientRow {
  return {
    alias: r.alias,
    gen: r.gen,
    keyEnc: encryptKey(rk, r.alias, r.gen, r.k),
    data: JSON.stringify(r.data),
    chain: r.chain ? JSON.stringify(r.chain) : null,
    closedChains: JSON.stringify(r.closedChains),
    receipt: r.receipt ? JSON.stringify(r.receipt) : null,
    registeredAt: r.registeredAt,
    validFrom: r.validFrom,
    validUntil: r.validUntil,
    updatedAt: r.updatedAt,
    version,
  };
}

/** `k`, when given, is the already-decrypted key of this very row (a cache hit). */
export function fromRow(rk: Uint8Array, row: ClientRow, k?: Uint8Array): ClientRecord {
  return {
    alias: row.alias,
    gen: row.gen,
    k: k ?? decryptKey(rk, row.alias, row.gen, row.keyEnc),
    data: JSON.parse(row.data) as JsonObject,
    chain: row.chain ? (JSON.parse(row.chain) as ChainState) : null,
    closedChains: JSON.parse(row.closedChains) as ChainState[],
    receipt: row.receipt ? (JSON.parse(row.receipt) as Receipt) : null,
    registeredAt: row.registeredAt,
    validFrom: row.validFrom,
    validUntil: row.validUntil,
    updatedAt: row.updatedAt,
  };
}

/** What `inspect` shows: everything but the key. */
export function publicView(row: ClientRow): Record<string, unknown> {
  return {
    alias: row.alias,
    gen: row.gen,
    data: JSON.parse(row.data),
    registered_at: row.registeredAt,
    valid_from: row.validFrom,
    valid_until: row.validUntil,
    chain: row.chain ? JSON.parse(row.chain) : null,
    closed_chains: JSON.parse(row.closedChains),
    receipt: row.receipt ? JSON.parse(row.receipt) : null,
    updated_at: row.updatedAt,
    version: row.version,
  };
}
