/**
 * Shared helpers for the property tests of every encoder and decoder of the protocol core (fast-check),
 * split by subject over src/protocol/decoders-*.test.ts:
 * - encoders: decode(encode(x)) = x, and a decoder that accepts a value accepts only its one encoding;
 * - decoders: arbitrary strings, bytes, JSON values and near-valid mutations of real messages throw
 *   nothing but a JanusError (never a TypeError, RangeError or EncodingError), with the codes the
 *   spec names (docs/PROTOCOL.md §2, §5, §6.2, §7, §9.1, §10-§12, §14-§15).
 * Plus targeted cases: tampered and expired tokens and challenges, discovery refusals, routes, pins.
 *
 * Here: the constants, the JanusError-only assertions, the mutation and value arbitraries, and the
 * RSA key material (generated lazily, once per test file) with the discovery input built on it.
 */
import fc from 'fast-check';
import { expect } from 'vitest';
import { b64u, concat } from '../../src/crypto/bytes.ts';
import { generateVendorKeyPair, selfSignedCertificate, spkiFingerprint } from '../../src/crypto/rsa.ts';
import { JanusError, slotOf, type DiscoveryInput, type ErrorCode, type Json, type JsonObject, type KeyHolder, type VendorKeys } from '../../src/protocol/index.ts';

export const ORIGIN = 'https://quotes.example';
export const NOW = 1_764_000_000;
export const N_NOW = slotOf(NOW);

// ---------------------------------------------------------------------------------------------
// Helpers

export function describeThrown(e: unknown): string {
  return e instanceof Error ? `${e.name}: ${e.message}` : String(e);
}

function checkThrown(e: unknown, codes?: readonly ErrorCode[]): JanusError {
  expect(e, `only a JanusError may escape a decoder, got ${describeThrown(e)}`).toBeInstanceOf(JanusError);
  const je = e as JanusError;
  if (codes) expect(codes, `unexpected code ${je.code} (${je.message})`).toContain(je.code);
  return je;
}

/** Runs `fn`; if it throws, the exception must be a JanusError (with one of `codes`, when given). */
export function expectOnlyJanusError<T>(fn: () => T, codes?: readonly ErrorCode[]): { ok: true; value: T } | { ok: false; error: JanusError } {
  try {
    return { ok: true, value: fn() };
  } catch (e) {
    return { ok: false, error: checkThrown(e, codes) };
  }
}

export async function expectOnlyJanusErrorAsync<T>(
  fn: () => Promise<T>,
  codes?: readonly ErrorCode[],
): Promise<{ ok: true; value: T } | { ok: false; error: JanusError }> {
  try {
    return { ok: true, value: await fn() };
  } catch (e) {
    return { ok: false, error: checkThrown(e, codes) };
  }
}

export function expectCode(fn: () => unknown, code: ErrorCode): void {
  const r = expectOnlyJanusError(fn);
  expect(r.ok, `expected ${code}`).toBe(false);
  if (!r.ok) expect(r.error.code, r.error.message).toBe(code);
}

export async function expectCodeAsync(fn: () => Promise<unknown>, code: ErrorCode): Promise<void> {
  const r = await expectOnlyJanusErrorAsync(fn);
  expect(r.ok, `expected ${code}`).toBe(false);
  if (!r.ok) expect(r.error.code, r.error.message).toBe(code);
}

/** JSON as the peer sees it: -0 becomes 0, undefined members vanish, prototypes are plain. */
export function viaJson<T>(x: T): T {
  return JSON.parse(JSON.stringify(x)) as T;
}

export const B64U_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
export const B64_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
/** Characters that keep a mutated value close to the formats under test. */
const NEAR = [...B64U_ALPHABET, '.', '=', '+', '/', ' ', ':', '"', '\\', '\u00e9', '\u0000'];

type Mut = { kind: 'replace' | 'delete' | 'insert' | 'truncate' | 'duplicate'; i: number; s: string };
const mutArb: fc.Arbitrary<Mut> = fc.record({
  kind: fc.constantFrom('replace', 'delete', 'insert', 'truncate', 'duplicate'),
  i: fc.nat(),
  s: fc.oneof(fc.constantFrom(...NEAR), fc.string({ unit: 'binary', minLength: 1, maxLength: 3 })),
});
export const mutsArb = fc.array(mutArb, { minLength: 1, maxLength: 3 });

export function mutate(x: string, muts: readonly Mut[]): string {
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
export const byteMutsArb = fc.array(
  fc.record({ kind: fc.constantFrom('xor', 'delete', 'insert', 'truncate'), i: fc.nat(), b: fc.integer({ min: 1, max: 255 }) }) as fc.Arbitrary<ByteMut>,
  { minLength: 1, maxLength: 3 },
);

export function mutateBytes(x: Uint8Array, muts: readonly ByteMut[]): Uint8Array {
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
export function flipChar(s: string, i: number, shift = 1): string {
  const c = s[i]!;
  const k = B64U_ALPHABET.indexOf(c);
  const r = k < 0 ? 'A' : B64U_ALPHABET[(k + shift) % 64]!;
  return s.slice(0, i) + (r === c ? 'B' : r) + s.slice(i + 1);
}

// Arbitraries
export const anyString = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 80 }),
  fc.string({ unit: fc.constantFrom(...NEAR), maxLength: 80 }),
  fc.string({ maxLength: 80 }),
);
export const aliasArb = fc.stringMatching(/^[A-Za-z0-9_-]{22}$/);
/** A chain id (§11.1): 16 random bytes in b64u, the same form as an alias. */
export const subArb = fc.stringMatching(/^[A-Za-z0-9_-]{22}$/);
export const bytes = (n: number) => fc.uint8Array({ minLength: n, maxLength: n });
export const u32 = fc.integer({ min: 0, max: 0xffffffff });
export const timeArb = fc.integer({ min: 0, max: 2 ** 40 });
export const idVArb = fc.constantFrom(ORIGIN, 'https://xn--bcher-kva.example', 'http://localhost:8080', 'https://quotes.example:8443');
export const keyHolderArb: fc.Arbitrary<KeyHolder> = fc.record({ alias: aliasArb, gen: u32, k: bytes(64) });
export const jsonArb = fc.jsonValue({ maxDepth: 3 }) as fc.Arbitrary<Json>;
export const jsonObjectArb = fc.dictionary(fc.string({ maxLength: 12 }), jsonArb, { maxKeys: 5 }) as fc.Arbitrary<JsonObject>;
export const commitmentArb = fc.record({ sub: subArb, n: fc.integer({ min: 1, max: 100_000 }), w0: bytes(32).map((b) => b64u.encode(b)) });

// ---------------------------------------------------------------------------------------------
// Shared key material: one RSA-3072 key pair, generated on first use and cached for the test file.

export interface KeyMaterial {
  spki: Uint8Array;
  pkcs8: Uint8Array;
  spkiB64u: string;
  fingerprint: string;
  cert: string;
  /** An RSA-2048 SPKI: a key too weak for a vendor. */
  spki2048: Uint8Array;
  vk: VendorKeys;
}

let material: Promise<KeyMaterial> | undefined;

/** The file's key material; call it from a beforeAll. */
export function keyMaterial(): Promise<KeyMaterial> {
  material ??= generateKeyMaterial();
  return material;
}

async function generateKeyMaterial(): Promise<KeyMaterial> {
  const { spki, pkcs8 } = await generateVendorKeyPair();
  const spkiB64u = b64u.encode(spki);
  const fingerprint = spkiFingerprint(spki);
  const cert = selfSignedCertificate({ now: Date.now(), spki, pkcs8, origin: ORIGIN });
  // generateVendorKeyPair refuses < 3072 bits, so the weak key comes straight from WebCrypto.
  const weak = await crypto.subtle.generateKey(
    { name: 'RSA-OAEP', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' },
    true,
    ['encrypt', 'decrypt'],
  );
  const spki2048 = new Uint8Array(await crypto.subtle.exportKey('spki', weak.publicKey));
  const vk: VendorKeys = { idV: ORIGIN, spki, pkcs8, tk: new Uint8Array(32).fill(1), ck: new Uint8Array(32).fill(2), window: 1, receipt: 'offered' };
  return { spki, pkcs8, spkiB64u, fingerprint, cert, spki2048, vk };
}

/** A valid discovery input for ORIGIN under the key material `km`, with `over` applied. */
export function docInput(km: Pick<KeyMaterial, 'spkiB64u' | 'fingerprint'>, over: Partial<DiscoveryInput> = {}): DiscoveryInput {
  return {
    origin: ORIGIN,
    spki: km.spkiB64u,
    fingerprint: km.fingerprint,
    routes: [
      { path: '/api/watchlist', methods: ['GET', 'PUT'], level: 'sddp' },
      { path: '/api/intraday/*', methods: null, level: 'eddp+receipts' },
    ],
    name: 'Quotes',
    subscription: { description: 'free personalized quotes' },
    ...over,
  };
}
