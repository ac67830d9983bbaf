/**
 * The default store: SQLite through better-sqlite3, created on first start with no set-up, WAL so
 * readers never wait for the writer, and every Commit in one transaction (all or nothing).
 *
 * The hot path (every SDDP and EDDP request) reads one client and records one nonce. Both are
 * served from memory, and the database stays the truth:
 * - one-time values are checked against an in-memory map and appended to the `replay` log
 *   (sequential inserts, no random B-tree page per nonce); the map is filled from the log on open;
 * - client rows are cached, and updated by this store's own commits;
 * - other connections to the same file (another process, the CLI, an app's own tables) are seen
 *   through `PRAGMA data_version`: inside every write transaction, so a replay check or a versioned
 *   update is never decided on stale data, and before a read at most every `readStalenessMs`
 *   (before every `fresh` read: the slot-credential check).
 *
 * Nothing slow runs on the request thread. SQLite checkpoints the WAL inside the COMMIT that makes
 * it pass 1000 pages, writing them back to the database and syncing it: 5-10 ms on this project's
 * machines, far more on a slow disk, for every request waiting in that turn. Once a store has made
 * 1000 write transactions a worker thread with its own connection runs PASSIVE checkpoints every
 * 100 ms instead (they never block the writer), and this connection's automatic checkpoint is
 * pushed out to 64 MiB of WAL as a safety net. Cleanup forgets expired values by expiry bucket
 * (no scan of the whole map) and deletes the log's expired head in chunks, yielding between them.
 */
import Database from 'better-sqlite3';
import { once } from 'node:events';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { Worker } from 'node:worker_threads';
import { JanusError } from '../errors.ts';
import { nowSeconds, type UseOnce } from '../protocol/index.ts';
import type { ClientRow, Commit, Store } from './store.ts';

const SCHEMA_VERSION = 3;
/** Rows per INSERT when one-time values are appended (statements are prepared per row count). */
const INSERT_ROWS = 32;
/** Write transactions after which checkpoints move to their own thread (SQLite's own threshold is 1000 pages). */
const CHECKPOINTER_AFTER = 1000;
const CHECKPOINT_EVERY_MS = 100;
/** This connection's own automatic checkpoint while the checkpointer runs: a safety net, in pages (64 MiB). */
const SAFETY_CHECKPOINT_PAGES = 16_384;
/** Seconds per expiry bucket of the in-memory replay map (cleanup visits only the expired buckets). */
const BUCKET_SECONDS = 64;
/** Map entries forgotten, or log rows deleted, per event-loop turn during cleanup. */
const CLEANUP_CHUNK = 8192;

/**
 * The checkpointer thread: its own connection to the file, a PASSIVE checkpoint every `everyMs`
 * (copies what the WAL holds back to the database without waiting for, or blocking, the writer;
 * the writer then starts the WAL over). CommonJS source, so that it runs wherever the store runs.
 */
const CHECKPOINTER = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.path, { fileMustExist: true });
db.pragma('busy_timeout = 50');
const run = () => { try { db.pragma('wal_checkpoint(PASSIVE)'); } catch {} };
const timer = setInterval(run, workerData.everyMs);
parentPort.on('message', (m) => { if (m === 'stop') { clearInterval(timer); db.close(); parentPort.close(); } });
`;

const MIGRATIONS: readonly string[] = [
  `CREATE TABLE clients (
     alias         TEXT PRIMARY KEY,
     gen           INTEGER NOT NULL,
     key_enc       BLOB NOT NULL,
     data          TEXT NOT NULL,
     chain         TEXT,
     closed_chains TEXT NOT NULL,
     receipt       TEXT,
     registered_at INTEGER NOT NULL,
     valid_from    INTEGER NOT NULL,
     valid_until   INTEGER,
     updated_at    INTEGER NOT NULL,
     version       INTEGER NOT NULL
   ) STRICT;
   CREATE TABLE used (key TEXT PRIMARY KEY, expires INTEGER NOT NULL) STRICT, WITHOUT ROWID;
   CREATE INDEX used_expires ON used (expires);`,
  // 2: one-time values as an append-only log, checked in memory (see above).
  `CREATE TABLE replay (seq INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL, expires INTEGER NOT NULL) STRICT;
   CREATE INDEX replay_expires ON replay (expires);
   INSERT INTO replay (key, expires) SELECT key, expires FROM used ORDER BY expires;
   DROP TABLE used;`,
  // 3: one page written per commit instead of three or four: no AUTOINCREMENT (whose sqlite_sequence
  // row is rewritten by every insert) and no index on expires. seq still only grows, because
  // cleanup never deletes the last row; cleanup deletes the prefix of the log before the first row
  // that has not expired (rows expire roughly in log order: within the acceptance window).
  `CREATE TABLE replay_v3 (seq INTEGER PRIMARY KEY, key TEXT NOT NULL, expires INTEGER NOT NULL) STRICT;
   INSERT INTO replay_v3 (seq, key, expires) SELECT seq, key, expires FROM replay;
   DROP TABLE replay;
   ALTER TABLE replay_v3 RENAME TO replay;`,
];

/** A row of the `clients` table as better-sqlite3 returns it. */
export interface SqliteClientRow {
  alias: string;
  gen: number;
  key_enc: Buffer;
  data: string;
  chain: string | null;
  closed_chains: string;
  receipt: string | null;
  registered_at: number;
  valid_from: number;
  valid_until: number | null;
  updated_at: number;
  version: number;
}

/** A `clients` row as the store's ClientRow (for tools that read the file themselves: tests, audits). */
export const toClient = (r: SqliteClientRow): ClientRow => ({
  alias: r.alias,
  gen: r.gen,
  keyEnc: new Uint8Array(r.key_enc),
  data: r.data,
  chain: r.chain,
  closedChains: r.closed_chains,
  receipt: r.receipt,
  registeredAt: r.registered_at,
  validFrom: r.valid_from,
  validUntil: r.valid_until,
  updatedAt: r.updated_at,
  version: r.version,
});

const params = (c: ClientRow) => ({
  alias: c.alias,
  gen: c.gen,
  key_enc: Buffer.from(c.keyEnc),
  data: c.data,
  chain: c.chain,
  closed_chains: c.closedChains,
  receipt: c.receipt,
  registered_at: c.registeredAt,
  valid_from: c.validFrom,
  valid_until: c.validUntil,
  updated_at: c.updatedAt,
  version: c.version,
});

export interface SqliteStoreOptions {
  /** Called inside every commit's transaction after its writes, before COMMIT (tests: crash injection). */
  beforeCommit?: (c: Commit) => void;
  /** How stale a client read may be with respect to another connection's writes (default 100 ms). */
  readStalenessMs?: number;
  /** Client rows kept in memory (default 100 000). */
  cacheSize?: number;
  /**
   * Bytes of the database file SQLite reads through a memory map (PRAGMA mmap_size; default 1 GiB,
   * 0 turns it off): a client not in the row cache is then read without a system call per page
   * (bench/scale.ts: a million clients).
   */
  mmapBytes?: number;
}

export class SqliteStore implements Store {
  readonly kind = 'sqlite';
  private readonly db: Database.Database;
  private readonly stmts;
  private readonly tx: (c: Commit) => void;
  private readonly batchTx: Database.Transaction<(cs: Commit[]) => (unknown | null)[]>;
  private pending: { c: Commit; resolve: () => void; reject: (e: unknown) => void }[] = [];
  /** One-time value -> expiry: every unexpired entry of the replay log. */
  private readonly used = new Map<string, number>();
  /** Expiry bucket (expires / BUCKET_SECONDS) -> the values set with an expiry in it (some since set again or forgotten). */
  private readonly buckets = new Map<number, string[]>();
  /**
   * Undo log of the write transaction running now (key, value before, ...): a transaction that rolls
   * back restores the map from it. Transactions run synchronously, one at a time.
   */
  private undo: (string | number | undefined)[] = [];
  private writes = 0;
  private checkpointer: { worker: Worker; exited: Promise<unknown> } | null = null;
  private cleaning: Promise<number> | null = null;
  /** The last replay-log row this map has seen. */
  private seq = 0;
  private readonly clients = new Map<string, ClientRow>();
  private dataVersion = 0;
  private syncedAt = 0;
  private readonly staleMs: number;
  private readonly cacheSize: number;
  /** INSERT statements for 1..INSERT_ROWS log rows, prepared when first needed. */
  private readonly appendStmts: Database.Statement<unknown[]>[] = [];

  constructor(readonly path: string, opts: SqliteStoreOptions = {}) {
    if (path !== ':memory:') {
      // Aliases, subscription data, receipts and the replay log are for the vendor's eyes only: a
      // new folder is 0700 and a new database 0600 (SQLite gives its -wal and -shm files the
      // database file's mode).
      mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
      closeSync(openSync(path, 'a', 0o600));
    }
    this.db = new Database(path);
    this.db.pragma('busy_timeout = 5000');
    // Switching a new file to WAL needs an exclusive lock, and SQLite does not wait for it (no busy
    // handler there): with several processes opening the file at once, it is tried again.
    for (const until = Date.now() + 5000; ; ) {
      try {
        this.db.pragma('journal_mode = WAL');
        break;
      } catch (e) {
        if ((e as { code?: unknown }).code !== 'SQLITE_BUSY' || Date.now() > until) throw e;
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5);
      }
    }
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('foreign_keys = ON');
    const mmap = opts.mmapBytes ?? 2 ** 30;
    if (!Number.isSafeInteger(mmap) || mmap < 0) throw new RangeError(`"mmapBytes" expected a non-negative integer, got ${mmap}`);
    this.db.pragma(`mmap_size = ${mmap}`);
    this.migrate();
    this.staleMs = opts.readStalenessMs ?? 100;
    this.cacheSize = opts.cacheSize ?? 100_000;
    const db = this.db;
    this.stmts = {
      get: db.prepare<[string], SqliteClientRow>('SELECT * FROM clients WHERE alias = ?'),
      insert: db.prepare(
        `INSERT INTO clients (alias, gen, key_enc, data, chain, closed_chains, receipt, registered_at, valid_from, valid_until, updated_at, version)
         VALUES (@alias, @gen, @key_enc, @data, @chain, @closed_chains, @receipt, @registered_at, @valid_from, @valid_until, @updated_at, @version)`,
      ),
      update: db.prepare(
        `UPDATE clients SET gen = @gen, key_enc = @key_enc, data = @data, chain = @chain, closed_chains = @closed_chains, receipt = @receipt,
           valid_from = @valid_from, valid_until = @valid_until, updated_at = @updated_at, version = @version
         WHERE alias = @alias AND version = @version - 1`,
      ),
      remove: db.prepare<[string, number]>('DELETE FROM clients WHERE alias = ? AND version = ?'),
      tail: db.prepare<[number, number], { seq: number; key: string; expires: number }>('SELECT seq, key, expires FROM replay WHERE seq > ? AND expires >= ? ORDER BY seq'),
      head: db.prepare<[number], { seq: number; expires: number }>('SELECT seq, expires FROM replay ORDER BY seq LIMIT ?'),
      maxSeq: db.prepare<[], number | null>('SELECT max(seq) FROM replay').pluck(),
      cleanup: db.prepare<[number]>('DELETE FROM replay WHERE seq < ?'),
      count: db.prepare<[], { n: number }>('SELECT count(*) AS n FROM clients'),
      gen: db.prepare<[string], number>('SELECT gen FROM clients WHERE alias = ?').pluck(),
      dataVersion: db.prepare<[], number>('PRAGMA data_version').pluck(),
    };
    const s = this.stmts;
    this.tx = db.transaction((c: Commit) => {
      // A failed commit must leave the in-memory state as the rolled-back database.
      const mark = this.undo.length;
      const seq = this.seq;
      try {
        if (c.expectKey) this.checkKey(c.expectKey);
        this.useAll(c.useOnce ?? [], c.now);
        if (c.insert) this.insertRow(c.insert);
        if (c.update && s.update.run(params(c.update)).changes === 0) {
          throw new JanusError('conflict', 'the client record changed meanwhile; retry');
        }
        if (c.rename) {
          if (s.remove.run(c.rename.from, c.rename.expectVersion).changes === 0) throw new JanusError('conflict', 'the client record changed meanwhile; retry');
          this.insertRow(c.rename.row);
        }
        opts.beforeCommit?.(c);
      } catch (e) {
        this.rollBack(mark);
        this.seq = seq; // the savepoint's rows are gone, and their numbers (max + 1) are handed out again
        throw e;
      }
    });
    const tx = this.tx;
    this.batchTx = db.transaction((cs: Commit[]) => {
      this.sync(); // inside the write lock: nobody else can append before COMMIT
      const rows: (string | number)[] = [];
      const results = cs.map((c) => {
        try {
          if (c.insert || c.update || c.rename) tx(c); // nested: a SAVEPOINT of its own
          else {
            if (c.expectKey) this.checkKey(c.expectKey);
            this.useAll(c.useOnce ?? [], c.now, rows); // all checked before the first write: no savepoint needed
          }
          return null;
        } catch (e) {
          return e;
        }
      });
      this.append(rows); // the batch's one-time values in as few statements as possible
      return results;
    });
    // Fill the map from the log (everything not yet expired); later rows arrive through sync().
    db.transaction(() => {
      this.dataVersion = s.dataVersion.get()!;
      this.tail(nowSeconds());
    })();
    this.syncedAt = Date.now();
  }

  /**
   * One-time values, inside a write transaction: every one checked in memory first, then recorded.
   * They are appended to the log now, or, with `later`, pushed onto it (key, expires, ...) for the
   * caller to append before COMMIT.
   */
  private useAll(us: readonly UseOnce[], now: number, later?: (string | number)[]): void {
    for (let i = 0; i < us.length; i++) {
      const was = this.used.get(us[i]!.key);
      if ((was !== undefined && was >= now) || us.findIndex((u) => u.key === us[i]!.key) !== i) throw new JanusError('replayed');
    }
    const rows = later ?? [];
    for (const u of us) {
      this.undo.push(u.key, this.used.get(u.key));
      this.remember1(u.key, u.expires);
      rows.push(u.key, u.expires);
    }
    if (!later) this.append(rows);
  }

  /** Records one value in the map and its expiry bucket. */
  private remember1(key: string, expires: number): void {
    this.used.set(key, expires);
    const b = Math.floor(expires / BUCKET_SECONDS);
    const list = this.buckets.get(b);
    if (list) list.push(key);
    else this.buckets.set(b, [key]);
  }

  /** Undoes the map back to undo-log position `mark` (a rolled-back transaction or savepoint). */
  private rollBack(mark: number): void {
    const u = this.undo;
    for (let i = u.length - 2; i >= mark; i -= 2) {
      const k = u[i] as string;
      const was = u[i + 1] as number | undefined;
      if (was === undefined) this.used.delete(k);
      else this.used.set(k, was);
    }
    u.length = mark;
  }

  /**
   * Commit.expectKey, inside the write transaction after sync(): the cache then holds only rows as
   * committed (sync() drops it when another connection wrote), so a cached row answers; else the table.
   */
  private checkKey(e: { alias: string; gen: number }): void {
    const gen = this.clients.get(e.alias)?.gen ?? this.stmts.gen.get(e.alias);
    if (gen === undefined) throw new JanusError('unknown_client', 'the client was moved to another key meanwhile');
    if (gen !== e.gen) throw new JanusError('generation_mismatch', undefined, { generation: gen });
  }

  /** Appends (key, expires, ...) to the log: one INSERT of up to 32 rows per statement run, not one per row. */
  private append(flat: readonly (string | number)[]): void {
    for (let i = 0; i < flat.length; ) {
      const n = Math.min(INSERT_ROWS, (flat.length - i) / 2);
      let stmt = this.appendStmts[n];
      if (!stmt) stmt = this.appendStmts[n] = this.db.prepare(`INSERT INTO replay (key, expires) VALUES ${new Array(n).fill('(?, ?)').join(', ')}`);
      this.seq = Number(stmt.run(i === 0 && 2 * n === flat.length ? flat : flat.slice(i, i + 2 * n)).lastInsertRowid);
      i += 2 * n;
    }
  }

  /** Reads what other connections committed since the last look (`PRAGMA data_version` says whether any did). */
  private sync(): void {
    const v = this.stmts.dataVersion.get()!;
    this.syncedAt = Date.now();
    if (v === this.dataVersion) return;
    this.dataVersion = v;
    this.clients.clear();
    this.tail(0);
  }

  private tail(minExpires: number): void {
    for (const r of this.stmts.tail.iterate(this.seq, minExpires)) {
      const was = this.used.get(r.key);
      if (was === undefined || r.expires > was) this.remember1(r.key, r.expires);
      this.seq = r.seq;
    }
  }

  private remember(row: ClientRow): void {
    if (this.clients.size >= this.cacheSize) this.clients.delete(this.clients.keys().next().value!);
    this.clients.set(row.alias, row);
  }

  /**
   * Group commit for the hot path: a commit that records one-time values and at most updates a
   * client (every SDDP and EDDP request; the delivery count of eddp+receipts) joins the others that
   * arrive in the same event-loop turn, and all of them run in one SQLite transaction. One with an
   * update runs in its own SAVEPOINT (better-sqlite3 nests transactions that way), so each commit
   * still succeeds or fails alone. The caller's promise resolves only after COMMIT.
   */
  private flush(): void {
    const batch = this.pending;
    this.pending = [];
    const seq = this.seq;
    this.undo.length = 0;
    let results: (unknown | null)[];
    const commits = new Array<Commit>(batch.length);
    for (let i = 0; i < batch.length; i++) commits[i] = batch[i]!.c;
    try {
      // IMMEDIATE: the write lock is taken before sync() reads, so nobody appends in between (a
      // deferred transaction that read first could not upgrade after another connection's write).
      results = this.batchTx.immediate(commits);
    } catch (e) {
      // The whole transaction rolled back: undo the map, and read the log again at the next look.
      this.rollBack(0);
      this.seq = seq;
      this.dataVersion = -1;
      for (const p of batch) p.reject(e);
      return;
    }
    this.undo.length = 0;
    this.wrote();
    for (let i = 0; i < batch.length; i++) {
      const p = batch[i]!;
      if (results[i] !== null) p.reject(results[i]);
      else {
        if (p.c.update) this.remember(p.c.update); // committed: the cache follows
        p.resolve();
      }
    }
  }

  /** Counts a committed write transaction; the one that reaches CHECKPOINTER_AFTER starts the checkpointer. */
  private wrote(): void {
    if (++this.writes !== CHECKPOINTER_AFTER || this.path === ':memory:' || this.path === '') return;
    try {
      const worker = new Worker(CHECKPOINTER, { eval: true, workerData: { driver: createRequire(import.meta.url).resolve('better-sqlite3'), path: this.path, everyMs: CHECKPOINT_EVERY_MS } });
      worker.unref();
      const c = { worker, exited: once(worker, 'exit').catch(() => undefined) };
      // Should the thread stop, SQLite checkpoints on this connection again, as it did before.
      const lost = () => {
        if (this.checkpointer !== c) return;
        this.checkpointer = null;
        if (this.db.open) this.db.pragma('wal_autocheckpoint = 1000');
      };
      worker.once('error', lost);
      worker.once('exit', lost);
      this.checkpointer = c;
      this.db.pragma(`wal_autocheckpoint = ${SAFETY_CHECKPOINT_PAGES}`);
    } catch {
      // No worker threads here: SQLite keeps checkpointing on this connection.
    }
  }

  private insertRow(row: ClientRow): void {
    try {
      this.stmts.insert.run(params(row));
    } catch (e) {
      if ((e as { code?: string }).code?.startsWith('SQLITE_CONSTRAINT')) throw new JanusError('already_registered');
      throw e;
    }
  }

  private migrate(): void {
    // Each step reads the version inside an IMMEDIATE transaction: processes opening a new
    // file at once would otherwise both see version 0 and both create the tables.
    for (;;) {
      const done = this.db.transaction(() => {
        const v = this.db.pragma('user_version', { simple: true }) as number;
        if (v > SCHEMA_VERSION) throw new Error(`database ${this.path} has schema ${v}, newer than this SDK (${SCHEMA_VERSION})`);
        if (v === SCHEMA_VERSION) return true;
        this.db.exec(MIGRATIONS[v]!);
        this.db.pragma(`user_version = ${v + 1}`);
        return false;
      }).immediate();
      if (done) return;
    }
  }

  async getClient(alias: string, opts?: { fresh?: boolean }): Promise<ClientRow | null> {
    // Fresh: look at other connections' writes now (one PRAGMA data_version when there were none).
    if (opts?.fresh || Date.now() - this.syncedAt >= this.staleMs) this.sync();
    const hit = this.clients.get(alias);
    if (hit) return hit;
    const r = this.stmts.get.get(alias);
    if (!r) return null; // unknown aliases are not cached: anyone can send them
    const row = toClient(r);
    this.remember(row);
    return row;
  }

  async commit(c: Commit): Promise<void> {
    if (c.insert || c.rename) {
      const seq = this.seq;
      this.undo.length = 0;
      try {
        this.db.transaction(() => {
          this.sync();
          this.tx(c);
        }).immediate();
      } catch (e) {
        // Rolled back: undo the map, and read the log again (from before this commit) at the next look.
        this.rollBack(0);
        this.seq = seq;
        this.dataVersion = -1;
        throw e;
      }
      this.undo.length = 0;
      this.wrote();
      // Committed: the cache follows.
      if (c.rename) this.clients.delete(c.rename.from);
      for (const row of [c.insert, c.update, c.rename?.row]) if (row) this.remember(row);
      return;
    }
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ c, resolve, reject });
      if (this.pending.length === 1) setImmediate(() => this.flush());
    });
  }

  /**
   * Forgets expired one-time values, bucket by expired bucket, and deletes the log's expired head
   * (schema 3 above; a value used twice, after expiring, has two rows), a chunk per event-loop turn.
   * A second call while one runs gets the running one's answer.
   */
  async cleanup(now: number): Promise<number> {
    this.cleaning ??= this.cleanupNow(now).finally(() => {
      this.cleaning = null;
    });
    return this.cleaning;
  }

  private async cleanupNow(now: number): Promise<number> {
    const yieldTurn = () => new Promise<void>((ok) => setImmediate(ok));
    let forgotten = 0;
    let work = 0;
    const expired = [...this.buckets.keys()].filter((b) => b * BUCKET_SECONDS < now).sort((a, b) => a - b);
    for (const b of expired) {
      const keys = this.buckets.get(b)!;
      this.buckets.delete(b); // values set from now on go to a new list
      for (const k of keys) {
        const e = this.used.get(k);
        if (e === undefined) continue; // forgotten already (a value set twice is listed twice)
        if (e < now) {
          this.used.delete(k);
          forgotten++;
        } else if (Math.floor(e / BUCKET_SECONDS) === b) this.remember1(k, e); // live: stays in its bucket
        if (++work % CLEANUP_CHUNK === 0) await yieldTurn();
      }
    }
    if (!this.db.open) return forgotten;
    // The log: delete up to the first row not yet expired, never the last row (so seq only grows).
    for (;;) {
      const last = this.stmts.maxSeq.get() ?? 0;
      const rows = this.stmts.head.all(CLEANUP_CHUNK);
      let until = rows.length ? rows[rows.length - 1]!.seq + 1 : 0;
      for (const r of rows) {
        if (r.expires >= now) {
          until = r.seq;
          break;
        }
      }
      until = Math.min(until, last);
      if (until <= (rows[0]?.seq ?? until)) return forgotten;
      this.stmts.cleanup.run(until);
      if (rows.length < CLEANUP_CHUNK || until < rows[rows.length - 1]!.seq + 1) return forgotten;
      await yieldTurn();
      if (!this.db.open) return forgotten;
    }
  }

  async countClients(): Promise<number> {
    return this.stmts.count.get()!.n;
  }

  /**
   * Bulk import of client rows (a migration from another system; the benchmark's million clients),
   * in transactions of 10 000 rows, outside the hot path's caches: each batch is all or nothing, and
   * an alias already present fails its batch with `already_registered`. Rows as `toRow` makes them
   * (records.ts: keys encrypted under the record key). Returns how many were inserted.
   */
  importClients(rows: Iterable<ClientRow>): number {
    const run = this.db.transaction((batch: ClientRow[]) => {
      for (const r of batch) this.insertRow(r);
    });
    let batch: ClientRow[] = [];
    let n = 0;
    for (const r of rows) {
      batch.push(r);
      if (batch.length === 10_000) {
        run.immediate(batch);
        n += batch.length;
        batch = [];
      }
    }
    if (batch.length) run.immediate(batch);
    return n + batch.length;
  }

  async close(): Promise<void> {
    const c = this.checkpointer;
    this.checkpointer = null;
    if (c) {
      c.worker.postMessage('stop');
      const t = setTimeout(() => void c.worker.terminate(), 5000);
      await c.exited;
      clearTimeout(t);
    }
    this.db.close(); // the last connection checkpoints and removes the WAL
  }
}
