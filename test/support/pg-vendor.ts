/** A vendor SDK instance on PgStore behind a real HTTP server on loopback: several make one vendor. */
import type { Server } from 'node:http';
import { createJanusServer } from '../../src/server/node-http.ts';
import { createVendor, type JanusVendor, type RouteSpec } from '../../src/server/core.ts';
import type { VendorConfig, VendorKeyMaterial } from '../../src/server/config.ts';
import { PgStore, type PgStoreOptions } from '../../src/server/pg-store.ts';
import { freePort } from './postgres.ts';

export interface PgHttpVendor {
  /** Where this instance listens (its requests are re-targeted here; id_V is the shared origin). */
  base: string;
  vendor: JanusVendor;
  store: PgStore;
  close(): Promise<void>;
}

/** One instance: its own PgStore (pool, cache, listener) on `url`, the shared origin, KEK and private key. */
export async function startPgVendor(opts: {
  url: string;
  origin: string;
  keys: VendorKeyMaterial;
  routes: RouteSpec[];
  config?: Partial<VendorConfig>;
  storeOptions?: PgStoreOptions;
}): Promise<PgHttpVendor> {
  const store = await PgStore.open(opts.url, opts.storeOptions);
  const vendor = createVendor({ config: { origin: opts.origin, keys: opts.keys, ...opts.config }, store, routes: opts.routes });
  const server: Server = createJanusServer(vendor);
  const port = await freePort();
  await new Promise<void>((ok) => server.listen(port, '127.0.0.1', ok));
  let closed: Promise<void> | null = null;
  return {
    base: `http://127.0.0.1:${port}`,
    vendor,
    store,
    close: () =>
      (closed ??= (async () => {
        server.closeAllConnections?.();
        await new Promise<void>((ok) => server.close(() => ok()));
        await vendor.close();
      })()),
  };
}
