/**
 * `janus-vendor`: the vendor SDK's core (docs/VENDOR.md). The framework adapters are doors of their
 * own (`janus-vendor/hono`, `janus-vendor/express`, `janus-vendor/node`), and so are the stores
 * (`janus-vendor/sqlite`, `janus-vendor/postgres`): importing this one loads no database driver.
 */
export {
  createVendor,
  JanusVendor,
  PATHS,
  Reply,
  toResponse,
  type BodyBudget,
  type BodyLease,
  type BodyReader,
  type Classified,
  type HandlerContext,
  type HandlerResult,
  type JanusClient,
  type ProtectedHandler,
  type ProtectedRoute,
  type RequestHead,
  type RequestInfo,
  type RouteSpec,
} from './core.ts';
export type { DeliveryMark, JanusRequest, ProtectOptions } from './app-route.ts';
export {
  DEFAULT_LIMITS,
  DEFAULT_RATE_LIMITS,
  loadKeyMaterial,
  parseKek,
  resolveConfig,
  type RateLimits,
  type ResolvedConfig,
  type TrustProxy,
  type VendorConfig,
  type VendorKeyMaterial,
  type VendorLimits,
} from './config.ts';
export { generateKek, generateVendorKey, vendorCertificate } from './keys.ts';
export type { ClientRow, Commit, Store } from './store.ts';
export { displayStoreLocation, openStore, parseStoreLocation, type OpenStoreOptions, type StoreLocation } from './open-store.ts';
export { nodeCryptoProvider } from './node-crypto.ts';
export { nobleProvider, useCryptoProvider, type CryptoProvider } from '../crypto/provider.ts';
export { ERRORS, isErrorCode, JanusError, type ErrorCode } from '../errors.ts';
export {
  LEVELS,
  nowSeconds,
  WELL_KNOWN,
  type DeliveryLevel,
  type Json,
  type JsonObject,
  type Level,
  type ReceiptPolicy,
  type Route,
  type SubscribePolicy,
  type SubscriptionTerms,
} from '../protocol/index.ts';
