/** Shared by scripts/gen-vectors.ts and test/vectors.test.ts. */
import { concat, fromHex, toHex, utf8 } from '../../src/crypto/bytes.ts';
import { sha256 } from '../../src/crypto/hash.ts';
import type { HttpRequestMsg, HttpResponseMsg, Route, RouteVerdict } from '../../src/protocol/index.ts';
import type { RouteVerdictVector } from './types.ts';

/** The time every message vector is made at. */
export const VECTOR_NOW = 1_764_072_000;
export const SMALL_ARGON2 = { m: 256, t: 2, p: 1 };

/** Deterministic "random" bytes for vectors: SHA-256("janus vector " || label), repeated. */
export function det(label: string, n: number): Uint8Array {
  let out: Uint8Array = new Uint8Array(0);
  for (let i = 0; out.length < n; i++) out = concat(out, sha256(utf8(`janus vector ${label} ${i}`)));
  return out.slice(0, n);
}

export interface WireReq { method: string; url: string; headers: Record<string, string>; body: string }
export interface WireRes { status: number; headers: Record<string, string>; body: string }

export const wireReq = (r: HttpRequestMsg): WireReq => ({ method: r.method, url: r.url, headers: r.headers, body: toHex(r.body) });
export const wireRes = (r: HttpResponseMsg): WireRes => ({ status: r.status, headers: r.headers, body: toHex(r.body) });
export const fromWireReq = (w: WireReq): HttpRequestMsg => ({ method: w.method, url: w.url, headers: { ...w.headers }, body: fromHex(w.body) });
export const fromWireRes = (w: WireRes): HttpResponseMsg => ({ status: w.status, headers: { ...w.headers }, body: fromHex(w.body) });

import type { SubscribePolicy } from '../../src/protocol/index.ts';
/** The subscription policy of the vector vendor: `months` of validity, `plan` into the terms. */
export const VECTOR_POLICY: SubscribePolicy = (d, now) => ({
  validFrom: now,
  validUntil: typeof d['months'] === 'number' ? now + d['months'] * 2_592_000 : null,
  terms: { plan: d['plan'] ?? 'free' },
});

/** A route table's verdict as routes.json writes it (§5.1); `appPath`: the canonical path and query an app request goes to. */
export function routeVerdictVector(v: RouteVerdict<Route>, appPath: string): RouteVerdictVector {
  if (v.kind === 'protected') return { verdict: 'protected', route: v.route.path, level: v.route.level };
  if (v.kind === 'method_not_allowed') return { verdict: 'refused', error: 'method_not_allowed', status: 405, allow: v.allow.join(', ') };
  if (v.kind === 'ambiguous') return { verdict: 'refused', error: 'malformed', status: 400 };
  return { verdict: 'app', path: appPath };
}
