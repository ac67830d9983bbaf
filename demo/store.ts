/**
 * The demo's own storage, beside the SDK's: watchlists per alias in a table of the same SQLite
 * file (its own connection; the SDK's tables are never touched). The card number never reaches the
 * SDK's records: the policy's `keep` (demo/plans.ts) replaces it by its last four digits.
 */
import Database from 'better-sqlite3';

export class WatchlistTable {
  private readonly db: Database.Database;
  private readonly getStmt;
  private readonly putStmt;
  private readonly renameStmt;

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
    this.renameStmt = this.db.prepare<[string, string]>('UPDATE OR REPLACE demo_watchlists SET alias = ? WHERE alias = ?');
  }

  /** A key rotation to a new secret moved the client to a new alias: its watchlist follows. */
  rename(from: string, to: string): void {
    this.renameStmt.run(to, from);
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
