/**
 * The Janus function (paper §2; docs/PROTOCOL.md §3) and slot keys (paper §4; §4): canonical
 * identities, vendor identities, vendor keys and aliases, and the acceptance window.
 * HKDF outputs are checked against node:crypto's independent implementation of the spec's formulas.
 */
import { createHash, hkdfSync } from 'node:crypto';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { b64u, concat, u64be, utf8 } from '../crypto/bytes.ts';
import { FAST_ARGON2 } from '../../test/support/client.ts';
import {
  ALIAS_RE,
  assertInWindow,
  canonicalClientId,
  canonicalSecret,
  JanusError,
  masterSalt,
  replayExpiry,
  SLOT_SECONDS,
  slotKey,
  slotOf,
  stretchSecret,
  vendorAlias,
  vendorIdentity,
  vendorKey,
  vendorSession,
} from './index.ts';
import { codeOf } from '../../test/support/errors.ts';


function expectCode(fn: () => unknown, code: string): void {
  expect(codeOf(fn), `expected ${code}`).toBe(code);
}

/** The spec's lp(x) = u32(len(x)) || x, written independently of src/crypto/bytes.ts. */
function lpRef(s: string): Buffer {
  const b = Buffer.from(s, 'utf8');
  const len = Buffer.alloc(4);
  len.writeUInt32BE(b.length);
  return Buffer.concat([len, b]);
}

function hkdfRef(ikm: Uint8Array, salt: Uint8Array, info: Uint8Array, len: number): Uint8Array {
  return new Uint8Array(hkdfSync('sha256', ikm, salt, info, len));
}

/** Positions at which two equal-length byte strings agree. */
function equalPositions(a: Uint8Array, b: Uint8Array): number {
  expect(a.length).toBe(b.length);
  let n = 0;
  for (let i = 0; i < a.length; i++) if (a[i] === b[i]) n++;
  return n;
}

/** True when some `w`-byte window of `needle` occurs anywhere in `hay`. */
function sharesWindow(needle: Uint8Array, hay: Uint8Array, w: number): boolean {
  const h = Buffer.from(hay);
  for (let i = 0; i + w <= needle.length; i++) {
    if (h.indexOf(Buffer.from(needle.subarray(i, i + w))) >= 0) return true;
  }
  return false;
}

// Two independent 64-byte PRF outputs agree at Binomial(64, 1/256) positions: mean 0.25,
// P(>= 7) ~ 1e-8. Anything above this bound is "beyond chance".
const MAX_EQUAL_BYTES = 6;

const master32 = fc.uint8Array({ minLength: 32, maxLength: 32 });
const idC = fc.string({ minLength: 1, maxLength: 40 });
const idV = fc.webUrl().map((u) => new URL(u).origin);
const gen = fc.integer({ min: 0, max: 0xffffffff });

describe('canonicalClientId (§3.1): lower(trim(NFC(identity))), 1..256 bytes', () => {
  it('trims, lower-cases and NFC-normalizes', () => {
    expect(canonicalClientId('  Alice@Example.ORG\t\n')).toBe('alice@example.org');
    expect(canonicalClientId('alice@example.org')).toBe('alice@example.org');
    // U+00C9 (precomposed) and E + U+0301 (combining acute) are one identity.
    expect(canonicalClientId('E\u0301lodie@example.fr')).toBe('\u00e9lodie@example.fr');
    expect(canonicalClientId('\u00c9lodie@example.fr')).toBe('\u00e9lodie@example.fr');
    // Unicode white space (ECMAScript trim): NBSP, ideographic space, BOM.
    expect(canonicalClientId('\u00a0\u3000bob@example.org\ufeff')).toBe('bob@example.org');
    // Inner spaces are kept.
    expect(canonicalClientId('Bob Smith')).toBe('bob smith');
  });

  it('is idempotent and yields the same identity for every spelling of it', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', minLength: 1, maxLength: 20 }), fc.constantFrom('', ' ', '\t', '\u00a0'), (s, pad) => {
        let c: string;
        try {
          c = canonicalClientId(s);
        } catch (e) {
          expect(e).toBeInstanceOf(JanusError);
          expect((e as JanusError).code).toBe('bad_input');
          return;
        }
        expect(canonicalClientId(pad + s.toUpperCase() + pad)).toBe(canonicalClientId(s.toUpperCase()));
        expect(canonicalClientId(pad + s + pad)).toBe(c);
        expect(c).toBe(c.trim());
      }),
      { numRuns: 300 },
    );
  });

  it('length limits are in UTF-8 bytes after canonicalization: 1..256, else bad_input', () => {
    expect(canonicalClientId('x'.repeat(256))).toHaveLength(256);
    expectCode(() => canonicalClientId('x'.repeat(257)), 'bad_input');
    // Trimming happens before the length check.
    expect(canonicalClientId(`  ${'x'.repeat(256)}  `)).toHaveLength(256);
    // Two bytes per character: 128 fit, 129 do not.
    expect(utf8(canonicalClientId('\u00e9'.repeat(128))).length).toBe(256);
    expectCode(() => canonicalClientId('\u00e9'.repeat(129)), 'bad_input');
    // Lower-casing U+0130 (2 bytes) gives "i" + U+0307 (3 bytes): 86 * 2 = 172 bytes before, 258 after.
    expectCode(() => canonicalClientId('\u0130'.repeat(86)), 'bad_input');
    expectCode(() => canonicalClientId(''), 'bad_input');
    expectCode(() => canonicalClientId('   \t\n'), 'bad_input');
    expectCode(() => canonicalClientId(42 as unknown as string), 'bad_input');
  });
});

describe('canonicalSecret (§3.1): NFC only, 1..1024 bytes', () => {
  it('keeps case and spaces, and only applies NFC', () => {
    expect(canonicalSecret('  Correct Horse ')).toEqual(utf8('  Correct Horse '));
    expect(canonicalSecret('caf\u0065\u0301')).toEqual(utf8('caf\u00e9'));
    expect(canonicalSecret('caf\u00e9')).toEqual(utf8('caf\u00e9'));
    expect(canonicalSecret('ABC')).not.toEqual(canonicalSecret('abc'));
  });

  it('equals utf8(NFC(secret)) for any secret in range', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', minLength: 1, maxLength: 60 }), (s) => {
        expect(canonicalSecret(s)).toEqual(utf8(s.normalize('NFC')));
      }),
      { numRuns: 300 },
    );
  });

  it('length limits: 1..1024 bytes, else bad_input', () => {
    expect(canonicalSecret('s'.repeat(1024))).toHaveLength(1024);
    expectCode(() => canonicalSecret('s'.repeat(1025)), 'bad_input');
    expectCode(() => canonicalSecret('\u00e9'.repeat(513)), 'bad_input');
    expectCode(() => canonicalSecret(''), 'bad_input');
    // A secret of spaces is a (weak) secret, not an empty one.
    expect(canonicalSecret('   ')).toEqual(utf8('   '));
    expectCode(() => canonicalSecret(null as unknown as string), 'bad_input');
  });
});

describe('vendorIdentity (§3.2)', () => {
  it.each([
    ['https://quotes.example', 'https://quotes.example'],
    ['https://Quotes.Example/path?q=1#frag', 'https://quotes.example'],
    ['https://quotes.example:443/', 'https://quotes.example'],
    ['https://quotes.example:8443/x', 'https://quotes.example:8443'],
    ['https://BÜCHER.example:443/x', 'https://xn--bcher-kva.example'],
    ['https://bücher.example', 'https://xn--bcher-kva.example'],
    ['https://user:pw@quotes.example/', 'https://quotes.example'],
    ['http://localhost:8080/x', 'http://localhost:8080'],
    ['http://LOCALHOST/', 'http://localhost'],
    ['http://localhost:80/', 'http://localhost'],
    ['http://127.0.0.1:3000', 'http://127.0.0.1:3000'],
    ['http://127.255.10.1/', 'http://127.255.10.1'],
    ['http://[::1]:3000/a', 'http://[::1]:3000'],
    ['http://[0:0:0:0:0:0:0:1]/', 'http://[::1]'],
  ])('%s -> %s', (url, want) => {
    expect(vendorIdentity(url)).toBe(want);
    expect(vendorIdentity(new URL(url))).toBe(want);
  });

  it.each([
    'http://quotes.example/',
    'http://example.com:8080/',
    'http://128.0.0.1/',
    'http://10.0.0.1/',
    'http://[::2]/',
    'http://127.0.0.1.evil.example/',
    'http://localhost.evil.example/',
    'ftp://quotes.example/',
    'file:///etc/passwd',
    'data:text/html,<h1>hi</h1>',
    'javascript:alert(1)',
    'blob:https://quotes.example/0b0f9ed2-6b0e-4b8e-a2b8-1cd3e2d3f9d1',
    'wss://quotes.example/',
    'about:blank',
    'quotes.example',
    '/relative/path',
    '',
    'not a url',
  ])('%s -> wrong_vendor', (url) => {
    expectCode(() => vendorIdentity(url), 'wrong_vendor');
  });

  it('is the WHATWG origin for any https URL, and never throws anything but wrong_vendor', () => {
    fc.assert(
      fc.property(fc.webUrl({ validSchemes: ['https'], withQueryParameters: true, withFragments: true }), (u) => {
        expect(vendorIdentity(u)).toBe(new URL(u).origin);
      }),
      { numRuns: 300 },
    );
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 60 }), (s) => {
        const c = codeOf(() => vendorIdentity(s));
        expect(c === undefined || c === 'wrong_vendor').toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});

describe('vendorKey and vendorAlias (§3.4)', () => {
  it('match the spec formulas (HKDF-SHA256, lp-framed info) computed independently', () => {
    fc.assert(
      fc.property(master32, idC, idV, gen, (m, c, v, g) => {
        const genBytes = Buffer.alloc(4);
        genBytes.writeUInt32BE(g);
        const kInfo = Buffer.concat([Buffer.from('janus/1 vendor key'), lpRef(c), lpRef(v), genBytes]);
        const aInfo = Buffer.concat([Buffer.from('janus/1 alias'), lpRef(c), lpRef(v)]);
        const k = vendorKey(m, c, v, g);
        expect(k.gen).toBe(g);
        expect(k.k).toEqual(hkdfRef(m, Buffer.from('janus/1'), kInfo, 64));
        expect(b64u.decode(vendorAlias(m, c, v))).toEqual(hkdfRef(m, Buffer.from('janus/1'), aInfo, 16));
      }),
      { numRuns: 200 },
    );
  });

  it('are deterministic; K is 64 bytes and the alias 22 b64u characters (16 bytes)', () => {
    fc.assert(
      fc.property(master32, idC, idV, gen, (m, c, v, g) => {
        const k1 = vendorKey(m, c, v, g);
        const k2 = vendorKey(Uint8Array.from(m), c, v, g);
        expect(k1.k).toHaveLength(64);
        expect(k1.k).toEqual(k2.k);
        const a = vendorAlias(m, c, v);
        expect(a).toMatch(ALIAS_RE);
        expect(a).toMatch(/^[A-Za-z0-9_-]{22}$/);
        expect(b64u.decode(a)).toHaveLength(16);
        expect(vendorAlias(m, c, v)).toBe(a);
        const s = vendorSession(m, c, v, g);
        expect(s).toEqual({ idV: v, alias: a, gen: g, k: k1.k });
      }),
      { numRuns: 200 },
    );
  });

  it('the alias does not depend on the generation; the key does', () => {
    fc.assert(
      fc.property(master32, idC, idV, gen, gen, (m, c, v, g1, g2) => {
        fc.pre(g1 !== g2);
        expect(vendorSession(m, c, v, g1).alias).toBe(vendorSession(m, c, v, g2).alias);
        const k1 = vendorKey(m, c, v, g1).k;
        const k2 = vendorKey(m, c, v, g2).k;
        expect(equalPositions(k1, k2)).toBeLessThanOrEqual(MAX_EQUAL_BYTES);
      }),
      { numRuns: 200 },
    );
  });

  it('different vendors, identities, masters and generations give unrelated keys and aliases', () => {
    let pairs = 0;
    let equal = 0;
    fc.assert(
      fc.property(master32, master32, idC, idC, idV, idV, gen, gen, fc.nat(3), (m1, m2, c1, c2, v1, v2, g1, g2, which) => {
        // Change exactly one input at a time.
        const a = { m: m1, c: c1, v: v1, g: g1 };
        const b = { ...a };
        if (which === 0) b.m = m2;
        if (which === 1) b.c = c2;
        if (which === 2) b.v = v2;
        if (which === 3) b.g = g2;
        fc.pre(!(Buffer.from(a.m).equals(Buffer.from(b.m)) && a.c === b.c && a.v === b.v && a.g === b.g));
        const ka = vendorKey(a.m, a.c, a.v, a.g).k;
        const kb = vendorKey(b.m, b.c, b.v, b.g).k;
        const e = equalPositions(ka, kb);
        expect(e).toBeLessThanOrEqual(MAX_EQUAL_BYTES);
        pairs++;
        equal += e;
        if (which !== 3) expect(vendorAlias(a.m, a.c, a.v)).not.toBe(vendorAlias(b.m, b.c, b.v));
      }),
      { numRuns: 300 },
    );
    // Over all pairs, about one byte in 256 agrees; 64*pairs/256 + a generous margin.
    expect(equal).toBeLessThan((pairs * 64) / 256 + 5 * Math.sqrt((pairs * 64) / 256) + 5);
  });

  it('the length prefixes keep (id_C, id_V) unambiguous', () => {
    const m = new Uint8Array(32).fill(7);
    expect(vendorKey(m, 'a', 'bc', 0).k).not.toEqual(vendorKey(m, 'ab', 'c', 0).k);
    expect(vendorAlias(m, 'a', 'bc')).not.toBe(vendorAlias(m, 'ab', 'c'));
  });

  it('refuses a master that is not 32 bytes and a generation that is not a uint32 (bad_input)', () => {
    const m = new Uint8Array(32);
    expect(vendorKey(m, 'a', 'https://v.example', 0xffffffff).gen).toBe(0xffffffff);
    for (const g of [-1, 0x100000000, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      expectCode(() => vendorKey(m, 'a', 'https://v.example', g), 'bad_input');
    }
    for (const bad of [new Uint8Array(31), new Uint8Array(33), new Uint8Array(0)]) {
      expectCode(() => vendorKey(bad, 'a', 'https://v.example', 0), 'bad_input');
      expectCode(() => vendorAlias(bad, 'a', 'https://v.example'), 'bad_input');
    }
  });

  describe('with stretched secrets (FAST_ARGON2)', () => {
    const A = 'https://quotes.example';
    const B = 'https://books.example';
    let alice: { idC: string; master: Uint8Array };

    beforeAll(async () => {
      alice = await stretchSecret('alice@example.org', 'correct horse battery staple', { params: FAST_ARGON2 });
    });

    it('stretchSecret canonicalizes, binds the salt to id_C, and is deterministic', async () => {
      expect(alice.idC).toBe('alice@example.org');
      expect(alice.master).toHaveLength(32);
      const again = await stretchSecret('  ALICE@example.org ', 'correct horse battery staple', { params: FAST_ARGON2 });
      expect(again.idC).toBe('alice@example.org');
      expect(again.master).toEqual(alice.master);
      const salt = createHash('sha256').update(Buffer.concat([Buffer.from('janus/1 argon2id salt'), Buffer.from([0]), Buffer.from('alice@example.org')])).digest();
      expect(masterSalt('alice@example.org')).toEqual(new Uint8Array(salt));
    });

    it('modular security: two vendors get different keys, and neither contains any slice of the other', () => {
      const ka = vendorKey(alice.master, alice.idC, A, 0).k;
      const kb = vendorKey(alice.master, alice.idC, B, 0).k;
      expect(ka).not.toEqual(kb);
      expect(equalPositions(ka, kb)).toBeLessThanOrEqual(MAX_EQUAL_BYTES);
      // No 8-byte window of one key (so neither K^e nor K^m, nor any shift of them) occurs in the other.
      expect(sharesWindow(ka, kb, 8)).toBe(false);
      expect(sharesWindow(kb, ka, 8)).toBe(false);
      // Nor in the other vendor's slot keys or alias.
      const sb = slotKey(kb, 5_880_000);
      expect(sharesWindow(ka, concat(sb.ke, sb.km, b64u.decode(vendorAlias(alice.master, alice.idC, B))), 8)).toBe(false);
      expect(vendorAlias(alice.master, alice.idC, A)).not.toBe(vendorAlias(alice.master, alice.idC, B));
    });

    it('impersonation resistance: another (identity, secret) pair gets a different key and alias', async () => {
      const others = await Promise.all([
        stretchSecret('alice@example.org', 'correct horse battery stapler', { params: FAST_ARGON2 }),
        stretchSecret('alice@example.org', 'Correct horse battery staple', { params: FAST_ARGON2 }),
        stretchSecret('mallory@example.org', 'correct horse battery staple', { params: FAST_ARGON2 }),
        stretchSecret('alice@example.net', 'correct horse battery staple', { params: FAST_ARGON2 }),
      ]);
      const mine = vendorSession(alice.master, alice.idC, A);
      for (const o of others) {
        expect(o.master).not.toEqual(alice.master);
        const theirs = vendorSession(o.master, o.idC, A);
        expect(theirs.alias).not.toBe(mine.alias);
        expect(equalPositions(theirs.k, mine.k)).toBeLessThanOrEqual(MAX_EQUAL_BYTES);
        // Even with the victim's id_C in the derivation, a wrong secret gives a wrong key.
        expect(vendorKey(o.master, alice.idC, A, 0).k).not.toEqual(mine.k);
      }
      // The same secret under another identity gives another master (the salt is bound to id_C).
      expect(others[2]!.master).not.toEqual(alice.master);
    });
  });
});

describe('slots (§4)', () => {
  it('slotOf is floor(t / 300)', () => {
    expect(SLOT_SECONDS).toBe(300);
    expect(slotOf(0)).toBe(0);
    expect(slotOf(299)).toBe(0);
    expect(slotOf(300)).toBe(1);
    expect(slotOf(1_764_000_000)).toBe(5_880_000);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 48 }), (t) => {
        const n = slotOf(t);
        expect(Number.isSafeInteger(n)).toBe(true);
        expect(n * 300).toBeLessThanOrEqual(t);
        expect(t).toBeLessThan((n + 1) * 300);
      }),
      { numRuns: 300 },
    );
  });

  it('slotKey: K_n^e and K_n^m are the two halves of K_n = HKDF(K, "", "janus/1 slot key" || u64(n), 64)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 64, maxLength: 64 }), fc.maxSafeNat(), (k, n) => {
        const s = slotKey(k, n);
        const nBytes = Buffer.alloc(8);
        nBytes.writeBigUInt64BE(BigInt(n));
        const kn = hkdfRef(k, new Uint8Array(0), Buffer.concat([Buffer.from('janus/1 slot key'), nBytes]), 64);
        expect(s.n).toBe(n);
        expect(s.ke).toHaveLength(32);
        expect(s.km).toHaveLength(32);
        expect(s.ke).toEqual(kn.subarray(0, 32));
        expect(s.km).toEqual(kn.subarray(32, 64));
        expect(concat(s.ke, s.km)).toEqual(kn);
        expect(slotKey(k, n)).toEqual(s);
        // Sanity of the oracle's encoding of n.
        expect(new Uint8Array(nBytes)).toEqual(u64be(n));
      }),
      { numRuns: 200 },
    );
  });

  it('slot keys of different slots (and of different K) are unrelated', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 64, maxLength: 64 }), fc.maxSafeNat(), fc.maxSafeNat(), (k, n1, n2) => {
        fc.pre(n1 !== n2);
        const a = slotKey(k, n1);
        const b = slotKey(k, n2);
        expect(equalPositions(concat(a.ke, a.km), concat(b.ke, b.km))).toBeLessThanOrEqual(MAX_EQUAL_BYTES);
        // A slot key is not K nor either half of it.
        expect(sharesWindow(concat(a.ke, a.km), k, 8)).toBe(false);
      }),
      { numRuns: 200 },
    );
    const k = new Uint8Array(64).fill(1);
    const k2 = Uint8Array.from(k);
    k2[63] = 2;
    expect(equalPositions(concat(slotKey(k, 9).ke, slotKey(k, 9).km), concat(slotKey(k2, 9).ke, slotKey(k2, 9).km))).toBeLessThanOrEqual(MAX_EQUAL_BYTES);
    // K_n^e and K_n^m are not the same bytes.
    expect(slotKey(k, 9).ke).not.toEqual(slotKey(k, 9).km);
  });

  it('slotKey refuses a K that is not 64 bytes and a slot that is not a non-negative safe integer', () => {
    expectCode(() => slotKey(new Uint8Array(32), 1), 'bad_input');
    expectCode(() => slotKey(new Uint8Array(65), 1), 'bad_input');
    for (const n of [-1, 1.5, 2 ** 53, Number.NaN]) expectCode(() => slotKey(new Uint8Array(64), n), 'bad_input');
    expect(slotKey(new Uint8Array(64), 0).n).toBe(0);
    expect(slotKey(new Uint8Array(64), Number.MAX_SAFE_INTEGER).n).toBe(Number.MAX_SAFE_INTEGER);
  });

  it('assertInWindow: |n - n_V| = w is accepted, w + 1 is slot_out_of_window (for every w in 0..12)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 20, max: 2 ** 40 }), fc.integer({ min: 0, max: 299 }), fc.integer({ min: 0, max: 12 }), (nV, off, w) => {
        const now = nV * 300 + off;
        for (let d = -w; d <= w; d++) expect(() => assertInWindow(nV + d, now, w)).not.toThrow();
        for (const d of [w + 1, -(w + 1), w + 7, -(w + 7)]) {
          let err: unknown;
          try {
            assertInWindow(nV + d, now, w);
          } catch (e) {
            err = e;
          }
          expect(err).toBeInstanceOf(JanusError);
          expect((err as JanusError).code).toBe('slot_out_of_window');
          expect((err as JanusError).status).toBe(401);
          expect((err as JanusError).details).toEqual({ slot: nV });
        }
      }),
      { numRuns: 200 },
    );
  });

  it('assertInWindow at slot edges: the first and last second of a slot', () => {
    const nV = 5_880_000;
    // Last second of slot nV - 1: slot nV + 1 is two away.
    expect(() => assertInWindow(nV + 1, nV * 300 - 1, 1)).toThrowError(expect.objectContaining({ code: 'slot_out_of_window' }));
    expect(() => assertInWindow(nV + 1, nV * 300, 1)).not.toThrow();
    expect(() => assertInWindow(nV - 1, (nV + 1) * 300 - 1, 1)).not.toThrow();
    expect(() => assertInWindow(nV - 1, (nV + 1) * 300, 1)).toThrowError(expect.objectContaining({ code: 'slot_out_of_window' }));
    // w = 0: only the current slot.
    expect(() => assertInWindow(nV, nV * 300 + 299, 0)).not.toThrow();
    expect(() => assertInWindow(nV, (nV + 1) * 300, 0)).toThrowError(expect.objectContaining({ code: 'slot_out_of_window' }));
  });

  it('replayExpiry: the end of slot n + w, exactly when slot n leaves the window', () => {
    expect(replayExpiry(10, 1)).toBe(12 * 300);
    expect(replayExpiry(0, 0)).toBe(300);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 40 }), fc.integer({ min: 0, max: 12 }), (n, w) => {
        const t = replayExpiry(n, w);
        expect(slotOf(t - 1)).toBe(n + w);
        expect(slotOf(t)).toBe(n + w + 1);
        // Until the expiry the nonce's slot may still be accepted; from then on it never is.
        expect(() => assertInWindow(n, t - 1, w)).not.toThrow();
        expect(() => assertInWindow(n, t, w)).toThrowError(expect.objectContaining({ code: 'slot_out_of_window' }));
      }),
      { numRuns: 300 },
    );
  });
});
