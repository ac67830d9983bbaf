import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { JanusError } from '../errors.ts';
import { utf8 } from './bytes.ts';
import {
  type SfBareItem,
  type SfDictionary,
  type SfItem,
  SF_MAX_LENGTH,
  parseDictionary,
  serializeDecimal,
  serializeDictionary,
  serializeInnerList,
  serializeInteger,
  serializeKey,
  serializeString,
  serializeToken,
  sfBoolean,
  sfBytes,
  sfInnerList,
  sfInteger,
  sfItem,
  sfString,
  sfToken,
} from './sf.ts';
import { codeOf as code } from '../../test/support/errors.ts';


const roundTrip = (s: string): string => serializeDictionary(parseDictionary(s));

describe('parseDictionary: RFC 8941 examples', () => {
  it('§3.2: strings and byte sequences', () => {
    const d = parseDictionary('en="Applepie", da=:w4ZibGV0w6ZydGU=:');
    expect(d.get('en')).toEqual(sfItem(sfString('Applepie')));
    expect(d.get('da')).toEqual(sfItem(sfBytes(utf8('\u00c6blet\u00e6rte'))));
    expect(roundTrip('en="Applepie", da=:w4ZibGV0w6ZydGU=:')).toBe('en="Applepie", da=:w4ZibGV0w6ZydGU=:');
  });

  it('§3.2: boolean members and parameters', () => {
    const d = parseDictionary('a=?0, b, c; foo=bar');
    expect(d.get('a')).toEqual(sfItem(sfBoolean(false)));
    expect(d.get('b')).toEqual(sfItem(sfBoolean(true)));
    expect(d.get('c')).toEqual(sfItem(sfBoolean(true), [['foo', sfToken('bar')]]));
    expect(roundTrip('a=?0, b, c; foo=bar')).toBe('a=?0, b, c;foo=bar');
  });

  it('§3.2: decimals and inner lists of tokens', () => {
    const d = parseDictionary('rating=1.5, feelings=(joy sadness)');
    expect(d.get('rating')).toEqual(sfItem({ type: 'decimal', value: 1.5 }));
    expect(d.get('feelings')).toEqual(sfInnerList([sfItem(sfToken('joy')), sfItem(sfToken('sadness'))]));
    expect(roundTrip('rating=1.5, feelings=(joy sadness)')).toBe('rating=1.5, feelings=(joy sadness)');
  });

  it('§3.2: mixed members with parameters on lists and items', () => {
    const s = 'a=(1 2), b=3, c=4;aa=bb, d=(5 6);valid';
    const d = parseDictionary(s);
    expect(d.get('d')).toEqual(sfInnerList([sfItem(sfInteger(5)), sfItem(sfInteger(6))], [['valid', sfBoolean(true)]]));
    expect(roundTrip(s)).toBe(s);
  });

  it('an RFC 9421 Signature-Input member: inner list of strings with params', () => {
    const s = 'sig1=("@method" "@target-uri";req "content-digest");created=1618884473;keyid="test-key";nonce="b3k2"';
    const d = parseDictionary(s);
    const m = d.get('sig1');
    expect(m?.kind).toBe('inner-list');
    if (m?.kind !== 'inner-list') return;
    expect(m.items.map((i) => i.value)).toEqual([sfString('@method'), sfString('@target-uri'), sfString('content-digest')]);
    expect(m.items[1]?.params.get('req')).toEqual(sfBoolean(true));
    expect([...m.params.keys()]).toEqual(['created', 'keyid', 'nonce']);
    expect(roundTrip(s)).toBe(s);
  });

  it('whitespace: OWS around commas, SP inside inner lists and before parameters', () => {
    expect(roundTrip('  a=1 ,\tb=( 1  2 );  x;y=?0  ')).toBe('a=1, b=(1 2);x;y=?0');
    // RFC 8941 §4.2.3.2: SP is allowed after ";" but not before it
    expect(code(() => parseDictionary('a=1 ;x'))).toBe('malformed');
    expect(parseDictionary('')).toEqual(new Map());
    expect(parseDictionary('   ')).toEqual(new Map());
  });

  it('duplicate keys: last value wins, first position kept (§4.2.2, §4.2.3.2)', () => {
    const d = parseDictionary('a=1, b=2, a=3');
    expect([...d.entries()]).toEqual([
      ['a', sfItem(sfInteger(3))],
      ['b', sfItem(sfInteger(2))],
    ]);
    expect(parseDictionary('a=1;p=1;p=2').get('a')).toEqual(sfItem(sfInteger(1), [['p', sfInteger(2)]]));
  });

  it('strings: \\" and \\\\ escapes', () => {
    expect(parseDictionary('a="x\\"y\\\\z"').get('a')).toEqual(sfItem(sfString('x"y\\z')));
    expect(roundTrip('a="x\\"y\\\\z"')).toBe('a="x\\"y\\\\z"');
    expect(parseDictionary('a=""').get('a')).toEqual(sfItem(sfString('')));
  });

  it('integers: up to 15 digits, negative, zero', () => {
    expect(parseDictionary('a=999999999999999').get('a')).toEqual(sfItem(sfInteger(999999999999999)));
    expect(parseDictionary('a=-999999999999999').get('a')).toEqual(sfItem(sfInteger(-999999999999999)));
    expect(roundTrip('a=-0, b=007')).toBe('a=0, b=7');
  });

  it('byte sequences: empty, and padded base64 only', () => {
    expect(parseDictionary('a=::').get('a')).toEqual(sfItem(sfBytes(new Uint8Array(0))));
    expect(parseDictionary('a=:YQ==:').get('a')).toEqual(sfItem(sfBytes(utf8('a'))));
  });

  it('tokens may contain ":" and "/" after the first character', () => {
    expect(parseDictionary('a=text/html, b=*x:y').get('b')).toEqual(sfItem(sfToken('*x:y')));
  });
});

describe('parseDictionary: rejects what RFC 8941 §4.2 rejects', () => {
  const malformed = [
    'A=1', // uppercase key
    '1a=1', // key starting with a digit
    '-a=1',
    'a=1,', // trailing comma
    'a=1,,b=2',
    ',a=1',
    'a=1 b=2', // missing comma
    'a=', // missing value
    'a=1000000000000000', // 16 digits
    'a=-',
    'a=1.', // decimal without fraction
    'a=1.1234', // 4 fractional digits
    'a=1234567890123.5', // 13 integer digits in a decimal
    'a=1.2.3',
    'a="abc', // unterminated string
    'a="a\\b"', // only \" and \\ escapes
    'a="a\\"',
    'a="tab\there"', // control character
    'a="caf\u00e9"', // non-ASCII
    '\u00e9=1',
    'a=:YQ:', // base64 without padding (strict)
    'a=:YR==:', // non-zero trailing bits (strict)
    'a=:YQ==', // unterminated byte sequence
    'a=:Y-Q=:', // base64url alphabet
    'a=?2',
    'a=?',
    'a=(1 2', // unterminated inner list
    'a=(1,2)',
    'a=(1 2)x',
    'a=((1))', // nested inner list
    'a=1;', // parameter without key
    'a=1;P=1',
    'a=1;p=(1)', // parameter value must be a bare item
    'a=@1', // RFC 9651 date: not RFC 8941
    'a=%"x"', // RFC 9651 display string: not RFC 8941
    '\ta=1', // leading HTAB is not SP
    'a=1\n',
  ];
  it.each(malformed)('%j -> malformed', (s) => {
    expect(code(() => parseDictionary(s))).toBe('malformed');
  });

  it('length limit: 8192 characters parse, 8193 are too_large', () => {
    const ok = `a="${'x'.repeat(SF_MAX_LENGTH - 4)}"`;
    expect(ok.length).toBe(SF_MAX_LENGTH);
    expect(parseDictionary(ok).get('a')).toEqual(sfItem(sfString('x'.repeat(SF_MAX_LENGTH - 4))));
    expect(code(() => parseDictionary(`${ok} `))).toBe('too_large');
  });
});

describe('serializers (RFC 8941 §4.1)', () => {
  it('serializeString escapes and rejects non-printables with bad_input', () => {
    expect(serializeString('a"b\\c')).toBe('"a\\"b\\\\c"');
    expect(code(() => serializeString('a\nb'))).toBe('bad_input');
    expect(code(() => serializeString('\u00e9'))).toBe('bad_input');
  });

  it('serializeKey, serializeToken validate their grammar', () => {
    expect(serializeKey('sig-b25')).toBe('sig-b25');
    expect(code(() => serializeKey('Sig'))).toBe('bad_input');
    expect(code(() => serializeKey(''))).toBe('bad_input');
    expect(serializeToken('text/html')).toBe('text/html');
    expect(code(() => serializeToken('1abc'))).toBe('bad_input');
  });

  it('serializeInteger enforces 15 digits; serializeDecimal rounds half even to 3 places', () => {
    expect(serializeInteger(-999999999999999)).toBe('-999999999999999');
    expect(code(() => serializeInteger(1e15))).toBe('bad_input');
    expect(code(() => serializeInteger(1.5))).toBe('bad_input');
    expect(serializeDecimal(1.5)).toBe('1.5');
    expect(serializeDecimal(2)).toBe('2.0');
    expect(serializeDecimal(0.0625)).toBe('0.062');
    expect(serializeDecimal(-3.14159)).toBe('-3.142');
    expect(code(() => serializeDecimal(1e12))).toBe('bad_input');
    expect(code(() => serializeDecimal(Number.NaN))).toBe('bad_input');
  });

  it('serializeInnerList and serializeDictionary produce the canonical form', () => {
    const list = sfInnerList([sfItem(sfString('@method')), sfItem(sfString('@path'), [['req', sfBoolean(true)]])], [
      ['created', sfInteger(1)],
      ['keyid', sfString('k')],
    ]);
    expect(serializeInnerList(list)).toBe('("@method" "@path";req);created=1;keyid="k"');
    const dict: SfDictionary = new Map<string, SfItem | typeof list>([
      ['sig', list],
      ['flag', sfItem(sfBoolean(true), [['p', sfBoolean(false)]])],
      ['off', sfItem(sfBoolean(false))],
    ]);
    expect(serializeDictionary(dict)).toBe('sig=("@method" "@path";req);created=1;keyid="k", flag;p=?0, off=?0');
  });
});

// ---------------------------------------------------------------------------------------------
// Properties

const keyArb = fc.stringMatching(/^[a-z*][a-z0-9_\-.*]{0,6}$/);
const printable = fc.stringMatching(/^[\x20-\x7e]{0,20}$/);
const bareArb: fc.Arbitrary<SfBareItem> = fc.oneof(
  fc.integer({ min: -999_999_999_999_999, max: 999_999_999_999_999 }).map(sfInteger),
  fc.integer({ min: -999_999_999, max: 999_999_999 }).map((n) => ({ type: 'decimal', value: n / 1000 }) as SfBareItem),
  printable.map(sfString),
  fc.stringMatching(/^[A-Za-z*][!#$%&'*+\-.^_`|~0-9A-Za-z:/]{0,8}$/).map(sfToken),
  fc.uint8Array({ maxLength: 24 }).map(sfBytes),
  fc.boolean().map(sfBoolean),
);
const paramsArb = fc.array(fc.tuple(keyArb, bareArb), { maxLength: 3 });
const itemArb = fc.tuple(bareArb, paramsArb).map(([v, p]) => sfItem(v, p));
const memberArb = fc.oneof(
  itemArb,
  fc.tuple(fc.array(itemArb, { maxLength: 4 }), paramsArb).map(([items, p]) => sfInnerList(items, p)),
);
const dictArb = fc.array(fc.tuple(keyArb, memberArb), { maxLength: 5 }).map((entries) => new Map(entries));

describe('properties', () => {
  it('serialize -> parse -> serialize is the identity on the serialized form', () => {
    fc.assert(
      fc.property(dictArb, (dict) => {
        const s = serializeDictionary(dict);
        expect(serializeDictionary(parseDictionary(s))).toBe(s);
      }),
    );
  });

  it('arbitrary strings only ever throw JanusError', () => {
    const sfAlphabet = fc.constantFrom(...'az09*-_.=,;:()"\\?/ \t!@#%AZ+\u00e9\n'.split(''));
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 64 }), fc.string({ unit: sfAlphabet, maxLength: 64 })), (s) => {
        try {
          parseDictionary(s);
        } catch (e) {
          expect(e).toBeInstanceOf(JanusError);
        }
      }),
      { numRuns: 2000 },
    );
  });
});
