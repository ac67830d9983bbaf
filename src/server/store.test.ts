/**
 * The SQLite store: atomic commits, keys encrypted at rest, a real crash in the middle of a
 * transaction, and a restart after which every registered client still works.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { randomBytes, toHex } from '../crypto/bytes.ts';
import { skepOnResponse, skepStart, type ClientRecord } from '../protocol/index.ts';
import { deliver, discover, register, sessionFor } from '../../test/support/client.ts';
import { freePort, startHttpVendor } from '../../test/support/http-vendor.ts';
import { httpPeer, testKeyMaterial } from '../../test/support/vendor-kit.ts';
import { decryptKey, fromRow, toRow } from './records.ts';
import { SqliteStore } from './sqlite-store.ts';

const tmp = () => mkdtempSync(join(tmpdir(), 'janus-store-'));

function record(alias: string, k = randomBytes(64)): ClientRecord {
  return { alias, gen: 0, k, data: { a: 1 }, registeredAt: 1, validFrom: 1, validUntil: null, chain: null, closedChains: [], receipt: null, updatedAt: 1 };
}

describe('SqliteStore commits are all or nothing', () => {
  const rk = randomBytes(32);
  it('a failed insert leaves no one-time value behind; a replayed value blocks the insert', async () => {
    const s = new SqliteStore(':memory:');
    await s.commit({ now: 10, insert: toRow(rk, record('A'.repeat(22)), 1) });
    await expect(s.commit({ now: 10, useOnce: [{ key: 'x', expires: 100 }], insert: toRow(rk, record('A'.repeat(22)), 1) })).rejects.toMatchObject({ code: 'already_registered' });
    // 'x' was rolled back with the insert, so it is still usable.
    await s.commit({ now: 10, useOnce: [{ key: 'x', expires: 100 }] });
    await expect(s.commit({ now: 10, useOnce: [{ key: 'y', expires: 100 }, { key: 'x', expires: 100 }], insert: toRow(rk, record('B'.repeat(22)), 1) })).rejects.toMatchObject({ code: 'replayed' });
    expect(await s.getClient('B'.repeat(22))).toBeNull();
    await s.commit({ now: 10, useOnce: [{ key: 'y', expires: 100 }] }); // 'y' was rolled back too
    // Expired values can be used again, and cleanup forgets them.
    await s.commit({ now: 101, useOnce: [{ key: 'x', expires: 200 }] });
    expect(await s.cleanup(150)).toBe(1);
    await s.close();
  });

  it('updates and renames check the version (no lost update)', async () => {
    const s = new SqliteStore(':memory:');
    const r = record('C'.repeat(22));
    await s.commit({ now: 1, insert: toRow(rk, r, 1) });
    await s.commit({ now: 1, update: toRow(rk, { ...r, data: { a: 2 } }, 2) });
    await expect(s.commit({ now: 1, update: toRow(rk, { ...r, data: { a: 3 } }, 2) })).rejects.toMatchObject({ code: 'conflict' });
    expect(JSON.parse((await s.getClient(r.alias))!.data)).toEqual({ a: 2 });
    await expect(s.commit({ now: 1, rename: { from: r.alias, expectVersion: 1, row: toRow(rk, { ...r, alias: 'D'.repeat(22) }, 2) } })).rejects.toMatchObject({ code: 'conflict' });
    await s.commit({ now: 1, rename: { from: r.alias, expectVersion: 2, row: toRow(rk, { ...r, alias: 'D'.repeat(22) }, 3) } });
    expect(await s.getClient(r.alias)).toBeNull();
    expect(await s.getClient('D'.repeat(22))).not.toBeNull();
    await s.close();
  });

  it('client keys are encrypted at rest: the database file holds no key, and another KEK cannot read it', async () => {
    const dir = tmp();
    const s = new SqliteStore(join(dir, 'v.db'));
    const k = randomBytes(64);
    await s.commit({ now: 1, insert: toRow(rk, record('E'.repeat(22), k), 1) });
    await s.close();
    const bytes = Buffer.concat([readFileSync(join(dir, 'v.db')), ...(['v.db-wal'].map((f) => { try { return readFileSync(join(dir, f)); } catch { return Buffer.alloc(0); } }))]);
    for (const needle of [Buffer.from(k), Buffer.from(toHex(k)), Buffer.from(Buffer.from(k).toString('base64'))]) expect(bytes.includes(needle)).toBe(false);
    const again = new SqliteStore(join(dir, 'v.db'));
    const row = (await again.getClient('E'.repeat(22)))!;
    expect(fromRow(rk, row).k).toEqual(k);
    expect(() => decryptKey(randomBytes(32), row.alias, row.gen, row.keyEnc)).toThrowError(expect.objectContaining({ code: 'internal' }));
    // The ciphertext is bound to its alias: moved to another row it does not decrypt.
    expect(() => decryptKey(rk, 'F'.repeat(22), row.gen, row.keyEnc)).toThrow();
    await again.close();
  });
});

describe('SqliteStore memory state follows the database', () => {
  const rk = randomBytes(32);
  it('one-time values survive a restart (the replay log is read back)', async () => {
    const path = join(tmp(), 'v.db');
    const a = new SqliteStore(path);
    await a.commit({ now: 10, useOnce: [{ key: 'n1', expires: 4_000_000_000 }] });
    await a.close();
    const b = new SqliteStore(path);
    await expect(b.commit({ now: 10, useOnce: [{ key: 'n1', expires: 4_000_000_000 }] })).rejects.toMatchObject({ code: 'replayed' });
    await b.commit({ now: 10, useOnce: [{ key: 'n2', expires: 4_000_000_000 }] });
    await b.close();
  });

  it('a group commit appends every one-time value of the turn (in INSERTs of up to 32 rows) and refuses a repeat within it', async () => {
    const path = join(tmp(), 'v.db');
    const a = new SqliteStore(path);
    const keys = Array.from({ length: 45 }, (_, i) => `g${i}`);
    // 45 commits in one event-loop turn, two values each (90 rows: INSERTs of 32, 32 and 26), and one repeating g3.
    const results = await Promise.allSettled([
      ...keys.map((k) => a.commit({ now: 10, useOnce: [{ key: k, expires: 4_000_000_000 }, { key: `${k}b`, expires: 4_000_000_000 }] })),
      a.commit({ now: 10, useOnce: [{ key: 'g3', expires: 4_000_000_000 }] }),
    ]);
    expect(results.slice(0, 45).every((r) => r.status === 'fulfilled')).toBe(true);
    expect(results[45]).toMatchObject({ status: 'rejected', reason: { code: 'replayed' } });
    await a.close();
    const db = new Database(path, { readonly: true });
    expect(db.prepare('SELECT count(*) AS n FROM replay').get()).toEqual({ n: 90 });
    db.close();
    const b = new SqliteStore(path);
    for (const k of [keys[0]!, `${keys[44]}b`, 'g31', 'g32']) {
      await expect(b.commit({ now: 10, useOnce: [{ key: k, expires: 4_000_000_000 }] })).rejects.toMatchObject({ code: 'replayed' });
    }
    await b.close();
  });

  it('cleanup drops the expired head of the log but never its last row, so seq only grows and the other connection sees new rows', async () => {
    const path = join(tmp(), 'v.db');
    const a = new SqliteStore(path);
    const b = new SqliteStore(path);
    for (const [key, expires] of [['e1', 20], ['e2', 20], ['live', 100], ['e3', 20]] as const) await a.commit({ now: 10, useOnce: [{ key, expires }] });
    await b.commit({ now: 10, useOnce: [{ key: 'bx', expires: 20 }] }); // b has seen every row now
    const keys = () => {
      const db = new Database(path, { readonly: true });
      const out = db.prepare('SELECT key FROM replay ORDER BY seq').all().map((r) => (r as { key: string }).key);
      db.close();
      return out;
    };
    await a.cleanup(50);
    expect(keys()).toEqual(['live', 'e3', 'bx']); // e3 expired too, but waits behind a live row
    await a.cleanup(200);
    expect(keys()).toEqual(['bx']); // all expired: the last row stays
    await a.commit({ now: 200, useOnce: [{ key: 'after', expires: 400 }] });
    await expect(b.commit({ now: 200, useOnce: [{ key: 'after', expires: 400 }] })).rejects.toMatchObject({ code: 'replayed' });
    await a.close();
    await b.close();
  });

  it('two connections to one file (two vendor processes): replays, updates and renames are seen by the other', async () => {
    const path = join(tmp(), 'v.db');
    const a = new SqliteStore(path, { readStalenessMs: 0 });
    const b = new SqliteStore(path, { readStalenessMs: 0 });
    await a.commit({ now: 10, useOnce: [{ key: 'n', expires: 100 }] });
    await expect(b.commit({ now: 10, useOnce: [{ key: 'n', expires: 100 }] })).rejects.toMatchObject({ code: 'replayed' });
    // ... and the other way round, through the non-batched path too.
    await b.commit({ now: 10, useOnce: [{ key: 'm', expires: 100 }] });
    await expect(a.commit({ now: 10, useOnce: [{ key: 'm', expires: 100 }], insert: toRow(rk, record('G'.repeat(22)), 1) })).rejects.toMatchObject({ code: 'replayed' });

    const r = record('H'.repeat(22));
    await a.commit({ now: 10, insert: toRow(rk, r, 1) });
    expect((await b.getClient(r.alias))!.version).toBe(1); // cached in b now
    await a.commit({ now: 10, update: toRow(rk, { ...r, data: { a: 2 } }, 2) });
    expect(JSON.parse((await b.getClient(r.alias))!.data)).toEqual({ a: 2 });
    // b's cache is stale only until its next look; a versioned write from stale data is refused.
    await a.commit({ now: 10, rename: { from: r.alias, expectVersion: 2, row: toRow(rk, { ...r, alias: 'I'.repeat(22) }, 3) } });
    await expect(b.commit({ now: 10, update: toRow(rk, { ...r, data: { a: 9 } }, 3) })).rejects.toMatchObject({ code: 'conflict' });
    expect(await b.getClient(r.alias)).toBeNull();
    expect((await b.getClient('I'.repeat(22)))!.version).toBe(3);
    await a.close();
    await b.close();
  });

  it('reads may lag another connection by at most readStalenessMs; commits never do', async () => {
    const path = join(tmp(), 'v.db');
    const a = new SqliteStore(path);
    const b = new SqliteStore(path, { readStalenessMs: 60_000 });
    const r = record('J'.repeat(22));
    await a.commit({ now: 10, insert: toRow(rk, r, 1) });
    expect(await b.getClient(r.alias)).not.toBeNull();
    await a.commit({ now: 10, update: toRow(rk, { ...r, data: { a: 2 } }, 2) });
    expect((await b.getClient(r.alias))!.version).toBe(1); // within the staleness bound
    await b.commit({ now: 10, useOnce: [{ key: 'z', expires: 100 }] }); // a commit looks
    expect((await b.getClient(r.alias))!.version).toBe(2);
    await a.close();
    await b.close();
  });

  it('a failed commit leaves no one-time value in memory, batched or not', async () => {
    const s = new SqliteStore(':memory:');
    const r = record('K'.repeat(22));
    await s.commit({ now: 1, insert: toRow(rk, r, 1) });
    // The update conflicts, so its nonce must stay usable.
    await expect(s.commit({ now: 1, useOnce: [{ key: 'u', expires: 100 }], update: toRow(rk, r, 5) })).rejects.toMatchObject({ code: 'conflict' });
    // Batched: one replayed commit fails alone, the others in the same turn succeed.
    const results = await Promise.allSettled([
      s.commit({ now: 1, useOnce: [{ key: 'u', expires: 100 }] }),
      s.commit({ now: 1, useOnce: [{ key: 'v', expires: 100 }, { key: 'u', expires: 100 }] }),
      s.commit({ now: 1, useOnce: [{ key: 'w', expires: 100 }] }),
    ]);
    expect(results.map((x) => x.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    await s.commit({ now: 1, useOnce: [{ key: 'v', expires: 100 }] }); // 'v' went back with its commit
    // One commit naming a value twice is a replay of itself, and leaves nothing behind.
    await expect(s.commit({ now: 1, useOnce: [{ key: 'd', expires: 100 }, { key: 'd', expires: 100 }] })).rejects.toMatchObject({ code: 'replayed' });
    await s.commit({ now: 1, useOnce: [{ key: 'd', expires: 100 }] });
    await s.close();
  });

  it('migrates a schema-1 database: its one-time values still count', async () => {
    const path = join(tmp(), 'v.db');
    const old = new Database(path);
    old.exec(`CREATE TABLE clients (alias TEXT PRIMARY KEY, gen INTEGER NOT NULL, key_enc BLOB NOT NULL, data TEXT NOT NULL, chain TEXT, closed_chains TEXT NOT NULL,
      receipt TEXT, registered_at INTEGER NOT NULL, valid_from INTEGER NOT NULL, valid_until INTEGER, updated_at INTEGER NOT NULL, version INTEGER NOT NULL) STRICT;
      CREATE TABLE used (key TEXT PRIMARY KEY, expires INTEGER NOT NULL) STRICT, WITHOUT ROWID; CREATE INDEX used_expires ON used (expires);
      INSERT INTO used VALUES ('old', 4000000000); PRAGMA user_version = 1;`);
    old.close();
    const s = new SqliteStore(path);
    await expect(s.commit({ now: 10, useOnce: [{ key: 'old', expires: 4_000_000_000 }] })).rejects.toMatchObject({ code: 'replayed' });
    await s.close();
  });
});

describe('the vendor across restarts and crashes', () => {
  it('restart: every registered client still works', async () => {
    const dir = tmp();
    const keys = await testKeyMaterial();
    const port = await freePort();
    const routes = [{ path: '/api/me', level: 'sddp' as const, handler: ({ client }: { client: { alias: string } }) => ({ alias: client.alias }) }];
    const first = await startHttpVendor({ db: join(dir, 'v.db'), port, keys, routes });
    const peer = httpPeer(first.origin);
    const doc = await discover(peer, first.origin);
    const users = await Promise.all(['u1', 'u2', 'u3'].map((u) => sessionFor(`${u}@example.org`, `${u} secret`, first.origin)));
    const now = Math.floor(Date.now() / 1000);
    for (const u of users) await register(peer, u, doc, { now, data: { who: u.alias } });
    await first.close();
    await new Promise((ok) => setTimeout(ok, 100)); // let the client's pooled sockets see the close

    const second = await startHttpVendor({ db: join(dir, 'v.db'), port, keys, routes });
    try {
      expect(await second.store.countClients()).toBe(3);
      for (const u of users) expect((await deliver(peer, u, 'sddp', '/api/me', { now })).json).toEqual({ alias: u.alias });
    } finally {
      await second.close();
    }
  });

  it('a crash inside the SKEP transaction leaves no half record, and the registration can be completed after restart', async () => {
    const dir = tmp();
    const keys = await testKeyMaterial();
    const keyFile = join(dir, 'key.pem');
    writeFileSync(keyFile, keys.privateKeyPem);
    const port = await freePort();
    const db = join(dir, 'v.db');
    const child = spawn(process.execPath, ['--import', 'tsx', new URL('../../test/support/crash-vendor.ts', import.meta.url).pathname, db, String(port), toHex(keys.kek), keyFile], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    await once(createInterface({ input: child.stdout! }), 'line');
    const origin = `http://127.0.0.1:${port}`;
    const peer = httpPeer(origin);
    const doc = await discover(peer, origin);
    const s = await sessionFor('crash@example.org', 'crash secret', origin);
    const now = Math.floor(Date.now() / 1000);
    const start = await skepStart({ session: s, discovery: doc, data: { plan: 'x' }, now });
    const s2 = await skepOnResponse(start.state, await peer(start.request), now);
    // The vendor dies in the middle of storing the record.
    await expect(peer(s2.request!)).rejects.toThrow();
    await once(child, 'exit');
    expect(child.signalCode).toBe('SIGKILL');

    const after = await startHttpVendor({ db, port, keys, routes: [] });
    try {
      expect(await after.store.countClients()).toBe(0);
      expect(await after.store.getClient(s.alias)).toBeNull();
      // Nothing of the failed transaction survived, not even the token's one-time entry.
      const res = await peer(s2.request!);
      expect(res.status).toBe(201);
      expect(await after.store.countClients()).toBe(1);
    } finally {
      await after.close();
    }
  });
});
