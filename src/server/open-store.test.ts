/** The store chosen by one configuration string: SQLite by default, PostgreSQL by URL, nothing else. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { JanusError } from '../errors.ts';
import { usePostgres } from '../../test/support/pg-fixture.ts';
import { displayStoreLocation, openStore, parseStoreLocation } from './open-store.ts';
import { PgStore } from './pg-store.ts';
import { SqliteStore } from './sqlite-store.ts';
import { clientRow, newAlias } from './store-contract.ts';

const pgdb = usePostgres();

describe('parseStoreLocation', () => {
  it.each([
    ['data/vendor.db', { kind: 'sqlite', path: 'data/vendor.db' }],
    ['/var/lib/janus/vendor.db', { kind: 'sqlite', path: '/var/lib/janus/vendor.db' }],
    [':memory:', { kind: 'sqlite', path: ':memory:' }],
    ['sqlite::memory:', { kind: 'sqlite', path: ':memory:' }],
    ['sqlite:data/v.db', { kind: 'sqlite', path: 'data/v.db' }],
    ['sqlite:///var/lib/janus/v%20x.db', { kind: 'sqlite', path: '/var/lib/janus/v x.db' }],
    ['SQLite:/abs.db', { kind: 'sqlite', path: '/abs.db' }],
    ['file:///srv/v.db', { kind: 'sqlite', path: '/srv/v.db' }],
    ['postgres://janus:pw@db.internal:5432/janus', { kind: 'postgres', url: 'postgres://janus:pw@db.internal:5432/janus' }],
    ['postgresql://db/janus?sslmode=require', { kind: 'postgres', url: 'postgresql://db/janus?sslmode=require' }],
    ['postgres:///janus?host=/var/run/postgresql', { kind: 'postgres', url: 'postgres:///janus?host=/var/run/postgresql' }],
  ])('%s', (location, want) => {
    expect(parseStoreLocation(location)).toEqual(want);
  });

  it.each([
    ['', /empty/],
    ['   ', /empty/],
    ['mysql://u:pw@host/db', /unsupported store "mysql:"/],
    ['https://example.org/db', /unsupported store "https:"/],
    ['redis:6379', /unsupported store "redis:"/],
    ['sqlite://host/v.db', /takes no host/],
    ['sqlite:', /names no file/],
    ['postgres://host-only', /names no database/],
    ['postgres:///janus', /names no host/],
    ['postgres://u:hunter2@/janus', /not a valid URL/],
    ['postgres://u:hunter2@[::1/janus', /not a valid URL/],
    ['file://remote/share/v.db', /not a local absolute path/],
  ])('%s is bad_input', (location, message) => {
    let e: unknown;
    try {
      parseStoreLocation(location);
    } catch (x) {
      e = x;
    }
    expect(e).toBeInstanceOf(JanusError);
    expect(e).toMatchObject({ code: 'bad_input' });
    expect((e as Error).message).toMatch(message);
    expect((e as Error).message).not.toContain('hunter2');
  });
});

describe('displayStoreLocation', () => {
  it('masks a URL password, and shows a path as it is', () => {
    expect(displayStoreLocation('postgres://janus:hunter2@db:5432/janus')).toBe('postgres://janus:***@db:5432/janus');
    expect(displayStoreLocation('postgresql://db/janus?user=j&password=hunter2')).toBe('postgresql://db/janus?user=j&password=***');
    expect(displayStoreLocation('postgres://u:hunter2@[::1/janus')).not.toContain('hunter2');
    expect(displayStoreLocation('data/vendor.db')).toBe('data/vendor.db');
  });
});

describe('openStore', () => {
  it('opens SqliteStore for paths and sqlite:/file: URLs, PgStore for postgres URLs, each working', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'janus-open-'));
    const pgUrl = await pgdb.freshDatabase();
    const cases: [string, typeof SqliteStore | typeof PgStore][] = [
      [join(dir, 'a.db'), SqliteStore],
      [`sqlite:${join(dir, 'b.db')}`, SqliteStore],
      [pathToFileURL(join(dir, 'c.db')).toString(), SqliteStore],
      [':memory:', SqliteStore],
      [pgUrl, PgStore],
      [pgUrl.replace(/^postgres:/, 'postgresql:'), PgStore],
    ];
    for (const [location, kind] of cases) {
      const s = await openStore(location);
      try {
        expect(s).toBeInstanceOf(kind);
        const r = clientRow(newAlias());
        await s.commit({ now: 1, insert: r });
        expect(await s.getClient(r.alias)).toEqual(r);
      } finally {
        await s.close();
      }
    }
  });
});
