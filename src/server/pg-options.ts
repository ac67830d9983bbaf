/**
 * PgStore's options, apart from pg-store.ts so that the SDK's core (openStore) names them without
 * its declarations needing node-postgres's: a site that uses SQLite installs no `pg` nor `@types/pg`.
 */

export interface PgMigration {
  readonly name: string;
  readonly sql: string;
}

/** node-postgres connection settings (its `ClientConfig`: ssl, timeouts, ...), passed on as they are. */
export interface PgSettings {
  ssl?: boolean | Record<string, unknown>;
  connectionTimeoutMillis?: number;
  statement_timeout?: number;
  query_timeout?: number;
  idle_in_transaction_session_timeout?: number;
  keepAlive?: boolean;
  [setting: string]: unknown;
}

export interface PgStoreOptions {
  /** Connections in the pool (default 10). */
  max?: number;
  /** Client rows kept in memory (default 100 000; 0: no cache). */
  cacheSize?: number;
  /** A cached row is read again after this long even without a notification (default 60 000 ms; a heartbeat bounds staleness to 1 s, pg-store.ts). */
  cacheMaxAgeMs?: number;
  /** More node-postgres settings (ssl, timeouts), for the pool and the listening connection. */
  pg?: PgSettings;
  /** Migrations to apply (tests); default PG_MIGRATIONS. */
  migrations?: readonly PgMigration[];
}
