/**
 * The vendor's storage, behind one interface so that SQLite (one machine, the default) and
 * PostgreSQL (several vendor instances) fit it. Rows hold the client key encrypted under the record
 * key; the SDK encrypts and decrypts (records.ts), so every store gets that for free.
 */
import type { UseOnce } from '../protocol/index.ts';

/** A client record as stored: `keyEnc` = iv || AES-256-GCM(record key, K), never K itself. */
export interface ClientRow {
  alias: string;
  gen: number;
  keyEnc: Uint8Array;
  /** JSON texts. */
  data: string;
  chain: string | null;
  closedChains: string;
  receipt: string | null;
  registeredAt: number;
  validFrom: number;
  validUntil: number | null;
  updatedAt: number;
  /** Optimistic concurrency: bumped on every update. */
  version: number;
}

/**
 * One atomic change. Everything in it happens or nothing does:
 * - `useOnce`: insert each key unless an unexpired one exists (then `replayed`);
 * - `insert`: a new client (`already_registered` when the alias exists);
 * - `update`: replace the row whose version is `update.version - 1` (`conflict` otherwise);
 * - `rename`: delete `from` at `expectVersion` and insert `row` (`already_registered`, `conflict`);
 * - `expectKey`: the client key the decision was made with is still the client's: a row `alias`
 *   exists at generation `gen`, checked under the write lock (`unknown_client`,
 *   `generation_mismatch` otherwise). A store that caches rows must not answer it from a stale cache.
 */
export interface Commit {
  now: number;
  useOnce?: readonly UseOnce[];
  expectKey?: { alias: string; gen: number };
  insert?: ClientRow;
  update?: ClientRow;
  rename?: { from: string; expectVersion: number; row: ClientRow };
}

export interface Store {
  readonly kind: string;
  /**
   * The client row, or null. A store may serve it from a cache that lags other instances' writes
   * (never by more than its documented bound); with `fresh`, it is the row as committed when the
   * call started, for a decision made on the read alone (a slot credential, which commits nothing).
   */
  getClient(alias: string, opts?: { fresh?: boolean }): Promise<ClientRow | null>;
  commit(c: Commit): Promise<void>;
  /** Forgets expired one-time values; returns how many. */
  cleanup(now: number): Promise<number>;
  countClients(): Promise<number>;
  close(): Promise<void>;
}
