/** `janus-vendor inspect`: one client record without its key, or the number of clients (docs/CLI.md). */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseStoreLocation } from '../open-store.ts';
import { publicView } from '../records.ts';
import { cwdOf, EXIT, inputError, negative, required, usage, type Command } from './command.ts';
import { databaseOption, openDatabase, readServeConfig } from './config.ts';

export const inspect: Command = {
  name: 'inspect',
  summary: 'show a client record without its key, or count the clients',
  options: { config: { type: 'string' }, database: { type: 'string' }, count: { type: 'boolean' } },
  help: `Usage: janus-vendor inspect --config <file.json> [--database <path | postgres://...>] <alias>
       janus-vendor inspect --config <file.json> [--database <path | postgres://...>] --count

Prints the client record of <alias> as JSON: generation, subscription data, validity, receipt
chain, receipt, timestamps. Never the client's key. With --count, prints the number of clients.
The database is the config's "database" (or --database); the keys are not needed.

Exit codes: 0 found, 1 no client with that alias, 2 usage, 3 config or database problem.

Options:
  --config <file>      the serve config file
  --database <where>   the store, instead of the config's "database": a SQLite file or a postgres:// URL
  --count              print the number of registered clients
  -h, --help           this help
`,
  async run(v, pos, io) {
    const file = resolve(cwdOf(io), required(v, 'config', 'inspect'));
    const count = v['count'] === true;
    if (count && pos.length) throw usage('inspect: give either an alias or --count, not both');
    if (!count && pos.length !== 1) throw usage(pos.length ? `inspect: one alias at a time, got ${pos.length}` : 'inspect: which alias? (or --count)');
    const cfg = readServeConfig(file, databaseOption(v, 'inspect', io));
    const where = parseStoreLocation(cfg.database);
    // Opening a SQLite file creates it; a PostgreSQL database is never created here.
    if (where.kind === 'sqlite' && where.path !== ':memory:' && !existsSync(where.path)) throw inputError(`no database at ${where.path} (has the vendor run yet?)`);
    const store = await openDatabase(cfg.database);
    try {
      if (count) {
        io.out(`${await store.countClients()}\n`);
        return EXIT.ok;
      }
      const alias = pos[0]!;
      const row = await store.getClient(alias);
      if (!row) throw negative(`no client ${alias}`);
      io.out(JSON.stringify(publicView(row), null, 2) + '\n');
      return EXIT.ok;
    } finally {
      await store.close();
    }
  },
};
