/**
 * The demo's own storage, beside the SDK's: watchlists per alias in a table of the same SQLite
 * file (its own connection; the SDK's tables are never touched), and a Store wrapper that keeps the
 * card number out of the SDK's client records.
 */
import Database from 'better-sqlite3';
import type { JsonObject } from '../src/protocol/index.ts';
import type { ClientRow, Commit, Store } from '../src/vendor/store.ts';
import { redactForStorage } from './plans.ts';

export class WatchlistTable {
  private readonly db: Database.Database;
  private readonly getStmt;
  private readonly putStmt;

  constructor(path: string) {
    this.db = new Database(path);
    this.db.pragma('busy_timeout = 5000');
    this.db.exec(
      `CREATE TABLE IF NOT EXISTS demo_watchlists (
         alias      TEXT PRIMARY KEY,
         symbols    TEXT NOT NULL,
         updated_at INTEGER NOT NULL
       ) STRICT`,
    );
    this.getStmt = this.db.prepare<[string], { symbols: string }>('SELECT symbols FROM demo_watchlists WHERE alias = ?');
    this.putStmt = this.db.prepare<[string, string, number]>(
      `INSERT INTO demo_watchlists (alias, symbols, updated_at) VALUES (?, ?, ?)
       ON CONFLICT (alias) DO UPDATE SET symbols = excluded.symbols, updated_at = excluded.updated_at`,
    );
  }

  get(alias: string): string[] | null {
    const row = this.getStmt.get(alias);
    return row ? (JSON.parse(row.symbols) as string[]) : null;
  }

  put(alias: string, symbols: readonly string[], now: number): void {
    this.putStmt.run(alias, JSON.stringify(symbols), now);
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}

/**
 * A Store that stores new client records with the card number replaced by its last four digits.
 * The SDK keeps `data` as the client sent it (SubscribePolicy cannot change it); this is where the
 * demo makes sure a copy of its database holds no card numbers.
 */
export class RedactingStore implements Store {
  readonly kind: string;
  constructor(private readonly inner: Store) {
    this.kind = `${inner.kind}+redacting`;
  }

  getClient(alias: string): Promise<ClientRow | null> {
    return this.inner.getClient(alias);
  }

  commit(c: Commit): Promise<void> {
    if (!c.insert) return this.inner.commit(c);
    const data = redactForStorage(JSON.parse(c.insert.data) as JsonObject);
    return this.inner.commit({ ...c, insert: { ...c.insert, data: JSON.stringify(data) } });
  }

  cleanup(now: number): Promise<number> {
    return this.inner.cleanup(now);
  }

  countClients(): Promise<number> {
    return this.inner.countClients();
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
