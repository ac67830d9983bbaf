/**
 * A vendor process that kills itself (SIGKILL) inside the SQLite transaction of the first SKEP
 * message 3, after its writes and before COMMIT: a real crash mid-transaction.
 * argv: <db path> <port> <kek hex> <private key PEM file>
 */
import { readFileSync } from 'node:fs';
import { fromHex } from '../../src/crypto/bytes.ts';
import { createVendor } from '../../src/server/core.ts';
import { createJanusServer } from '../../src/server/node-http.ts';
import { SqliteStore } from '../../src/server/sqlite-store.ts';

const [db, port, kek, keyFile] = process.argv.slice(2) as [string, string, string, string];
const store = new SqliteStore(db, {
  beforeCommit: (c) => {
    if (c.insert) process.kill(process.pid, 'SIGKILL');
  },
});
const vendor = createVendor({
  config: { origin: `http://127.0.0.1:${port}`, keys: { privateKeyPem: readFileSync(keyFile, 'utf8'), kek: fromHex(kek) } },
  store,
});
createJanusServer(vendor).listen(Number(port), '127.0.0.1', () => process.stdout.write('ready\n'));
