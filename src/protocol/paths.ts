/**
 * How a vendor matches a request to its routes (docs/PROTOCOL.md §5.1). The site behind a vendor may
 * read one path several ways (Express ignores case and a trailing slash, Hono decodes `%69` to `i`,
 * some servers take `\` for `/` or drop `;params`), so the vendor matches on a canonical path,
 * protects everything any of those readings could reach, and refuses spellings whose reading depends
 * on the server. The client keeps the plain rule of §5 (`routeFor`): it only ever sends the
 * canonical spellings it was given.
 */
import type { Route } from './discovery.ts';

const HEX = '0123456789ABCDEF';
const isHex = (c: number) => (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
const hexValue = (c: number) => (c <= 0x39 ? c - 0x30 : (c | 0x20) - 0x57);
// RFC 3986 §2.3: ALPHA / DIGIT / "-" / "." / "_" / "~"
const isUnreserved = (b: number) =>
  (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) || (b >= 0x30 && b <= 0x39) || b === 0x2d || b === 0x2e || b === 0x5f || b === 0x7e;

/**
 * RFC 3986 §6.2.2.1-2: percent-encoded unreserved characters decoded, every other escape's hex
 * upper-cased. `bad` is set when a `%` is not followed by two hex digits.
 */
function decodeUnreserved(path: string): { path: string; bad: boolean } {
  if (!path.includes('%')) return { path, bad: false };
  let out = '';
  let bad = false;
  for (let i = 0; i < path.length; i++) {
    const ch = path[i]!;
    if (ch !== '%') {
      out += ch;
      continue;
    }
    const a = path.charCodeAt(i + 1);
    const b = path.charCodeAt(i + 2);
    if (!isHex(a) || !isHex(b)) {
      bad = true;
      out += ch;
      continue;
    }
    const v = hexValue(a) * 16 + hexValue(b);
    out += isUnreserved(v) ? String.fromCharCode(v) : '%' + HEX[v >> 4] + HEX[v & 15];
    i += 2;
  }
  return { path: out, bad };
}

/** RFC 3986 §5.2.4: remove_dot_segments. */
export function removeDotSegments(path: string): string {
  if (!path.includes('.')) return path;
  const input = path.split('/');
  const out: string[] = [];
  for (let i = 0; i < input.length; i++) {
    const seg = input[i]!;
    const last = i === input.length - 1;
    if (seg === '.' || seg === '..') {
      if (seg === '..' && out.length > 1) out.pop();
      if (last) out.push(''); // "/a/.." -> "/", "/a/." -> "/a/"
      continue;
    }
    out.push(seg);
  }
  const joined = out.join('/');
  return joined.startsWith('/') ? joined : '/' + joined;
}

/** The path part of a request-target: origin-form `/p?q`, or absolute-form `http://h/p?q` (RFC 9112 §3.2). Null for `*` and anything else. */
export function splitTarget(target: string): { path: string; query: string } | null {
  let rest: string;
  if (target.startsWith('/')) rest = target;
  else {
    // Absolute-form: an origin server takes its path and query; the authority is not ours to follow.
    const m = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?#]*(.*)$/s.exec(target);
    if (!m) return null;
    rest = m[1] || '/';
    if (!rest.startsWith('/')) rest = '/' + rest;
  }
  const hash = rest.indexOf('#');
  if (hash >= 0) rest = rest.slice(0, hash);
  const q = rest.indexOf('?');
  return q < 0 ? { path: rest, query: '' } : { path: rest.slice(0, q), query: rest.slice(q) };
}

/** §5.1: the canonical form of a request path: unreserved escapes decoded, other escapes upper-case, dot segments removed. */
export function canonicalPath(raw: string): string {
  return removeDotSegments(decodeUnreserved(raw).path);
}

/**
 * §5.1: a spelling that servers read differently: an encoded `/`, `\` or `%` (decoded twice by
 * some), an encoded control character, a raw `\`, a `;` (path parameters, dropped by some), an
 * empty segment (`//`, merged by some), or a `%` that is not an escape.
 */
export function isAmbiguousPath(raw: string): boolean {
  if (!/[%\\;]|\/\//.test(raw)) return false; // the common case, without decoding anything
  const d = decodeUnreserved(raw);
  if (d.bad) return true;
  const p = d.path;
  return p.includes('\\') || p.includes(';') || p.includes('//') || /%(?:2F|5C|25|[01][0-9A-F]|7F)/.test(p);
}

/** Every reading of an ambiguous path folded into one (for deciding whether it could name a protected route). */
function loosePath(raw: string): string {
  let p = decodeUnreserved(raw).path;
  p = p.replace(/%25/g, '%');
  p = decodeUnreserved(p).path; // what a second decoding would make of it
  p = p.replace(/%2F|%5C|\\/gi, '/');
  p = p.replace(/;[^/]*/g, '');
  p = p.replace(/\/{2,}/g, '/');
  return removeDotSegments(p).toLowerCase();
}

const stripSlash = (p: string) => (p.length > 1 && p.endsWith('/') ? p.slice(0, -1) : p);

export type RouteVerdict<R extends Route> =
  /** A protected route (`sddp`, `eddp`, `eddp+receipts`) lists this method. */
  | { readonly kind: 'protected'; readonly route: R }
  /** The path is protected, but not for this method: 405 with `allow`. */
  | { readonly kind: 'method_not_allowed'; readonly allow: readonly string[] }
  /** A spelling servers read differently, and one reading names a protected route: 400. */
  | { readonly kind: 'ambiguous' }
  /** A `credential` route, or no route at all: the site's own request. */
  | { readonly kind: 'open'; readonly route: R | null };

export interface RouteMatchOptions {
  /** Compare paths case-sensitively (an upstream known to be case-sensitive). Default false: `/API/x` is `/api/x`. */
  readonly caseSensitive?: boolean;
}

interface Entry<R> {
  readonly route: R;
  /** Exact routes: the key without a trailing slash. Prefix routes (`/p/*`): the prefix with its slash. */
  readonly key: string;
  readonly prefix: boolean;
  readonly protected: boolean;
}

/**
 * §5.1, vendor side. Matches on the canonical path; a protected route wins over a `credential`
 * route whatever their order; a protected path with an unlisted method is refused, not passed on.
 */
export class RouteTable<R extends Route> {
  private readonly entries: Entry<R>[];
  private readonly fold: (s: string) => string;
  private readonly anyProtected: boolean;

  constructor(routes: readonly R[], opts: RouteMatchOptions = {}) {
    this.fold = opts.caseSensitive ? (s) => s : (s) => s.toLowerCase();
    this.entries = routes.map((route) => {
      const prefix = route.path.endsWith('/*');
      const path = canonicalPath(prefix ? route.path.slice(0, -1) : route.path);
      return { route, prefix, key: this.fold(prefix ? path : stripSlash(path)), protected: route.level !== 'credential' };
    });
    this.anyProtected = this.entries.some((e) => e.protected);
  }

  private hits(e: Entry<R>, folded: string): boolean {
    return e.prefix ? folded.startsWith(e.key) : stripSlash(folded) === e.key;
  }

  /** `rawPath`: the path of the request-target as received (percent-encoded, no query). */
  match(rawPath: string, method: string): { verdict: RouteVerdict<R>; path: string } {
    const path = canonicalPath(rawPath);
    if (this.anyProtected && isAmbiguousPath(rawPath)) {
      const loose = loosePath(rawPath);
      for (const e of this.entries) {
        if (!e.protected) continue;
        const key = e.key.toLowerCase();
        // A prefix route also claims its bare parent here: "/api/intraday;x" may reach either.
        if (e.prefix ? loose.startsWith(key) || stripSlash(loose) === key.slice(0, -1) : stripSlash(loose) === key) return { verdict: { kind: 'ambiguous' }, path };
      }
    }
    const folded = this.fold(path);
    const m = method.toUpperCase();
    let allow: Set<string> | null = null;
    let open: R | null = null;
    for (const e of this.entries) {
      if (!this.hits(e, folded)) continue;
      if (!e.protected) {
        open ??= e.route;
        continue;
      }
      if (e.route.methods === null || e.route.methods.includes(m)) return { verdict: { kind: 'protected', route: e.route }, path };
      allow ??= new Set();
      for (const x of e.route.methods) allow.add(x);
    }
    if (allow) return { verdict: { kind: 'method_not_allowed', allow: [...allow].sort() }, path };
    return { verdict: { kind: 'open', route: open }, path };
  }
}

/** A route path a vendor may declare: canonical and unambiguous, so that it means one thing to every server. */
export function isCanonicalRoutePath(p: string): boolean {
  const body = p.endsWith('/*') ? p.slice(0, -1) : p;
  return p.startsWith('/') && !p.startsWith('//') && /^[\x21-\x7e]*$/.test(p) && !body.includes('*') && !isAmbiguousPath(body) && canonicalPath(body) === body && !/[?#]/.test(p);
}
