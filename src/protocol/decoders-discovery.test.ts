/** Property tests: the discovery document, routeFor and checkPin (§5) (helpers: test/support/decoders.ts). */
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { b64u, concat, utf8 } from '../crypto/bytes.ts';
import { sha256 } from '../crypto/hash.ts';
import { spkiFingerprint } from '../crypto/rsa.ts';
import {
  buildDiscovery,
  checkPin,
  jsonBytes,
  LEVELS,
  LIMITS,
  parseDiscovery,
  routeFor,
  type DiscoveryInput,
  type ErrorCode,
  type JsonObject,
  type Level,
  type Route,
} from './index.ts';
import {
  docInput,
  expectCode,
  expectOnlyJanusError,
  idVArb,
  jsonObjectArb,
  keyMaterial,
  ORIGIN,
  viaJson,
  type KeyMaterial,
} from '../../test/support/decoders.ts';

// Shared key material (one RSA-3072 key pair, generated once for the file).
let km: KeyMaterial;
let spki: Uint8Array;
let spkiB64u: string;
let fingerprint: string;
let cert: string;
let spki2048: Uint8Array;

beforeAll(async () => {
  km = await keyMaterial();
  ({ spki, spkiB64u, fingerprint, cert, spki2048 } = km);
});

describe('discovery document (§5)', () => {
  const pathArb = fc
    .string({ unit: fc.constantFrom(...'abcXYZ019-._~/%@!$&()*+,;=:'), maxLength: 24 })
    .map((s) => `/${s}`)
    .filter((p) => !p.startsWith('//'));
  const routeArb: fc.Arbitrary<Route> = fc.record({
    path: fc.oneof(pathArb, pathArb.map((p) => `${p.replace(/\/$/, '')}/*`)),
    methods: fc.option(fc.uniqueArray(fc.constantFrom('GET', 'PUT', 'POST', 'DELETE', 'PATCH', 'HEAD'), { maxLength: 3 }), { nil: null }),
    level: fc.constantFrom(...LEVELS),
  });
  const inputArb = fc.record({
    origin: idVArb,
    window: fc.integer({ min: 0, max: 12 }),
    receipt: fc.constantFrom('none', 'offered', 'required') as fc.Arbitrary<'none' | 'offered' | 'required'>,
    routes: fc.array(routeArb, { maxLength: 5 }),
    name: fc.option(fc.string({ minLength: 1, maxLength: 200 }), { nil: undefined }),
    subscription: fc.option(jsonObjectArb, { nil: undefined }),
    // skep.path may not end in / (§5: message 3 goes to skep.path + "/confirm").
    paths: fc.record({ skep: pathArb.filter((p) => !p.endsWith('/')), challenge: pathArb, ack: pathArb, rotate: pathArb }, { requiredKeys: [] }),
    withCert: fc.boolean(),
  });

  it('parseDiscovery(buildDiscovery(d)) = d', () => {
    fc.assert(
      fc.property(inputArb, (x) => {
        const input: DiscoveryInput = {
          origin: x.origin,
          spki: spkiB64u,
          fingerprint,
          window: x.window,
          receipt: x.receipt,
          routes: x.routes,
          paths: x.paths,
          ...(x.withCert ? { cert } : {}),
          ...(x.name !== undefined ? { name: x.name } : {}),
          ...(x.subscription !== undefined ? { subscription: x.subscription } : {}),
        };
        const doc = parseDiscovery(jsonBytes(buildDiscovery(input)), x.origin);
        expect(doc).toEqual({
          origin: x.origin,
          key: { spki, fingerprint, modulusBits: 3072 },
          cert: x.withCert ? cert : null,
          window: x.window,
          skepPath: x.paths.skep ?? '/.janus/skep',
          receipt: x.receipt,
          challengePath: x.paths.challenge ?? '/.janus/challenge',
          ackPath: x.paths.ack ?? '/.janus/ack',
          rotatePath: x.paths.rotate ?? '/.janus/rotate',
          routes: x.routes.map((r) => ({ path: r.path, methods: r.methods ? [...r.methods] : null, level: r.level })),
          name: x.name ?? null,
          subscription: x.subscription === undefined ? null : viaJson(x.subscription),
        });
      }),
      { numRuns: 200 },
    );
  });

  const DISCOVERY_CODES: ErrorCode[] = ['malformed', 'too_large', 'unsupported_version', 'wrong_vendor', 'bad_vendor_key'];

  it('arbitrary bytes, JSON values and JSON objects: only JanusError', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 300 }),
        fc.jsonValue({ maxDepth: 4 }),
        fc.object({ maxDepth: 3 }),
        (raw, jv, obj) => {
          for (const b of [raw, utf8(JSON.stringify(jv) ?? 'null'), utf8(JSON.stringify(obj))]) {
            expectOnlyJanusError(() => parseDiscovery(b, ORIGIN), DISCOVERY_CODES);
          }
        },
      ),
      { numRuns: 400 },
    );
  });

  type Path = readonly (string | number)[];
  const FIELDS: Path[] = [
    ['janus'],
    ['origin'],
    ['key'],
    ['key', 'spki'],
    ['key', 'fingerprint'],
    ['key', 'cert'],
    ['window'],
    ['skep'],
    ['skep', 'path'],
    ['skep', 'receipt'],
    ['challenge_path'],
    ['ack_path'],
    ['rotate_path'],
    ['routes'],
    ['routes', 0],
    ['routes', 0, 'path'],
    ['routes', 0, 'methods'],
    ['routes', 1, 'level'],
    ['name'],
    ['subscription'],
  ];
  const editArb = fc.record({
    at: fc.constantFrom(...FIELDS),
    value: fc.oneof(
      { weight: 3, arbitrary: fc.jsonValue({ maxDepth: 2 }) },
      { weight: 3, arbitrary: fc.string({ unit: 'binary', maxLength: 30 }).map((s) => `/${s}`) },
      { weight: 1, arbitrary: fc.constantFrom<unknown>(undefined, null, 1, 2, 13, -1, 1.5, '1', '', '/', '//x', 'https://evil.example/', '<cert>', 'GET', ['get'], 'sddp') },
    ),
  });

  function edit(doc: JsonObject, at: Path, value: unknown): void {
    let o: unknown = doc;
    for (const k of at.slice(0, -1)) {
      if (typeof o !== 'object' || o === null) return;
      o = (o as Record<string | number, unknown>)[k];
    }
    if (typeof o !== 'object' || o === null) return;
    const last = at[at.length - 1]!;
    if (value === '<cert>') value = cert; // the certificate only exists once beforeAll ran
    if (value === undefined) delete (o as Record<string | number, unknown>)[last];
    else (o as Record<string | number, unknown>)[last] = value;
  }

  it('a valid document with fields replaced or removed: only JanusError, and what is accepted is safe', () => {
    fc.assert(
      fc.property(fc.array(editArb, { minLength: 1, maxLength: 3 }), (edits) => {
        const doc = viaJson(buildDiscovery(docInput(km, { cert }))) as JsonObject;
        for (const e of edits) edit(doc, e.at, e.value);
        const r = expectOnlyJanusError(() => parseDiscovery(jsonBytes(doc), ORIGIN), DISCOVERY_CODES);
        if (!r.ok) return;
        const d = r.value;
        expect(d.origin).toBe(ORIGIN);
        expect(d.key.fingerprint).toBe(b64u.encode(sha256(d.key.spki)));
        expect(d.key.modulusBits).toBeGreaterThanOrEqual(3072);
        expect(d.window).toBeGreaterThanOrEqual(0);
        expect(d.window).toBeLessThanOrEqual(12);
        expect(['none', 'offered', 'required']).toContain(d.receipt);
        // Every path stays on the vendor's origin (§5).
        for (const p of [d.skepPath, d.challengePath, d.ackPath, d.rotatePath, ...d.routes.map((x) => x.path)]) {
          expect(p.startsWith('/') && !p.startsWith('//')).toBe(true);
          expect(new URL(ORIGIN + p).origin).toBe(ORIGIN);
        }
        // Message 3 goes to skep.path + "/confirm", which is "//confirm" when skep.path is "/": on the
        // origin only because clients concatenate id_V + path (as skepOnResponse does), never resolve it.
        expect(new URL(`${ORIGIN}${d.skepPath}/confirm`).origin).toBe(ORIGIN);
        for (const route of d.routes) {
          expect(LEVELS).toContain(route.level);
          if (route.methods) for (const m of route.methods) expect(m).toMatch(/^[A-Z]{1,16}$/);
        }
      }),
      { numRuns: 400 },
    );
  });

  it('refuses a document made for another origin (wrong_vendor)', () => {
    const bytes = jsonBytes(buildDiscovery(docInput(km)));
    expect(parseDiscovery(bytes, ORIGIN).origin).toBe(ORIGIN);
    expectCode(() => parseDiscovery(bytes, 'https://evil.example'), 'wrong_vendor');
    expectCode(() => parseDiscovery(bytes, 'http://quotes.example'), 'wrong_vendor');
    expectCode(() => parseDiscovery(bytes, 'https://quotes.example:8443'), 'wrong_vendor');
    // The document can confirm id_V, never choose or spell it differently.
    expectCode(() => parseDiscovery(jsonBytes(buildDiscovery(docInput(km, { origin: 'https://Quotes.example' }))), ORIGIN), 'wrong_vendor');
    expectCode(() => parseDiscovery(jsonBytes(buildDiscovery(docInput(km, { origin: `${ORIGIN}/` }))), ORIGIN), 'wrong_vendor');
  });

  it('refuses a wrong fingerprint, an RSA-2048 key, and a certificate for another key (bad_vendor_key)', () => {
    const wrongFp = b64u.encode(sha256(utf8('another key')));
    expectCode(() => parseDiscovery(jsonBytes(buildDiscovery(docInput(km, { fingerprint: wrongFp }))), ORIGIN), 'bad_vendor_key');
    const weak = docInput(km, { spki: b64u.encode(spki2048), fingerprint: spkiFingerprint(spki2048) });
    expectCode(() => parseDiscovery(jsonBytes(buildDiscovery(weak)), ORIGIN), 'bad_vendor_key');
    expectCode(() => parseDiscovery(jsonBytes(buildDiscovery({ ...weak, cert })), ORIGIN), 'bad_vendor_key');
    expectCode(() => parseDiscovery(jsonBytes(buildDiscovery(docInput(km, { spki: 'AAAA', fingerprint: spkiFingerprint(b64u.decode('AAAA')) }))), ORIGIN), 'bad_vendor_key');
    expectCode(() => parseDiscovery(jsonBytes(buildDiscovery(docInput(km, { cert: cert.replace('MII', 'MIJ') }))), ORIGIN), 'bad_vendor_key');
    // The matching certificate is accepted and kept.
    expect(parseDiscovery(jsonBytes(buildDiscovery(docInput(km, { cert }))), ORIGIN).cert).toBe(cert);
  });

  it('refuses another version (unsupported_version), checked before anything else', () => {
    const doc = buildDiscovery(docInput(km));
    expectCode(() => parseDiscovery(jsonBytes({ ...doc, janus: 2 }), ORIGIN), 'unsupported_version');
    expectCode(() => parseDiscovery(jsonBytes({ ...doc, janus: 0 }), ORIGIN), 'unsupported_version');
    expectCode(() => parseDiscovery(jsonBytes({ ...doc, janus: 2, origin: 'https://evil.example' }), ORIGIN), 'unsupported_version');
    expectCode(() => parseDiscovery(jsonBytes({ ...doc, janus: '1' }), ORIGIN), 'malformed');
  });

  it('refuses a path that could leave the origin (malformed)', () => {
    for (const bad of ['//evil.example/x', 'https://evil.example/', 'evil', '', '/\\evil.example', '/a b', '/a?x', '/a#x', '/\tx']) {
      const docs = [
        buildDiscovery(docInput(km, { paths: { skep: bad } })),
        buildDiscovery(docInput(km, { paths: { challenge: bad } })),
        buildDiscovery(docInput(km, { paths: { ack: bad } })),
        buildDiscovery(docInput(km, { paths: { rotate: bad } })),
        buildDiscovery(docInput(km, { routes: [{ path: bad, methods: null, level: 'sddp' }] })),
      ];
      for (const d of docs) expectCode(() => parseDiscovery(jsonBytes(d), ORIGIN), 'malformed');
    }
  });

  it('refuses other malformed fields', () => {
    const doc = buildDiscovery(docInput(km));
    expectCode(() => parseDiscovery(jsonBytes({ ...doc, window: 13 }), ORIGIN), 'malformed');
    expectCode(() => parseDiscovery(jsonBytes({ ...doc, window: -1 }), ORIGIN), 'malformed');
    expectCode(() => parseDiscovery(jsonBytes({ ...doc, skep: { path: '/s', receipt: 'always' } }), ORIGIN), 'malformed');
    expectCode(() => parseDiscovery(jsonBytes({ ...doc, routes: [{ path: '/a', level: 'tls' }] }), ORIGIN), 'malformed');
    expectCode(() => parseDiscovery(jsonBytes({ ...doc, routes: [{ path: '/a', level: 'sddp', methods: ['GET POST'] }] }), ORIGIN), 'malformed');
    expectCode(() => parseDiscovery(jsonBytes({ ...doc, routes: {} }), ORIGIN), 'malformed');
    expectCode(() => parseDiscovery(jsonBytes([doc]), ORIGIN), 'malformed');
    expectCode(() => parseDiscovery(utf8('{"janus":1,'), ORIGIN), 'malformed');
    // Defaults: window 1, no routes, receipt "none" when the vendor does not say.
    const { window: _w, routes: _r, ...minimal } = doc;
    const d = parseDiscovery(jsonBytes({ ...minimal, skep: { path: '/s' } }), ORIGIN);
    expect(d).toMatchObject({ window: 1, routes: [], receipt: 'none', skepPath: '/s' });
  });

  it('refuses a document over 64 KiB (too_large), even a well-formed one', () => {
    const base = buildDiscovery(docInput(km));
    const pad = 'x'.repeat(LIMITS.discovery);
    const big = jsonBytes({ ...base, subscription: { description: pad } });
    expect(big.length).toBeGreaterThan(64 * 1024);
    expectCode(() => parseDiscovery(big, ORIGIN), 'too_large');
    expectCode(() => parseDiscovery(new Uint8Array(64 * 1024 + 1).fill(0x20), ORIGIN), 'too_large');
    // Exactly 64 KiB is allowed.
    const fit = jsonBytes(base);
    const spaced = concat(fit, new Uint8Array(64 * 1024 - fit.length).fill(0x20));
    expect(spaced.length).toBe(64 * 1024);
    expect(parseDiscovery(spaced, ORIGIN).origin).toBe(ORIGIN);
  });
});

describe('routeFor and checkPin (§5)', () => {
  const routes: Route[] = [
    { path: '/api/watchlist', methods: ['GET', 'PUT'], level: 'sddp' },
    { path: '/api/intraday/*', methods: null, level: 'eddp' },
    { path: '/api/watchlist', methods: null, level: 'credential' },
    { path: '/api/*', methods: ['POST'], level: 'eddp+receipts' },
  ];

  it('exact match, "/*" prefix match, the methods filter, and the first match wins', () => {
    expect(routeFor(routes, '/api/watchlist', 'GET')).toBe(routes[0]);
    expect(routeFor(routes, '/api/watchlist', 'put')).toBe(routes[0]);
    // POST is not in the first route's methods: the next matching route wins.
    expect(routeFor(routes, '/api/watchlist', 'POST')).toBe(routes[2]);
    expect(routeFor(routes, '/api/watchlist/', 'GET')).toBeNull();
    expect(routeFor(routes, '/api/watchlist/x', 'GET')).toBeNull();
    expect(routeFor(routes, '/api/watchlist/x', 'POST')).toBe(routes[3]);
    expect(routeFor(routes, '/api/intraday/LU', 'GET')).toBe(routes[1]);
    expect(routeFor(routes, '/api/intraday/', 'DELETE')).toBe(routes[1]);
    expect(routeFor(routes, '/api/intraday/a/b/c', 'GET')).toBe(routes[1]);
    expect(routeFor(routes, '/api/intraday', 'GET')).toBeNull();
    expect(routeFor(routes, '/api/intradayX', 'GET')).toBeNull();
    expect(routeFor(routes, '/api/intradayX', 'POST')).toBe(routes[3]);
    expect(routeFor(routes, '/other', 'GET')).toBeNull();
    expect(routeFor([], '/api/watchlist', 'GET')).toBeNull();
    // Order decides: the same two routes the other way round.
    const a: Route = { path: '/api/*', methods: null, level: 'eddp' };
    const b: Route = { path: '/api/x', methods: null, level: 'sddp' };
    expect(routeFor([a, b], '/api/x', 'GET')).toBe(a);
    expect(routeFor([b, a], '/api/x', 'GET')).toBe(b);
  });

  it('routes from a parsed document match case-insensitively on the method', () => {
    const d = parseDiscovery(
      jsonBytes(buildDiscovery(docInput(km, { routes: [{ path: '/api/x', methods: ['get'], level: 'sddp' }] }))),
      ORIGIN,
    );
    expect(d.routes[0]!.methods).toEqual(['GET']);
    expect(routeFor(d.routes, '/api/x', 'get')?.level).toBe('sddp');
    expect(routeFor(d.routes, '/api/x', 'POST')).toBeNull();
  });

  it('agrees with a reference: the first route whose path and method match', () => {
    const seg = fc.constantFrom('a', 'b', 'api', 'x');
    const pathArb = fc.array(seg, { minLength: 1, maxLength: 3 }).map((s) => `/${s.join('/')}`);
    const rArb: fc.Arbitrary<Route> = fc.record({
      path: fc.oneof(pathArb, pathArb.map((p) => `${p}/*`)),
      methods: fc.option(fc.uniqueArray(fc.constantFrom('GET', 'POST'), { maxLength: 2 }), { nil: null }),
      level: fc.constantFrom<Level>(...LEVELS),
    });
    fc.assert(
      fc.property(fc.array(rArb, { maxLength: 6 }), fc.oneof(pathArb, pathArb.map((p) => `${p}/`)), fc.constantFrom('GET', 'post', 'PUT'), (rs, p, m) => {
        const want =
          rs.find((r) => {
            const pathOk = r.path.endsWith('/*') ? p.startsWith(r.path.slice(0, -1)) : p === r.path;
            return pathOk && (r.methods === null || r.methods.includes(m.toUpperCase()));
          }) ?? null;
        expect(routeFor(rs, p, m)).toBe(want);
      }),
      { numRuns: 300 },
    );
  });

  it('checkPin: no pin or the same key passes; another key is key_pin_mismatch (400)', () => {
    const d = parseDiscovery(jsonBytes(buildDiscovery(docInput(km))), ORIGIN);
    checkPin(d, null);
    checkPin(d, undefined);
    checkPin(d, fingerprint);
    expectCode(() => checkPin(d, b64u.encode(new Uint8Array(32))), 'key_pin_mismatch');
    expectCode(() => checkPin(d, spkiFingerprint(spki2048)), 'key_pin_mismatch');
    const r = expectOnlyJanusError(() => checkPin(d, 'x'));
    expect(!r.ok && r.error.status).toBe(400);
  });
});

describe('discovery: skep.path', () => {
  it('a skep.path ending in / is malformed (message 3 would go to "//confirm")', () => {
    for (const p of ['/', '/.janus/skep/']) {
      const doc = buildDiscovery({ origin: ORIGIN, spki: spkiB64u, fingerprint, routes: [], paths: { skep: p } });
      expectCode(() => parseDiscovery(jsonBytes(doc), ORIGIN), 'malformed');
    }
  });
});
