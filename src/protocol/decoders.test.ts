/**
 * Property tests for every encoder and decoder of the protocol core (fast-check):
 * - encoders: decode(encode(x)) = x, and a decoder that accepts a value accepts only its one encoding;
 * - decoders: arbitrary strings, bytes, JSON values and near-valid mutations of real messages throw
 *   nothing but a JanusError (never a TypeError, RangeError or EncodingError), with the codes the
 *   spec names (docs/PROTOCOL.md §2, §5, §6.2, §7, §9.1, §10-§12, §14-§15).
 * Plus targeted cases: tampered and expired tokens and challenges, discovery refusals, routes, pins.
 */
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { b64, b64u, concat, EncodingError, utf8 } from '../crypto/bytes.ts';
import { sha256 } from '../crypto/hash.ts';
import { generateVendorKeyPair, pssSign, selfSignedCertificate, spkiFingerprint } from '../crypto/rsa.ts';
import {
  buildDiscovery,
  checkChallenge,
  checkPin,
  deliveryRequest,
  deliveryResponse,
  ERRORS,
  errorResponse,
  formatAck,
  formatReceiptHeader,
  issueChallenge,
  JanusError,
  jsonBytes,
  keyidOf,
  keyTransportPlaintext,
  LEVELS,
  LIMITS,
  makeCredential,
  openSkepToken,
  parseAck,
  parseAckRequest,
  parseChallengeRequest,
  parseCommitment,
  parseCredential,
  parseDelivery,
  parseDiscovery,
  parseJsonObject,
  parseKeyid,
  parseKeyTransport,
  parseReceipt,
  parseReceiptHeader,
  parseSecureRequest,
  parseSkepHello,
  readChallengeResponse,
  readErrorResponse,
  routeFor,
  sealRequest,
  sealResponse,
  sealSkepToken,
  signReceipt,
  slotOf,
  TAG,
  verifyCredential,
  verifyReceipt,
  verifySecureRequest,
  type DiscoveryInput,
  type ErrorCode,
  type HttpRequestMsg,
  type Json,
  type JsonObject,
  type HttpResponseMsg,
  type KeyHolder,
  type PendingRequest,
  type Level,
  type ReceiptPayload,
  type Route,
  type VendorKeys,
} from './index.ts';

const ORIGIN = 'https://quotes.example';
const NOW = 1_764_000_000;
const N_NOW = slotOf(NOW);

// ---------------------------------------------------------------------------------------------
// Helpers

function describeThrown(e: unknown): string {
  return e instanceof Error ? `${e.name}: ${e.message}` : String(e);
}

function checkThrown(e: unknown, codes?: readonly ErrorCode[]): JanusError {
  expect(e, `only a JanusError may escape a decoder, got ${describeThrown(e)}`).toBeInstanceOf(JanusError);
  const je = e as JanusError;
  if (codes) expect(codes, `unexpected code ${je.code} (${je.message})`).toContain(je.code);
  return je;
}

/** Runs `fn`; if it throws, the exception must be a JanusError (with one of `codes`, when given). */
function expectOnlyJanusError<T>(fn: () => T, codes?: readonly ErrorCode[]): { ok: true; value: T } | { ok: false; error: JanusError } {
  try {
    return { ok: true, value: fn() };
  } catch (e) {
    return { ok: false, error: checkThrown(e, codes) };
  }
}

async function expectOnlyJanusErrorAsync<T>(
  fn: () => Promise<T>,
  codes?: readonly ErrorCode[],
): Promise<{ ok: true; value: T } | { ok: false; error: JanusError }> {
  try {
    return { ok: true, value: await fn() };
  } catch (e) {
    return { ok: false, error: checkThrown(e, codes) };
  }
}

function expectCode(fn: () => unknown, code: ErrorCode): void {
  const r = expectOnlyJanusError(fn);
  expect(r.ok, `expected ${code}`).toBe(false);
  if (!r.ok) expect(r.error.code, r.error.message).toBe(code);
}

async function expectCodeAsync(fn: () => Promise<unknown>, code: ErrorCode): Promise<void> {
  const r = await expectOnlyJanusErrorAsync(fn);
  expect(r.ok, `expected ${code}`).toBe(false);
  if (!r.ok) expect(r.error.code, r.error.message).toBe(code);
}

/** JSON as the peer sees it: -0 becomes 0, undefined members vanish, prototypes are plain. */
function viaJson<T>(x: T): T {
  return JSON.parse(JSON.stringify(x)) as T;
}

const B64U_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const B64_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
/** Characters that keep a mutated value close to the formats under test. */
const NEAR = [...B64U_ALPHABET, '.', '=', '+', '/', ' ', ':', '"', '\\', '\u00e9', '\u0000'];

type Mut = { kind: 'replace' | 'delete' | 'insert' | 'truncate' | 'duplicate'; i: number; s: string };
const mutArb: fc.Arbitrary<Mut> = fc.record({
  kind: fc.constantFrom('replace', 'delete', 'insert', 'truncate', 'duplicate'),
  i: fc.nat(),
  s: fc.oneof(fc.constantFrom(...NEAR), fc.string({ unit: 'binary', minLength: 1, maxLength: 3 })),
});
const mutsArb = fc.array(mutArb, { minLength: 1, maxLength: 3 });

function mutate(x: string, muts: readonly Mut[]): string {
  for (const m of muts) {
    const j = x.length === 0 ? 0 : m.i % x.length;
    if (m.kind === 'replace') x = x.slice(0, j) + m.s + x.slice(j + 1);
    else if (m.kind === 'delete') x = x.slice(0, j) + x.slice(j + 1);
    else if (m.kind === 'insert') x = x.slice(0, j) + m.s + x.slice(j);
    else if (m.kind === 'truncate') x = x.slice(0, j);
    else x = x + x;
  }
  return x;
}

type ByteMut = { kind: 'xor' | 'delete' | 'insert' | 'truncate'; i: number; b: number };
const byteMutsArb = fc.array(
  fc.record({ kind: fc.constantFrom('xor', 'delete', 'insert', 'truncate'), i: fc.nat(), b: fc.integer({ min: 1, max: 255 }) }) as fc.Arbitrary<ByteMut>,
  { minLength: 1, maxLength: 3 },
);

function mutateBytes(x: Uint8Array, muts: readonly ByteMut[]): Uint8Array {
  let out: Uint8Array = Uint8Array.from(x);
  for (const m of muts) {
    const j = out.length === 0 ? 0 : m.i % out.length;
    if (m.kind === 'xor' && out.length > 0) out[j] = out[j]! ^ m.b;
    else if (m.kind === 'delete') out = concat(out.subarray(0, j), out.subarray(j + 1));
    else if (m.kind === 'insert') out = concat(out.subarray(0, j), new Uint8Array([m.b]), out.subarray(j));
    else if (m.kind === 'truncate') out = out.slice(0, j);
  }
  return out;
}

/** Replaces the character at `i` with another one of the b64u alphabet. */
function flipChar(s: string, i: number, shift = 1): string {
  const c = s[i]!;
  const k = B64U_ALPHABET.indexOf(c);
  const r = k < 0 ? 'A' : B64U_ALPHABET[(k + shift) % 64]!;
  return s.slice(0, i) + (r === c ? 'B' : r) + s.slice(i + 1);
}

// Arbitraries
const anyString = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 80 }),
  fc.string({ unit: fc.constantFrom(...NEAR), maxLength: 80 }),
  fc.string({ maxLength: 80 }),
);
const aliasArb = fc.stringMatching(/^[A-Za-z0-9_-]{22}$/);
const subArb = aliasArb;
const bytes = (n: number) => fc.uint8Array({ minLength: n, maxLength: n });
const u32 = fc.integer({ min: 0, max: 0xffffffff });
const timeArb = fc.integer({ min: 0, max: 2 ** 40 });
const idVArb = fc.constantFrom(ORIGIN, 'https://xn--bcher-kva.example', 'http://localhost:8080', 'https://quotes.example:8443');
const keyHolderArb: fc.Arbitrary<KeyHolder> = fc.record({ alias: aliasArb, gen: u32, k: bytes(64) });
const jsonArb = fc.jsonValue({ maxDepth: 3 }) as fc.Arbitrary<Json>;
const jsonObjectArb = fc.dictionary(fc.string({ maxLength: 12 }), jsonArb, { maxKeys: 5 }) as fc.Arbitrary<JsonObject>;
const commitmentArb = fc.record({ sub: subArb, n: fc.integer({ min: 1, max: 100_000 }), w0: bytes(32).map((b) => b64u.encode(b)) });

// Shared key material (one RSA-3072 key pair for the file).
let spki: Uint8Array;
let pkcs8: Uint8Array;
let spkiB64u: string;
let fingerprint: string;
let cert: string;
let spki2048: Uint8Array;
let vk: VendorKeys;

beforeAll(async () => {
  ({ spki, pkcs8 } = await generateVendorKeyPair());
  spkiB64u = b64u.encode(spki);
  fingerprint = spkiFingerprint(spki);
  cert = selfSignedCertificate({ spki, pkcs8, origin: ORIGIN });
  // generateVendorKeyPair refuses < 3072 bits, so the weak key comes straight from WebCrypto.
  const weak = await crypto.subtle.generateKey(
    { name: 'RSA-OAEP', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' },
    true,
    ['encrypt', 'decrypt'],
  );
  spki2048 = new Uint8Array(await crypto.subtle.exportKey('spki', weak.publicKey));
  vk = { idV: ORIGIN, spki, pkcs8, tk: new Uint8Array(32).fill(1), ck: new Uint8Array(32).fill(2), window: 1, receipt: 'offered' };
});

function docInput(over: Partial<DiscoveryInput> = {}): DiscoveryInput {
  return {
    origin: ORIGIN,
    spki: spkiB64u,
    fingerprint,
    routes: [
      { path: '/api/watchlist', methods: ['GET', 'PUT'], level: 'sddp' },
      { path: '/api/intraday/*', methods: null, level: 'eddp+receipts' },
    ],
    name: 'Quotes',
    subscription: { description: 'free personalized quotes' },
    ...over,
  };
}

// ---------------------------------------------------------------------------------------------

describe('b64u and b64 (§2)', () => {
  it('decode(encode(x)) = x, and the encodings are RFC 4648 §5 (no padding) and §4 (padding)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (x) => {
        const u = b64u.encode(x);
        const s = b64.encode(x);
        expect(u).toBe(Buffer.from(x).toString('base64url'));
        expect(s).toBe(Buffer.from(x).toString('base64'));
        expect(b64u.decode(u)).toEqual(x);
        expect(b64.decode(s)).toEqual(x);
      }),
      { numRuns: 500 },
    );
  });

  it('decoders accept exactly one encoding per value and fail only with EncodingError', () => {
    const b64uStrings = fc.oneof(anyString, fc.string({ unit: fc.constantFrom(...B64U_ALPHABET), maxLength: 40 }));
    const b64Strings = fc.oneof(anyString, fc.string({ unit: fc.constantFrom(...B64_ALPHABET, '='), maxLength: 40 }));
    fc.assert(
      fc.property(b64uStrings, b64Strings, (u, s) => {
        try {
          expect(b64u.encode(b64u.decode(u))).toBe(u);
        } catch (e) {
          expect(e, describeThrown(e)).toBeInstanceOf(EncodingError);
        }
        try {
          expect(b64.encode(b64.decode(s))).toBe(s);
        } catch (e) {
          expect(e, describeThrown(e)).toBeInstanceOf(EncodingError);
        }
      }),
      { numRuns: 500 },
    );
    // Padding, foreign characters and non-zero trailing bits are refused (§2).
    for (const bad of ['AA==', 'AB', 'A', 'AA+A', 'AA/A', 'AA A']) expect(() => b64u.decode(bad)).toThrow(EncodingError);
    for (const bad of ['AA', 'AB==', 'A===', 'AA-A', 'AA_A', '=AAA']) expect(() => b64.decode(bad)).toThrow(EncodingError);
  });
});

describe('Janus-Ack and Janus-Receipt (§11.2)', () => {
  it('parseAck(formatAck(a)) = a', () => {
    fc.assert(
      fc.property(subArb, fc.integer({ min: 1, max: 100_000 }), bytes(32), (sub, i, w) => {
        expect(parseAck(formatAck({ sub, i, w }))).toEqual({ sub, i, w });
      }),
      { numRuns: 300 },
    );
  });

  it('parseReceiptHeader(formatReceiptHeader(sub, i, n)) = {sub, i, n} for 1 <= i <= n <= 100000, and i > n is malformed', () => {
    fc.assert(
      fc.property(subArb, fc.integer({ min: 1, max: 100_000 }), fc.integer({ min: 1, max: 100_000 }), (sub, a, b) => {
        const [i, n] = a <= b ? [a, b] : [b, a];
        expect(parseReceiptHeader(formatReceiptHeader(sub, i, n))).toEqual({ sub, i, n });
        if (i < n) expect(() => parseReceiptHeader(formatReceiptHeader(sub, n, i))).toThrowError(expect.objectContaining({ code: 'malformed' }));
      }),
      { numRuns: 300 },
    );
  });

  it('arbitrary and mutated values: only malformed, and whatever is accepted is the canonical encoding', () => {
    fc.assert(
      fc.property(anyString, subArb, fc.integer({ min: 1, max: 100_000 }), bytes(32), mutsArb, (s, sub, i, w, muts) => {
        for (const v of [s, mutate(formatAck({ sub, i, w }), muts)]) {
          const r = expectOnlyJanusError(() => parseAck(v), ['malformed']);
          if (r.ok) expect(formatAck(r.value)).toBe(v);
        }
        for (const v of [s, mutate(formatReceiptHeader(sub, i, 100_000), muts)]) {
          const r = expectOnlyJanusError(() => parseReceiptHeader(v), ['malformed']);
          if (r.ok) expect(formatReceiptHeader(r.value.sub, r.value.i, r.value.n)).toBe(v);
        }
      }),
      { numRuns: 500 },
    );
    expectCode(() => parseAck(`${'A'.repeat(22)}.0.${'A'.repeat(43)}`), 'malformed');
    expectCode(() => parseAck(`${'A'.repeat(22)}.01.${'A'.repeat(43)}`), 'malformed');
    expectCode(() => parseAck(`${'A'.repeat(22)}.1.${'A'.repeat(42)}B`), 'malformed'); // trailing bits set
    expectCode(() => parseReceiptHeader(`${'A'.repeat(22)}.0`), 'malformed');
  });

  it('parseCommitment: arbitrary JSON objects give only malformed', () => {
    fc.assert(
      fc.property(jsonObjectArb, commitmentArb, fc.constantFrom('sub', 'n', 'w0'), jsonArb, (o, c, k, v) => {
        expectOnlyJanusError(() => parseCommitment(o), ['malformed']);
        expect(parseCommitment(viaJson(c))).toEqual(c);
        const r = expectOnlyJanusError(() => parseCommitment({ ...c, [k]: v }), ['malformed']);
        if (r.ok) expect(r.value).toEqual({ ...c, [k]: v });
      }),
      { numRuns: 300 },
    );
  });
});

describe('keyid (§6.1)', () => {
  it('parseKeyid(keyidOf(alias, gen, n)) = {alias, gen, n} over the whole range', () => {
    fc.assert(
      fc.property(aliasArb, u32, fc.maxSafeNat(), (alias, gen, n) => {
        expect(parseKeyid(keyidOf(alias, gen, n))).toEqual({ alias, gen, n });
      }),
      { numRuns: 300 },
    );
    const a = 'A'.repeat(22);
    expect(parseKeyid(`${a}.4294967295.9007199254740991`)).toEqual({ alias: a, gen: 0xffffffff, n: Number.MAX_SAFE_INTEGER });
    expectCode(() => parseKeyid(`${a}.4294967296.1`), 'malformed');
    expectCode(() => parseKeyid(`${a}.0.9007199254740992`), 'malformed');
    expectCode(() => parseKeyid(`${a}.00.1`), 'malformed');
    expectCode(() => parseKeyid(`${a}.0.01`), 'malformed');
    expectCode(() => parseKeyid(`${a}.-1.1`), 'malformed');
    expectCode(() => parseKeyid(`${a.slice(1)}.0.1`), 'malformed');
  });

  it('arbitrary and mutated keyids: only malformed, and what is accepted is canonical', () => {
    fc.assert(
      fc.property(anyString, aliasArb, u32, fc.maxSafeNat(), mutsArb, (s, alias, gen, n, muts) => {
        for (const v of [s, mutate(keyidOf(alias, gen, n), muts)]) {
          const r = expectOnlyJanusError(() => parseKeyid(v), ['malformed']);
          if (r.ok) expect(keyidOf(r.value.alias, r.value.gen, r.value.n)).toBe(v);
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe('slot credential (§10)', () => {
  it('parseCredential(makeCredential(...)) within the window verifies; for another origin it is bad_credential', () => {
    fc.assert(
      fc.property(keyHolderArb, idVArb, timeArb, fc.integer({ min: 0, max: 12 }), fc.integer({ min: -12, max: 12 }), (key, idV, now, w, d) => {
        fc.pre(Math.abs(d) <= w);
        const cred = makeCredential(key, idV, now);
        expect(cred.n).toBe(slotOf(now));
        expect(cred.value.length).toBeLessThanOrEqual(200);
        const later = Math.max(0, now + d * 300);
        fc.pre(Math.abs(slotOf(later) - cred.n) <= w);
        const p = parseCredential(cred.value, later, w);
        expect(p).toMatchObject({ alias: key.alias, gen: key.gen, n: cred.n });
        expect(p.tag).toHaveLength(16);
        expect(`${p.alias}.${p.gen}.${p.n}.${b64u.encode(p.tag)}`).toBe(cred.value);
        verifyCredential(p, key.k, idV);
        expectCode(() => verifyCredential(p, key.k, `${idV}.evil`), 'bad_credential');
        const otherK = Uint8Array.from(key.k);
        otherK[0] = otherK[0]! ^ 1;
        expectCode(() => verifyCredential(p, otherK, idV), 'bad_credential');
      }),
      { numRuns: 300 },
    );
  });

  it('arbitrary and mutated credentials: parse gives malformed / slot_out_of_window, verify bad_credential', () => {
    fc.assert(
      fc.property(anyString, keyHolderArb, timeArb, fc.integer({ min: 0, max: 12 }), mutsArb, (s, key, now, w, muts) => {
        const cred = makeCredential(key, ORIGIN, now).value;
        for (const v of [s, mutate(cred, muts), `${s}.${s}`, `${key.alias}.${key.gen}.${slotOf(now)}.${s}`]) {
          const r = expectOnlyJanusError(() => parseCredential(v, now, w), ['malformed', 'slot_out_of_window']);
          if (r.ok) expectOnlyJanusError(() => verifyCredential(r.value, key.k, ORIGIN), ['bad_credential']);
        }
      }),
      { numRuns: 400 },
    );
  });
});

describe('key transport plaintext (§7.1, §13)', () => {
  it('parseKeyTransport(keyTransportPlaintext(K, N_C, gen, alias)) round-trips; 107 bytes', () => {
    fc.assert(
      fc.property(bytes(64), bytes(16), u32, aliasArb, (k, nC, gen, alias) => {
        const pt = keyTransportPlaintext(k, nC, gen, alias);
        expect(pt).toHaveLength(107);
        expect(pt[0]).toBe(1);
        expect(parseKeyTransport(pt)).toEqual({ k, nC, gen, alias });
        // A view into a larger buffer parses the same.
        const padded = concat(new Uint8Array(5), pt, new Uint8Array(3));
        expect(parseKeyTransport(padded.subarray(5, 5 + pt.length))).toEqual({ k, nC, gen, alias });
      }),
      { numRuns: 300 },
    );
  });

  it('arbitrary and mutated plaintexts: only malformed / unsupported_version', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), bytes(64), bytes(16), u32, aliasArb, byteMutsArb, (x, k, nC, gen, alias, muts) => {
        expectOnlyJanusError(() => parseKeyTransport(x), ['malformed', 'unsupported_version']);
        const m = mutateBytes(keyTransportPlaintext(k, nC, gen, alias), muts);
        expectOnlyJanusError(() => parseKeyTransport(m), ['malformed', 'unsupported_version']);
      }),
      { numRuns: 400 },
    );
    expectCode(() => parseKeyTransport(new Uint8Array(85).fill(1)), 'malformed');
    const pt = keyTransportPlaintext(new Uint8Array(64), new Uint8Array(16), 0, 'A'.repeat(22));
    pt[0] = 2;
    expectCode(() => parseKeyTransport(pt), 'unsupported_version');
  });
});

describe('SKEP token (§7.2)', () => {
  const pendingArb = fc.record({ alias: aliasArb, gen: u32, n: fc.maxSafeNat(), k: bytes(64) });

  it('openSkepToken(sealSkepToken(...)) round-trips until it expires; opaque, short, URL-safe', () => {
    fc.assert(
      fc.property(bytes(32), idVArb, pendingArb, timeArb, fc.integer({ min: 0, max: 120 }), fc.option(bytes(16), { nil: undefined }), (tk, idV, p, now, d, r) => {
        const { token, expires } = sealSkepToken(tk, idV, p, now, r ? { r } : undefined);
        expect(expires).toBe(now + 120);
        expect(token).toMatch(/^t1\.[A-Za-z0-9_.-]+$/);
        expect(token.length).toBeLessThanOrEqual(LIMITS.skepToken);
        const o = openSkepToken(tk, idV, token, now + d);
        expect(o).toMatchObject({ ...p, expires });
        expect(o.r).toHaveLength(16);
        if (r) expect(o.r).toEqual(r);
        expectCode(() => openSkepToken(tk, idV, token, now + 121), 'skep_token_invalid');
      }),
      { numRuns: 200 },
    );
  });

  it('arbitrary, random-ciphertext and mutated tokens: only skep_token_invalid', () => {
    const tk = new Uint8Array(32).fill(9);
    fc.assert(
      fc.property(anyString, fc.uint8Array({ minLength: 100, maxLength: 300 }), pendingArb, timeArb, mutsArb, (s, raw, p, now, muts) => {
        const { token } = sealSkepToken(tk, ORIGIN, p, now);
        for (const v of [s, `t1.${s}`, `t1.${b64u.encode(raw)}`, mutate(token, muts)]) {
          const r = expectOnlyJanusError(() => openSkepToken(tk, ORIGIN, v, now), ['skep_token_invalid']);
          if (r.ok) expect(v).toBe(token); // only a no-op mutation can survive GCM
        }
      }),
      { numRuns: 300 },
    );
  });

  it('every single flipped character is skep_token_invalid', () => {
    const tk = new Uint8Array(32).fill(3);
    const { token } = sealSkepToken(tk, ORIGIN, { alias: 'A'.repeat(22), gen: 1, n: N_NOW, k: new Uint8Array(64).fill(5) }, NOW);
    expect(openSkepToken(tk, ORIGIN, token, NOW).alias).toBe('A'.repeat(22));
    for (let i = 0; i < token.length; i++) {
      for (const shift of [1, 32]) expectCode(() => openSkepToken(tk, ORIGIN, flipChar(token, i, shift), NOW), 'skep_token_invalid');
    }
  });

  it('an expired token, a token for another origin or under another key, and an oversized token are refused', () => {
    const tk = new Uint8Array(32).fill(3);
    const p = { alias: 'B'.repeat(22), gen: 0, n: N_NOW, k: new Uint8Array(64).fill(5) };
    const { token, expires } = sealSkepToken(tk, ORIGIN, p, NOW);
    expect(openSkepToken(tk, ORIGIN, token, expires).expires).toBe(expires);
    expectCode(() => openSkepToken(tk, ORIGIN, token, expires + 1), 'skep_token_invalid');
    expectCode(() => openSkepToken(tk, 'https://evil.example', token, NOW), 'skep_token_invalid');
    expectCode(() => openSkepToken(new Uint8Array(32).fill(4), ORIGIN, token, NOW), 'skep_token_invalid');
    expectCode(() => openSkepToken(tk, ORIGIN, `t1.${'A'.repeat(LIMITS.skepToken)}`, NOW), 'skep_token_invalid');
    expectCode(() => openSkepToken(tk, ORIGIN, token.replace(/^t1\./, 't2.'), NOW), 'skep_token_invalid');
    // A sealed token whose alias is not an alias (a vendor bug or a forged plaintext) is refused too.
    const odd = sealSkepToken(tk, ORIGIN, { ...p, alias: 'not an alias' }, NOW).token;
    expectCode(() => openSkepToken(tk, ORIGIN, odd, NOW), 'skep_token_invalid');
  });
});

describe('EDDP challenge (§9.1)', () => {
  it('checkChallenge(issueChallenge(...)) round-trips until it expires; at most 256 URL-safe characters', () => {
    fc.assert(
      fc.property(bytes(32), idVArb, aliasArb, timeArb, fc.integer({ min: 0, max: 120 }), bytes(16), (ck, idV, alias, now, d, r) => {
        const { challenge, expires } = issueChallenge(ck, idV, alias, now, r);
        expect(expires).toBe(now + 120);
        expect(challenge).toMatch(/^c1\.[A-Za-z0-9_.-]+$/);
        expect(challenge.length).toBeLessThanOrEqual(LIMITS.challenge);
        expect(checkChallenge(ck, idV, alias, challenge, now + d)).toEqual({ key: `challenge:${b64u.encode(r)}`, expires });
        expectCode(() => checkChallenge(ck, idV, alias, challenge, now + 121), 'challenge_invalid');
      }),
      { numRuns: 300 },
    );
  });

  it('arbitrary, random and mutated challenges: only challenge_invalid', () => {
    const ck = new Uint8Array(32).fill(8);
    fc.assert(
      fc.property(anyString, bytes(40), aliasArb, timeArb, mutsArb, (s, raw, alias, now, muts) => {
        const { challenge } = issueChallenge(ck, ORIGIN, alias, now);
        for (const v of [s, `c1.${s}`, `c1.${b64u.encode(raw)}`, mutate(challenge, muts)]) {
          const r = expectOnlyJanusError(() => checkChallenge(ck, ORIGIN, alias, v, now), ['challenge_invalid']);
          if (r.ok) expect(v).toBe(challenge);
        }
      }),
      { numRuns: 400 },
    );
  });

  it('every single flipped character is challenge_invalid', () => {
    const ck = new Uint8Array(32).fill(8);
    const alias = 'C'.repeat(22);
    const { challenge } = issueChallenge(ck, ORIGIN, alias, NOW);
    for (let i = 0; i < challenge.length; i++) {
      for (const shift of [1, 32]) expectCode(() => checkChallenge(ck, ORIGIN, alias, flipChar(challenge, i, shift), NOW), 'challenge_invalid');
    }
  });

  it('a challenge for another alias, another origin, another key, or expired is challenge_invalid', () => {
    const ck = new Uint8Array(32).fill(8);
    const alias = 'C'.repeat(22);
    const { challenge, expires } = issueChallenge(ck, ORIGIN, alias, NOW);
    expect(checkChallenge(ck, ORIGIN, alias, challenge, expires).expires).toBe(expires);
    expectCode(() => checkChallenge(ck, ORIGIN, 'D'.repeat(22), challenge, NOW), 'challenge_invalid');
    expectCode(() => checkChallenge(ck, 'https://evil.example', alias, challenge, NOW), 'challenge_invalid');
    expectCode(() => checkChallenge(new Uint8Array(32), ORIGIN, alias, challenge, NOW), 'challenge_invalid');
    expectCode(() => checkChallenge(ck, ORIGIN, alias, challenge, expires + 1), 'challenge_invalid');
    expectCode(() => checkChallenge(ck, ORIGIN, alias, `${challenge}AAAA`, NOW), 'challenge_invalid');
    expectCode(() => checkChallenge(ck, ORIGIN, alias, `c1.${'A'.repeat(300)}`, NOW), 'challenge_invalid');
  });
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
        const doc = viaJson(buildDiscovery(docInput({ cert }))) as JsonObject;
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
    const bytes = jsonBytes(buildDiscovery(docInput()));
    expect(parseDiscovery(bytes, ORIGIN).origin).toBe(ORIGIN);
    expectCode(() => parseDiscovery(bytes, 'https://evil.example'), 'wrong_vendor');
    expectCode(() => parseDiscovery(bytes, 'http://quotes.example'), 'wrong_vendor');
    expectCode(() => parseDiscovery(bytes, 'https://quotes.example:8443'), 'wrong_vendor');
    // The document can confirm id_V, never choose or spell it differently.
    expectCode(() => parseDiscovery(jsonBytes(buildDiscovery(docInput({ origin: 'https://Quotes.example' }))), ORIGIN), 'wrong_vendor');
    expectCode(() => parseDiscovery(jsonBytes(buildDiscovery(docInput({ origin: `${ORIGIN}/` }))), ORIGIN), 'wrong_vendor');
  });

  it('refuses a wrong fingerprint, an RSA-2048 key, and a certificate for another key (bad_vendor_key)', () => {
    const wrongFp = b64u.encode(sha256(utf8('another key')));
    expectCode(() => parseDiscovery(jsonBytes(buildDiscovery(docInput({ fingerprint: wrongFp }))), ORIGIN), 'bad_vendor_key');
    const weak = docInput({ spki: b64u.encode(spki2048), fingerprint: spkiFingerprint(spki2048) });
    expectCode(() => parseDiscovery(jsonBytes(buildDiscovery(weak)), ORIGIN), 'bad_vendor_key');
    expectCode(() => parseDiscovery(jsonBytes(buildDiscovery({ ...weak, cert })), ORIGIN), 'bad_vendor_key');
    expectCode(() => parseDiscovery(jsonBytes(buildDiscovery(docInput({ spki: 'AAAA', fingerprint: spkiFingerprint(b64u.decode('AAAA')) }))), ORIGIN), 'bad_vendor_key');
    expectCode(() => parseDiscovery(jsonBytes(buildDiscovery(docInput({ cert: cert.replace('MII', 'MIJ') }))), ORIGIN), 'bad_vendor_key');
    // The matching certificate is accepted and kept.
    expect(parseDiscovery(jsonBytes(buildDiscovery(docInput({ cert }))), ORIGIN).cert).toBe(cert);
  });

  it('refuses another version (unsupported_version), checked before anything else', () => {
    const doc = buildDiscovery(docInput());
    expectCode(() => parseDiscovery(jsonBytes({ ...doc, janus: 2 }), ORIGIN), 'unsupported_version');
    expectCode(() => parseDiscovery(jsonBytes({ ...doc, janus: 0 }), ORIGIN), 'unsupported_version');
    expectCode(() => parseDiscovery(jsonBytes({ ...doc, janus: 2, origin: 'https://evil.example' }), ORIGIN), 'unsupported_version');
    expectCode(() => parseDiscovery(jsonBytes({ ...doc, janus: '1' }), ORIGIN), 'malformed');
  });

  it('refuses a path that could leave the origin (malformed)', () => {
    for (const bad of ['//evil.example/x', 'https://evil.example/', 'evil', '', '/\\evil.example', '/a b', '/a?x', '/a#x', '/\tx']) {
      const docs = [
        buildDiscovery(docInput({ paths: { skep: bad } })),
        buildDiscovery(docInput({ paths: { challenge: bad } })),
        buildDiscovery(docInput({ paths: { ack: bad } })),
        buildDiscovery(docInput({ paths: { rotate: bad } })),
        buildDiscovery(docInput({ routes: [{ path: bad, methods: null, level: 'sddp' }] })),
      ];
      for (const d of docs) expectCode(() => parseDiscovery(jsonBytes(d), ORIGIN), 'malformed');
    }
  });

  it('refuses other malformed fields', () => {
    const doc = buildDiscovery(docInput());
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
    const base = buildDiscovery(docInput());
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
      jsonBytes(buildDiscovery(docInput({ routes: [{ path: '/api/x', methods: ['get'], level: 'sddp' }] }))),
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
    const d = parseDiscovery(jsonBytes(buildDiscovery(docInput())), ORIGIN);
    checkPin(d, null);
    checkPin(d, undefined);
    checkPin(d, fingerprint);
    expectCode(() => checkPin(d, b64u.encode(new Uint8Array(32))), 'key_pin_mismatch');
    expectCode(() => checkPin(d, spkiFingerprint(spki2048)), 'key_pin_mismatch');
    const r = expectOnlyJanusError(() => checkPin(d, 'x'));
    expect(!r.ok && r.error.status).toBe(400);
  });
});

describe('receipts (§12)', () => {
  const payloadArb: fc.Arbitrary<ReceiptPayload> = fc.record({
    v: fc.constant(1),
    vendor: fc.string({ unit: 'binary', maxLength: 30 }),
    alias: fc.string({ maxLength: 30 }),
    gen: u32,
    issued_at: fc.maxSafeNat(),
    nonce: fc.string({ maxLength: 30 }),
    request_sha256: fc.string({ maxLength: 50 }),
    valid_from: fc.maxSafeNat(),
    valid_until: fc.option(fc.maxSafeNat(), { nil: null }),
    payword: fc.option(commitmentArb, { nil: null }),
    terms: jsonObjectArb,
  });

  it('verifyReceipt(parseReceipt(signReceipt(p))) = p, also after a trip through JSON', async () => {
    await fc.assert(
      fc.asyncProperty(payloadArb, async (p) => {
        const rc = await signReceipt(pkcs8, spki, p);
        expect(rc.alg).toBe('PS256');
        expect(rc.fingerprint).toBe(fingerprint);
        const parsed = parseReceipt(viaJson(rc));
        expect(parsed).toEqual(rc);
        expect(await verifyReceipt(parsed, spki)).toEqual(viaJson(p));
      }),
      { numRuns: 25 },
    );
  });

  it('a tampered payload or signature, or another key, is bad_receipt', async () => {
    const p: ReceiptPayload = {
      v: 1,
      vendor: ORIGIN,
      alias: 'A'.repeat(22),
      gen: 0,
      issued_at: NOW,
      nonce: 'n',
      request_sha256: 'r',
      valid_from: NOW,
      valid_until: null,
      payword: null,
      terms: {},
    };
    const rc = await signReceipt(pkcs8, spki, p);
    await expectCodeAsync(() => verifyReceipt({ ...rc, payload: b64u.encode(jsonBytes({ ...p, gen: 1 })) }, spki), 'bad_receipt');
    await expectCodeAsync(() => verifyReceipt({ ...rc, sig: flipChar(rc.sig, 10) }, spki), 'bad_receipt');
    await expectCodeAsync(() => verifyReceipt({ ...rc, sig: rc.sig.slice(0, -4) }, spki), 'bad_receipt');
    await expectCodeAsync(() => verifyReceipt(rc, spki2048), 'bad_receipt');
    await expectCodeAsync(() => verifyReceipt({ ...rc, fingerprint: spkiFingerprint(spki2048) }, spki), 'bad_receipt');
    // Version 2 payloads, even signed, are refused.
    const v2 = await signReceipt(pkcs8, spki, { ...p, v: 2 });
    await expectCodeAsync(() => verifyReceipt(v2, spki), 'bad_receipt');
  });

  it('parseReceipt: arbitrary JSON values give only JanusError', () => {
    fc.assert(
      fc.property(
        fc.jsonValue({ maxDepth: 3 }),
        fc.record({ alg: fc.oneof(fc.constant('PS256'), jsonArb), payload: fc.oneof(anyString, jsonArb), sig: fc.oneof(anyString, jsonArb), fingerprint: fc.oneof(anyString, jsonArb) }, { requiredKeys: [] }),
        (jv, rec) => {
          expectOnlyJanusError(() => parseReceipt(jv), ['bad_receipt']);
          expectOnlyJanusError(() => parseReceipt(rec), ['bad_receipt']);
        },
      ),
      { numRuns: 400 },
    );
  });

  it('verifyReceipt with garbage fields (right or wrong fingerprint) is bad_receipt', async () => {
    const b64uish = fc.oneof(fc.string({ unit: fc.constantFrom(...B64U_ALPHABET), maxLength: 600 }), anyString);
    await fc.assert(
      fc.asyncProperty(b64uish, b64uish, fc.oneof(fc.constant('right'), b64uish), async (payload, sig, fp) => {
        const rc = { alg: 'PS256' as const, payload, sig, fingerprint: fp === 'right' ? fingerprint : fp };
        await expectOnlyJanusErrorAsync(() => verifyReceipt(rc, spki), ['bad_receipt']);
        // The whole client path: parse, then verify.
        await expectOnlyJanusErrorAsync(async () => verifyReceipt(parseReceipt(rc), spki), ['bad_receipt']);
      }),
      { numRuns: 300 },
    );
  });

  it('verifyReceipt of validly signed garbage payloads gives only JanusError', async () => {
    const payloadBytes = fc.oneof(
      fc.uint8Array({ maxLength: 100 }),
      fc.jsonValue({ maxDepth: 3 }).map((v) => utf8(JSON.stringify(v) ?? 'null')),
      fc
        .record(
          { v: fc.oneof(fc.constant(1), jsonArb), vendor: jsonArb, gen: jsonArb, valid_until: jsonArb, payword: fc.oneof(jsonArb, commitmentArb), terms: jsonArb },
          { requiredKeys: [] },
        )
        .map((o) => jsonBytes(o)),
    );
    await fc.assert(
      fc.asyncProperty(payloadBytes, async (pb) => {
        const sig = await pssSign(pkcs8, concat(utf8('janus/1 receipt'), new Uint8Array([0]), pb));
        const rc = { alg: 'PS256' as const, payload: b64u.encode(pb), sig: b64u.encode(sig), fingerprint };
        await expectOnlyJanusErrorAsync(() => verifyReceipt(rc, spki), ['bad_receipt']);
      }),
      { numRuns: 25 },
    );
  });

  // §7.5: "a bad receipt is bad_receipt"; §12.2: "any mismatch: bad_receipt" (was 'malformed' once).
  it('a receipt with a missing or mistyped field is bad_receipt, not malformed', async () => {
    expectCode(() => parseReceipt({ alg: 'PS256' }), 'bad_receipt');
    expectCode(() => parseReceipt({ alg: 'PS256', payload: 1, sig: 'AA', fingerprint }), 'bad_receipt');
    const pb = jsonBytes({ v: 1 });
    const sig = await pssSign(pkcs8, concat(utf8('janus/1 receipt'), new Uint8Array([0]), pb));
    await expectCodeAsync(() => verifyReceipt({ alg: 'PS256', payload: b64u.encode(pb), sig: b64u.encode(sig), fingerprint }, spki), 'bad_receipt');
  });
});

describe('parseJsonObject (§2)', () => {
  it('arbitrary bytes: an object, or malformed / too_large (too_large exactly when over the limit)', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.uint8Array({ maxLength: 200 }), fc.jsonValue({ maxDepth: 3 }).map((v) => utf8(JSON.stringify(v) ?? '')), jsonObjectArb.map((o) => jsonBytes(o))),
        fc.integer({ min: 0, max: 300 }),
        (b, max) => {
          const r = expectOnlyJanusError(() => parseJsonObject(b, max), ['malformed', 'too_large']);
          if (b.length > max) expect(!r.ok && r.error.code).toBe('too_large');
          if (r.ok) {
            expect(typeof r.value).toBe('object');
            expect(r.value).not.toBeNull();
            expect(Array.isArray(r.value)).toBe(false);
          }
        },
      ),
      { numRuns: 500 },
    );
    expectCode(() => parseJsonObject(new Uint8Array([0x7b, 0xff, 0x7d]), 10), 'malformed');
    expectCode(() => parseJsonObject(utf8('[]'), 10), 'malformed');
    expectCode(() => parseJsonObject(utf8('null'), 10), 'malformed');
    expect(parseJsonObject(utf8('{"a":1}'), 7)).toEqual({ a: 1 });
  });
});

describe('SKEP message 1: parseSkepHello (§7.1)', () => {
  const hello = (body: Uint8Array, method = 'POST'): HttpRequestMsg => ({ method, url: `${ORIGIN}/.janus/skep`, headers: {}, body });
  const notB64uString = (v: Json) => typeof v !== 'string' || !/^[A-Za-z0-9_-]+$/.test(v);

  it('a well-formed message 1 parses', () => {
    fc.assert(
      fc.property(aliasArb, fc.maxSafeNat(), fc.uint8Array({ minLength: 1, maxLength: 512 }), (alias, slot, ek) => {
        expect(parseSkepHello(hello(jsonBytes({ v: 1, alias, slot, ek: b64u.encode(ek), extra: 'ignored' })))).toEqual({ alias, n: slot, ek });
      }),
      { numRuns: 200 },
    );
  });

  it('arbitrary bodies and JSON values: only malformed / unsupported_version / too_large', () => {
    const fieldArb = <T>(valid: fc.Arbitrary<T>) => fc.oneof(valid, jsonArb.filter(notB64uString), fc.constant(undefined));
    const structured = fc
      .record({
        v: fieldArb(fc.constantFrom(1, 2, 0)),
        alias: fieldArb(aliasArb),
        slot: fieldArb(fc.maxSafeNat()),
        ek: fieldArb(fc.uint8Array({ maxLength: 1600 }).map((b) => b64u.encode(b))),
      })
      .map((o) => jsonBytes(o));
    fc.assert(
      fc.property(
        fc.oneof(fc.uint8Array({ maxLength: 200 }), fc.jsonValue({ maxDepth: 3 }).map((v) => utf8(JSON.stringify(v) ?? '')), structured),
        fc.constantFrom('POST', 'post', 'GET', 'PUT'),
        (body, method) => {
          const r = expectOnlyJanusError(() => parseSkepHello(hello(body, method)), ['malformed', 'unsupported_version', 'too_large']);
          if (r.ok) expect(r.value.alias).toMatch(/^[A-Za-z0-9_-]{22}$/);
        },
      ),
      { numRuns: 400 },
    );
    expectCode(() => parseSkepHello(hello(jsonBytes({ v: 2, alias: 'A'.repeat(22), slot: 1, ek: 'AAAA' }))), 'unsupported_version');
    expectCode(() => parseSkepHello(hello(jsonBytes({ v: 1, alias: 'A'.repeat(22), slot: 1, ek: 'A'.repeat(4096) }))), 'too_large');
    expectCode(() => parseSkepHello(hello(jsonBytes({ v: 1, alias: 'A'.repeat(22), slot: 1, ek: 'AAAA' }), 'GET')), 'malformed');
  });

  // A non-canonical "ek" once escaped as an EncodingError (§2: it is malformed).
  it('a non-canonical b64u "ek" is malformed, not an EncodingError', () => {
    for (const ek of ['A', 'AB', 'AAAAB']) {
      expectCode(() => parseSkepHello(hello(jsonBytes({ v: 1, alias: 'A'.repeat(22), slot: 1, ek }))), 'malformed');
    }
  });

  it('arbitrary b64u-alphabet "ek" values give only JanusError', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[A-Za-z0-9_-]{1,40}$/), (ek) => {
        expectOnlyJanusError(() => parseSkepHello(hello(jsonBytes({ v: 1, alias: 'A'.repeat(22), slot: 1, ek }))), ['malformed']);
      }),
      { numRuns: 200 },
    );
  });
});

describe('secure responses: deliveryResponse on anything a network could return (§6.3)', () => {
  const key: KeyHolder = { alias: 'R'.repeat(22), gen: 0, k: new Uint8Array(64).fill(7) };
  let pending: PendingRequest;
  let valid: HttpResponseMsg;
  beforeAll(async () => {
    ({ pending } = await deliveryRequest({ key, level: 'eddp', method: 'GET', url: `${ORIGIN}/api/intraday/LU`, now: NOW, challenge: 'c1.x' }));
    valid = await sealResponse(pending, pending.slot, { status: 200, contentType: 'application/json', body: utf8('{"LU":86.5}'), covered: [['janus-challenge', 'c1.next']] });
  });
  const CODES: ErrorCode[] = ['malformed', 'missing_signature', 'too_large', 'bad_signature', ...(Object.keys(ERRORS) as ErrorCode[])];

  it('the valid response opens; any change to its status, covered headers or bytes does not', async () => {
    expect((await deliveryResponse(pending, 'eddp', valid)).challenge).toBe('c1.next');
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(200, 201, 402, 500),
        fc.constantFrom(undefined, 'janus-gcm', 'JANUS-GCM ', 'aes128gcm', ''),
        fc.constantFrom(undefined, 'application/json', 'text/plain', 'application/json\r\nx: 1'),
        fc.constantFrom(undefined, 'c1.next', 'c1.other', 'c1.next\nstatus: 200'),
        fc.oneof(fc.constant(null), fc.uint8Array({ maxLength: 80 }), fc.nat(200).map((i) => ({ flip: i }))),
        async (status, coding, type, challenge, bodyEdit) => {
          const headers: Record<string, string> = { ...valid.headers };
          const set = (k: string, v: string | undefined) => (v === undefined ? delete headers[k] : (headers[k] = v));
          set('content-encoding', coding);
          set('content-type', type);
          set('janus-challenge', challenge);
          let body = valid.body;
          if (bodyEdit instanceof Uint8Array) body = bodyEdit;
          else if (bodyEdit) {
            body = valid.body.slice();
            body[bodyEdit.flip % body.length]! ^= 1;
          }
          const res: HttpResponseMsg = { status, headers, body };
          const unchanged = status === 200 && coding !== undefined && coding.trim().toLowerCase() === 'janus-gcm' && type === 'application/json' && challenge === 'c1.next' && bodyEdit === null;
          let outcome: unknown;
          try {
            outcome = await deliveryResponse(pending, 'eddp', res);
          } catch (e) {
            expect(e).toBeInstanceOf(JanusError);
            expect(CODES).toContain((e as JanusError).code);
            expect(unchanged).toBe(false);
            return;
          }
          expect(unchanged).toBe(true);
          expect(outcome).toMatchObject({ status: 200, challenge: 'c1.next' });
        },
      ),
      { numRuns: 400 },
    );
  });
});

describe('secure request headers: parseSecureRequest + verifySecureRequest (§6.2)', () => {
  const key: KeyHolder = { alias: 'Q'.repeat(22), gen: 0, k: new Uint8Array(64).fill(42) };
  const URL_ = `${ORIGIN}/api/watchlist?x=1`;
  let valid: HttpRequestMsg;
  const opts = { tag: TAG.sddp, idV: ORIGIN, now: NOW, window: 1 };

  beforeAll(async () => {
    ({ request: valid } = await sealRequest({ key, method: 'POST', url: URL_, tag: TAG.sddp, now: NOW, body: utf8('{"add":"LU"}'), contentType: 'application/json' }));
  });

  const SECURE_CODES: ErrorCode[] = ['malformed', 'missing_signature', 'too_large', 'slot_out_of_window', 'bad_digest', 'bad_signature', 'decrypt_failed'];

  async function run(req: HttpRequestMsg): Promise<void> {
    await expectOnlyJanusErrorAsync(async () => {
      const parsed = parseSecureRequest(req, opts);
      return verifySecureRequest(parsed, req, key.k, { window: 1 });
    }, SECURE_CODES);
  }

  it('the valid request verifies (sanity of the fixture)', async () => {
    const parsed = parseSecureRequest(valid, opts);
    expect(parsed).toMatchObject({ alias: key.alias, gen: 0, n: N_NOW, tag: TAG.sddp, method: 'POST', targetUri: URL_ });
    const v = await verifySecureRequest(parsed, valid, key.k, { window: 1 });
    expect(v.plaintext).toEqual(utf8('{"add":"LU"}'));
  });

  const quoted = (s: string) => `"${s}"`;
  const sfStringish = fc.string({ unit: fc.constantFrom(...'abcXYZ019 ._-/:"\\\u00e9'), maxLength: 30 }).map(quoted);
  const COMPONENTS = ['"@method"', '"@target-uri"', '"content-digest"', '"@status"', '"@method";req', '"janus-ack"', '"X-Y"', '"@foo"', '"content-digest";bs', '@method', '"content-digest";req=?0', '"@authority"'];
  const sigInputArb = fc
    .record({
      label: fc.constantFrom('janus', 'janus', 'janus', 'sig1', 'JANUS', 'janus2'),
      comps: fc.oneof(fc.constant(['"@method"', '"@target-uri"', '"content-digest"']), fc.array(fc.constantFrom(...COMPONENTS), { maxLength: 5 })),
      created: fc.oneof(fc.constant(`${NOW}`), fc.integer({ min: -1e15, max: 1e15 }).map(String), fc.constantFrom(`${NOW + 300}`, `${NOW - 600}`, '1.5', '"1"', '?1', '')),
      nonce: fc.oneof(fc.constant(quoted('A'.repeat(22))), sfStringish, fc.constantFrom('nonce', '?0', '1', quoted('A'.repeat(15)), quoted('A'.repeat(65)))),
      alg: fc.oneof(fc.constant(quoted('hmac-sha256')), sfStringish, fc.constantFrom('hmac-sha256', quoted('rsa-pss-sha512'))),
      keyid: fc.oneof(
        fc.constant(quoted(keyidOf(key.alias, 0, N_NOW))),
        fc.tuple(aliasArb, fc.integer({ min: -1, max: 2 ** 33 }), fc.integer({ min: N_NOW - 20, max: N_NOW + 20 })).map(([a, g, n]) => quoted(`${a}.${g}.${n}`)),
        sfStringish,
      ),
      tag: fc.oneof(fc.constant(quoted(TAG.sddp)), fc.constant(quoted(TAG.eddp)), sfStringish),
      order: fc.shuffledSubarray(['created', 'nonce', 'alg', 'keyid', 'tag', 'expires', 'foo'] as const, { minLength: 0 }),
    })
    .map((x) => {
      const values: Record<string, string> = { created: x.created, nonce: x.nonce, alg: x.alg, keyid: x.keyid, tag: x.tag, expires: `${NOW + 60}`, foo: '1' };
      return `${x.label}=(${x.comps.join(' ')})${x.order.map((k) => `;${k}=${values[k]}`).join('')}`;
    });
  const sigArb = fc.oneof(
    fc.uint8Array({ maxLength: 40 }).map((b) => `janus=:${b64.encode(b)}:`),
    fc.constantFrom('janus=:', 'janus=?1', 'janus=("a")', 'sig1=:AAAA:', 'janus=:AAAA:, janus=:BBBB:', 'janus=:AAA:', 'janus=:AAAA:;x=1', ''),
    anyString,
  );
  const digestArb = fc.oneof(
    fc.uint8Array({ maxLength: 40 }).map((b) => `sha-256=:${b64.encode(b)}:`),
    fc.uint8Array({ minLength: 64, maxLength: 64 }).map((b) => `sha-512=:${b64.encode(b)}:`),
    fc.constantFrom('sha-256=:AAAA:;x=1', 'sha-256="abc"', 'sha-256=(:AAAA:)', 'sha-256=:', '', 'sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:'),
    anyString,
  );

  it('arbitrary and structured Signature-Input / Signature / Content-Digest values: only JanusError', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record(
          {
            si: fc.oneof(sigInputArb, anyString, fc.constant(undefined)),
            sig: fc.oneof(sigArb, fc.constant(undefined)),
            cd: fc.oneof(digestArb, fc.constant(undefined)),
            mutSi: mutsArb,
          },
          { requiredKeys: [] },
        ),
        async (x) => {
          const headers = { ...valid.headers };
          if ('si' in x) {
            if (x.si === undefined) delete headers['signature-input'];
            else headers['signature-input'] = x.si;
          } else if (x.mutSi) {
            headers['signature-input'] = mutate(valid.headers['signature-input']!, x.mutSi);
          }
          if ('sig' in x) {
            if (x.sig === undefined) delete headers['signature'];
            else headers['signature'] = x.sig;
          }
          if ('cd' in x) {
            if (x.cd === undefined) delete headers['content-digest'];
            else headers['content-digest'] = x.cd;
          }
          await run({ ...valid, headers });
        },
      ),
      { numRuns: 500 },
    );
  });

  it('arbitrary methods, URLs, bodies and content codings: only JanusError', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('POST', 'GET', 'post', ''),
        fc.oneof(fc.constant(URL_), fc.constant(`${ORIGIN}/other`), anyString),
        fc.oneof(fc.constant(undefined), fc.uint8Array({ maxLength: 100 })),
        fc.constantFrom(undefined, 'janus-gcm', 'aes128gcm', 'gzip', 'JANUS-GCM ', ''),
        async (method, url, body, coding) => {
          const headers = { ...valid.headers };
          if (coding === undefined) delete headers['content-encoding'];
          else headers['content-encoding'] = coding;
          await run({ method, url, headers, body: body ?? valid.body });
        },
      ),
      { numRuns: 300 },
    );
  });

  it('missing signature, oversized header, and a wrong tag give their codes', () => {
    const { 'signature-input': _si, ...noSi } = valid.headers;
    expectCode(() => parseSecureRequest({ ...valid, headers: noSi }, opts), 'missing_signature');
    expectCode(() => parseSecureRequest({ ...valid, headers: { ...valid.headers, 'signature-input': 'x'.repeat(LIMITS.header + 1) } }, opts), 'too_large');
    expectCode(() => parseSecureRequest(valid, { ...opts, tag: TAG.eddp }), 'malformed');
    expectCode(() => parseSecureRequest(valid, { ...opts, now: NOW + 900 }), 'slot_out_of_window');
    expectCode(() => parseSecureRequest({ ...valid, body: new Uint8Array(11) }, { ...opts, maxBody: 10 }), 'too_large');
  });

  it('EDDP: arbitrary Janus-Challenge and Janus-Ack values through parseDelivery give only JanusError', async () => {
    const ck = vk.ck;
    const { challenge } = issueChallenge(ck, ORIGIN, key.alias, NOW);
    const ack = { sub: 'S'.repeat(22), i: 1, w: new Uint8Array(32).fill(7) };
    const { request } = await deliveryRequest({ key, level: 'eddp+receipts', method: 'GET', url: `${ORIGIN}/api/intraday/LU`, now: NOW, challenge, ack });
    const d = parseDelivery(vk, request, 'eddp+receipts', NOW);
    expect(d.challenge?.key).toMatch(/^challenge:/);
    expect(d.ack).toEqual(ack);
    // §11.2: an acknowledgement goes only to an eddp+receipts route.
    expectCode(() => parseDelivery(vk, request, 'eddp', NOW), 'malformed');
    fc.assert(
      fc.property(fc.oneof(anyString, mutsArb.map((m) => mutate(challenge, m))), fc.oneof(anyString, mutsArb.map((m) => mutate(formatAck(ack), m))), fc.boolean(), (c, a, dropAck) => {
        const headers: Record<string, string> = { ...request.headers, 'janus-challenge': c, 'janus-ack': a };
        if (dropAck) delete headers['janus-ack'];
        expectOnlyJanusError(() => parseDelivery(vk, { ...request, headers }, 'eddp+receipts', NOW), ['malformed', 'challenge_invalid', 'too_large']);
      }),
      { numRuns: 300 },
    );
  });
});

describe('small vendor-side and client-side readers', () => {
  it('parseChallengeRequest / parseAckRequest: arbitrary headers give only malformed / too_large', () => {
    fc.assert(
      fc.property(fc.option(anyString, { nil: undefined }), fc.option(anyString, { nil: undefined }), (alias, ack) => {
        const headers: Record<string, string> = {};
        if (alias !== undefined) headers['janus-alias'] = alias;
        if (ack !== undefined) headers['janus-ack'] = ack;
        const req: HttpRequestMsg = { method: 'POST', url: `${ORIGIN}/.janus/ack`, headers, body: new Uint8Array(0) };
        expectOnlyJanusError(() => parseChallengeRequest(req), ['malformed', 'too_large']);
        expectOnlyJanusError(() => parseAckRequest(req), ['malformed', 'too_large']);
      }),
      { numRuns: 300 },
    );
  });

  it('readChallengeResponse: arbitrary statuses and bodies give only malformed / too_large', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 100, max: 599 }),
        fc.oneof(fc.uint8Array({ maxLength: 100 }), fc.jsonValue({ maxDepth: 2 }).map((v) => utf8(JSON.stringify(v) ?? '')), fc.record({ challenge: fc.oneof(anyString, jsonArb), expires: jsonArb }, { requiredKeys: [] }).map((o) => jsonBytes(o))),
        (status, body) => {
          expectOnlyJanusError(() => readChallengeResponse({ status, headers: {}, body }), ['malformed', 'too_large']);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('readErrorResponse: never throws; a Janus error code becomes an unauthenticated JanusError', () => {
    const codes = Object.keys(ERRORS) as ErrorCode[];
    fc.assert(
      fc.property(
        fc.integer({ min: 100, max: 599 }),
        fc.oneof(fc.constantFrom(...codes), fc.constantFrom('__proto__', 'toString', 'constructor', 'hasOwnProperty', ''), anyString, fc.constant(undefined)),
        fc.oneof(
          fc.uint8Array({ maxLength: 100 }),
          fc.jsonValue({ maxDepth: 3 }).map((v) => utf8(JSON.stringify(v) ?? '')),
          fc
            .record({ code: jsonArb, message: fc.oneof(fc.string({ maxLength: 700 }), jsonArb), details: jsonObjectArb })
            .map(({ details, ...e }) => jsonBytes({ error: { ...details, ...e } })),
        ),
        (status, code, body) => {
          const headers: Record<string, string> = code === undefined ? {} : { 'janus-error': code };
          let out: JanusError | null = null;
          expect(() => {
            out = readErrorResponse({ status, headers, body });
          }).not.toThrow();
          const isCode = code !== undefined && (codes as string[]).includes(code);
          if (status < 400 || !isCode) {
            expect(out).toBeNull();
            return;
          }
          const err = out as unknown as JanusError;
          expect(err).toBeInstanceOf(JanusError);
          expect(err.code).toBe(code);
          expect(err.details).toMatchObject({ unauthenticated: true, status });
          expect(err.message.length).toBeLessThanOrEqual(500);
          // The wire form of what we read still carries the header's code, whatever the body said.
          expect(err.toJSON().error.code).toBe(code);
        },
      ),
      { numRuns: 400 },
    );
  });

  it('readErrorResponse reads what errorResponse writes', () => {
    for (const code of Object.keys(ERRORS) as ErrorCode[]) {
      const e = new JanusError(code, `msg ${code}`, { generation: 3 });
      const back = readErrorResponse(errorResponse(e));
      expect(back?.code).toBe(code);
      expect(back?.message).toBe(`msg ${code}`);
      expect(back?.details).toMatchObject({ generation: 3, unauthenticated: true, status: ERRORS[code].status });
    }
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
