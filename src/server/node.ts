/**
 * `janus-vendor/node`: the SDK on plain node:http (docs/VENDOR.md): `janusNode(vendor)` (the guard
 * as a request listener, and the per-route wrappers), and `createJanusServer` for a site written
 * against Web Request and Response.
 */
export {
  createJanusServer,
  handleIncoming,
  janusNode,
  toWebRequest,
  writeWebResponse,
  type Fallback,
  type FallbackInfo,
  type JanusIncomingMessage,
  type JanusListener,
  type JanusNode,
  type ProtectedIncomingMessage,
  type ProtectedListener,
} from './node-http.ts';
export type { DeliveryMark, JanusRequest, ProtectOptions } from './app-route.ts';
