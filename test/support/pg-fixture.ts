/**
 * PostgreSQL for a vitest file: `usePostgres()` at the top of the file. The server is $JANUS_PG_URL
 * when set (scripts/with-postgres.sh, CI), else a throwaway cluster of this file's own
 * (test/support/postgres.ts), started by the first test that asks for a database and removed after
 * the file. Each `freshDatabase()` is a new empty database, dropped afterwards, so files sharing one
 * server never see each other's rows.
 *
 * Nothing is skipped when PostgreSQL is missing: the server starts inside the tests (not in a
 * beforeAll hook, whose failure vitest reports as skipped tests), so each test that needs it fails,
 * saying what to install.
 */
import { afterAll } from 'vitest';
import { createDatabase, dropDatabase, startCluster, type PgCluster } from './postgres.ts';

interface PgFixture {
  /** The server's URL (its database `janus`, or $JANUS_PG_URL). */
  url(): Promise<string>;
  /** A new empty database; its URL. */
  freshDatabase(): Promise<string>;
}

export function usePostgres(): PgFixture {
  let server: Promise<{ url: string; cluster: PgCluster | null }> | null = null;
  const made: string[] = [];
  const start = () =>
    (server ??= (async () => {
      const env = process.env.JANUS_PG_URL;
      if (env) return { url: env, cluster: null };
      const cluster = await startCluster();
      return { url: cluster.url, cluster };
    })());
  afterAll(async () => {
    const s = await server?.catch(() => null);
    if (!s) return;
    if (s.cluster) await s.cluster.stop(); // the databases go with it
    else for (const db of made) await dropDatabase(db);
  }, 60_000);
  return {
    url: async () => (await start()).url,
    async freshDatabase() {
      const db = await createDatabase((await start()).url);
      made.push(db);
      return db;
    },
  };
}
