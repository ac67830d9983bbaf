/**
 * The Store contract (store-contract.ts) against every store we ship: SqliteStore on a file and in
 * memory, and PgStore on a real PostgreSQL (a throwaway cluster, or $JANUS_PG_URL).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { usePostgres } from '../../test/support/pg-fixture.ts';
import { PgStore } from './pg-store.ts';
import { SqliteStore } from './sqlite-store.ts';
import { storeContract } from './store-contract.ts';

storeContract({
  name: 'SqliteStore (file)',
  persistent: true,
  shared: true,
  async fresh() {
    const path = join(mkdtempSync(join(tmpdir(), 'janus-contract-')), 'v.db');
    return { open: async () => new SqliteStore(path) };
  },
});

storeContract({
  name: 'SqliteStore (:memory:)',
  persistent: false,
  shared: false,
  async fresh() {
    return { open: async () => new SqliteStore(':memory:') };
  },
});

const pg = usePostgres();
storeContract({
  name: 'PgStore',
  persistent: true,
  shared: true,
  async fresh() {
    const url = await pg.freshDatabase();
    return { open: () => PgStore.open(url) };
  },
});
