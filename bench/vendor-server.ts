/**
 * The server half of bench/vendor.ts, in its own process (its own core): one vendor with a plain,
 * an SDDP and an EDDP route serving the same 1 KiB personalized page, and one registered client.
 * Prints one JSON line with the port and the client's key material for the load generator.
 */
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { toHex } from '../src/crypto/bytes.ts';
import { useCryptoProvider } from '../src/crypto/provider.ts';
import { createVendor, janus, nodeCryptoProvider, Reply, SqliteStore } from '../src/server/index.ts';
import type { JanusVariables } from '../src/server/hono.ts';
import { page } from './page.ts';
import { discover, register, sessionFor } from '../test/support/client.ts';
import { httpPeer, testKeyMaterial } from '../test/support/vendor-kit.ts';

useCryptoProvider(nodeCryptoProvider);
process.on('SIGINT', () => process.exit(0));
process.on('SIGTERM', () => process.exit(0));


const port = Number(process.argv[2] ?? 0) || 0;
const dir = mkdtempSync(join(tmpdir(), 'janus-bench-'));
const app = new Hono<{ Variables: JanusVariables }>();
const holder: { origin: string } = { origin: '' };

// The origin must be known before the vendor exists: listen first on a chosen port.
// The env (the Node request and response) goes through: the janus middleware reads headers from it.
const server = serve({ fetch: (r, env) => app.fetch(r, env), port, hostname: '127.0.0.1' });
await new Promise<void>((ok) => server.once('listening', ok));
const addr = server.address();
const actual = typeof addr === 'object' && addr ? addr.port : port;
holder.origin = `http://127.0.0.1:${actual}`;

const vendor = createVendor({
  config: { origin: holder.origin, keys: await testKeyMaterial(), rateLimits: { skepPerAddressPerMinute: 1e9, skepPerAliasPerMinute: 1e9, requestsPerClientPerSlot: 1e9 } },
  store: new SqliteStore(join(dir, 'vendor.db')),
  routes: [
    { path: '/sddp', level: 'sddp', handler: ({ client }) => new Reply(page(client.alias), { contentType: 'application/json' }) },
    { path: '/eddp', level: 'eddp', handler: ({ client }) => new Reply(page(client.alias), { contentType: 'application/json' }) },
  ],
});
app.use(janus(vendor));
// The baseline: the same page from a plain route of the same server (the paper's "Hello World").
app.get('/plain', (c) => c.body(page('plain-route-alias-xxxx'), 200, { 'content-type': 'application/json' }));
// For the load generator: this process's CPU time so far (user + system, microseconds).
app.get('/cpu', (c) => c.json(process.cpuUsage()));

const peer = httpPeer(holder.origin);
const doc = await discover(peer, holder.origin);
const s = await sessionFor('bench@example.org', 'bench secret', holder.origin);
await register(peer, s, doc, { now: Math.floor(Date.now() / 1000) });
process.stdout.write(JSON.stringify({ origin: holder.origin, alias: s.alias, gen: s.gen, k: toHex(s.k), dir }) + '\n');
