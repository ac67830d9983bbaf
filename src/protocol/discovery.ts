/** The discovery document at /.well-known/janus and key pinning (docs/PROTOCOL.md §5). */
import { parseVendorPublicKey, type VendorPublicKey } from '../crypto/rsa.ts';
import { guard, JanusError } from '../errors.ts';
import { DEFAULT_PATHS, DEFAULT_WINDOW, LEVELS, LIMITS, MAX_WINDOW, VERSION, type Level } from './constants.ts';
import { field, parseJsonObject, type Json, type JsonObject } from './http.ts';

export const WELL_KNOWN = '/.well-known/janus';

export interface Route {
  readonly path: string;
  readonly methods: readonly string[] | null;
  readonly level: Level;
}

export type ReceiptPolicy = 'none' | 'offered' | 'required';

export interface Discovery {
  readonly origin: string;
  readonly key: VendorPublicKey;
  readonly cert: string | null;
  readonly window: number;
  readonly skepPath: string;
  readonly receipt: ReceiptPolicy;
  readonly challengePath: string;
  readonly ackPath: string;
  readonly rotatePath: string;
  readonly routes: readonly Route[];
  readonly name: string | null;
  readonly subscription: JsonObject | null;
}

function path(o: JsonObject, key: string): string {
  const p = field.str(o, key, { max: 2048 });
  // §5: same-origin paths only, so a document can never point the client at another origin.
  if (!p.startsWith('/') || p.startsWith('//') || /[\s\\#?]/.test(p)) throw new JanusError('malformed', `"${key}" must be a path starting with one /`);
  return p;
}

/** §5: message 3 goes to skep.path + "/confirm", so the path must not end in "/". */
function skepPath(skep: JsonObject): string {
  const p = path(skep, 'path');
  if (p.endsWith('/')) throw new JanusError('malformed', '"skep.path" must not end with /');
  return p;
}

/**
 * §5, client side. `idV` is what the client computed from the URL it fetched; the document's
 * `origin` must equal it (the document can confirm the vendor identity, never choose it).
 */
export function parseDiscovery(bytes: Uint8Array, idV: string): Discovery {
  const o = parseJsonObject(bytes, LIMITS.discovery, 'discovery document');
  const v = field.int(o, 'janus');
  if (v !== VERSION) throw new JanusError('unsupported_version', `discovery version ${v} is not supported`);
  const origin = field.str(o, 'origin', { max: 2048 });
  if (origin !== idV) throw new JanusError('wrong_vendor', `the document is for ${origin}, fetched from ${idV}`);
  const keyObj = field.obj(o, 'key');
  const spki = field.str(keyObj, 'spki', { max: 8192 });
  const cert = keyObj['cert'] === undefined || keyObj['cert'] === null || keyObj['cert'] === '' ? null : field.str(keyObj, 'cert', { max: 16384 });
  const fingerprint = field.str(keyObj, 'fingerprint', { max: 64 });
  const key = guard('bad_vendor_key', () => parseVendorPublicKey(cert ? { spki, cert } : { spki }));
  if (key.fingerprint !== fingerprint) throw new JanusError('bad_vendor_key', 'the key fingerprint does not match the key');
  const window = o['window'] === undefined ? DEFAULT_WINDOW : field.int(o, 'window', 0, MAX_WINDOW);
  const skep = field.obj(o, 'skep');
  const receipt = skep['receipt'] === undefined ? 'none' : field.str(skep, 'receipt');
  if (receipt !== 'none' && receipt !== 'offered' && receipt !== 'required') throw new JanusError('malformed', '"receipt" must be none, offered or required');
  const routesJson = o['routes'] ?? [];
  if (!Array.isArray(routesJson) || routesJson.length > 1000) throw new JanusError('malformed', '"routes" must be an array of at most 1000');
  const routes = routesJson.map((r: Json): Route => {
    if (typeof r !== 'object' || r === null || Array.isArray(r)) throw new JanusError('malformed', 'a route must be an object');
    const level = field.str(r, 'level') as Level;
    if (!LEVELS.includes(level)) throw new JanusError('malformed', `unknown level ${level}`);
    let methods: string[] | null = null;
    if (r['methods'] !== undefined) {
      const m = r['methods'];
      if (!Array.isArray(m) || !m.every((x) => typeof x === 'string' && /^[A-Za-z]{1,16}$/.test(x))) {
        throw new JanusError('malformed', '"methods" must be an array of method names');
      }
      methods = (m as string[]).map((x) => x.toUpperCase());
    }
    return { path: path(r, 'path'), methods, level };
  });
  const name = o['name'] === undefined ? null : field.str(o, 'name', { max: 200 });
  return {
    origin,
    key,
    cert,
    window,
    skepPath: skepPath(skep),
    receipt,
    challengePath: path(o, 'challenge_path'),
    ackPath: path(o, 'ack_path'),
    rotatePath: path(o, 'rotate_path'),
    routes,
    name,
    subscription: field.objOrNull(o, 'subscription'),
  };
}

/** §5: exact match, or prefix match for a path ending in "/*". The first matching route wins. */
export function routeFor(routes: readonly Route[], pathname: string, method: string): Route | null {
  const m = method.toUpperCase();
  for (const r of routes) {
    const hit = r.path.endsWith('/*') ? pathname.startsWith(r.path.slice(0, -1)) : pathname === r.path;
    if (hit && (r.methods === null || r.methods.includes(m))) return r;
  }
  return null;
}

/** §5 key pinning: a pinned vendor whose key changed is refused. */
export function checkPin(doc: Discovery, pinnedFingerprint: string | null | undefined): void {
  if (pinnedFingerprint && pinnedFingerprint !== doc.key.fingerprint) {
    throw new JanusError('key_pin_mismatch', `the vendor's key changed (pinned ${pinnedFingerprint}, now ${doc.key.fingerprint})`);
  }
}

export interface DiscoveryInput {
  origin: string;
  spki: string;
  fingerprint: string;
  cert?: string;
  window?: number;
  receipt?: ReceiptPolicy;
  routes: Route[];
  name?: string;
  subscription?: JsonObject;
  paths?: Partial<{ skep: string; challenge: string; ack: string; rotate: string }>;
}

/** Vendor side: the document a vendor serves. */
export function buildDiscovery(d: DiscoveryInput): JsonObject {
  return {
    janus: VERSION,
    origin: d.origin,
    key: { spki: d.spki, fingerprint: d.fingerprint, ...(d.cert ? { cert: d.cert } : {}) },
    window: d.window ?? DEFAULT_WINDOW,
    skep: { path: d.paths?.skep ?? DEFAULT_PATHS.skep, receipt: d.receipt ?? 'offered' },
    challenge_path: d.paths?.challenge ?? DEFAULT_PATHS.challenge,
    ack_path: d.paths?.ack ?? DEFAULT_PATHS.ack,
    rotate_path: d.paths?.rotate ?? DEFAULT_PATHS.rotate,
    routes: d.routes.map((r) => ({ path: r.path, ...(r.methods ? { methods: [...r.methods] } : {}), level: r.level })),
    ...(d.name ? { name: d.name } : {}),
    ...(d.subscription ? { subscription: d.subscription } : {}),
  };
}
