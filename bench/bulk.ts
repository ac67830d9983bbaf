/**
 * A million registered clients without a million SKEPs (a module, not a script): client i's key K_i
 * and alias are derived from a seed (HMAC-SHA256), so the loader and the load generator agree on
 * them without passing a million keys around; each row is what a registration stores (`toRow`: the
 * key sealed under the vendor's record key, the data, the dates), written through the store's bulk
 * import (SqliteStore.importClients: 10 000-row transactions; PgStore.importClients: 5 000-row
 * INSERTs from arrays).
 */
import { createHmac } from 'node:crypto';
import { b64u } from '../src/crypto/bytes.ts';
import { nowSeconds, type ClientRecord } from '../src/protocol/index.ts';
import { resolveConfig, type VendorKeyMaterial } from '../src/server/config.ts';
import { openStore } from '../src/server/open-store.ts';
import { PgStore } from '../src/server/pg-store.ts';
import { toRow } from '../src/server/records.ts';
import { SqliteStore } from '../src/server/sqlite-store.ts';
import type { ClientRow } from '../src/server/store.ts';
import type { ClientKey } from './load.ts';

const hmac = (seed: Uint8Array, label: string, i: number) => createHmac('sha256', seed).update(`${label}${i}`).digest();

/** Client i of the seed: alias (16 bytes, b64u), generation 0, K (64 bytes). */
export function clientKey(seed: Uint8Array, i: number): ClientKey {
  const k = new Uint8Array(64);
  k.set(hmac(seed, 'k1:', i), 0);
  k.set(hmac(seed, 'k2:', i), 32);
  return { alias: b64u.encode(new Uint8Array(hmac(seed, 'alias:', i).subarray(0, 16))), gen: 0, k };
}

function* rows(rk: Uint8Array, seed: Uint8Array, from: number, to: number, now: number): Generator<ClientRow> {
  for (let i = from; i < to; i++) {
    const c = clientKey(seed, i);
    const record: ClientRecord = { alias: c.alias, gen: 0, k: c.k, data: {}, registeredAt: now, validFrom: now, validUntil: null, chain: null, closedChains: [], receipt: null, updatedAt: now };
    yield toRow(rk, record, 1);
  }
}

/**
 * Registers clients [from, to) of `seed` in the store at `location` (a SQLite path or a postgres://
 * URL) for the vendor with these keys. Returns the seconds it took.
 */
export async function fill(location: string, keys: VendorKeyMaterial, origin: string, seed: Uint8Array, from: number, to: number): Promise<number> {
  const { rk } = resolveConfig({ origin, keys });
  const store = await openStore(location);
  const t = performance.now();
  try {
    const now = nowSeconds();
    if (store instanceof SqliteStore) store.importClients(rows(rk, seed, from, to, now));
    else if (store instanceof PgStore) await store.importClients(rows(rk, seed, from, to, now));
    else throw new Error(`no bulk import for ${store.kind}`);
  } finally {
    await store.close();
  }
  return (performance.now() - t) / 1000;
}
