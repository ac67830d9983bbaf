import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { JanusError } from '../errors.ts';
import { utf8 } from './bytes.ts';
import { contentDigest, verifyContentDigest } from './digest.ts';
import { codeOf as code } from '../../test/support/errors.ts';


const HELLO = utf8('{"hello": "world"}');

describe('contentDigest (RFC 9530)', () => {
  it('§2 / Appendix B: {"hello": "world"}', () => {
    expect(contentDigest(HELLO)).toBe('sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:');
  });

  it('Appendix B: the empty body', () => {
    expect(contentDigest(new Uint8Array(0))).toBe('sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:');
  });

  it('matches node:crypto sha256', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), (body) => {
        const expected = createHash('sha256').update(body).digest('base64');
        expect(contentDigest(body)).toBe(`sha-256=:${expected}:`);
      }),
    );
  });
});

describe('verifyContentDigest', () => {
  it('accepts the RFC value, with other algorithms and parameters around it', () => {
    verifyContentDigest('sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:', HELLO);
    verifyContentDigest(
      'sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:, ' +
        'sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:',
      HELLO,
    );
    verifyContentDigest('unixsum=1, sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:;x=y', HELLO);
  });

  it('bad_digest when the body differs', () => {
    expect(code(() => verifyContentDigest(contentDigest(HELLO), utf8('{"hello": "world!"}')))).toBe('bad_digest');
    expect(code(() => verifyContentDigest(contentDigest(new Uint8Array(0)), new Uint8Array(1)))).toBe('bad_digest');
  });

  it('malformed: absent, unparseable, no sha-256 member, wrong type or length', () => {
    const cases: (string | null)[] = [
      null,
      '',
      'garbage!',
      'sha-256=X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=', // not a byte sequence
      'SHA-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:', // keys are lowercase
      'sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:',
      'sha-256="X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE="',
      'sha-256=(:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:)',
      'sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9D:', // 30 bytes
      'sha-256=::',
      'sha-256', // Boolean true
    ];
    for (const c of cases) expect(code(() => verifyContentDigest(c, HELLO)), String(c)).toBe('malformed');
  });

  it('too_large for a field beyond the structured-field limit', () => {
    expect(code(() => verifyContentDigest(`a=${'1'.repeat(10)}, `.repeat(1000), HELLO))).toBe('too_large');
  });

  it('property: verify(contentDigest(x), x) passes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 1024 }), (body) => {
        verifyContentDigest(contentDigest(body), body);
      }),
    );
  });

  it('property: arbitrary header strings only ever throw JanusError', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string().map((s) => `sha-256=:${s}:`)), fc.uint8Array({ maxLength: 32 }), (h, body) => {
        try {
          verifyContentDigest(h, body);
        } catch (e) {
          expect(e).toBeInstanceOf(JanusError);
        }
      }),
      { numRuns: 1000 },
    );
  });
});

describe('large bodies hashed natively (contentDigestAsync / verifyContentDigestAsync)', () => {
  it('gives the same digest and the same errors as the synchronous path, on both sides of the threshold', async () => {
    const { contentDigestAsync, verifyContentDigestAsync } = await import('./digest.ts');
    for (const n of [0, 1, 16 * 1024 - 1, 16 * 1024, 300_000]) {
      const body = new Uint8Array(n).map((_, i) => (i * 31) & 0xff);
      const h = await contentDigestAsync(body);
      expect(h).toBe(contentDigest(body));
      await verifyContentDigestAsync(h, body);
      if (n > 0) {
        const bad = body.slice();
        bad[n - 1]! ^= 1;
        await expect(verifyContentDigestAsync(h, bad)).rejects.toMatchObject({ code: 'bad_digest' });
      }
    }
    await expect(verifyContentDigestAsync(undefined, new Uint8Array(1))).rejects.toMatchObject({ code: 'malformed' });
  });
});
