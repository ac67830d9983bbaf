/**
 * RFC 8941 Structured Field Values, the part RFC 9421 (Signature-Input, Signature) and
 * RFC 9530 (Content-Digest) rely on: Dictionaries whose members are Items or Inner Lists,
 * with Parameters. Top-level Lists and Items are not needed and not offered.
 *
 * The parser follows the algorithms of RFC 8941 §4.2 step by step and fails on anything they
 * fail on; every failure is a JanusError('malformed') (or 'too_large' above SF_MAX_LENGTH), so
 * wire input never surfaces a TypeError or RangeError. Serializers follow §4.1 and throw
 * JanusError('bad_input') when handed a value that has no serialization.
 */
import { JanusError } from '../errors.ts';
import { b64 } from './bytes.ts';

/** Longest field value we agree to parse; a bound on work before any check runs. */
export const SF_MAX_LENGTH = 8192;

export type SfBareItem =
  | { type: 'integer'; value: number }
  | { type: 'decimal'; value: number }
  | { type: 'string'; value: string }
  | { type: 'token'; value: string }
  | { type: 'bytes'; value: Uint8Array }
  | { type: 'boolean'; value: boolean };

/** Ordered map (RFC 8941 §3.1.2); a repeated key keeps its first position and takes the last value. */
export type SfParams = Map<string, SfBareItem>;

export interface SfItem {
  kind: 'item';
  value: SfBareItem;
  params: SfParams;
}

interface SfInnerList {
  kind: 'inner-list';
  items: SfItem[];
  params: SfParams;
}

export type SfItemOrInnerList = SfItem | SfInnerList;

/** Ordered map (RFC 8941 §3.2); same duplicate rule as SfParams. */
export type SfDictionary = Map<string, SfItemOrInnerList>;

// ---------------------------------------------------------------------------------------------
// Constructors (for callers building values to serialize)

export const sfInteger = (value: number): SfBareItem => ({ type: 'integer', value });
export const sfString = (value: string): SfBareItem => ({ type: 'string', value });
export const sfToken = (value: string): SfBareItem => ({ type: 'token', value });
export const sfBytes = (value: Uint8Array): SfBareItem => ({ type: 'bytes', value });
export const sfBoolean = (value: boolean): SfBareItem => ({ type: 'boolean', value });

export function sfItem(value: SfBareItem, params: Iterable<readonly [string, SfBareItem]> = []): SfItem {
  return { kind: 'item', value, params: new Map(params) };
}

export function sfInnerList(items: SfItem[], params: Iterable<readonly [string, SfBareItem]> = []): SfInnerList {
  return { kind: 'inner-list', items, params: new Map(params) };
}

// ---------------------------------------------------------------------------------------------
// Character classes

const isDigit = (c: string | undefined): boolean => c !== undefined && c >= '0' && c <= '9';
const isAlpha = (c: string | undefined): boolean =>
  c !== undefined && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'));
const isLcAlpha = (c: string | undefined): boolean => c !== undefined && c >= 'a' && c <= 'z';
// RFC 9110 §5.6.2 tchar
const TCHAR_PUNCT = "!#$%&'*+-.^_`|~";
const isTchar = (c: string | undefined): boolean =>
  c !== undefined && (isAlpha(c) || isDigit(c) || TCHAR_PUNCT.includes(c));

const KEY_RE = /^[a-z*][a-z0-9_\-.*]*$/;
const TOKEN_RE = /^[A-Za-z*][!#$%&'*+\-.^_`|~0-9A-Za-z:/]*$/;
const B64_CHARS_RE = /^[A-Za-z0-9+/=]*$/;
const MAX_INTEGER = 999_999_999_999_999;

// ---------------------------------------------------------------------------------------------
// Parsing (RFC 8941 §4.2)

function fail(why: string): never {
  throw new JanusError('malformed', `structured field: ${why}`);
}

class Parser {
  private i = 0;
  constructor(private readonly s: string) {}

  get empty(): boolean {
    return this.i >= this.s.length;
  }

  peek(): string | undefined {
    return this.s[this.i];
  }

  next(): string {
    const c = this.s[this.i];
    if (c === undefined) fail('unexpected end of input');
    this.i++;
    return c;
  }

  skipSP(): void {
    while (this.s[this.i] === ' ') this.i++;
  }

  // RFC 8941 §4.2: OWS is SP or HTAB
  skipOWS(): void {
    while (this.s[this.i] === ' ' || this.s[this.i] === '\t') this.i++;
  }

  // RFC 8941 §4.2.2 Parsing a Dictionary
  dictionary(): SfDictionary {
    const dict: SfDictionary = new Map();
    while (!this.empty) {
      const key = this.key();
      let member: SfItemOrInnerList;
      if (this.peek() === '=') {
        this.i++;
        member = this.itemOrInnerList();
      } else {
        // §4.2.2: a key without "=" is Boolean true with parameters
        member = { kind: 'item', value: { type: 'boolean', value: true }, params: this.params() };
      }
      // §4.2.2: a repeated key overwrites the earlier value (last wins)
      dict.set(key, member);
      this.skipOWS();
      if (this.empty) return dict;
      if (this.next() !== ',') fail('expected "," between dictionary members');
      this.skipOWS();
      if (this.empty) fail('trailing "," in dictionary');
    }
    return dict;
  }

  // RFC 8941 §4.2.1.1
  itemOrInnerList(): SfItemOrInnerList {
    return this.peek() === '(' ? this.innerList() : this.item();
  }

  // RFC 8941 §4.2.1.2 Parsing an Inner List
  innerList(): SfInnerList {
    if (this.next() !== '(') fail('expected "("');
    const items: SfItem[] = [];
    while (!this.empty) {
      this.skipSP();
      if (this.peek() === ')') {
        this.i++;
        return { kind: 'inner-list', items, params: this.params() };
      }
      items.push(this.item());
      const c = this.peek();
      if (c !== ' ' && c !== ')') fail('expected SP or ")" in inner list');
    }
    fail('unterminated inner list');
  }

  // RFC 8941 §4.2.3 Parsing an Item
  item(): SfItem {
    const value = this.bareItem();
    return { kind: 'item', value, params: this.params() };
  }

  // RFC 8941 §4.2.3.1 Parsing a Bare Item
  bareItem(): SfBareItem {
    const c = this.peek();
    if (c === '-' || isDigit(c)) return this.number();
    if (c === '"') return { type: 'string', value: this.string() };
    if (c === '*' || isAlpha(c)) return { type: 'token', value: this.token() };
    if (c === ':') return { type: 'bytes', value: this.byteSequence() };
    if (c === '?') return { type: 'boolean', value: this.boolean() };
    fail('unrecognised item type');
  }

  // RFC 8941 §4.2.3.2 Parsing Parameters
  params(): SfParams {
    const params: SfParams = new Map();
    while (this.peek() === ';') {
      this.i++;
      this.skipSP();
      const key = this.key();
      let value: SfBareItem = { type: 'boolean', value: true };
      if (this.peek() === '=') {
        this.i++;
        value = this.bareItem();
      }
      // §4.2.3.2: a repeated parameter overwrites the earlier value
      params.set(key, value);
    }
    return params;
  }

  // RFC 8941 §4.2.3.3 Parsing a Key: lcalpha / "*" then lcalpha / DIGIT / "_" / "-" / "." / "*"
  key(): string {
    const first = this.peek();
    if (!(isLcAlpha(first) || first === '*')) fail('invalid key');
    const start = this.i++;
    for (;;) {
      const c = this.peek();
      if (!(isLcAlpha(c) || isDigit(c) || c === '_' || c === '-' || c === '.' || c === '*')) break;
      this.i++;
    }
    return this.s.slice(start, this.i);
  }

  // RFC 8941 §4.2.4 Parsing an Integer or Decimal
  number(): SfBareItem {
    let sign = 1;
    if (this.peek() === '-') {
      this.i++;
      sign = -1;
    }
    if (!isDigit(this.peek())) fail('expected a digit');
    let digits = '';
    let decimal = false;
    for (;;) {
      const c = this.peek();
      if (isDigit(c)) {
        digits += c;
        this.i++;
      } else if (!decimal && c === '.') {
        // §4.2.4: at most 12 digits before the decimal point
        if (digits.length > 12) fail('decimal integer part too long');
        digits += c;
        decimal = true;
        this.i++;
      } else break;
      // §4.2.4: at most 15 digits for an Integer, 16 characters for a Decimal
      if (!decimal && digits.length > 15) fail('integer too long');
      if (decimal && digits.length > 16) fail('decimal too long');
    }
    if (!decimal) return { type: 'integer', value: sign * Number(digits) };
    // §4.2.4: a Decimal needs 1 to 3 fractional digits
    const frac = digits.length - digits.indexOf('.') - 1;
    if (frac < 1 || frac > 3) fail('decimal needs 1 to 3 fractional digits');
    return { type: 'decimal', value: sign * Number(digits) };
  }

  // RFC 8941 §4.2.5 Parsing a String: printable ASCII, only \" and \\ escapes
  string(): string {
    this.i++; // the opening DQUOTE
    let out = '';
    while (!this.empty) {
      const c = this.next();
      if (c === '\\') {
        if (this.empty) fail('unterminated escape');
        const n = this.next();
        if (n !== '"' && n !== '\\') fail('invalid escape in string');
        out += n;
      } else if (c === '"') {
        return out;
      } else {
        const code = c.charCodeAt(0);
        if (code < 0x20 || code > 0x7e) fail('non-printable character in string');
        out += c;
      }
    }
    fail('unterminated string');
  }

  // RFC 8941 §4.2.6 Parsing a Token
  token(): string {
    const start = this.i++;
    for (;;) {
      const c = this.peek();
      if (!(isTchar(c) || c === ':' || c === '/')) break;
      this.i++;
    }
    return this.s.slice(start, this.i);
  }

  // RFC 8941 §4.2.7 Parsing a Byte Sequence
  byteSequence(): Uint8Array {
    this.i++; // the opening ":"
    const end = this.s.indexOf(':', this.i);
    if (end < 0) fail('unterminated byte sequence');
    const content = this.s.slice(this.i, end);
    this.i = end + 1;
    if (!B64_CHARS_RE.test(content)) fail('invalid character in byte sequence');
    // §4.2.7 lets parsers accept missing padding and non-zero pad bits (SHOULD NOT fail); we
    // deliberately decode strictly so each value has one encoding, as the §4.1.8 serializer emits.
    try {
      return b64.decode(content);
    } catch {
      fail('byte sequence is not canonical padded base64');
    }
  }

  // RFC 8941 §4.2.8 Parsing a Boolean
  boolean(): boolean {
    this.i++; // the "?"
    const c = this.empty ? undefined : this.next();
    if (c === '1') return true;
    if (c === '0') return false;
    fail('invalid boolean');
  }
}

/** Parses a Dictionary field value (RFC 8941 §4.2 with field type "dictionary"). */
export function parseDictionary(value: string): SfDictionary {
  if (typeof value !== 'string') throw new TypeError(`"value" expected string, got ${typeof value}`);
  if (value.length > SF_MAX_LENGTH) {
    throw new JanusError('too_large', `structured field longer than ${SF_MAX_LENGTH} characters`);
  }
  // RFC 8941 §4.2 step 1: the input must be ASCII
  // eslint-disable-next-line no-control-regex -- the ASCII range starts at NUL: the class must name it
  if (!/^[\x00-\x7f]*$/.test(value)) fail('non-ASCII character');
  const p = new Parser(value);
  // §4.2 steps 2 and 6: leading SP discarded, nothing may follow the value
  p.skipSP();
  const dict = p.dictionary();
  p.skipSP();
  if (!p.empty) fail('trailing characters');
  return dict;
}

// ---------------------------------------------------------------------------------------------
// Serialization (RFC 8941 §4.1)

function badInput(why: string): never {
  throw new JanusError('bad_input', `structured field: ${why}`);
}

/** RFC 8941 §4.1.1.3 Serializing a Key. */
export function serializeKey(key: string): string {
  if (typeof key !== 'string' || !KEY_RE.test(key)) badInput('invalid key');
  return key;
}

/** RFC 8941 §4.1.4 Serializing an Integer: at most 15 digits. */
export function serializeInteger(n: number): string {
  if (!Number.isInteger(n) || Math.abs(n) > MAX_INTEGER) badInput('integer out of range');
  return Object.is(n, -0) ? '0' : String(n);
}

function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

/** RFC 8941 §4.1.5 Serializing a Decimal: round half even to 3 places, at most 12 integer digits. */
export function serializeDecimal(n: number): string {
  if (typeof n !== 'number' || !Number.isFinite(n)) badInput('decimal is not a finite number');
  const scaled = roundHalfEven(Math.abs(n) * 1000);
  const intPart = Math.floor(scaled / 1000);
  if (intPart > 999_999_999_999) badInput('decimal integer part too long');
  const frac = String(scaled % 1000).padStart(3, '0').replace(/0+$/, '') || '0';
  return `${n < 0 ? '-' : ''}${intPart}.${frac}`;
}

/** RFC 8941 §4.1.6 Serializing a String: printable ASCII only, escaping DQUOTE and backslash. */
export function serializeString(s: string): string {
  if (typeof s !== 'string' || !/^[\x20-\x7e]*$/.test(s)) badInput('string has non-printable characters');
  return `"${s.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

/** RFC 8941 §4.1.7 Serializing a Token. */
export function serializeToken(t: string): string {
  if (typeof t !== 'string' || !TOKEN_RE.test(t)) badInput('invalid token');
  return t;
}

/** RFC 8941 §4.1.8 Serializing a Byte Sequence: standard base64 with padding between colons. */
function serializeByteSequence(b: Uint8Array): string {
  if (!(b instanceof Uint8Array)) badInput('byte sequence expected Uint8Array');
  return `:${b64.encode(b)}:`;
}

/** RFC 8941 §4.1.9 Serializing a Boolean. */
function serializeBoolean(v: boolean): string {
  if (typeof v !== 'boolean') badInput('boolean expected');
  return v ? '?1' : '?0';
}

/** RFC 8941 §4.1.3.1 Serializing a Bare Item. */
export function serializeBareItem(v: SfBareItem): string {
  switch (v.type) {
    case 'integer':
      return serializeInteger(v.value);
    case 'decimal':
      return serializeDecimal(v.value);
    case 'string':
      return serializeString(v.value);
    case 'token':
      return serializeToken(v.value);
    case 'bytes':
      return serializeByteSequence(v.value);
    case 'boolean':
      return serializeBoolean(v.value);
    default:
      return badInput('unknown bare item type');
  }
}

/** RFC 8941 §4.1.1.2 Serializing Parameters: Boolean true is written as the bare key. */
function serializeParams(params: SfParams): string {
  let out = '';
  for (const [key, value] of params) {
    out += `;${serializeKey(key)}`;
    if (!(value.type === 'boolean' && value.value === true)) out += `=${serializeBareItem(value)}`;
  }
  return out;
}

/** RFC 8941 §4.1.3 Serializing an Item. */
export function serializeItem(item: SfItem): string {
  return serializeBareItem(item.value) + serializeParams(item.params);
}

/** RFC 8941 §4.1.1.1 Serializing an Inner List: items separated by a single SP. */
export function serializeInnerList(list: SfInnerList): string {
  return `(${list.items.map(serializeItem).join(' ')})${serializeParams(list.params)}`;
}

/** RFC 8941 §4.1.2 Serializing a Dictionary: members joined by ", ". */
export function serializeDictionary(dict: Iterable<readonly [string, SfItemOrInnerList]>): string {
  const members: string[] = [];
  for (const [key, member] of dict) {
    let out = serializeKey(key);
    if (member.kind === 'inner-list') {
      out += `=${serializeInnerList(member)}`;
    } else if (member.value.type === 'boolean' && member.value.value === true) {
      // §4.1.2: a Boolean true member is written as its key plus parameters
      out += serializeParams(member.params);
    } else {
      out += `=${serializeItem(member)}`;
    }
    members.push(out);
  }
  return members.join(', ');
}
