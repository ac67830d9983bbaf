/** Property tests: b64u/b64, Janus-Ack and Janus-Receipt, keyid, JSON objects, and the small readers (helpers: test/support/decoders.ts). */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { b64, b64u, EncodingError, utf8 } from '../crypto/bytes.ts';
import {
  ERRORS,
  errorResponse,
  formatAck,
  formatReceiptHeader,
  JanusError,
  jsonBytes,
  keyidOf,
  parseAck,
  parseAckRequest,
  parseChallengeRequest,
  parseCommitment,
  parseJsonObject,
  parseKeyid,
  parseReceiptHeader,
  readChallengeResponse,
  readErrorResponse,
  type ErrorCode,
  type HttpRequestMsg,
} from './index.ts';
import {
  aliasArb,
  anyString,
  B64_ALPHABET,
  B64U_ALPHABET,
  bytes,
  commitmentArb,
  describeThrown,
  expectCode,
  expectOnlyJanusError,
  jsonArb,
  jsonObjectArb,
  mutate,
  mutsArb,
  ORIGIN,
  subArb,
  u32,
  viaJson,
} from '../../test/support/decoders.ts';

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
