/**
 * Plain HTTP message shapes: the protocol core produces and consumes these, and the platform code
 * (fetch, the vendor SDK) turns them into real requests and responses. Header names are lower case.
 */
import { fromUtf8, utf8 } from '../crypto/bytes.ts';
import { isErrorCode, JanusError } from '../errors.ts';
import { HEADER, LIMITS } from './constants.ts';

export type Headers_ = Record<string, string>;

export interface HttpRequestMsg {
  method: string;
  url: string;
  headers: Headers_;
  body: Uint8Array;
}

export interface HttpResponseMsg {
  status: number;
  headers: Headers_;
  body: Uint8Array;
}

/** Reads one header (lower-case name); over LIMITS.header is `too_large` (§15). */
export function header(msg: { headers: Headers_ }, name: string): string | undefined {
  const v = msg.headers[name];
  if (v === undefined) return undefined;
  if (v.length > LIMITS.header) throw new JanusError('too_large', `header ${name} exceeds ${LIMITS.header} bytes`);
  return v;
}

export function requireHeader(msg: { headers: Headers_ }, name: string): string {
  const v = header(msg, name);
  if (v === undefined) throw new JanusError('malformed', `missing header ${name}`);
  return v;
}

/** Lower-cases header names (a helper for callers building messages from other sources). */
export function normalizeHeaders(h: Iterable<[string, string]> | Record<string, string>): Headers_ {
  const out: Headers_ = {};
  const entries = Symbol.iterator in Object(h) ? (h as Iterable<[string, string]>) : Object.entries(h as Record<string, string>);
  for (const [k, v] of entries) {
    const key = k.toLowerCase();
    out[key] = out[key] === undefined ? v : `${out[key]}, ${v}`;
  }
  return out;
}

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
export type JsonObject = { [k: string]: Json };

/** Strict JSON object parse of a body (§2): anything else is `malformed`; over `max` is `too_large`. */
export function parseJsonObject(bytes: Uint8Array, max: number, what = 'body'): JsonObject {
  if (bytes.length > max) throw new JanusError('too_large', `${what} exceeds ${max} bytes`);
  let v: unknown;
  try {
    v = JSON.parse(fromUtf8(bytes));
  } catch {
    throw new JanusError('malformed', `${what} is not JSON`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new JanusError('malformed', `${what} is not a JSON object`);
  return v as JsonObject;
}

export function jsonBytes(v: unknown): Uint8Array {
  return utf8(JSON.stringify(v));
}

/** Field readers: a wrong or missing field is `malformed` and names the field. */
export const field = {
  str(o: JsonObject, key: string, opts: { re?: RegExp; max?: number } = {}): string {
    const v = o[key];
    if (typeof v !== 'string') throw new JanusError('malformed', `"${key}" must be a string`);
    if (opts.max !== undefined && v.length > opts.max) throw new JanusError('malformed', `"${key}" is longer than ${opts.max}`);
    if (opts.re && !opts.re.test(v)) throw new JanusError('malformed', `"${key}" has the wrong format`);
    return v;
  },
  int(o: JsonObject, key: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
    const v = o[key];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) {
      throw new JanusError('malformed', `"${key}" must be an integer in ${min}..${max}`);
    }
    return v;
  },
  intOrNull(o: JsonObject, key: string): number | null {
    return o[key] === null || o[key] === undefined ? null : field.int(o, key);
  },
  bool(o: JsonObject, key: string, dflt?: boolean): boolean {
    const v = o[key];
    if (v === undefined && dflt !== undefined) return dflt;
    if (typeof v !== 'boolean') throw new JanusError('malformed', `"${key}" must be a boolean`);
    return v;
  },
  obj(o: JsonObject, key: string): JsonObject {
    const v = o[key];
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new JanusError('malformed', `"${key}" must be an object`);
    return v;
  },
  objOrNull(o: JsonObject, key: string): JsonObject | null {
    return o[key] === null || o[key] === undefined ? null : field.obj(o, key);
  },
};

/** §14.1: the wire form of an error; `Allow` on a 405 and `Retry-After` when the error says when (RFC 9110 §10.2). */
export function errorResponse(err: JanusError): HttpResponseMsg {
  const headers: Headers_ = { 'content-type': 'application/json', [HEADER.error]: err.code, 'cache-control': 'no-store' };
  const allow = err.details?.['allow'];
  if (err.code === 'method_not_allowed' && Array.isArray(allow)) headers['allow'] = allow.join(', ');
  const retry = err.details?.['retry_after'];
  if (typeof retry === 'number' && Number.isSafeInteger(retry) && retry >= 0) headers['retry-after'] = String(retry);
  return { status: err.status, headers, body: jsonBytes(err.toJSON()) };
}

/**
 * §14.2: reads an unauthenticated error response as a JanusError (with `details.unauthenticated`),
 * or returns null when the response is not a Janus error.
 */
export function readErrorResponse(res: HttpResponseMsg): JanusError | null {
  const code = res.headers[HEADER.error];
  if (res.status < 400 || !isErrorCode(code)) return null;
  let details: Record<string, unknown> = {};
  let message: string | undefined;
  try {
    const o = parseJsonObject(res.body, 64 * 1024);
    const e = o['error'];
    if (e && typeof e === 'object' && !Array.isArray(e)) {
      const { code: _c, message: m, ...rest } = e as Record<string, unknown>;
      details = rest;
      if (typeof m === 'string') message = m.slice(0, 500);
    }
  } catch {
    // The code header alone is enough.
  }
  return new JanusError(code, message, { ...details, unauthenticated: true, status: res.status });
}
