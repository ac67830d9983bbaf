/** §5.1: canonical paths and the vendor's route table, with property tests over re-spellings. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Route } from './discovery.ts';
import { canonicalPath, isAmbiguousPath, isCanonicalRoutePath, removeDotSegments, RouteTable, splitTarget } from './paths.ts';

const ROUTES: Route[] = [
  { path: '/api/watchlist', methods: ['GET', 'PUT'], level: 'sddp' },
  { path: '/api/intraday/*', methods: null, level: 'eddp+receipts' },
  { path: '/api/*', methods: null, level: 'credential' },
  { path: '/', methods: null, level: 'credential' },
];
const table = new RouteTable(ROUTES);

describe('canonicalPath (RFC 3986 §6.2.2)', () => {
  it('decodes unreserved escapes, upper-cases the others, removes dot segments', () => {
    expect(canonicalPath('/api/%69ntraday/%7euser')).toBe('/api/intraday/~user');
    expect(canonicalPath('/a%2fb/%3a')).toBe('/a%2Fb/%3A');
    expect(canonicalPath('/a/b/../c/./d')).toBe('/a/c/d');
    expect(canonicalPath('/a/%2e%2E/b')).toBe('/b');
    expect(canonicalPath('/..')).toBe('/');
    expect(canonicalPath('/a/..')).toBe('/');
    expect(canonicalPath('/a/.')).toBe('/a/');
    expect(canonicalPath('/a/%zz')).toBe('/a/%zz');
  });

  it('removeDotSegments agrees with the WHATWG URL parser on plain paths', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom('a', 'b', '.', '..', ''), { maxLength: 8 }), (segs) => {
        const p = '/' + segs.join('/');
        expect(removeDotSegments(p)).toBe(new URL('http://x' + p).pathname);
      }),
      { numRuns: 500 },
    );
  });

  it('is idempotent, and an escape of an unreserved character changes nothing', () => {
    const seg = fc.stringMatching(/^[A-Za-z0-9._~-]{0,6}$/);
    fc.assert(
      fc.property(fc.array(seg, { minLength: 1, maxLength: 5 }), fc.nat(), (segs, pick) => {
        const p = '/' + segs.join('/');
        expect(canonicalPath(canonicalPath(p))).toBe(canonicalPath(p));
        if (p.length < 2) return;
        const i = 1 + (pick % (p.length - 1));
        if (p[i] === '/') return;
        const escaped = p.slice(0, i) + '%' + p.charCodeAt(i).toString(16).padStart(2, '0') + p.slice(i + 1);
        expect(canonicalPath(escaped)).toBe(canonicalPath(p));
      }),
      { numRuns: 500 },
    );
  });
});

describe('splitTarget (RFC 9112 §3.2)', () => {
  it('origin-form and absolute-form; anything else is null', () => {
    expect(splitTarget('/a/b?x=1#f')).toEqual({ path: '/a/b', query: '?x=1' });
    expect(splitTarget('http://evil.example/x?y')).toEqual({ path: '/x', query: '?y' });
    expect(splitTarget('http://evil.example')).toEqual({ path: '/', query: '' });
    expect(splitTarget('*')).toBeNull();
    expect(splitTarget('evil.example:443')).toBeNull();
    expect(splitTarget('')).toBeNull();
  });
});

describe('RouteTable (§5.1)', () => {
  it('matches exact routes without case or trailing slash, prefix routes on the canonical path', () => {
    const v = (p: string, m = 'GET') => table.match(p, m).verdict;
    expect(v('/api/watchlist')).toMatchObject({ kind: 'protected', route: ROUTES[0] });
    expect(v('/API/Watchlist/')).toMatchObject({ kind: 'protected', route: ROUTES[0] });
    expect(v('/api/%77atchlist')).toMatchObject({ kind: 'protected' });
    expect(v('/api/Intraday/IBM', 'DELETE')).toMatchObject({ kind: 'protected', route: ROUTES[1] });
    expect(v('/api/intraday')).toMatchObject({ kind: 'open', route: ROUTES[2] });
    expect(v('/other')).toEqual({ kind: 'open', route: null });
    expect(v('/')).toMatchObject({ kind: 'open', route: ROUTES[3] });
  });

  it('a protected path with an unlisted method is method_not_allowed, even when a credential route also matches', () => {
    expect(table.match('/api/watchlist', 'DELETE').verdict).toEqual({ kind: 'method_not_allowed', allow: ['GET', 'PUT'] });
    expect(table.match('/api/watchlist', 'head').verdict).toEqual({ kind: 'method_not_allowed', allow: ['GET', 'PUT'] });
  });

  it('a protected route wins over an earlier credential route', () => {
    const t = new RouteTable<Route>([
      { path: '/api/*', methods: null, level: 'credential' },
      { path: '/api/x', methods: ['GET'], level: 'sddp' },
    ]);
    expect(t.match('/api/x', 'GET').verdict.kind).toBe('protected');
    expect(t.match('/api/y', 'GET').verdict.kind).toBe('open');
  });

  it('ambiguous spellings are refused only when one reading names a protected route', () => {
    for (const p of ['/api//watchlist', '/api%2Fwatchlist', '/api/watchlist;a=b', '/api\\watchlist', '/api/%2577atchlist', '/api/watchlist%2f', '/api/intraday;x', '/api/intraday%2FIBM', '/api/watch%00list/../watchlist']) {
      expect([p, table.match(p, 'GET').verdict.kind]).toEqual([p, 'ambiguous']);
    }
    for (const p of ['/pages//x', '/a;b', '/x%2Fy', '/api/other;x']) expect([p, table.match(p, 'GET').verdict.kind]).toEqual([p, 'open']);
    expect(isAmbiguousPath('/a/b')).toBe(false);
    expect(isAmbiguousPath('/a/%zz')).toBe(true);
  });

  it('case-sensitive when asked', () => {
    const t = new RouteTable(ROUTES, { caseSensitive: true });
    expect(t.match('/API/watchlist', 'GET').verdict.kind).toBe('open');
    expect(t.match('/api/watchlist/', 'GET').verdict.kind).toBe('protected');
  });

  it('property: no re-spelling of a protected path (case, escapes, dot segments, trailing slash, doubled slash, ;params, encoded slash) is open', () => {
    const respell = fc.record({
      upper: fc.array(fc.boolean(), { minLength: 24, maxLength: 24 }),
      escape: fc.array(fc.boolean(), { minLength: 24, maxLength: 24 }),
      dots: fc.constantFrom('', '/.', '/x/..', '/%2e', '/X/%2E%2E'),
      trail: fc.constantFrom('', '/', '//', ';x', '%2F'),
      double: fc.boolean(),
    });
    fc.assert(
      fc.property(fc.constantFrom(['api', 'watchlist'], ['api', 'intraday', 'IBM']), respell, fc.constantFrom('GET', 'PUT', 'DELETE', 'HEAD', 'POST'), (segs, r, method) => {
        let k = 0;
        const spelled = segs.map((seg) => {
          let out = '';
          for (const ch of seg) {
            const c = r.upper[k % 24] ? ch.toUpperCase() : ch;
            out += r.escape[k % 24] ? '%' + c.charCodeAt(0).toString(16) : c;
            k++;
          }
          return out;
        });
        const p = '/' + spelled[0] + r.dots + (r.double ? '//' : '/') + spelled.slice(1).join('/') + r.trail;
        expect([p, method, table.match(p, method).verdict.kind]).not.toEqual([p, method, 'open']);
      }),
      { numRuns: 2000 },
    );
  });

  it('isCanonicalRoutePath: what a vendor may declare', () => {
    for (const p of ['/', '/api/x', '/api/intraday/*', '/~user/a-b_c.d']) expect([p, isCanonicalRoutePath(p)]).toEqual([p, true]);
    for (const p of ['api', '//x', '/a/../b', '/a/./b', '/%61pi', '/a//b', '/a;b', '/a\\b', '/a%2Fb', '/a/*/b', '/a b', '/a?x']) expect([p, isCanonicalRoutePath(p)]).toEqual([p, false]);
  });
});
