/**
 * A store on PostgreSQL (node-postgres, one Pool per instance) for a vendor running as several
 * instances on one database. Same guarantees as SqliteStore (docs/VENDOR.md, Guarantees), held by
 * the database, not by any one process:
 *
 * - Every Commit is one transaction, or one statement when it only records one-time values (the hot
 *   path of every SDDP/EDDP request: one round trip). A failing part rolls back all of it.
 * - One-time values: `janus_used(key PRIMARY KEY, expires)`, written by
 *   `INSERT ... ON CONFLICT (key) DO UPDATE SET expires = excluded.expires WHERE expires < now` and
 *   a row count check (`janus_commit_check` below). We chose the primary key over SERIALIZABLE with
 *   retries: two instances inserting the same value meet on the unique index, the second waits for
 *   the first to commit and then finds its row unexpired (0 rows: `replayed`), or inserts it if the
 *   first rolled back, under plain READ COMMITTED, with no retry loop and no false conflicts between
 *   different values. An expired row is taken again by the same statement (an expired value may be
 *   used again, as in SQLite); `cleanup` only deletes expired rows. Keys are inserted in sorted
 *   order, so two commits never deadlock on each other's values.
 * - Versioned updates: `UPDATE ... WHERE alias = $ AND version = $v - 1`; a concurrent writer holds
 *   the row lock, and READ COMMITTED re-checks the WHERE on the committed row, so the loser updates
 *   0 rows: `conflict`, never a lost update. Renames: DELETE at `expectVersion` (else `conflict`)
 *   and INSERT (the primary key gives `already_registered`), in one transaction.
 * - `expectKey` is re-read in the committing statement itself, never from the cache: a rotation
 *   committed before that statement started is seen (`generation_mismatch`, `unknown_client`); one
 *   committed later is ordered after this commit (which either writes nothing the rotation reads,
 *   or updates the same row, and then one of the two fails its version check).
 * - Client keys arrive encrypted (ClientRow.keyEnc, records.ts) and are stored as such (bytea).
 *
 * Client rows are cached for the hot path and kept current by LISTEN/NOTIFY: a trigger on
 * `janus_clients` notifies every UPDATE and DELETE by any writer (another instance, the CLI, psql),
 * and each instance drops that row. Our own commits update our cache themselves (our notifications
 * are told apart by backend pid). A read or commit in flight when its row's notification arrives
 * does not cache what it got (`touched`). While the listening connection is down the cache is off
 * and empty. A link lost without a word (no error, no end: a network partition; TCP keepalive would
 * take hours) is caught by a heartbeat: every 250 ms the listening connection sends itself a
 * notification on the same channel (payload `!hb:<random>`, ignored by other instances), and the
 * cache serves a row only while the last heartbeat to come back was sent less than 1 s ago: every
 * change committed before that moment has been heard. A heartbeat 1 s overdue drops the link (cache
 * off, reconnect). So the cache may keep a row for long (`cacheMaxAgeMs`, 60 s by default, is a
 * second line), and a stale row never makes a commit accept a retired key (expectKey and versions
 * are checked in the database); a read that acts on nothing may lag another instance's write by the
 * notification's delivery (a few ms here, under 1 s in any case), unless it asks for `fresh`, as the
 * slot-credential check does (core.ts identify).
 * Note: PostgreSQL serializes the commits of notifying transactions (every UPDATE/DELETE of a
 * client), not those of the hot path, which only inserts one-time values.
 *
 * Migrations are versioned in `janus_schema`, applied in order, each in its own transaction, under a
 * PostgreSQL advisory lock so that instances starting together migrate once; a database newer than
 * this code is refused. Tables are made in the connection's schema (its search_path: a URL may set
 * it with `?options=-c%20search_path%3Djanus`). Any database error other than ours is `internal`;
 * a deadlock or serialization failure (which left nothing behind) is retried twice first.
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { JanusError } from '../errors.ts';
import type { UseOnce } from '../protocol/index.ts';
import type { PgMigration, PgStoreOptions } from './pg-options.ts';
import type { ClientRow, Commit, Store } from './store.ts';

export type { PgMigration, PgSettings, PgStoreOptions } from './pg-options.ts';

export const PG_MIGRATIONS: readonly PgMigration[] = [
  {
    name: 'clients, one-time values, cache invalidation, commit check',
    sql: `
CREATE TABLE janus_clients (
  alias         text PRIMARY KEY,
  gen           integer NOT NULL,
  key_enc       bytea NOT NULL,
  data          text NOT NULL,
  chain         text,
  closed_chains text NOT NULL,
  receipt       text,
  registered_at bigint NOT NULL,
  valid_from    bigint NOT NULL,
  valid_until   bigint,
  updated_at    bigint NOT NULL,
  version       integer NOT NULL
);
CREATE TABLE janus_used (key text PRIMARY KEY, expires bigint NOT NULL);
CREATE INDEX janus_used_expires ON janus_used (expires);

-- Every instance drops its cached copy of a row that changed or went (see PgStore).
CREATE FUNCTION janus_clients_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('janus_clients', OLD.alias);
  RETURN NULL;
END $$;
CREATE TRIGGER janus_clients_changed AFTER UPDATE OR DELETE ON janus_clients
  FOR EACH ROW EXECUTE FUNCTION janus_clients_changed();

-- Commit.expectKey and Commit.useOnce in one statement (store.ts). Errors carry our own SQLSTATEs.
CREATE FUNCTION janus_commit_check(p_now bigint, p_keys text[], p_expires bigint[], p_alias text, p_gen integer)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  current_gen integer;
  n bigint;
BEGIN
  IF p_alias IS NOT NULL THEN
    SELECT gen INTO current_gen FROM janus_clients WHERE alias = p_alias;
    IF NOT FOUND THEN
      RAISE EXCEPTION 'the client was moved to another key meanwhile' USING ERRCODE = 'JNUNK';
    END IF;
    IF current_gen <> p_gen THEN
      RAISE EXCEPTION 'the key generation is not the current one' USING ERRCODE = 'JNGEN', DETAIL = current_gen::text;
    END IF;
  END IF;
  IF cardinality(p_keys) > 0 THEN
    -- New: inserted. Expired (expires < now): taken again. Unexpired: not touched, so counted out.
    INSERT INTO janus_used AS u (key, expires)
      SELECT k, e FROM unnest(p_keys, p_expires) AS t(k, e) ORDER BY k
      ON CONFLICT (key) DO UPDATE SET expires = excluded.expires WHERE u.expires < p_now;
    GET DIAGNOSTICS n = ROW_COUNT;
    IF n <> cardinality(p_keys) THEN
      RAISE EXCEPTION 'this nonce or token was already used' USING ERRCODE = 'JNRPL';
    END IF;
  END IF;
END $$;
`,
  },
];

/** pg_advisory_lock key for migrations: "JANUS" in ASCII. */
const MIGRATION_LOCK = '319607444819';
const CHANNEL = 'janus_clients';
/** The listening connection's heartbeat period, and how old the last confirmed one may be for the cache to answer. */
const HEARTBEAT_MS = 250;
const HEARD_WITHIN_MS = 1000;
const CLEANUP_BATCH = 10_000;

interface Row {
  alias: string;
  gen: number;
  key_enc: Buffer;
  data: string;
  chain: string | null;
  closed_chains: string;
  receipt: string | null;
  registered_at: string;
  valid_from: string;
  valid_until: string | null;
  updated_at: string;
  version: number;
}

const COLUMNS = 'alias, gen, key_enc, data, chain, closed_chains, receipt, registered_at, valid_from, valid_until, updated_at, version';

// bigint columns come back as text (node-postgres keeps 64-bit values exact); ours are seconds.
const toClient = (r: Row): ClientRow => ({
  alias: r.alias,
  gen: r.gen,
  keyEnc: new Uint8Array(r.key_enc),
  data: r.data,
  chain: r.chain,
  closedChains: r.closed_chains,
  receipt: r.receipt,
  registeredAt: Number(r.registered_at),
  validFrom: Number(r.valid_from),
  validUntil: r.valid_until === null ? null : Number(r.valid_until),
  updatedAt: Number(r.updated_at),
  version: r.version,
});

const values = (c: ClientRow) => [c.alias, c.gen, Buffer.from(c.keyEnc), c.data, c.chain, c.closedChains, c.receipt, c.registeredAt, c.validFrom, c.validUntil, c.updatedAt, c.version];

const updateValues = (c: ClientRow) => [c.alias, c.gen, Buffer.from(c.keyEnc), c.data, c.chain, c.closedChains, c.receipt, c.validFrom, c.validUntil, c.updatedAt, c.version];

const sameRow = (a: ClientRow, b: ClientRow) =>
  a.version === b.version && a.gen === b.gen && a.keyEnc.length === b.keyEnc.length && Buffer.compare(Buffer.from(a.keyEnc), Buffer.from(b.keyEnc)) === 0;

const SQL = {
  get: `SELECT ${COLUMNS} FROM janus_clients WHERE alias = $1`,
  check: 'SELECT janus_commit_check($1, $2::text[], $3::bigint[], $4, $5)',
  insert: `INSERT INTO janus_clients (${COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
  // registered_at stays as it was (as in SqliteStore).
  update: `UPDATE janus_clients SET gen = $2, key_enc = $3, data = $4, chain = $5, closed_chains = $6, receipt = $7,
             valid_from = $8, valid_until = $9, updated_at = $10, version = $11
           WHERE alias = $1 AND version = $11 - 1`,
  remove: 'DELETE FROM janus_clients WHERE alias = $1 AND version = $2',
  cleanup: `DELETE FROM janus_used WHERE key IN (SELECT key FROM janus_used WHERE expires < $1 LIMIT ${CLEANUP_BATCH} FOR UPDATE SKIP LOCKED)`,
  count: 'SELECT count(*) AS n FROM janus_clients',
  import: `INSERT INTO janus_clients (${COLUMNS})
           SELECT * FROM unnest($1::text[], $2::integer[], $3::bytea[], $4::text[], $5::text[], $6::text[], $7::text[], $8::bigint[], $9::bigint[], $10::bigint[], $11::bigint[], $12::integer[])`,
};

/** A database error as a JanusError: ours by SQLSTATE, anything else a storage fault (`internal`). */
function fault(e: unknown): JanusError {
  if (e instanceof JanusError) return e;
  const d = e as Partial<pg.DatabaseError>;
  switch (d.code) {
    case 'JNRPL':
      return new JanusError('replayed');
    case 'JNUNK':
      return new JanusError('unknown_client', 'the client was moved to another key meanwhile');
    case 'JNGEN':
      return new JanusError('generation_mismatch', undefined, { generation: Number(d.detail) });
  }
  return new JanusError('internal', `PostgreSQL store: ${e instanceof Error ? e.message : String(e)}`, undefined, { cause: e });
}

/** Refusals that say our view of a row was stale (and `internal`: we do not know what was committed). */
const STALE: ReadonlySet<string> = new Set(['conflict', 'generation_mismatch', 'unknown_client', 'internal']);

/** Serialization failure or deadlock: the transaction did nothing, and running it again is safe. */
const retryable = (e: unknown) => ['40001', '40P01'].includes((e as { code?: string }).code ?? '');

/**
 * Brings the database to `migrations.length`, under an advisory lock (instances starting together
 * take turns, and the later ones find the work done). Returns the schema version.
 */
export async function migrate(pool: pg.Pool, migrations: readonly PgMigration[] = PG_MIGRATIONS): Promise<number> {
  const c = await pool.connect();
  let broken = false;
  try {
    await c.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    try {
      await c.query('CREATE TABLE IF NOT EXISTS janus_schema (one boolean PRIMARY KEY DEFAULT true CHECK (one), version integer NOT NULL)');
      await c.query('INSERT INTO janus_schema (version) VALUES (0) ON CONFLICT DO NOTHING');
      const v = (await c.query<{ version: number }>('SELECT version FROM janus_schema')).rows[0]!.version;
      if (v > migrations.length) {
        throw new JanusError('internal', `the database has Janus schema ${v}, newer than this SDK knows (${migrations.length}): run a newer SDK`, {
          schema: v,
          supported: migrations.length,
        });
      }
      for (let i = v; i < migrations.length; i++) {
        await c.query('BEGIN');
        try {
          await c.query(migrations[i]!.sql);
          await c.query('UPDATE janus_schema SET version = $1', [i + 1]);
          await c.query('COMMIT');
        } catch (e) {
          await c.query('ROLLBACK').catch(() => undefined);
          throw new JanusError('internal', `Janus schema migration ${i + 1} (${migrations[i]!.name}) failed: ${(e as Error).message}`, undefined, { cause: e });
        }
      }
      return migrations.length;
    } finally {
      await c.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => {
        broken = true; // the session ends with the connection, and its lock with it
      });
    }
  } catch (e) {
    throw fault(e);
  } finally {
    c.release(broken);
  }
}

export class PgStore implements Store {
  readonly kind = 'postgres';
  private readonly pool: pg.Pool;
  private readonly config: pg.ClientConfig;
  private readonly cacheSize: number;
  private readonly maxAgeMs: number;
  private readonly cache = new Map<string, { row: ClientRow; at: number }>();
  /** Backend pids of our pool's connections: notifications from them are our own commits. */
  private readonly ownPids = new Set<number>();
  /** Bumped by every invalidation. */
  private epoch = 0;
  /** Reads and commits in flight, by the epoch they started at (ascending: epochs only grow). */
  private readonly running = new Map<number, number>();
  /** Alias -> epoch of its last invalidation, in that order; kept only while an older operation runs. */
  private readonly touched = new Map<string, number>();
  /** The epoch of the last whole-cache reset (the listener was lost or came back). */
  private resetAt = 0;
  private listener: pg.Client | null = null;
  private listening = false;
  /** performance.now() when the last heartbeat that came back was sent: every change committed before it has been heard. */
  private heardAt = 0;
  private heartbeat: { timer: ReturnType<typeof setInterval>; pending: string | null; sentAt: number } | null = null;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private retryMs = 100;
  private closed = false;

  private constructor(pool: pg.Pool, config: pg.ClientConfig, opts: PgStoreOptions) {
    this.pool = pool;
    this.config = config;
    this.cacheSize = opts.cacheSize ?? 100_000;
    this.maxAgeMs = opts.cacheMaxAgeMs ?? 60_000;
    pool.on('connect', (c) => this.ownPids.add(pidOf(c)));
    pool.on('remove', (c) => this.ownPids.delete(pidOf(c)));
  }

  /** Connects, migrates and starts listening for other instances' writes. */
  static async open(url: string, opts: PgStoreOptions = {}): Promise<PgStore> {
    const config: pg.ClientConfig = { connectionString: url, application_name: 'janus-vendor', ...(opts.pg as pg.ClientConfig | undefined) };
    const pool = new pg.Pool({ ...config, max: opts.max ?? 10 });
    // An idle connection that dies (server restart) is dropped by the pool; the next query opens another.
    pool.on('error', () => undefined);
    const store = new PgStore(pool, config, opts);
    try {
      await migrate(pool, opts.migrations);
      if (store.cacheSize > 0) await store.listen();
      return store;
    } catch (e) {
      await store.close().catch(() => undefined);
      throw fault(e);
    }
  }

  // -- the cache --------------------------------------------------------------------------------

  private begin(): number {
    const e = this.epoch;
    this.running.set(e, (this.running.get(e) ?? 0) + 1);
    return e;
  }

  private end(start: number): void {
    const n = this.running.get(start)! - 1;
    if (n > 0) this.running.set(start, n);
    else this.running.delete(start);
    // An invalidation matters only to operations that started before it: forget the older ones.
    const oldest = this.running.keys().next().value ?? this.epoch;
    for (const [alias, at] of this.touched) {
      if (at > oldest) break;
      this.touched.delete(alias);
    }
  }

  /** Nothing invalidated `alias` (or the whole cache) since `start`: what we read or wrote then is current. */
  private untouched(alias: string, start: number): boolean {
    return this.listening && start >= this.resetAt && (this.touched.get(alias) ?? 0) <= start;
  }

  /** The cache may answer: we listen, and have heard every change committed up to a moment less than HEARD_WITHIN_MS ago. */
  private hearing(): boolean {
    return this.listening && performance.now() - this.heardAt < HEARD_WITHIN_MS;
  }

  private invalidate(alias: string): void {
    this.cache.delete(alias);
    this.epoch++;
    if (this.running.size === 0) return;
    this.touched.delete(alias); // re-inserted last: the map stays in epoch order
    this.touched.set(alias, this.epoch);
  }

  private reset(): void {
    this.cache.clear();
    this.resetAt = ++this.epoch;
  }

  private remember(row: ClientRow): void {
    if (this.cacheSize <= 0) return;
    this.cache.delete(row.alias);
    if (this.cache.size >= this.cacheSize) this.cache.delete(this.cache.keys().next().value!);
    this.cache.set(row.alias, { row, at: Date.now() });
  }

  private async listen(): Promise<void> {
    const c = new pg.Client({ ...this.config, application_name: 'janus-vendor-listen', keepAlive: true });
    c.on('notification', (n) => {
      if (c !== this.listener || n.channel !== CHANNEL) return;
      if (n.payload?.startsWith('!')) {
        // A heartbeat (ours or another instance's): ours says everything committed before it was sent has been heard.
        const hb = this.heartbeat;
        if (hb && n.payload === hb.pending) {
          this.heardAt = hb.sentAt;
          hb.pending = null;
        }
        return;
      }
      if (this.ownPids.has(n.processId)) return;
      if (n.payload) this.invalidate(n.payload);
      else this.reset();
    });
    const lost = () => {
      if (c !== this.listener) return;
      // Writes made while we cannot hear them would go unnoticed: no cache until LISTEN is back.
      this.listener = null;
      this.listening = false;
      if (this.heartbeat) clearInterval(this.heartbeat.timer);
      this.heartbeat = null;
      this.reset();
      c.end().catch(() => undefined);
      this.reconnect();
    };
    c.on('error', lost);
    c.on('end', lost);
    try {
      await c.connect();
      await c.query(`LISTEN ${CHANNEL}`);
    } catch (e) {
      c.end().catch(() => undefined);
      throw e;
    }
    if (this.closed) {
      await c.end().catch(() => undefined);
      return;
    }
    this.listener = c;
    this.reset(); // anything read before this moment may have changed unheard
    this.listening = true;
    this.heardAt = performance.now();
    this.retryMs = 100;
    const hb = {
      pending: null as string | null,
      sentAt: 0,
      timer: setInterval(() => {
        if (c !== this.listener) return;
        if (hb.pending !== null) {
          if (performance.now() - hb.sentAt > HEARD_WITHIN_MS) lost(); // overdue: the link is gone without a word
          return;
        }
        hb.pending = `!hb:${randomUUID()}`;
        hb.sentAt = performance.now();
        c.query('SELECT pg_notify($1, $2)', [CHANNEL, hb.pending]).catch(lost);
      }, HEARTBEAT_MS),
    };
    hb.timer.unref?.();
    this.heartbeat = hb;
  }

  private reconnect(): void {
    if (this.closed || this.retryTimer) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.listen().catch(() => {
        this.retryMs = Math.min(this.retryMs * 2, 5000);
        this.reconnect();
      });
    }, this.retryMs);
    this.retryTimer.unref?.();
  }

  // -- Store ------------------------------------------------------------------------------------

  /**
   * `fresh`: the row as committed when the call started, never a cached copy that may lag another
   * instance's write by the notification's delivery (for a decision that commits nothing, such as a
   * slot credential).
   */
  async getClient(alias: string, opts?: { fresh?: boolean }): Promise<ClientRow | null> {
    const hit = this.cache.get(alias);
    if (hit && !opts?.fresh && this.hearing() && Date.now() - hit.at < this.maxAgeMs) return hit.row;
    const start = this.begin();
    try {
      const r = await this.pool.query<Row>({ name: 'janus_get', text: SQL.get, values: [alias] });
      if (!r.rows[0]) return null; // unknown aliases are not cached: anyone can send them
      let row = toClient(r.rows[0]);
      // Unchanged since it was cached: hand out the same object (the SDK keeps its decoding by object).
      if (hit && sameRow(hit.row, row)) row = hit.row;
      if (this.untouched(alias, start)) this.remember(row);
      return row;
    } catch (e) {
      throw fault(e);
    } finally {
      this.end(start);
    }
  }

  async commit(c: Commit): Promise<void> {
    const used = c.useOnce ?? [];
    const keys = used.map((u) => u.key);
    // One commit naming a value twice replays itself (and ON CONFLICT may not touch a row twice).
    if (new Set(keys).size !== keys.length) throw new JanusError('replayed');
    const check = used.length > 0 || c.expectKey !== undefined;
    const writes = c.insert !== undefined || c.update !== undefined || c.rename !== undefined;
    if (!check && !writes) return;
    const start = this.begin();
    try {
      if (!writes) {
        // The hot path: one statement, its own transaction.
        await this.statement({ name: 'janus_check', text: SQL.check, values: checkValues(c.now, used, c.expectKey) });
        return;
      }
      await this.transaction(async (q) => {
        if (check) await q({ name: 'janus_check', text: SQL.check, values: checkValues(c.now, used, c.expectKey) });
        if (c.insert) await insertRow(q, c.insert);
        if (c.update && (await q({ name: 'janus_update', text: SQL.update, values: updateValues(c.update) })).rowCount === 0) {
          throw new JanusError('conflict', 'the client record changed meanwhile; retry');
        }
        if (c.rename) {
          if ((await q({ name: 'janus_remove', text: SQL.remove, values: [c.rename.from, c.rename.expectVersion] })).rowCount === 0) {
            throw new JanusError('conflict', 'the client record changed meanwhile; retry');
          }
          await insertRow(q, c.rename.row);
        }
      });
      // Committed: the cache follows, unless another instance changed one of these rows meanwhile.
      if (c.rename) this.cache.delete(c.rename.from);
      for (const row of [c.insert, c.update, c.rename?.row]) {
        if (!row) continue;
        if (this.untouched(row.alias, start)) this.remember(row);
        else this.cache.delete(row.alias);
      }
    } catch (e) {
      const err = fault(e);
      // Refused for a stale view, or not known to have committed: drop the rows it was made from.
      // (Not for a replay: replaying a captured request must not cost the client its cached row.)
      if (STALE.has(err.code)) for (const alias of [c.expectKey?.alias, c.insert?.alias, c.update?.alias, c.rename?.from, c.rename?.row.alias]) if (alias) this.cache.delete(alias);
      throw err;
    } finally {
      this.end(start);
    }
  }

  /** One statement in its own transaction, run again after a deadlock or serialization failure. */
  private async statement(query: pg.QueryConfig): Promise<pg.QueryResult> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.pool.query(query);
      } catch (e) {
        if (!retryable(e) || attempt >= 3) throw e;
      }
    }
  }

  private async transaction(fn: (q: (query: pg.QueryConfig) => Promise<pg.QueryResult>) => Promise<void>): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const client = await this.pool.connect();
      let broken = false;
      try {
        await client.query('BEGIN');
        await fn((query) => client.query(query));
        await client.query('COMMIT');
        return;
      } catch (e) {
        await client.query('ROLLBACK').catch(() => {
          broken = true;
        });
        if (retryable(e) && attempt < 3) continue;
        throw e;
      } finally {
        client.release(broken);
      }
    }
  }

  async cleanup(now: number): Promise<number> {
    let total = 0;
    try {
      // In batches, skipping rows another instance is deleting or a commit is taking again.
      for (;;) {
        const n = (await this.pool.query({ name: 'janus_cleanup', text: SQL.cleanup, values: [now] })).rowCount ?? 0;
        total += n;
        if (n < CLEANUP_BATCH) return total;
      }
    } catch (e) {
      throw fault(e);
    }
  }

  /**
   * Bulk import of client rows (a migration from another system; the benchmark's million clients):
   * one multi-row INSERT per 5 000 rows (arrays through unnest, one round trip each), each its own
   * transaction; an alias already present fails its batch with `already_registered`. Rows as `toRow`
   * makes them (records.ts: keys encrypted under the record key). Returns how many were inserted.
   */
  async importClients(rows: Iterable<ClientRow>): Promise<number> {
    let n = 0;
    let batch: ClientRow[] = [];
    const flush = async () => {
      const cols: unknown[][] = COLUMNS.split(', ').map(() => []);
      for (const r of batch) values(r).forEach((v, i) => cols[i]!.push(v));
      try {
        await this.pool.query({ name: 'janus_import', text: SQL.import, values: cols });
      } catch (e) {
        if ((e as { code?: string }).code === '23505') throw new JanusError('already_registered');
        throw fault(e);
      }
      n += batch.length;
      batch = [];
    };
    for (const r of rows) {
      batch.push(r);
      if (batch.length === 5000) await flush();
    }
    if (batch.length) await flush();
    return n;
  }

  async countClients(): Promise<number> {
    try {
      return Number((await this.pool.query<{ n: string }>(SQL.count)).rows[0]!.n);
    } catch (e) {
      throw fault(e);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.listening = false;
    if (this.heartbeat) clearInterval(this.heartbeat.timer);
    this.heartbeat = null;
    this.cache.clear();
    if (this.retryTimer) clearTimeout(this.retryTimer);
    const l = this.listener;
    this.listener = null;
    await l?.end().catch(() => undefined);
    await this.pool.end();
  }
}

function pidOf(c: pg.PoolClient): number {
  return (c as unknown as { processID: number }).processID;
}

function checkValues(now: number, used: readonly UseOnce[], e: Commit['expectKey']): unknown[] {
  return [now, used.map((u) => u.key), used.map((u) => u.expires), e?.alias ?? null, e?.gen ?? null];
}

async function insertRow(q: (query: pg.QueryConfig) => Promise<pg.QueryResult>, row: ClientRow): Promise<void> {
  try {
    await q({ name: 'janus_insert', text: SQL.insert, values: values(row) });
  } catch (e) {
    if ((e as { code?: string }).code === '23505') throw new JanusError('already_registered');
    throw e;
  }
}
