/**
 * The default store: SQLite through better-sqlite3, created on first start with no set-up, WAL so
 * readers never wait for the writer, and every Commit in one transaction (all or nothing).
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { JanusError } from '../errors.ts';
import type { ClientRow, Commit, Store } from './store.ts';

const SCHEMA_VERSION = 1;

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
];

interface Row {
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

const toClient = (r: Row): ClientRow => ({
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
}

export class SqliteStore implements Store {
  readonly kind = 'sqlite';
  private readonly db: Database.Database;
  private readonly stmts;
  private readonly tx: (c: Commit) => void;
  private readonly batchTx: (cs: Commit[]) => (unknown | null)[];
  private pending: { c: Commit; resolve: () => void; reject: (e: unknown) => void }[] = [];

  constructor(readonly path: string, opts: SqliteStoreOptions = {}) {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('busy_timeout = 5000');
    this.db.pragma('foreign_keys = ON');
    this.migrate();
    const db = this.db;
    this.stmts = {
      get: db.prepare<[string], Row>('SELECT * FROM clients WHERE alias = ?'),
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
      // Insert, or take over an expired entry; an unexpired one makes changes = 0 (a replay).
      use: db.prepare<[string, number, number]>(
        `INSERT INTO used (key, expires) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET expires = excluded.expires WHERE used.expires < ?`,
      ),
      cleanup: db.prepare<[number]>('DELETE FROM used WHERE expires < ?'),
      count: db.prepare<[], { n: number }>('SELECT count(*) AS n FROM clients'),
    };
    const s = this.stmts;
    this.tx = db.transaction((c: Commit) => {
      for (const u of c.useOnce ?? []) {
        if (s.use.run(u.key, u.expires, c.now).changes === 0) throw new JanusError('replayed');
      }
      if (c.insert) this.insertRow(c.insert);
      if (c.update && s.update.run(params(c.update)).changes === 0) {
        throw new JanusError('conflict', 'the client record changed meanwhile; retry');
      }
      if (c.rename) {
        if (s.remove.run(c.rename.from, c.rename.expectVersion).changes === 0) throw new JanusError('conflict', 'the client record changed meanwhile; retry');
        this.insertRow(c.rename.row);
      }
      opts.beforeCommit?.(c);
    });
    const tx = this.tx;
    this.batchTx = db.transaction((cs: Commit[]) =>
      cs.map((c) => {
        try {
          tx(c); // nested: a SAVEPOINT of its own
          return null;
        } catch (e) {
          return e;
        }
      }),
    );
  }

  /**
   * Group commit for the hot path: a commit that only records one-time values (every SDDP and EDDP
   * request) joins the others that arrive in the same event-loop turn, and all of them run in one
   * SQLite transaction, each in its own SAVEPOINT (better-sqlite3 nests transactions that way), so
   * each commit still succeeds or fails alone. The caller's promise resolves only after COMMIT.
   */
  private flush(): void {
    const batch = this.pending;
    this.pending = [];
    let results: (unknown | null)[];
    try {
      results = this.batchTx(batch.map((p) => p.c));
    } catch (e) {
      for (const p of batch) p.reject(e);
      return;
    }
    batch.forEach((p, i) => (results[i] === null ? p.resolve() : p.reject(results[i])));
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
    const v = this.db.pragma('user_version', { simple: true }) as number;
    if (v > SCHEMA_VERSION) throw new Error(`database ${this.path} has schema ${v}, newer than this SDK (${SCHEMA_VERSION})`);
    for (let i = v; i < SCHEMA_VERSION; i++) {
      this.db.transaction(() => {
        this.db.exec(MIGRATIONS[i]!);
        this.db.pragma(`user_version = ${i + 1}`);
      })();
    }
  }

  async getClient(alias: string): Promise<ClientRow | null> {
    const r = this.stmts.get.get(alias);
    return r ? toClient(r) : null;
  }

  async commit(c: Commit): Promise<void> {
    if (c.insert || c.update || c.rename) {
      this.tx(c);
      return;
    }
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ c, resolve, reject });
      if (this.pending.length === 1) setImmediate(() => this.flush());
    });
  }

  async cleanup(now: number): Promise<number> {
    return this.stmts.cleanup.run(now).changes;
  }

  async countClients(): Promise<number> {
    return this.stmts.count.get()!.n;
  }

  async close(): Promise<void> {
    this.db.close();
  }
}
