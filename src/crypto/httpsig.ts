/**
 * RFC 9421 HTTP Message Signatures with the one algorithm Janus uses, hmac-sha256 (§3.3.3).
 *
 * Components are named as in the wire identifier without the quotes: a lowercase field name
 * ("content-digest") or a derived component ("@method"), optionally followed by ";req" to take
 * the value from the request bound to a response (§2.4), e.g. "@target-uri;req".
 *
 * Every failure is a JanusError: 'missing_signature' when the label is absent, 'malformed' for
 * anything that cannot form a signature base (bad Signature-Input, a component the message lacks),
 * 'bad_signature' when the MAC does not verify.
 */
import { JanusError } from '../errors.ts';
import { abytes, b64, equalBytes, utf8 } from './bytes.ts';
import { hmacSha256 } from './hash.ts';
import {
  type SfBareItem,
  type SfItem,
  parseDictionary,
  serializeBareItem,
  serializeItem,
  serializeKey,
  sfInteger,
  sfItem,
  sfString,
} from './sf.ts';

export interface SigParams {
  created: number;
  expires?: number;
  nonce?: string;
  alg?: 'hmac-sha256';
  keyid: string;
  tag?: string;
}

/** A message as the signer/verifier sees it. Header names lowercase; repeated headers joined with ', '. */
export interface HttpView {
  method?: string;
  targetUri?: string;
  status?: number;
  headers: Record<string, string | undefined>;
  request?: { method: string; targetUri: string; headers: Record<string, string | undefined> };
}

type SigParamName = 'created' | 'expires' | 'nonce' | 'alg' | 'keyid' | 'tag';

/** Order used when signing (RFC 9421 §2.3 lists them in this order). */
const SIG_PARAM_ORDER: readonly SigParamName[] = ['created', 'expires', 'nonce', 'alg', 'keyid', 'tag'];

interface ParsedSignature {
  /** Covered components in the order received, e.g. ["@method", "content-digest;req"]. */
  components: string[];
  params: SigParams;
  signature: Uint8Array;
  /** Signature parameter names in the order received: the base is rebuilt in this order (§2.3). */
  paramOrder: SigParamName[];
}

const HMAC_SHA256 = 'hmac-sha256';

const DERIVED = new Set(['@method', '@target-uri', '@authority', '@scheme', '@path', '@query', '@status']);
// RFC 9421 §2.1: the component name of a field is its lowercased field name (a token, RFC 9110 §5.1)
const FIELD_NAME_RE = /^[a-z0-9!#$%&'*+\-.^_`|~]+$/;
const DEFAULT_PORTS: Record<string, string> = { http: '80', https: '443', ws: '80', wss: '443' };

function malformed(why: string): never {
  throw new JanusError('malformed', `http signature: ${why}`);
}

// ---------------------------------------------------------------------------------------------
// Component identifiers

interface ComponentId {
  name: string;
  req: boolean;
}

function checkComponentName(name: string): void {
  if (name.startsWith('@')) {
    // RFC 9421 §2.5: an unknown derived component name is an error
    if (!DERIVED.has(name)) malformed(`unsupported derived component ${JSON.stringify(name)}`);
  } else if (!FIELD_NAME_RE.test(name)) {
    malformed(`invalid field name ${JSON.stringify(name)}`);
  }
}

/** "name" or "name;req" -> ComponentId; the only component parameter supported is req (§2.4). */
function parseComponent(c: string): ComponentId {
  if (typeof c !== 'string') malformed('component must be a string');
  const [name = '', ...rest] = c.split(';');
  checkComponentName(name);
  // RFC 9421 §2.5: a parameter that is not understood must fail the base
  if (rest.length > 1 || (rest.length === 1 && rest[0] !== 'req')) {
    malformed(`unsupported component parameter in ${JSON.stringify(c)}`);
  }
  return { name, req: rest.length === 1 };
}

const componentKey = (id: ComponentId): string => (id.req ? `${id.name};req` : id.name);

// Every Janus message covers one of a few component lists: check and parse each distinct one once
// (JSON as the key: unambiguous whatever the strings hold). Callers never mutate the result.
const componentLists = new Map<string, ComponentId[]>();
// Frozen lists (the fast parser's) cannot change, so their identity is a key too.
const frozenLists = new WeakMap<readonly string[], ComponentId[]>();
function parseComponentList(components: readonly string[]): ComponentId[] {
  if (!Array.isArray(components)) throw new TypeError('"components" expected an array');
  const known = frozenLists.get(components);
  if (known !== undefined) return known;
  const key = JSON.stringify(components);
  let ids = componentLists.get(key);
  if (ids === undefined) {
    ids = parseComponentListOnce(components);
    if (componentLists.size < 256) componentLists.set(key, ids);
  }
  if (Object.isFrozen(components)) frozenLists.set(components, ids);
  return ids;
}

function parseComponentListOnce(components: readonly string[]): ComponentId[] {
  const ids = components.map(parseComponent);
  // RFC 9421 §2: each component identifier occurs only once in the covered components
  const seen = new Set<string>();
  for (const id of ids) {
    const k = componentKey(id);
    if (seen.has(k)) malformed(`duplicate component ${JSON.stringify(k)}`);
    seen.add(k);
  }
  return ids;
}

function componentItem(id: ComponentId): SfItem {
  // RFC 9421 §2.5: the name is an sf-string; req is a Boolean true parameter, written ";req"
  return sfItem(sfString(id.name), id.req ? [['req', { type: 'boolean', value: true }]] : []);
}

// ---------------------------------------------------------------------------------------------
// Component values (RFC 9421 §2.1, §2.2)

// RFC 9421 §2.5 ABNF: derived-component-value = *( VCHAR / SP )
const DERIVED_VALUE_RE = /^[\x20-\x7e]*$/;
// RFC 9421 §2.5 ABNF: field values are *field-content with no obs-fold nor obs-text
const FIELD_VALUE_RE = /^[\t\x20-\x7e]*$/;
const TOKEN_RE = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

interface TargetUri {
  scheme: string;
  authority: string;
  path: string;
  query: string | undefined;
}

/** Splits an absolute URI (RFC 3986 Appendix B) without normalising percent-encoding or dot segments. */
function splitTargetUri(uri: string): TargetUri {
  if (!/^[\x21-\x7e]+$/.test(uri)) malformed('target URI has invalid characters');
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#]*)([^?#]*)(?:\?([^#]*))?$/.exec(uri);
  if (!m) malformed('target URI is not an absolute URI with an authority and no fragment');
  const [, scheme = '', authority = '', path = '', query] = m;
  // RFC 9110 §4.2.4: userinfo must not be sent in http(s) URIs; reject rather than guess
  if (authority === '' || authority.includes('@')) malformed('target URI has an invalid authority');
  return { scheme, authority, path, query };
}

/** RFC 9421 §2.2.3 via RFC 9110 §4.2.3: lowercase host, omit an empty or default port. */
function normalizeAuthority(scheme: string, authority: string): string {
  let host: string;
  let port: string | undefined;
  if (authority.startsWith('[')) {
    const end = authority.indexOf(']');
    if (end < 0) malformed('invalid IP literal in authority');
    host = authority.slice(0, end + 1);
    const rest = authority.slice(end + 1);
    if (rest !== '') {
      if (!rest.startsWith(':')) malformed('invalid authority');
      port = rest.slice(1);
    }
  } else {
    const colon = authority.lastIndexOf(':');
    host = colon < 0 ? authority : authority.slice(0, colon);
    port = colon < 0 ? undefined : authority.slice(colon + 1);
  }
  if (host === '' || host.includes(':') !== host.startsWith('[')) malformed('invalid host in authority');
  if (port !== undefined && !/^[0-9]{0,5}$/.test(port)) malformed('invalid port in authority');
  host = host.toLowerCase();
  const dflt = DEFAULT_PORTS[scheme.toLowerCase()];
  if (port === undefined || port === '' || (dflt !== undefined && Number(port) === Number(dflt))) return host;
  return `${host}:${port}`;
}

interface MessageContext {
  method?: string | undefined;
  targetUri?: string | undefined;
  status?: number | undefined;
  headers: Record<string, string | undefined>;
}

function fieldValue(headers: Record<string, string | undefined>, name: string): string {
  // own properties only: "constructor" or "__proto__" must not resolve through the prototype
  const raw = headers !== null && typeof headers === 'object' && Object.hasOwn(headers, name) ? headers[name] : undefined;
  // RFC 9421 §2.5: a covered component absent from the message fails the base
  if (typeof raw !== 'string') malformed(`header ${JSON.stringify(name)} is missing`);
  // RFC 9421 §2.1: strip leading and trailing whitespace from the field value
  const v = raw.replace(/^[ \t]+|[ \t]+$/g, '');
  if (!FIELD_VALUE_RE.test(v)) malformed(`header ${JSON.stringify(name)} has characters not allowed in the base`);
  return v;
}

function componentValue(id: ComponentId, msg: HttpView): string {
  let ctx: MessageContext = msg;
  if (id.req) {
    // RFC 9421 §2.4: ";req" takes the value from the request that triggered this response
    if (msg.request === undefined || msg.request === null) malformed(`${componentKey(id)} needs the bound request`);
    ctx = msg.request;
  }
  const uri = (): TargetUri => {
    if (typeof ctx.targetUri !== 'string') malformed(`${componentKey(id)} needs a target URI`);
    return splitTargetUri(ctx.targetUri);
  };
  let v: string;
  switch (id.name) {
    case '@method':
      // RFC 9421 §2.2.1: the method as given, case-sensitive, not normalised
      if (typeof ctx.method !== 'string' || !TOKEN_RE.test(ctx.method)) malformed('missing or invalid method');
      v = ctx.method;
      break;
    case '@target-uri':
      // RFC 9421 §2.2.2: the full target URI as received
      uri();
      v = ctx.targetUri as string;
      break;
    case '@authority': {
      const u = uri();
      v = normalizeAuthority(u.scheme, u.authority);
      break;
    }
    case '@scheme':
      // RFC 9421 §2.2.4: the scheme as a lowercase string
      v = uri().scheme.toLowerCase();
      break;
    case '@path':
      // RFC 9421 §2.2.6: absolute path without query; an empty path is "/"
      v = uri().path || '/';
      break;
    case '@query': {
      // RFC 9421 §2.2.7: the query with its leading "?"; "?" alone when absent or empty
      v = `?${uri().query ?? ''}`;
      break;
    }
    case '@status':
      // RFC 9421 §2.2.9: the three-digit status code, responses only (never with ;req)
      if (id.req || typeof ctx.status !== 'number' || !Number.isInteger(ctx.status) || ctx.status < 100 || ctx.status > 999) {
        malformed('@status needs a response status code');
      }
      v = String(ctx.status);
      break;
    default:
      return fieldValue(ctx.headers, id.name);
  }
  if (!DERIVED_VALUE_RE.test(v)) malformed(`${id.name} has characters not allowed in the base`);
  return v;
}

// ---------------------------------------------------------------------------------------------
// Signature parameters (RFC 9421 §2.3)

const isPrintable = (s: unknown): s is string => typeof s === 'string' && /^[\x20-\x7e]*$/.test(s);
const isTimestamp = (n: unknown): n is number =>
  typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= 999_999_999_999_999;

/** Typed checks for one parameter: the value that would enter the base must be of its RFC type. */
function checkParam(name: SigParamName, value: unknown): void {
  switch (name) {
    case 'created':
    case 'expires':
      // RFC 9421 §2.3: created / expires are Integer UNIX timestamps
      if (!isTimestamp(value)) malformed(`${name} must be a non-negative integer`);
      return;
    case 'alg':
      // RFC 9421 §2.3, §3.3: this module knows only hmac-sha256
      if (value !== HMAC_SHA256) malformed('unsupported alg');
      return;
    case 'nonce':
    case 'keyid':
    case 'tag':
      // RFC 9421 §2.3: nonce, keyid and tag are Strings (printable ASCII, RFC 8941 §3.3.3)
      if (!isPrintable(value)) malformed(`${name} must be a printable ASCII string`);
      return;
  }
}

function paramValue(name: SigParamName, params: SigParams): SfBareItem {
  const value = params[name];
  checkParam(name, value);
  return name === 'created' || name === 'expires' ? sfInteger(value as number) : sfString(value as string);
}

function checkOrder(params: SigParams, order: readonly SigParamName[]): void {
  if (params === null || typeof params !== 'object') throw new TypeError('"params" expected an object');
  if (new Set(order).size !== order.length) malformed('duplicate signature parameter');
  for (const name of SIG_PARAM_ORDER) {
    // the typed params and the order must describe the same set, or the base would not say what params do
    if ((params[name] !== undefined) !== order.includes(name)) malformed(`signature parameter ${name} mismatch`);
  }
  // this profile requires created and keyid (SigParams makes them mandatory)
  if (!order.includes('created') || !order.includes('keyid')) malformed('created and keyid are required');
}

// Serialized component identifiers repeat on every message: serialize each distinct one once.
const idStrings = new Map<string, string>();
function componentIdString(id: ComponentId): string {
  const key = componentKey(id);
  let s = idStrings.get(key);
  if (s === undefined) {
    s = serializeItem(componentItem(id));
    if (idStrings.size < 1024) idStrings.set(key, s);
  }
  return s;
}

function serializeParamsInOrder(ids: readonly ComponentId[], params: SigParams, order: readonly SigParamName[]): string {
  checkOrder(params, order);
  // RFC 9421 §2.3: an Inner List of the component identifiers, the metadata as its parameters
  // (RFC 8941 §4.1.1.1 / §4.1.1.2 serialization, written out directly: this is the hot path)
  let out = `(${ids.map(componentIdString).join(' ')})`;
  for (const n of order) out += `;${n}=${serializeParam(n, params)}`;
  return out;
}

// RFC 8941 §4.1.6: a String with neither '"' nor '\\' serializes as itself between quotes.
const PLAIN_STRING_RE = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;

function serializeParam(name: SigParamName, params: SigParams): string {
  const value = params[name];
  checkParam(name, value);
  if (typeof value === 'number') return String(value); // checkParam: a non-negative integer, at most 15 digits
  if (PLAIN_STRING_RE.test(value as string)) return `"${value as string}"`;
  return serializeBareItem(paramValue(name, params));
}

const signingOrder = (params: SigParams): SigParamName[] =>
  SIG_PARAM_ORDER.filter((n) => params !== null && typeof params === 'object' && params[n] !== undefined);

/** The Signature-Input inner list for these components and params, e.g. `("@method");created=1;keyid="k"`. */
export function serializeSignatureParams(components: readonly string[], params: SigParams): string {
  return serializeParamsInOrder(parseComponentList(components), params, signingOrder(params));
}

// ---------------------------------------------------------------------------------------------
// Signature base (RFC 9421 §2.5)

function buildBase(ids: readonly ComponentId[], params: SigParams, order: readonly SigParamName[], msg: HttpView, paramsLine?: string): string {
  if (msg === null || typeof msg !== 'object') throw new TypeError('"msg" expected an object');
  const sigParams = paramsLine ?? serializeParamsInOrder(ids, params, order);
  const lines: string[] = [];
  for (const id of ids) {
    // RFC 9421 §2.5: `<serialized component identifier>: <value>`, one line per component
    lines.push(`${componentIdString(id)}: ${componentValue(id, msg)}`);
  }
  // RFC 9421 §2.5: the last line is "@signature-params", with no trailing LF
  lines.push(`"@signature-params": ${sigParams}`);
  return lines.join('\n');
}

/** The RFC 9421 §2.5 signature base, parameters in signing order (created, expires, nonce, alg, keyid, tag). */
export function signatureBase(components: readonly string[], params: SigParams, msg: HttpView): string {
  return buildBase(parseComponentList(components), params, signingOrder(params), msg);
}

function mac(key: Uint8Array, base: string): Uint8Array {
  // RFC 9421 §3.3.3: HMAC-SHA256 over the signature base (ASCII, so its UTF-8 bytes are its ASCII bytes)
  return hmacSha256(abytes('key', key), utf8(base));
}

/** Signs `msg`, returning the Signature-Input and Signature field values for `label`. */
export function signHmac(
  key: Uint8Array,
  label: string,
  components: readonly string[],
  params: SigParams,
  msg: HttpView,
): { signatureInput: string; signature: string } {
  abytes('key', key);
  // RFC 9421 §4.1: the label is a Dictionary key ('bad_input' otherwise)
  const labelKey = serializeKey(label);
  const ids = parseComponentList(components);
  const order = signingOrder(params);
  const inner = serializeParamsInOrder(ids, params, order);
  const sig = mac(key, buildBase(ids, params, order, msg, inner));
  // RFC 9421 §4.1, §4.2: both fields are Dictionaries keyed by the label; the Signature member is
  // a Byte Sequence, `:base64:` (RFC 8941 §4.1.8), exactly what serializeDictionary would write.
  return { signatureInput: `${labelKey}=${inner}`, signature: `${labelKey}=:${b64.encode(sig)}:` };
}

// ---------------------------------------------------------------------------------------------
// Parsing and verification (RFC 9421 §3.2)

const isParamName = (k: string): k is SigParamName => (SIG_PARAM_ORDER as readonly string[]).includes(k);

/**
 * Extracts the signature `label` from the Signature-Input and Signature field values. Absent field
 * or label -> 'missing_signature'; anything not of this profile's shape -> 'malformed'.
 */
export function parseSignature(
  label: string,
  signatureInput: string | null | undefined,
  signature: string | null | undefined,
): ParsedSignature {
  if (typeof label !== 'string') throw new TypeError('"label" expected string');
  if (signatureInput === undefined || signatureInput === null || signature === undefined || signature === null) {
    throw new JanusError('missing_signature', 'Signature-Input or Signature is missing');
  }
  if (typeof signatureInput !== 'string' || typeof signature !== 'string') {
    throw new TypeError('"signatureInput" and "signature" expected strings');
  }
  return parseCanonical(label, signatureInput, signature) ?? parseSignatureGeneral(label, signatureInput, signature);
}

/** parseSignature without the fast path (exported so tests can hold the two against each other). */
export function parseSignatureGeneral(label: string, signatureInput: string, signature: string): ParsedSignature {
  // RFC 9421 §4.1, §4.2: both fields are Dictionaries
  const inputs = parseDictionary(signatureInput);
  const sigs = parseDictionary(signature);
  const input = inputs.get(label);
  const sigMember = sigs.get(label);
  if (input === undefined || sigMember === undefined) {
    throw new JanusError('missing_signature', `no signature labelled ${JSON.stringify(label)}`);
  }

  // RFC 9421 §4.1: each Signature-Input member is an Inner List of component identifiers
  if (input.kind !== 'inner-list') malformed('Signature-Input member is not an inner list');
  const components: string[] = [];
  for (const item of input.items) {
    // RFC 9421 §2: a component identifier is a String with parameters
    if (item.value.type !== 'string') malformed('component identifier is not a string');
    let req = false;
    for (const [k, v] of item.params) {
      // RFC 9421 §2.4: req is a Boolean flag; no other component parameter is supported
      if (k !== 'req' || v.type !== 'boolean' || v.value !== true) malformed(`unsupported component parameter ${k}`);
      req = true;
    }
    checkComponentName(item.value.value);
    components.push(req ? `${item.value.value};req` : item.value.value);
  }
  parseComponentList(components); // rejects duplicates

  const params: Partial<SigParams> = {};
  const paramOrder: SigParamName[] = [];
  for (const [k, v] of input.params) {
    if (!isParamName(k)) malformed(`unknown signature parameter ${k}`);
    if (k === 'created' || k === 'expires') {
      if (v.type !== 'integer') malformed(`${k} must be an integer`);
      params[k] = v.value;
    } else {
      if (v.type !== 'string') malformed(`${k} must be a string`);
      if (k === 'alg') {
        if (v.value !== HMAC_SHA256) malformed(`unsupported alg ${JSON.stringify(v.value)}`);
        params.alg = HMAC_SHA256;
      } else {
        params[k] = v.value;
      }
    }
    checkParam(k, params[k]);
    paramOrder.push(k);
  }
  if (params.created === undefined || params.keyid === undefined) malformed('created and keyid are required');

  // RFC 9421 §4.2: each Signature member is a Byte Sequence
  if (sigMember.kind !== 'item' || sigMember.value.type !== 'bytes') malformed('Signature member is not a byte sequence');

  return {
    components,
    params: params as SigParams,
    signature: sigMember.value.value,
    paramOrder,
  };
}

/**
 * Rebuilds the base from the components and parameters in the order received and checks the MAC in
 * constant time: 'bad_signature' on mismatch, 'malformed' if the base cannot be built.
 */
export function verifyHmac(key: Uint8Array, parsed: ParsedSignature, msg: HttpView): void {
  abytes('key', key);
  if (parsed === null || typeof parsed !== 'object') throw new TypeError('"parsed" expected parseSignature output');
  if (!Array.isArray(parsed.paramOrder) || !(parsed.signature instanceof Uint8Array)) {
    throw new TypeError('"parsed" expected parseSignature output');
  }
  const ids = parseComponentList(parsed.components);
  const base = buildBase(ids, parsed.params, parsed.paramOrder, msg, parsed instanceof CanonicalSignature ? parsed.receivedParams() : undefined);
  if (!equalBytes(mac(key, base), parsed.signature)) throw new JanusError('bad_signature');
}

// ---------------------------------------------------------------------------------------------
// The fast path for what Janus itself sends: one label, every item in its canonical serialization.
// It accepts only input whose meaning is certain, and returns null for anything else, so the
// general parser above decides (and words the error). For such input the received inner list is
// byte for byte what serializeParamsInOrder would rebuild, so verification uses it as it came.

/** A fast-path result: it keeps the received inner list (private, so no other object can claim one). */
class CanonicalSignature implements ParsedSignature {
  readonly #params: string;
  constructor(
    readonly components: string[],
    readonly params: SigParams,
    readonly signature: Uint8Array,
    readonly paramOrder: SigParamName[],
    receivedParams: string,
  ) {
    this.#params = receivedParams;
  }
  receivedParams(): string {
    return this.#params;
  }
}
const PLAIN_CHARS_RE = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;
const KEY_RE = /^[a-z*][a-z0-9_.*-]*$/;
const INT_RE = /^(?:0|[1-9][0-9]{0,14})$/;
const B64_RE = /^[A-Za-z0-9+/]+={0,2}$/;
/** Inner-list heads seen before (`("@method" ...)`) -> their checked component names. */
const canonicalLists = new Map<string, readonly string[]>();

function canonicalComponents(list: string): readonly string[] | null {
  let components = canonicalLists.get(list);
  if (components !== undefined) return components;
  // `(` items separated by one space `)`, each item `"name"` or `"name";req`.
  if (list === '()') components = [];
  else {
    const items = list.slice(1, -1).split(' ');
    const out: string[] = [];
    for (const item of items) {
      const req = item.endsWith(';req');
      const q = req ? item.slice(0, -4) : item;
      if (q.length < 2 || q[0] !== '"' || q[q.length - 1] !== '"') return null;
      const name = q.slice(1, -1);
      if (!PLAIN_CHARS_RE.test(name)) return null;
      checkComponentName(name);
      out.push(req ? `${name};req` : name);
    }
    parseComponentList(out); // duplicates
    components = Object.freeze(out);
  }
  if (canonicalLists.size < 256) canonicalLists.set(list, components);
  return components;
}

function parseCanonical(label: string, signatureInput: string, signature: string): ParsedSignature | null {
  try {
    if (!KEY_RE.test(label)) return null;
    // Signature: exactly `label=:base64:`.
    const sigHead = `${label}=:`;
    if (!signature.startsWith(sigHead) || !signature.endsWith(':')) return null;
    const sig64 = signature.slice(sigHead.length, -1);
    if (!B64_RE.test(sig64)) return null;
    // Signature-Input: exactly `label=(components);name=value...`.
    const head = `${label}=(`;
    if (!signatureInput.startsWith(head)) return null;
    const close = signatureInput.indexOf(')', head.length);
    if (close < 0) return null;
    const components = canonicalComponents(signatureInput.slice(head.length - 1, close + 1));
    if (components === null) return null;
    const params: Partial<Record<SigParamName, string | number>> = {};
    const paramOrder: SigParamName[] = [];
    let i = close + 1;
    const n = signatureInput.length;
    while (i < n) {
      if (signatureInput[i] !== ';') return null;
      const eq = signatureInput.indexOf('=', i);
      if (eq < 0) return null;
      const k = signatureInput.slice(i + 1, eq);
      if (!isParamName(k) || params[k] !== undefined) return null;
      let end: number;
      if (k === 'created' || k === 'expires') {
        end = signatureInput.indexOf(';', eq);
        if (end < 0) end = n;
        const digits = signatureInput.slice(eq + 1, end);
        if (!INT_RE.test(digits)) return null;
        params[k] = Number(digits);
      } else {
        if (signatureInput[eq + 1] !== '"') return null;
        const q = signatureInput.indexOf('"', eq + 2);
        if (q < 0) return null;
        const v = signatureInput.slice(eq + 2, q);
        if (!PLAIN_CHARS_RE.test(v) || (k === 'alg' && v !== HMAC_SHA256)) return null;
        params[k] = v;
        end = q + 1;
      }
      paramOrder.push(k);
      i = end;
    }
    if (params.created === undefined || params.keyid === undefined) return null;
    return new CanonicalSignature(components as string[], params as unknown as SigParams, b64.decode(sig64), paramOrder, signatureInput.slice(head.length - 1));
  } catch {
    return null;
  }
}
