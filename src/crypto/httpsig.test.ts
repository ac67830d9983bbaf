import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { JanusError } from '../errors.ts';
import { b64, utf8 } from './bytes.ts';
import {
  type HttpView,
  type SigParams,
  parseSignature,
  parseSignatureGeneral,
  serializeSignatureParams,
  signHmac,
  signatureBase,
  verifyHmac,
} from './httpsig.ts';
import { codeOf as code } from '../../test/support/errors.ts';


// RFC 9421 Appendix B.2: test-request
const TEST_REQUEST: HttpView = {
  method: 'POST',
  targetUri: 'https://example.com/foo?param=Value&Pet=dog',
  headers: {
    host: 'example.com',
    date: 'Tue, 20 Apr 2021 02:07:55 GMT',
    'content-type': 'application/json',
    'content-digest':
      'sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:',
    'content-length': '18',
  },
};

// RFC 9421 Appendix B.2: test-response
const TEST_RESPONSE: HttpView = {
  status: 200,
  headers: {
    date: 'Tue, 20 Apr 2021 02:07:56 GMT',
    'content-type': 'application/json',
    'content-digest':
      'sha-512=:mEWXIS7MaLRuGgxOBdODa3xqM1XdEvxoYhvlCFJ41QJgJc4GTsPp29l5oGX69wWdXymyU0rjJuahq4l5aGgfLQ==:',
    'content-length': '23',
  },
};

// RFC 9421 Appendix B.1.5: test-shared-secret
const SHARED = b64.decode('uzvJfB4u3N0Jy4T7NZ75MDVcr8zSTInedJtkgcu46YW4XByzNJjxBdtjUkdJPBtbmHhIDi6pcl8jsasjlTMtDQ==');

describe('RFC 9421 Appendix B.2.5: signing a request using hmac-sha256', () => {
  const components = ['date', '@authority', 'content-type'];
  const params: SigParams = { created: 1618884473, keyid: 'test-shared-secret' };
  const BASE =
    '"date": Tue, 20 Apr 2021 02:07:55 GMT\n' +
    '"@authority": example.com\n' +
    '"content-type": application/json\n' +
    '"@signature-params": ("date" "@authority" "content-type");created=1618884473;keyid="test-shared-secret"';

  it('builds the exact signature base', () => {
    expect(signatureBase(components, params, TEST_REQUEST)).toBe(BASE);
    expect(serializeSignatureParams(components, params)).toBe(
      '("date" "@authority" "content-type");created=1618884473;keyid="test-shared-secret"',
    );
  });

  it('produces the RFC Signature-Input and Signature', () => {
    const out = signHmac(SHARED, 'sig-b25', components, params, TEST_REQUEST);
    expect(out.signatureInput).toBe('sig-b25=("date" "@authority" "content-type");created=1618884473;keyid="test-shared-secret"');
    expect(out.signature).toBe('sig-b25=:pxcQw6G3AjtMBQjwo8XzkZf/bws5LelbaMk5rGIGtE8=:');
  });

  it('verifies the RFC header values', () => {
    const parsed = parseSignature(
      'sig-b25',
      'sig-b25=("date" "@authority" "content-type");created=1618884473;keyid="test-shared-secret"',
      'sig-b25=:pxcQw6G3AjtMBQjwo8XzkZf/bws5LelbaMk5rGIGtE8=:',
    );
    expect(parsed.components).toEqual(components);
    expect(parsed.params).toEqual(params);
    expect(parsed.paramOrder).toEqual(['created', 'keyid']);
    verifyHmac(SHARED, parsed, TEST_REQUEST);
  });

  it('the HMAC equals node:crypto createHmac over the base', () => {
    const expected = createHmac('sha256', SHARED).update(BASE, 'ascii').digest('base64');
    expect(expected).toBe('pxcQw6G3AjtMBQjwo8XzkZf/bws5LelbaMk5rGIGtE8=');
  });
});

describe('signature bases of other RFC 9421 examples (algorithm-independent)', () => {
  it('B.2.6: @method and @path', () => {
    const base = signatureBase(
      ['date', '@method', '@path', '@authority', 'content-type', 'content-length'],
      { created: 1618884473, keyid: 'test-key-ed25519' },
      TEST_REQUEST,
    );
    expect(base).toBe(
      '"date": Tue, 20 Apr 2021 02:07:55 GMT\n' +
        '"@method": POST\n' +
        '"@path": /foo\n' +
        '"@authority": example.com\n' +
        '"content-type": application/json\n' +
        '"content-length": 18\n' +
        '"@signature-params": ("date" "@method" "@path" "@authority" "content-type" "content-length")' +
        ';created=1618884473;keyid="test-key-ed25519"',
    );
  });

  it('B.2.4: @status on a response', () => {
    const base = signatureBase(
      ['@status', 'content-type', 'content-digest', 'content-length'],
      { created: 1618884473, keyid: 'test-key-ecc-p256' },
      TEST_RESPONSE,
    );
    expect(base).toBe(
      '"@status": 200\n' +
        '"content-type": application/json\n' +
        '"content-digest": sha-512=:mEWXIS7MaLRuGgxOBdODa3xqM1XdEvxoYhvlCFJ41QJgJc4GTsPp29l5oGX69wWdXymyU0rjJuahq4l5aGgfLQ==:\n' +
        '"content-length": 23\n' +
        '"@signature-params": ("@status" "content-type" "content-digest" "content-length")' +
        ';created=1618884473;keyid="test-key-ecc-p256"',
    );
  });
});

describe('derived components (RFC 9421 §2.2)', () => {
  const p: SigParams = { created: 1, keyid: 'k' };
  const line = (c: string, msg: HttpView): string => signatureBase([c], p, msg).split('\n')[0]!;
  const req = (targetUri: string, method = 'GET'): HttpView => ({ method, targetUri, headers: {} });

  it('@target-uri, @scheme, @path, @query from the test request', () => {
    expect(line('@target-uri', TEST_REQUEST)).toBe('"@target-uri": https://example.com/foo?param=Value&Pet=dog');
    expect(line('@scheme', TEST_REQUEST)).toBe('"@scheme": https');
    expect(line('@path', TEST_REQUEST)).toBe('"@path": /foo');
    expect(line('@query', TEST_REQUEST)).toBe('"@query": ?param=Value&Pet=dog');
  });

  it('@authority: host lowercased, default port dropped, other ports kept', () => {
    expect(line('@authority', req('https://WWW.Example.COM:443/'))).toBe('"@authority": www.example.com');
    expect(line('@authority', req('http://example.com:80/'))).toBe('"@authority": example.com');
    expect(line('@authority', req('http://example.com:/'))).toBe('"@authority": example.com');
    expect(line('@authority', req('https://example.com:8443/'))).toBe('"@authority": example.com:8443');
    expect(line('@authority', req('http://example.com:443/'))).toBe('"@authority": example.com:443');
    expect(line('@authority', req('https://[2001:DB8::1]:443/x'))).toBe('"@authority": [2001:db8::1]');
    expect(line('@authority', req('https://[::1]:8443/x'))).toBe('"@authority": [::1]:8443');
  });

  it('@scheme is lowercased; @path defaults to "/"; @query is "?" when absent or empty', () => {
    expect(line('@scheme', req('HTTPS://example.com'))).toBe('"@scheme": https');
    expect(line('@path', req('https://example.com'))).toBe('"@path": /');
    expect(line('@path', req('https://example.com/a%2Fb/../c'))).toBe('"@path": /a%2Fb/../c');
    expect(line('@query', req('https://example.com/x'))).toBe('"@query": ?');
    expect(line('@query', req('https://example.com/x?'))).toBe('"@query": ?');
  });

  it('@method is taken as given (case-sensitive)', () => {
    expect(line('@method', req('https://example.com/', 'get'))).toBe('"@method": get');
  });

  it('header values are trimmed of leading/trailing SP and HTAB (§2.1); empty values are allowed', () => {
    const msg: HttpView = { headers: { 'x-a': ' \t a, b \t', 'x-empty': '' } };
    expect(line('x-a', msg)).toBe('"x-a": a, b');
    expect(line('x-empty', msg)).toBe('"x-empty": ');
  });

  it(';req takes the value from the bound request', () => {
    const resp: HttpView = {
      status: 200,
      headers: { 'content-digest': 'sha-256=:resp:' },
      request: { method: 'POST', targetUri: 'https://example.com/foo?x=1', headers: { 'content-digest': 'sha-256=:req:' } },
    };
    expect(
      signatureBase(['@status', 'content-digest', '@method;req', '@target-uri;req', 'content-digest;req'], p, resp),
    ).toBe(
      '"@status": 200\n' +
        '"content-digest": sha-256=:resp:\n' +
        '"@method";req: POST\n' +
        '"@target-uri";req: https://example.com/foo?x=1\n' +
        '"content-digest";req: sha-256=:req:\n' +
        '"@signature-params": ("@status" "content-digest" "@method";req "@target-uri";req "content-digest";req)' +
        ';created=1;keyid="k"',
    );
  });

  it('parameters serialize in the order created, expires, nonce, alg, keyid, tag', () => {
    const all: SigParams = { tag: 't', keyid: 'k', alg: 'hmac-sha256', nonce: 'n', expires: 2, created: 1 };
    expect(serializeSignatureParams(['@method'], all)).toBe(
      '("@method");created=1;expires=2;nonce="n";alg="hmac-sha256";keyid="k";tag="t"',
    );
  });
});

describe('failures while building the base are malformed', () => {
  const p: SigParams = { created: 1, keyid: 'k' };
  const cases: [string, readonly string[], HttpView][] = [
    ['missing header', ['x-missing'], TEST_REQUEST],
    ['prototype key is not a header', ['constructor'], TEST_REQUEST],
    ['@method on a response', ['@method'], TEST_RESPONSE],
    ['@status on a request', ['@status'], TEST_REQUEST],
    ['@status;req', ['@status;req'], { ...TEST_RESPONSE, request: { method: 'GET', targetUri: 'https://a/', headers: {} } }],
    [';req without a bound request', ['@method;req'], TEST_REQUEST],
    ['unknown derived component', ['@request-target'], TEST_REQUEST],
    ['@query-param is not supported', ['@query-param'], TEST_REQUEST],
    ['@signature-params cannot be covered', ['@signature-params'], TEST_REQUEST],
    ['uppercase field name', ['Date'], TEST_REQUEST],
    ['unknown component parameter', ['date;sf'], TEST_REQUEST],
    ['duplicate component', ['date', 'date'], TEST_REQUEST],
    ['header with LF', ['x-bad'], { headers: { 'x-bad': 'a\nb' } }],
    ['header with obs-text', ['x-bad'], { headers: { 'x-bad': 'caf\u00e9' } }],
    ['relative target URI', ['@path'], { method: 'GET', targetUri: '/foo', headers: {} }],
    ['target URI with a fragment', ['@target-uri'], { method: 'GET', targetUri: 'https://a/b#c', headers: {} }],
    ['target URI with userinfo', ['@authority'], { method: 'GET', targetUri: 'https://u@a/b', headers: {} }],
    ['target URI with a space', ['@target-uri'], { method: 'GET', targetUri: 'https://a/b c', headers: {} }],
    ['method with a space', ['@method'], { method: 'GE T', targetUri: 'https://a/', headers: {} }],
  ];
  it.each(cases)('%s', (_name, components, msg) => {
    expect(code(() => signatureBase(components, p, msg))).toBe('malformed');
    expect(code(() => signHmac(SHARED, 'sig', components, p, msg))).toBe('malformed');
  });

  it('params of the wrong type or value', () => {
    const bad: unknown[] = [
      { created: 1.5, keyid: 'k' },
      { created: -1, keyid: 'k' },
      { created: 1e15, keyid: 'k' },
      { created: 1, keyid: 'k\n' },
      { created: 1, keyid: 'k', nonce: 'caf\u00e9' },
      { created: 1, keyid: 'k', alg: 'rsa-pss-sha512' },
      { created: 1, keyid: 'k', expires: '2' },
      { keyid: 'k' },
      { created: 1 },
    ];
    for (const params of bad) {
      expect(code(() => signHmac(SHARED, 'sig', ['@method'], params as SigParams, TEST_REQUEST)), JSON.stringify(params)).toBe(
        'malformed',
      );
    }
  });

  it('an invalid label is bad_input', () => {
    expect(code(() => signHmac(SHARED, 'Sig', ['@method'], p, TEST_REQUEST))).toBe('bad_input');
  });
});

describe('parseSignature', () => {
  const input = 'sig1=("@method" "@target-uri";req);created=1;keyid="k"';
  const sig = `sig1=:${b64.encode(new Uint8Array(32))}:`;

  it('missing header or label -> missing_signature', () => {
    expect(code(() => parseSignature('sig1', undefined, sig))).toBe('missing_signature');
    expect(code(() => parseSignature('sig1', input, undefined))).toBe('missing_signature');
    expect(code(() => parseSignature('sig1', null, null))).toBe('missing_signature');
    expect(code(() => parseSignature('sig2', input, sig))).toBe('missing_signature');
    expect(code(() => parseSignature('sig1', input, 'other=:AAAA:'))).toBe('missing_signature');
    expect(code(() => parseSignature('sig1', '', ''))).toBe('missing_signature');
  });

  it('keeps the received parameter order and components', () => {
    const parsed = parseSignature('sig1', 'sig1=("@method" "@target-uri";req);keyid="k";nonce="n";created=1', sig);
    expect(parsed.components).toEqual(['@method', '@target-uri;req']);
    expect(parsed.paramOrder).toEqual(['keyid', 'nonce', 'created']);
    expect(parsed.params).toEqual({ keyid: 'k', nonce: 'n', created: 1 });
  });

  it('picks its label among several signatures', () => {
    const parsed = parseSignature('b', `a=("x");created=1;keyid="a", ${input.replace('sig1', 'b')}`, `a=::, ${sig.replace('sig1', 'b')}`);
    expect(parsed.params.keyid).toBe('k');
  });

  const malformed: [string, string, string?][] = [
    ['unparseable Signature-Input', 'sig1=("@method"'],
    ['member is not an inner list', 'sig1="@method";created=1;keyid="k"'],
    ['component is a token', 'sig1=(date);created=1;keyid="k"'],
    ['component is an integer', 'sig1=(1);created=1;keyid="k"'],
    ['duplicate component', 'sig1=("date" "date");created=1;keyid="k"'],
    ['unknown component parameter', 'sig1=("date";sf);created=1;keyid="k"'],
    ['req that is not Boolean true', 'sig1=("date";req=?0);created=1;keyid="k"'],
    ['uppercase component name', 'sig1=("Date");created=1;keyid="k"'],
    ['component name with ;', 'sig1=("date;req");created=1;keyid="k"'],
    ['created is a string', 'sig1=("date");created="1";keyid="k"'],
    ['created is a decimal', 'sig1=("date");created=1.5;keyid="k"'],
    ['created is negative', 'sig1=("date");created=-1;keyid="k"'],
    ['expires is a token', 'sig1=("date");created=1;expires=x;keyid="k"'],
    ['keyid is a token', 'sig1=("date");created=1;keyid=k'],
    ['keyid is bytes', 'sig1=("date");created=1;keyid=:AA==:'],
    ['nonce is an integer', 'sig1=("date");created=1;keyid="k";nonce=1'],
    ['tag is a boolean', 'sig1=("date");created=1;keyid="k";tag'],
    ['unknown alg', 'sig1=("date");created=1;keyid="k";alg="ed25519"'],
    ['alg is a token', 'sig1=("date");created=1;keyid="k";alg=hmac-sha256'],
    ['unknown parameter', 'sig1=("date");created=1;keyid="k";foo="bar"'],
    ['missing created', 'sig1=("date");keyid="k"'],
    ['missing keyid', 'sig1=("date");created=1'],
    ['Signature member is a string', input, 'sig1="AAAA"'],
    ['Signature member is an inner list', input, 'sig1=(:AAAA:)'],
    ['Signature not padded', input, 'sig1=:AAA:'],
  ];
  it.each(malformed)('%s -> malformed', (_name, si, s = sig) => {
    expect(code(() => parseSignature('sig1', si, s))).toBe('malformed');
  });

  it('too_large for oversized fields', () => {
    expect(code(() => parseSignature('sig1', `${input}, ${'a=1, '.repeat(2000)}b=1`, sig))).toBe('too_large');
  });
});

describe('tampering is detected (bad_signature)', () => {
  const key = utf8('janus test key, 32 bytes long!!!');
  const request: HttpView = {
    method: 'POST',
    targetUri: 'https://vendor.example/api/v1/login?x=1',
    headers: { 'content-digest': 'sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:', 'content-type': 'application/json' },
  };
  const params: SigParams = { created: 1700000000, expires: 1700000300, nonce: 'abc', keyid: 'client-1', tag: 'janus-req' };
  const components = ['@method', '@target-uri', 'content-digest', 'content-type'];
  const signed = signHmac(key, 'janus', components, params, request);

  const verify = (si: string, s: string, msg: HttpView, k = key): void => verifyHmac(k, parseSignature('janus', si, s), msg);

  it('the untouched message verifies', () => {
    verify(signed.signatureInput, signed.signature, request);
  });

  it('changed method, target URI, covered header', () => {
    expect(code(() => verify(signed.signatureInput, signed.signature, { ...request, method: 'PUT' }))).toBe('bad_signature');
    expect(code(() => verify(signed.signatureInput, signed.signature, { ...request, targetUri: 'https://vendor.example/api/v1/login?x=2' }))).toBe(
      'bad_signature',
    );
    const headers = { ...request.headers, 'content-digest': 'sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:' };
    expect(code(() => verify(signed.signatureInput, signed.signature, { ...request, headers }))).toBe('bad_signature');
  });

  it('changed parameter in Signature-Input (created, expires, nonce, keyid, tag)', () => {
    const edits: [string, string][] = [
      ['created=1700000000', 'created=1700000001'],
      ['expires=1700000300', 'expires=1700009999'],
      ['nonce="abc"', 'nonce="abd"'],
      ['keyid="client-1"', 'keyid="client-2"'],
      ['tag="janus-req"', 'tag="janus-res"'],
    ];
    for (const [from, to] of edits) {
      expect(signed.signatureInput).toContain(from);
      expect(code(() => verify(signed.signatureInput.replace(from, to), signed.signature, request)), to).toBe('bad_signature');
    }
  });

  it('removed parameter, reordered parameters or components, dropped component', () => {
    const si = signed.signatureInput;
    expect(code(() => verify(si.replace(';tag="janus-req"', ''), signed.signature, request))).toBe('bad_signature');
    expect(code(() => verify(si.replace(';created=1700000000', '').replace(';tag', ';created=1700000000;tag'), signed.signature, request))).toBe(
      'bad_signature',
    );
    expect(code(() => verify(si.replace('("@method" "@target-uri"', '("@target-uri" "@method"'), signed.signature, request))).toBe(
      'bad_signature',
    );
    expect(code(() => verify(si.replace(' "content-type"', ''), signed.signature, request))).toBe('bad_signature');
  });

  it('added alg="hmac-sha256" changes the base', () => {
    const si = signed.signatureInput.replace(';keyid', ';alg="hmac-sha256";keyid');
    expect(code(() => verify(si, signed.signature, request))).toBe('bad_signature');
  });

  it('altered parsed params after parsing', () => {
    const parsed = parseSignature('janus', signed.signatureInput, signed.signature);
    verifyHmac(key, parsed, request);
    expect(code(() => verifyHmac(key, { ...parsed, params: { ...parsed.params, created: 1 } }, request))).toBe('bad_signature');
    // adding a param the base does not carry is refused rather than silently ignored
    expect(code(() => verifyHmac(key, { ...parsed, params: { ...parsed.params, alg: 'hmac-sha256' } }, request))).toBe('malformed');
  });

  it('changed signature bytes, truncated signature, wrong key', () => {
    const parsed = parseSignature('janus', signed.signatureInput, signed.signature);
    for (let i = 0; i < parsed.signature.length; i++) {
      const sig = parsed.signature.slice();
      sig[i]! ^= 1 << (i % 8);
      expect(code(() => verifyHmac(key, { ...parsed, signature: sig }, request))).toBe('bad_signature');
    }
    expect(code(() => verifyHmac(key, { ...parsed, signature: parsed.signature.slice(0, 31) }, request))).toBe('bad_signature');
    expect(code(() => verifyHmac(key, { ...parsed, signature: new Uint8Array(0) }, request))).toBe('bad_signature');
    expect(code(() => verify(signed.signatureInput, signed.signature, request, utf8('janus test key, 32 bytes long!!?')))).toBe(
      'bad_signature',
    );
  });

  it('a ;req component of the bound request', () => {
    const response: HttpView = {
      status: 200,
      headers: { 'content-digest': 'sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:' },
      request: { method: 'POST', targetUri: request.targetUri!, headers: { ...request.headers } },
    };
    const comps = ['@status', 'content-digest', '@method;req', '@target-uri;req', 'content-digest;req'];
    const s = signHmac(key, 'janus', comps, { created: 1700000001, nonce: 'abc', keyid: 'vendor' }, response);
    verify(s.signatureInput, s.signature, response);
    const other = (r: Partial<NonNullable<HttpView['request']>>): HttpView => ({ ...response, request: { ...response.request!, ...r } });
    expect(code(() => verify(s.signatureInput, s.signature, other({ method: 'GET' })))).toBe('bad_signature');
    expect(code(() => verify(s.signatureInput, s.signature, other({ targetUri: 'https://vendor.example/api/v1/logout?x=1' })))).toBe(
      'bad_signature',
    );
    expect(
      code(() =>
        verify(s.signatureInput, s.signature, other({ headers: { 'content-digest': 'sha-256=:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=:' } })),
      ),
    ).toBe('bad_signature');
    expect(code(() => verify(s.signatureInput, s.signature, { ...response, status: 201 }))).toBe('bad_signature');
    // the request's value must not be accepted in place of the response's (and vice versa)
    const swapped: HttpView = { ...response, headers: { ...response.request!.headers } };
    expect(code(() => verify(s.signatureInput, s.signature, swapped))).toBe('bad_signature');
    const { request: _drop, ...unbound } = response;
    expect(code(() => verify(s.signatureInput, s.signature, unbound))).toBe('malformed');
  });

  it('missing covered header when verifying -> malformed; missing Signature header -> missing_signature', () => {
    const { 'content-type': _ct, ...headers } = request.headers;
    expect(code(() => verify(signed.signatureInput, signed.signature, { ...request, headers }))).toBe('malformed');
    expect(code(() => parseSignature('janus', signed.signatureInput, undefined))).toBe('missing_signature');
    expect(code(() => parseSignature('janus', undefined, signed.signature))).toBe('missing_signature');
  });
});

// ---------------------------------------------------------------------------------------------
// Properties

const printable = (max: number) => fc.stringMatching(new RegExp(`^[\\x20-\\x7e]{0,${max}}$`));
const headerValue = fc.stringMatching(/^[\t\x20-\x7e]{0,40}$/);

describe('properties', () => {
  it('sign then parse + verify round-trips; a different header value fails', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 1, maxLength: 64 }),
        fc.record(
          {
            created: fc.integer({ min: 0, max: 2 ** 40 }),
            expires: fc.integer({ min: 0, max: 2 ** 40 }),
            nonce: printable(24),
            alg: fc.constant('hmac-sha256' as const),
            keyid: printable(24),
            tag: printable(24),
          },
          { requiredKeys: ['created', 'keyid'] },
        ),
        headerValue,
        headerValue,
        fc.constantFrom('GET', 'POST', 'delete'),
        (key, params, v1, v2, method) => {
          const msg: HttpView = {
            method,
            targetUri: 'https://vendor.example:8443/a/b?c=d',
            headers: { 'x-one': v1, 'x-two': v2 },
          };
          const comps = ['@method', '@authority', '@path', '@query', 'x-one', 'x-two'];
          const s = signHmac(key, 'sig', comps, params, msg);
          const parsed = parseSignature('sig', s.signatureInput, s.signature);
          expect(parsed.components).toEqual(comps);
          expect(parsed.params).toEqual(params);
          verifyHmac(key, parsed, msg);
          const trimmed = (v: string) => v.replace(/^[ \t]+|[ \t]+$/g, '');
          const changed = `${trimmed(v1)}!`;
          expect(code(() => verifyHmac(key, parsed, { ...msg, headers: { ...msg.headers, 'x-one': changed } }))).toBe('bad_signature');
        },
      ),
      { numRuns: 300 },
    );
  });

  it('arbitrary strings given to parseSignature only ever throw JanusError', () => {
    const alphabet = fc.constantFrom(...'sig1=()";:@-abcdkeyid created req,; 0123456789?*AZ+/\\\t\u00e9'.split(''));
    const str = fc.oneof(fc.string({ maxLength: 80 }), fc.string({ unit: alphabet, maxLength: 80 }));
    fc.assert(
      fc.property(str, str, (si, s) => {
        for (const [a, b] of [
          [si, s],
          [`sig1=(${si}`, `sig1=:${s}:`],
          [`sig1=("@method");created=1;keyid="k";${si}`, 'sig1=::'],
        ] as const) {
          try {
            const parsed = parseSignature('sig1', a, b);
            verifyHmac(new Uint8Array(32), parsed, TEST_REQUEST);
          } catch (e) {
            expect(e).toBeInstanceOf(JanusError);
          }
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe('the canonical fast path of parseSignature', () => {
  /** parseSignature's outcome, and the general parser's, as comparable values. */
  const outcome = (f: () => unknown) => {
    try {
      return { ok: f() };
    } catch (e) {
      return { code: e instanceof JanusError ? e.code : `not a JanusError: ${String(e)}` };
    }
  };
  const component = fc.constantFrom('@method', '@target-uri', '@status', '@authority', 'content-digest', 'janus-challenge', 'x', '@method;req', '@target-uri;req', 'content-type');
  const str = fc.stringMatching(/^[\x20-\x7e]{0,12}$/);
  const params = fc.record(
    { created: fc.nat(), expires: fc.nat(), nonce: str, alg: fc.constant('hmac-sha256' as const), keyid: str, tag: str },
    { requiredKeys: ['created', 'keyid'] },
  );
  // Edits that keep the text close to canonical, so both paths see near misses.
  const edit = fc.tuple(fc.nat(), fc.constantFrom('', ' ', '"', '\\', ';', '=', '0', '(', ')', ',', ':', 'a', ';req', '?1', ';created=1', ', b=()'));

  it('agrees with the general parser on every input, and its base is the general one', () => {
    fc.assert(
      fc.property(fc.uniqueArray(component, { maxLength: 5 }), params, fc.array(edit, { maxLength: 2 }), fc.boolean(), (components, p, edits, editSig) => {
        const signed = signHmac(new Uint8Array(32).fill(7), 'janus', components, p as SigParams, { method: 'GET', targetUri: 'https://a.example/x', status: 200, headers: { 'content-digest': 'd', 'janus-challenge': 'c', x: '1', 'content-type': 't' }, request: { method: 'GET', targetUri: 'https://a.example/x', headers: {} } });
        let input = signed.signatureInput;
        let sig = signed.signature;
        for (const [at, text] of edits) {
          if (editSig) sig = sig.slice(0, at % (sig.length + 1)) + text + sig.slice(at % (sig.length + 1));
          else input = input.slice(0, at % (input.length + 1)) + text + input.slice(at % (input.length + 1));
        }
        const fast = outcome(() => parseSignature('janus', input, sig));
        expect(fast).toEqual(outcome(() => parseSignatureGeneral('janus', input, sig)));
        if ('ok' in fast) {
          // The MAC verifies through either path exactly when the text is what was signed.
          const view = { method: 'GET', targetUri: 'https://a.example/x', status: 200, headers: { 'content-digest': 'd', 'janus-challenge': 'c', x: '1', 'content-type': 't' }, request: { method: 'GET', targetUri: 'https://a.example/x', headers: {} } };
          const a = outcome(() => verifyHmac(new Uint8Array(32).fill(7), fast.ok as ReturnType<typeof parseSignature>, view));
          const b = outcome(() => verifyHmac(new Uint8Array(32).fill(7), parseSignatureGeneral('janus', input, sig), view));
          expect(a).toEqual(b);
          if (edits.length === 0) expect(a).toEqual({ ok: undefined });
        }
      }),
      { numRuns: 3000 },
    );
  });
});
