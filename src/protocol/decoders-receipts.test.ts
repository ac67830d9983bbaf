/** Property tests: receipts, signed, parsed and verified (§12) (helpers: test/support/decoders.ts). */
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { b64u, concat, utf8 } from '../crypto/bytes.ts';
import { pssSign, spkiFingerprint } from '../crypto/rsa.ts';
import { jsonBytes, parseReceipt, signReceipt, verifyReceipt, type ReceiptPayload } from './index.ts';
import {
  anyString,
  B64U_ALPHABET,
  commitmentArb,
  expectCode,
  expectCodeAsync,
  expectOnlyJanusError,
  expectOnlyJanusErrorAsync,
  flipChar,
  jsonArb,
  jsonObjectArb,
  keyMaterial,
  NOW,
  ORIGIN,
  u32,
  viaJson,
} from '../../test/support/decoders.ts';

// Shared key material (one RSA-3072 key pair, generated once for the file).
let spki: Uint8Array;
let pkcs8: Uint8Array;
let fingerprint: string;
let spki2048: Uint8Array;

beforeAll(async () => {
  ({ spki, pkcs8, fingerprint, spki2048 } = await keyMaterial());
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
