/** A vendor SDK instance behind a real HTTP server on loopback, for tests. */
import { createServer as createNetServer } from 'node:net';
import type { Server } from 'node:http';
import { createJanusServer } from '../../src/server/node-http.ts';
import { createVendor, type JanusVendor, type RouteSpec } from '../../src/server/core.ts';
import type { VendorConfig } from '../../src/server/config.ts';
import { SqliteStore, type SqliteStoreOptions } from '../../src/server/sqlite-store.ts';
import { testKeyMaterial } from './vendor-kit.ts';

export async function freePort(): Promise<number> {
  const s = createNetServer();
  await new Promise<void>((ok) => s.listen(0, '127.0.0.1', ok));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((ok) => s.close(() => ok()));
  return port;
}

export interface HttpVendor {
  origin: string;
  vendor: JanusVendor;
  store: SqliteStore;
  close(): Promise<void>;
}

export async function startHttpVendor(opts: {
  routes: RouteSpec[];
  db?: string;
  port?: number;
  config?: Partial<VendorConfig>;
  storeOptions?: SqliteStoreOptions;
  keys?: Awaited<ReturnType<typeof testKeyMaterial>>;
}): Promise<HttpVendor> {
  const port = opts.port ?? (await freePort());
  const origin = `http://127.0.0.1:${port}`;
  const store = new SqliteStore(opts.db ?? ':memory:', opts.storeOptions);
  const vendor = createVendor({ config: { origin, keys: opts.keys ?? (await testKeyMaterial()), ...opts.config }, store, routes: opts.routes });
  const server: Server = createJanusServer(vendor);
  await new Promise<void>((ok) => server.listen(port, '127.0.0.1', ok));
  return {
    origin,
    vendor,
    store,
    async close() {
      server.closeAllConnections?.();
      await new Promise<void>((ok) => server.close(() => ok()));
      await vendor.close();
    },
  };
}
