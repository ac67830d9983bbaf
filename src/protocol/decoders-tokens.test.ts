/** Property tests: slot credential, key transport plaintext, SKEP token, EDDP challenge, SKEP message 1 (helpers: test/support/decoders.ts). */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { b64u, concat, utf8 } from '../crypto/bytes.ts';
import {
  checkChallenge,
  issueChallenge,
  jsonBytes,
  keyTransportPlaintext,
  LIMITS,
  makeCredential,
  openSkepToken,
  parseCredential,
  parseKeyTransport,
  parseSkepHello,
  sealSkepToken,
  slotOf,
  verifyCredential,
  type HttpRequestMsg,
  type Json,
} from './index.ts';
import {
  aliasArb,
  anyString,
  byteMutsArb,
  bytes,
  expectCode,
  expectOnlyJanusError,
  flipChar,
  idVArb,
  jsonArb,
  keyHolderArb,
  mutate,
  mutateBytes,
  mutsArb,
  N_NOW,
  NOW,
  ORIGIN,
  timeArb,
  u32,
} from '../../test/support/decoders.ts';

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
