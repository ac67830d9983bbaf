/**
 * `npm start`: runs Quotes, the demo vendor, on http://localhost:PORT (PORT, default 8080) with its
 * keys and database in JANUS_DATA_DIR (default .janus-data/demo); JANUS_DEMO_DATABASE (a SQLite
 * path or a postgres:// URL) puts the SDK's store elsewhere.
 */
import { displayStoreLocation } from 'janus-vendor';
import { startDemo } from './server.ts';

const portText = process.env['PORT'] ?? '8080';
const port = Number(portText);
if (!/^\d{1,5}$/.test(portText) || port > 65535) {
  console.error(`PORT must be a port number (0 to 65535), got ${JSON.stringify(portText)}`);
  process.exit(2);
}
const dataDir = process.env['JANUS_DATA_DIR'] ?? '.janus-data/demo';
const database = process.env['JANUS_DEMO_DATABASE'] || undefined;

console.log('Starting Quotes, the Janus demo vendor (paper Examples 1 and 2)...');
let demo: Awaited<ReturnType<typeof startDemo>>;
try {
  demo = await startDemo({ port, dataDir, ...(database ? { database } : {}) });
} catch (e) {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'EADDRINUSE') console.error(`Port ${port} is in use. Start on another one, e.g. PORT=8081 npm start`);
  else console.error(`Quotes could not start${database ? ` (database ${displayStoreLocation(database)})` : ''}: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
}

const clients = await demo.vendor.store.countClients();
console.log(`
  Quotes is running.

  Open ${demo.origin}/ in Chromium with the Janus extension loaded: chrome://extensions,
  Developer mode, "Load unpacked", and pick ${new URL('../dist', import.meta.url).pathname}
  (npm start has just built it; janus-extension.zip is the same for a store upload).
  Then unlock it from its toolbar popup with an identity and a secret. Without the extension the pages still load, but every protected request (your watchlist, intraday quotes)
  is refused: that is the point. Use exactly ${demo.origin} (not 127.0.0.1): the Janus key of a
  site is bound to the origin in the address bar.

  Discovery document  ${demo.origin}/.well-known/janus
  Vendor key          ${demo.vendor.config.fingerprint}
  Data                ${demo.dataDir}${demo.created.length ? ' (new keys made now)' : ' (keys reused)'}, ${clients} registered client(s)
                      stop, delete that directory and start again to begin afresh${database ? `
  Clients stored in   ${displayStoreLocation(database)}` : ''}

  Each request is logged below with the Janus protocol that protects it. Ctrl-C stops.
`);

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) process.exit(1);
    stopping = true;
    console.log('\nStopping Quotes...');
    void demo.close().then(() => process.exit(0));
  });
}
