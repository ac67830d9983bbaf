/**
 * What PgStore does beyond the Store contract (store-contract.test.ts runs that): versioned
 * migrations under an advisory lock, keys only sealed at rest, the row cache kept current by
 * LISTEN/NOTIFY (and off while it cannot hear), storage faults as `internal`, cleanup in batches.
 */
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { randomBytes, toHex } from '../crypto/bytes.ts';
import { JanusError } from '../errors.ts';
import type { ClientRecord } from '../protocol/index.ts';
import { usePostgres } from '../../test/support/pg-fixture.ts';
import { migrate, PG_MIGRATIONS, PgStore, type PgMigration, type PgStoreOptions } from './pg-store.ts';
import { toRow } from './records.ts';
import { clientRow, newAlias } from './store-contract.ts';

const pgdb = usePostgres();
const T = Math.floor(Date.now() / 1000);

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f().catch(() => undefined);
});

async function sql(url: string): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  cleanups.push(() => c.end());
  return c;
}

async function store(url: string, opts?: PgStoreOptions): Promise<PgStore> {
  const s = await PgStore.open(url, opts);
  cleanups.push(() => s.close());
  return s;
}

function pool(url: string): pg.Pool {
  const p = new pg.Pool({ connectionString: url, max: 2 });
  cleanups.push(() => p.end());
  return p;
}

async function within(ms: number, what: string, check: () => Promise<boolean>): Promise<number> {
  const t0 = performance.now();
  while (!(await check())) {
    if (performance.now() - t0 > ms) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((ok) => setTimeout(ok, 2));
  }
  return performance.now() - t0;
}

/** White box: the parts of a PgStore a test may look at. */
const inside = (s: PgStore) => s as unknown as { pool: pg.Pool; listener: pg.Client | null; listening: boolean; epoch: number; touched: Map<string, number> };

describe('PgStore migrations', () => {
  const slowA: PgMigration = { name: 'a', sql: 'CREATE TABLE t_log (n integer); INSERT INTO t_log VALUES (1); SELECT pg_sleep(0.2);' };
  const b: PgMigration = { name: 'b', sql: 'INSERT INTO t_log VALUES (2); ALTER TABLE t_log ADD COLUMN x integer;' };

  it('instances starting together on an empty database apply each migration once, in order', async () => {
    const url = await pgdb.freshDatabase();
    const versions = await Promise.all([1, 2, 3, 4].map(() => migrate(pool(url), [slowA, b])));
    expect(versions).toEqual([2, 2, 2, 2]);
    const c = await sql(url);
    expect((await c.query('SELECT n FROM t_log ORDER BY n')).rows).toEqual([{ n: 1 }, { n: 2 }]);
    expect((await c.query('SELECT version FROM janus_schema')).rows).toEqual([{ version: 2 }]);
  });

  it('a database at an earlier version gets only the later migrations', async () => {
    const url = await pgdb.freshDatabase();
    expect(await migrate(pool(url), [slowA])).toBe(1);
    expect(await migrate(pool(url), [slowA, b])).toBe(2);
    const c = await sql(url);
    expect((await c.query('SELECT n FROM t_log ORDER BY n')).rows).toEqual([{ n: 1 }, { n: 2 }]);
  });

  it('a failing migration leaves nothing of itself, and the version where it was', async () => {
    const url = await pgdb.freshDatabase();
    const bad: PgMigration = { name: 'half', sql: 'CREATE TABLE half (x integer); INSERT INTO t_log VALUES (3); SELECT no_such_function();' };
    const e = await migrate(pool(url), [slowA, bad]).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(JanusError);
    expect(e).toMatchObject({ code: 'internal' });
    expect((e as Error).message).toMatch(/migration 2 \(half\) failed: .*no_such_function/);
    const c = await sql(url);
    expect((await c.query('SELECT version FROM janus_schema')).rows).toEqual([{ version: 1 }]);
    expect((await c.query("SELECT to_regclass('half') AS t")).rows).toEqual([{ t: null }]);
    expect((await c.query('SELECT n FROM t_log')).rows).toEqual([{ n: 1 }]);
    expect(await migrate(pool(url), [slowA, b])).toBe(2);
  });

  it('a database newer than this code is refused, and left as it is', async () => {
    const url = await pgdb.freshDatabase();
    await migrate(pool(url), [...PG_MIGRATIONS, { name: 'from the future', sql: 'CREATE TABLE janus_future (x integer);' }]);
    const e = await PgStore.open(url).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(JanusError);
    expect(e).toMatchObject({ code: 'internal', details: { schema: PG_MIGRATIONS.length + 1, supported: PG_MIGRATIONS.length } });
    expect((e as Error).message).toMatch(/newer than this SDK/);
    const c = await sql(url);
    expect((await c.query('SELECT version FROM janus_schema')).rows).toEqual([{ version: PG_MIGRATIONS.length + 1 }]);
  });
});

describe('PgStore at rest', () => {
  it('the database holds a client key only sealed under the record key', async () => {
    const url = await pgdb.freshDatabase();
    const s = await store(url);
    const k = randomBytes(64);
    const record: ClientRecord = { alias: newAlias(), gen: 0, k, data: {}, registeredAt: T, validFrom: T, validUntil: null, chain: null, closedChains: [], receipt: null, updatedAt: T };
    const row = toRow(randomBytes(32), record, 1);
    await s.commit({ now: T, insert: row });
    const c = await sql(url);
    const raw = (await c.query<{ key_enc: Buffer; all: string }>('SELECT key_enc, c::text AS all FROM janus_clients c')).rows[0]!;
    expect(new Uint8Array(raw.key_enc)).toEqual(row.keyEnc);
    expect(raw.key_enc.includes(Buffer.from(k))).toBe(false);
    for (const needle of [toHex(k), Buffer.from(k).toString('base64'), Buffer.from(k).toString('base64url')]) expect(raw.all.includes(needle)).toBe(false);
  });
});

describe('PgStore row cache', () => {
  it('reads come from memory; its own commits keep it current (its own notifications do not evict)', async () => {
    const s = await store(await pgdb.freshDatabase(), { cacheMaxAgeMs: 3_600_000 });
    const r = clientRow(newAlias());
    await s.commit({ now: T, insert: r });
    expect(await s.getClient(r.alias)).toBe(r);
    const v2 = { ...r, data: '{"v":2}', version: 2 };
    await s.commit({ now: T, useOnce: [{ key: 'n', expires: T + 60 }], expectKey: { alias: r.alias, gen: 0 }, update: v2 });
    await new Promise((ok) => setTimeout(ok, 100)); // its own notification has arrived by now
    expect(await s.getClient(r.alias)).toBe(v2);
  });

  it("another instance's update or rename, or plain SQL, evicts the row within milliseconds (not by its age)", async () => {
    const url = await pgdb.freshDatabase();
    const a = await store(url);
    const b = await store(url, { cacheMaxAgeMs: 3_600_000 });
    const r = clientRow(newAlias());
    await a.commit({ now: T, insert: r });
    const cached = await b.getClient(r.alias);
    expect(await b.getClient(r.alias)).toBe(cached);
    const lags: number[] = [];
    await a.commit({ now: T, update: { ...r, data: '{"v":2}', version: 2 } });
    lags.push(await within(500, 'update', async () => (await b.getClient(r.alias))?.version === 2));
    const c = await sql(url);
    await c.query("UPDATE janus_clients SET data = '{\"by\":\"psql\"}', version = 3 WHERE alias = $1", [r.alias]);
    lags.push(await within(500, 'plain SQL update', async () => (await b.getClient(r.alias))?.version === 3));
    await a.commit({ now: T, rename: { from: r.alias, expectVersion: 3, row: { ...r, gen: 1, version: 4 } } });
    lags.push(await within(500, 'rename', async () => (await b.getClient(r.alias))?.gen === 1));
    await c.query('DELETE FROM janus_clients WHERE alias = $1', [r.alias]);
    lags.push(await within(500, 'plain SQL delete', async () => (await b.getClient(r.alias)) === null));
    console.log(`other instance's writes seen after ${lags.map((l) => l.toFixed(1)).join(', ')} ms`);
  });

  it('a fresh read (getClient(alias, { fresh: true })) is current even while a notification is late', async () => {
    const url = await pgdb.freshDatabase();
    const b = await store(url, { cacheMaxAgeMs: 3_600_000 });
    const r = clientRow(newAlias());
    await b.commit({ now: T, insert: r });
    expect(await b.getClient(r.alias)).toBe(r);
    await inside(b).listener!.query('UNLISTEN *'); // white box: b no longer hears, and does not know it
    const c = await sql(url);
    await c.query('UPDATE janus_clients SET gen = 1, version = 2 WHERE alias = $1', [r.alias]);
    await new Promise((ok) => setTimeout(ok, 50));
    expect(await b.getClient(r.alias)).toBe(r); // the stale copy a late notification leaves
    expect(await b.getClient(r.alias, { fresh: true })).toMatchObject({ gen: 1, version: 2 });
  });

  it('a link lost without a word (no error, no end) is caught by the heartbeat: within about a second the cache stops answering, then the link is made again', async () => {
    const url = await pgdb.freshDatabase();
    const b = await store(url, { cacheMaxAgeMs: 3_600_000 });
    const r = clientRow(newAlias());
    await b.commit({ now: T, insert: r });
    expect(await b.getClient(r.alias)).toBe(r);
    const before = inside(b).listener;
    await before!.query('UNLISTEN *'); // white box: b no longer hears, and is not told so
    const c = await sql(url);
    await c.query('UPDATE janus_clients SET gen = 1, version = 2 WHERE alias = $1', [r.alias]);
    const lag = await within(2500, 'the unheard change read', async () => (await b.getClient(r.alias))?.version === 2);
    expect(lag).toBeGreaterThan(100); // the cache answered (stale) until the heartbeat was overdue ...
    await within(5000, 'listening again on a new connection', async () => inside(b).listening && inside(b).listener !== before);
    await c.query('UPDATE janus_clients SET version = 3 WHERE alias = $1', [r.alias]);
    await within(1000, 'update heard after reconnecting', async () => (await b.getClient(r.alias))?.version === 3);
  });

  it('a row read while its change is announced is not cached: the next read is current', async () => {
    const url = await pgdb.freshDatabase();
    const a = await store(url);
    const b = await store(url, { cacheMaxAgeMs: 3_600_000 });
    const r = clientRow(newAlias());
    await a.commit({ now: T, insert: r });
    // White box: b's read of the row returns only after a has changed it and b has heard so.
    const p = inside(b).pool;
    const query = p.query.bind(p) as (...args: unknown[]) => Promise<unknown>;
    let held = false;
    (p as unknown as { query: (...args: unknown[]) => Promise<unknown> }).query = async (...args: unknown[]) => {
      const res = await query(...args);
      if (!held && (args[0] as { name?: string }).name === 'janus_get') {
        held = true;
        const epoch = inside(b).epoch;
        await a.commit({ now: T, update: { ...r, data: '{"v":2}', version: 2 } });
        await within(2000, 'the notification', async () => inside(b).epoch > epoch);
      }
      return res;
    };
    expect((await b.getClient(r.alias))!.version).toBe(1); // read before the change: fine for that call
    expect(held).toBe(true);
    expect((await b.getClient(r.alias))!.version).toBe(2); // ... but it was not kept
    expect(inside(b).touched.size).toBe(0); // nothing in flight: no invalidation is remembered
  });

  it('while the listening connection is down the cache is off; once it is back, evictions are heard again', async () => {
    const url = await pgdb.freshDatabase();
    const b = await store(url, { cacheMaxAgeMs: 3_600_000 });
    const r = clientRow(newAlias());
    await b.commit({ now: T, insert: r });
    expect(await b.getClient(r.alias)).toBe(r);
    const c = await sql(url);
    const pid = (inside(b).listener as unknown as { processID: number }).processID;
    await c.query('SELECT pg_terminate_backend($1)', [pid]);
    await within(2000, 'the loss noticed', async () => !inside(b).listening);
    await c.query("UPDATE janus_clients SET version = 2 WHERE alias = $1", [r.alias]); // unheard
    expect((await b.getClient(r.alias))!.version).toBe(2);
    await within(5000, 'listening again', async () => inside(b).listening);
    expect(inside(b).listener).not.toBeNull();
    const again = await b.getClient(r.alias);
    expect(await b.getClient(r.alias)).toBe(again); // cached again
    await c.query("UPDATE janus_clients SET version = 3 WHERE alias = $1", [r.alias]);
    await within(500, 'update heard after reconnecting', async () => (await b.getClient(r.alias))?.version === 3);
  });
});

describe('PgStore faults and cleanup', () => {
  it('a database that went away is an internal error naming PostgreSQL, on every call', async () => {
    const url = await pgdb.freshDatabase();
    const s = await store(url);
    const u = new URL(url);
    const name = u.pathname.slice(1);
    u.pathname = '/postgres';
    const c = await sql(u.toString());
    await c.query(`DROP DATABASE ${name} WITH (FORCE)`);
    for (const call of [() => s.getClient(newAlias()), () => s.commit({ now: T, useOnce: [{ key: 'x', expires: T }] }), () => s.commit({ now: T, insert: clientRow(newAlias()) }), () => s.cleanup(T), () => s.countClients()]) {
      const e = await call().then(
        () => null,
        (x: unknown) => x,
      );
      expect(e).toBeInstanceOf(JanusError);
      expect(e).toMatchObject({ code: 'internal' });
      expect((e as Error).message).toMatch(/^PostgreSQL store: /);
    }
  });

  it('a wrong password is refused at open, as internal, without the password in the message', async () => {
    const u = new URL(await pgdb.freshDatabase());
    u.password = 'not-the-password-x7';
    const e = await PgStore.open(u.toString()).catch((x: unknown) => x);
    expect(e).toMatchObject({ code: 'internal' });
    expect((e as Error).message).toMatch(/password authentication failed/);
    expect((e as Error).message).not.toContain('not-the-password-x7');
  });

  it('cleanup on two instances at once deletes every expired value once, in batches, and keeps the live ones', async () => {
    const url = await pgdb.freshDatabase();
    const a = await store(url);
    const b = await store(url);
    const c = await sql(url);
    await c.query("INSERT INTO janus_used (key, expires) SELECT 'old-' || g, $1 + g % 50 FROM generate_series(1, 25000) g", [T - 100]);
    await a.commit({ now: T, useOnce: [{ key: 'live', expires: T + 60 }, { key: 'edge', expires: T }] });
    const counts = await Promise.all([a.cleanup(T), b.cleanup(T)]);
    expect(counts[0]! + counts[1]!).toBe(25_000);
    expect((await c.query('SELECT key FROM janus_used ORDER BY key')).rows).toEqual([{ key: 'edge' }, { key: 'live' }]);
  });
});
