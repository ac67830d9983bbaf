/**
 * The store chosen by configuration, one string:
 * - `postgres://...` or `postgresql://...`: PgStore (several instances on one database);
 * - `sqlite:PATH`, `sqlite:///abs/path`, `sqlite::memory:`, `file:///abs/path`, or a plain path
 *   (`data/vendor.db`, `/var/lib/janus/vendor.db`, `:memory:`): SqliteStore, the default.
 * Anything else is `bad_input`, naming what was given (never the password of a URL).
 */
import { fileURLToPath } from 'node:url';
import { JanusError } from '../errors.ts';
import type { PgStoreOptions } from './pg-options.ts';
import type { SqliteStoreOptions } from './sqlite-store.ts';
import type { Store } from './store.ts';

export type StoreLocation = { kind: 'sqlite'; path: string } | { kind: 'postgres'; url: string };

export interface OpenStoreOptions {
  sqlite?: SqliteStoreOptions;
  postgres?: PgStoreOptions;
}

/** `scheme:` at the start, as URLs spell it (two letters at least: not a Windows drive). */
const SCHEME = /^([a-zA-Z][a-zA-Z0-9+.-]+):/;

export function parseStoreLocation(location: string): StoreLocation {
  if (typeof location !== 'string') throw new TypeError(`"location" expected string, got ${typeof location}`);
  const s = location.trim();
  if (s === '') throw new JanusError('bad_input', 'the store location is empty: give a SQLite path or a postgres:// URL');
  if (s === ':memory:') return { kind: 'sqlite', path: s };
  const scheme = SCHEME.exec(s)?.[1]?.toLowerCase();
  if (scheme === undefined) return { kind: 'sqlite', path: s };
  switch (scheme) {
    case 'postgres':
    case 'postgresql': {
      let u: URL;
      try {
        u = new URL(s);
      } catch {
        throw new JanusError('bad_input', `the PostgreSQL URL is not a valid URL (${scheme}://user:password@host:port/database)`);
      }
      if (!u.hostname && !u.searchParams.has('host')) throw new JanusError('bad_input', `the PostgreSQL URL names no host: ${redact(u)}`);
      if (u.pathname.length <= 1) throw new JanusError('bad_input', `the PostgreSQL URL names no database: ${redact(u)}`);
      return { kind: 'postgres', url: s };
    }
    case 'sqlite': {
      const rest = s.slice('sqlite:'.length);
      if (rest.startsWith('//')) {
        // sqlite:///abs/path, as file URLs spell it; a host (sqlite://host/x) means nothing here.
        if (!rest.startsWith('///')) throw new JanusError('bad_input', `a sqlite: URL takes no host: write sqlite:///absolute/path or sqlite:relative/path, got ${s}`);
        return { kind: 'sqlite', path: decodeURIComponent(rest.slice(2)) };
      }
      if (rest === '') throw new JanusError('bad_input', 'the sqlite: URL names no file');
      return { kind: 'sqlite', path: rest };
    }
    case 'file':
      try {
        return { kind: 'sqlite', path: fileURLToPath(s) };
      } catch (e) {
        throw new JanusError('bad_input', `the file: URL is not a local absolute path: ${s} (${(e as Error).message})`);
      }
    default:
      throw new JanusError('bad_input', `unsupported store "${scheme}:": give a SQLite path (or sqlite:PATH) or a postgres:// URL`);
  }
}

/**
 * Opens the store at `location` (see above); SQLite is created on first use, PostgreSQL migrated.
 * Each store's driver (better-sqlite3, pg) is loaded here, when it is chosen, never by importing the SDK.
 */
export async function openStore(location: string, opts: OpenStoreOptions = {}): Promise<Store> {
  const where = parseStoreLocation(location);
  if (where.kind === 'postgres') {
    const { PgStore } = await driver(() => import('./pg-store.ts'), 'pg', 'a PostgreSQL database');
    return PgStore.open(where.url, opts.postgres);
  }
  const { SqliteStore } = await driver(() => import('./sqlite-store.ts'), 'better-sqlite3', 'a SQLite database');
  return new SqliteStore(where.path, opts.sqlite);
}

/** A store's module, whose driver is an optional peer dependency of the package: its absence said plainly. */
async function driver<T>(load: () => Promise<T>, pkg: string, what: string): Promise<T> {
  try {
    return await load();
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'ERR_MODULE_NOT_FOUND' && err.message.includes(`'${pkg}'`)) throw new JanusError('bad_input', `${what} needs the ${pkg} package: npm install ${pkg}`);
    throw e;
  }
}

/** The location as logs and messages may show it: a URL's password masked. */
export function displayStoreLocation(location: string): string {
  if (!/^postgres(ql)?:/i.test(location.trim())) return location;
  try {
    return redact(new URL(location.trim()));
  } catch {
    return 'an unreadable PostgreSQL URL';
  }
}

function redact(u: URL): string {
  const c = new URL(u.toString());
  if (c.password) c.password = '***';
  for (const k of [...c.searchParams.keys()]) if (k.toLowerCase() === 'password') c.searchParams.set(k, '***');
  return c.toString();
}
