/** Property tests: secure requests (§6.2) and secure responses (§6.3) (helpers: test/support/decoders.ts). */
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { b64, utf8 } from '../crypto/bytes.ts';
import {
  deliveryRequest,
  deliveryResponse,
  ERRORS,
  formatAck,
  issueChallenge,
  JanusError,
  keyidOf,
  LIMITS,
  parseDelivery,
  parseSecureRequest,
  sealRequest,
  sealResponse,
  TAG,
  verifySecureRequest,
  type ErrorCode,
  type HttpRequestMsg,
  type HttpResponseMsg,
  type KeyHolder,
  type PendingRequest,
  type VendorKeys,
} from './index.ts';
import {
  aliasArb,
  anyString,
  expectCode,
  expectOnlyJanusError,
  expectOnlyJanusErrorAsync,
  keyMaterial,
  mutate,
  mutsArb,
  N_NOW,
  NOW,
  ORIGIN,
} from '../../test/support/decoders.ts';

// Shared key material (one RSA-3072 key pair, generated once for the file).
let vk: VendorKeys;

beforeAll(async () => {
  ({ vk } = await keyMaterial());
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
