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
