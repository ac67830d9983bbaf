/** The Janus vendor SDK. */
export { createVendor, JanusVendor, PATHS, Reply, type HandlerContext, type HandlerResult, type JanusClient, type ProtectedHandler, type RouteSpec } from './core.ts';
export { loadKeyMaterial, parseKek, resolveConfig, type TrustProxy, type VendorConfig, type VendorKeyMaterial } from './config.ts';
export type { ClientRow, Commit, Store } from './store.ts';
export { SqliteStore } from './sqlite-store.ts';
export { PgStore, PG_MIGRATIONS, type PgStoreOptions } from './pg-store.ts';
export { openStore, parseStoreLocation, displayStoreLocation, type OpenStoreOptions, type StoreLocation } from './open-store.ts';
export { nodeCryptoProvider } from './node-crypto.ts';
export { janus } from './hono.ts';
export { createJanusServer, handleIncoming, toWebRequest, writeWebResponse } from './node-http.ts';
export { janusExpress } from './express.ts';
