/**
 * The vendor's one public-key step: RSA-OAEP-SHA256 with a label (RFC 8017 §7.1) to wrap secrets
 * for the vendor, RSA-PSS-SHA256 with a 32-byte salt (RFC 8017 §8.1) for the vendor's signatures.
 * The RSA operations run on crypto.subtle; node-forge only parses and builds DER, PEM and X.509
 * (WebCrypto has no certificate support), so this module works in a service worker, a page and Node.
 *
 * Keys are DER: SubjectPublicKeyInfo (RFC 5280 §4.1.2.7) for public keys, PKCS#8 (RFC 5208) for
 * private keys; pemToDer/derToPem convert to and from RFC 7468 PEM.
 */
import * as forgeNs from 'node-forge';
import { abytes, b64, b64u, EncodingError, equalBytes, randomBytes, toHex } from './bytes.ts';
import { sha256 } from './hash.ts';
import { JanusError } from '../errors.ts';

// node-forge is CommonJS: Node's ESM loader exposes it only as `default`, bundlers as the namespace.
const forge: typeof forgeNs = (forgeNs as unknown as { default?: typeof forgeNs }).default ?? forgeNs;

/** NIST SP 800-57 Part 1 Table 2: 3072-bit RSA for 128-bit security, the level of the rest of Janus. */
export const MIN_RSA_BITS = 3072;
/** Bigger keys buy nothing here and make every client-side operation slow: refuse them too. */
export const MAX_RSA_BITS = 8192;
const F4 = '10001'; // e = 65537, hex
const PSS_SALT_LEN = 32; // RFC 8017 §9.1: sLen = hLen for SHA-256
const HASH_LEN = 32;
/** Upper bounds on the textual inputs of parseVendorPublicKey, well above any acceptable key. */
const MAX_SPKI_CHARS = 4096;
const MAX_PEM_CHARS = 64 * 1024;

export interface VendorPublicKey {
  /** DER SubjectPublicKeyInfo. */
  spki: Uint8Array;
  /** b64u(SHA-256(spki)): the pin. */
  fingerprint: string;
  modulusBits: number;
}

export interface CertificateInfo {
  spki: Uint8Array;
  subject: string;
  notBefore: Date;
  notAfter: Date;
  altNames: string[];
}

// ---------------------------------------------------------------------------------------------
// Byte plumbing

/** WebCrypto wants ArrayBuffer-backed views; copy only when the view sits on something else. */
function ab(b: Uint8Array): Uint8Array<ArrayBuffer> {
  return b.buffer instanceof ArrayBuffer ? (b as Uint8Array<ArrayBuffer>) : new Uint8Array(b);
}

/** forge works on "binary strings" (one char per byte). */
function toBinary(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i += 0x8000) s += String.fromCharCode(...b.subarray(i, i + 0x8000));
  return s;
}

function fromBinary(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

function asn1FromDer(der: Uint8Array): forgeNs.asn1.Asn1 {
  // strict: definite lengths only; forge 1.x also refuses trailing bytes (parseAllBytes).
  return forge.asn1.fromDer(forge.util.createBuffer(toBinary(der)), true);
}

function asn1ToDer(obj: forgeNs.asn1.Asn1): Uint8Array {
  return fromBinary(forge.asn1.toDer(obj).getBytes());
}

/**
 * Returns the byte range of each element of a DER SEQUENCE's contents, exactly as encoded.
 * Used to take the certificate's SPKI verbatim (a re-encoding by forge could differ).
 */
function derChildren(der: Uint8Array, start: number, end: number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  let i = start;
  while (i < end) {
    const tagEnd = i + 1;
    if (tagEnd >= end) throw new EncodingError('truncated DER');
    const first = der[tagEnd]!;
    let len: number;
    let hdr: number;
    if (first < 0x80) {
      len = first;
      hdr = 2;
    } else {
      const n = first & 0x7f;
      if (n === 0 || n > 4 || tagEnd + n >= end) throw new EncodingError('bad DER length');
      len = 0;
      for (let k = 1; k <= n; k++) len = len * 256 + der[tagEnd + k]!;
      hdr = 2 + n;
    }
    const next = i + hdr + len;
    if (next > end) throw new EncodingError('truncated DER');
    out.push([i, next]);
    i = next;
  }
  return out;
}

function contentsOf(der: Uint8Array, [s, e]: [number, number]): [number, number] {
  const first = der[s + 1]!;
  return [s + 2 + (first < 0x80 ? 0 : first & 0x7f), e];
}

// ---------------------------------------------------------------------------------------------
// PEM (RFC 7468)

const LABEL_RE = /^[A-Z0-9][A-Z0-9 ]*[A-Z0-9]$/;

function checkLabel(label: string): void {
  if (typeof label !== 'string' || !LABEL_RE.test(label)) throw new RangeError(`"label" expected a PEM label, got ${String(label)}`);
}

/** RFC 7468 §2 strict form: one block with the expected label, base64 with padding, nothing around it but whitespace. */
function pemBody(pem: string, label: string): Uint8Array {
  if (typeof pem !== 'string') throw new EncodingError('PEM expected a string');
  const text = pem.trim();
  const begin = `-----BEGIN ${label}-----`;
  const end = `-----END ${label}-----`;
  if (!text.startsWith(begin) || !text.endsWith(end)) throw new EncodingError(`not a PEM "${label}" block`);
  const body = text.slice(begin.length, text.length - end.length).replace(/[ \t\r\n]+/g, '');
  const der = b64.decode(body); // strict: headers (RFC 1421 "Proc-Type") or stray text fail here
  if (der.length === 0) throw new EncodingError('empty PEM block');
  return der;
}

/** PEM to DER; anything but one well-formed block labelled `label` is JanusError('malformed'). */
export function pemToDer(pem: string, label: string): Uint8Array {
  checkLabel(label);
  try {
    return pemBody(pem, label);
  } catch (e) {
    throw new JanusError('malformed', e instanceof Error ? e.message : undefined, undefined, { cause: e });
  }
}

/** DER to RFC 7468 PEM, 64 characters per line. */
export function derToPem(der: Uint8Array, label: string): string {
  abytes('der', der);
  checkLabel(label);
  const text = b64.encode(der);
  const lines: string[] = [];
  for (let i = 0; i < text.length; i += 64) lines.push(text.slice(i, i + 64));
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

// ---------------------------------------------------------------------------------------------
// Vendor public keys

export function spkiFingerprint(spki: Uint8Array): string {
  return b64u.encode(sha256(abytes('spki', spki)));
}

/**
 * Checks that `spki` is the canonical DER SPKI of an RSA key (rsaEncryption, RFC 8017 Appendix
 * A.1.1) of MIN_RSA_BITS..MAX_RSA_BITS bits with e = 65537; JanusError('bad_vendor_key') otherwise.
 * Canonical matters: the fingerprint is over these bytes, so one key must have one encoding.
 */
function checkRsaSpki(spki: Uint8Array): { key: forgeNs.pki.rsa.PublicKey; modulusBits: number } {
  let key: forgeNs.pki.rsa.PublicKey;
  try {
    key = forge.pki.publicKeyFromAsn1(asn1FromDer(spki));
  } catch (e) {
    throw new JanusError('bad_vendor_key', 'the public key is not a DER RSA SubjectPublicKeyInfo', undefined, { cause: e });
  }
  // publicKeyFromAsn1 also takes a bare PKCS#1 RSAPublicKey and tolerates odd encodings: compare.
  if (!equalBytes(asn1ToDer(forge.pki.publicKeyToAsn1(key)), spki)) {
    throw new JanusError('bad_vendor_key', 'the public key is not a canonical RSA SubjectPublicKeyInfo');
  }
  const modulusBits = key.n.bitLength();
  if (modulusBits < MIN_RSA_BITS || modulusBits > MAX_RSA_BITS) {
    throw new JanusError('bad_vendor_key', `RSA modulus of ${modulusBits} bits; ${MIN_RSA_BITS}..${MAX_RSA_BITS} required`);
  }
  if (key.e.toString(16) !== F4) throw new JanusError('bad_vendor_key', 'RSA public exponent must be 65537');
  return { key, modulusBits };
}

/**
 * The vendor's key as published: `spki` (b64u DER) and/or `cert` (PEM). With a certificate its
 * SPKI is the key, and if both are given they must be the same bytes. Any problem is
 * JanusError('bad_vendor_key').
 */
export function parseVendorPublicKey(input: { spki?: string; cert?: string }): VendorPublicKey {
  if (typeof input !== 'object' || input === null) throw new JanusError('bad_vendor_key', 'no vendor key given');
  const { spki: spkiText, cert } = input;
  if (spkiText === undefined && cert === undefined) throw new JanusError('bad_vendor_key', 'no vendor key given');
  let fromSpki: Uint8Array | undefined;
  if (spkiText !== undefined) {
    if (typeof spkiText !== 'string' || spkiText.length > MAX_SPKI_CHARS) throw new JanusError('bad_vendor_key', 'spki is not a b64u string');
    try {
      fromSpki = b64u.decode(spkiText);
    } catch (e) {
      throw new JanusError('bad_vendor_key', 'spki is not valid b64u', undefined, { cause: e });
    }
  }
  let spki = fromSpki;
  if (cert !== undefined) {
    if (typeof cert !== 'string' || cert.length > MAX_PEM_CHARS) throw new JanusError('bad_vendor_key', 'cert is not a PEM string');
    const fromCert = certificateInfo(cert).spki;
    if (fromSpki !== undefined && !equalBytes(fromSpki, fromCert)) {
      throw new JanusError('bad_vendor_key', 'the certificate and the spki are different keys');
    }
    spki = fromCert;
  }
  const { modulusBits } = checkRsaSpki(spki!);
  return { spki: spki!, fingerprint: spkiFingerprint(spki!), modulusBits };
}

// ---------------------------------------------------------------------------------------------
// WebCrypto keys, imported once

type RsaAlg = 'RSA-OAEP' | 'RSA-PSS';
/** crypto.subtle's key and usage types, named from crypto.subtle itself (the same under the DOM's, Node's and the core's declarations). */
type CryptoKey = Awaited<ReturnType<typeof crypto.subtle.importKey>>;
type KeyUsage = Parameters<typeof crypto.subtle.importKey>[4] extends Iterable<infer U> ? U : never;
/** What an imported RSA key's `algorithm` holds (WebCrypto's RsaHashedKeyAlgorithm). */
interface RsaHashedKeyAlgorithm {
  modulusLength: number;
  publicExponent: Uint8Array;
}
const CACHE_MAX = 32;
/**
 * Imported CryptoKeys by format, algorithm and SHA-256 of the DER (a hash rather than the DER's
 * b64u, so no private key lingers as a string). Insertion order doubles as LRU order.
 */
const keyCache = new Map<string, Promise<CryptoKey>>();

/**
 * Forgets every imported key (the only state this module keeps): for a process that must drop a
 * private key it no longer uses, and for tests. Returns how many were held.
 */
export function clearRsaKeys(): number {
  const n = keyCache.size;
  keyCache.clear();
  return n;
}

function importKey(format: 'spki' | 'pkcs8', der: Uint8Array, alg: RsaAlg): Promise<CryptoKey> {
  const id = `${format}:${alg}:${b64u.encode(sha256(der))}`;
  const hit = keyCache.get(id);
  if (hit) {
    keyCache.delete(id);
    keyCache.set(id, hit);
    return hit;
  }
  const usages: KeyUsage[] =
    format === 'spki' ? [alg === 'RSA-OAEP' ? 'encrypt' : 'verify'] : [alg === 'RSA-OAEP' ? 'decrypt' : 'sign'];
  // An async wrapper so that even a synchronous throw from importKey becomes a rejection.
  const p = (async () => crypto.subtle.importKey(format, ab(der), { name: alg, hash: 'SHA-256' }, false, usages))();
  p.catch(() => {
    if (keyCache.get(id) === p) keyCache.delete(id); // never cache a failure
  });
  keyCache.set(id, p);
  if (keyCache.size > CACHE_MAX) keyCache.delete(keyCache.keys().next().value!);
  return p;
}

function modulusBytes(key: CryptoKey): number {
  return Math.ceil((key.algorithm as unknown as RsaHashedKeyAlgorithm).modulusLength / 8);
}

/** The peer's public key gets the same policy as parseVendorPublicKey (cheap: read off the CryptoKey). */
async function importPeerKey(spki: Uint8Array, alg: RsaAlg): Promise<CryptoKey> {
  let key: CryptoKey;
  try {
    key = await importKey('spki', spki, alg);
  } catch (e) {
    throw new JanusError('bad_vendor_key', 'the public key cannot be imported', undefined, { cause: e });
  }
  const { modulusLength, publicExponent } = key.algorithm as unknown as RsaHashedKeyAlgorithm;
  if (modulusLength < MIN_RSA_BITS || modulusLength > MAX_RSA_BITS || toHex(publicExponent).replace(/^0+/, '') !== F4) {
    throw new JanusError('bad_vendor_key', `RSA key of ${modulusLength} bits or exponent not 65537`);
  }
  return key;
}

// ---------------------------------------------------------------------------------------------
// Operations

export async function generateVendorKeyPair(bits: number = MIN_RSA_BITS): Promise<{ spki: Uint8Array; pkcs8: Uint8Array }> {
  if (!Number.isSafeInteger(bits) || bits < MIN_RSA_BITS || bits > MAX_RSA_BITS || bits % 8 !== 0) {
    throw new RangeError(`"bits" expected a multiple of 8 in ${MIN_RSA_BITS}..${MAX_RSA_BITS}, got ${bits}`);
  }
  const pair = await crypto.subtle.generateKey(
    { name: 'RSA-OAEP', modulusLength: bits, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' },
    true,
    ['encrypt', 'decrypt'],
  );
  // Both exports carry the rsaEncryption OID, so the same DER imports for OAEP and for PSS.
  const [spki, pkcs8] = await Promise.all([
    crypto.subtle.exportKey('spki', pair.publicKey),
    crypto.subtle.exportKey('pkcs8', pair.privateKey),
  ]);
  return { spki: new Uint8Array(spki), pkcs8: new Uint8Array(pkcs8) };
}

/** RFC 8017 §7.1.1 RSAES-OAEP-ENCRYPT with SHA-256, MGF1-SHA-256 and label `label`. */
export async function oaepEncrypt(spki: Uint8Array, plaintext: Uint8Array, label: Uint8Array): Promise<Uint8Array> {
  abytes('spki', spki);
  abytes('plaintext', plaintext);
  abytes('label', label);
  const key = await importPeerKey(spki, 'RSA-OAEP');
  // RFC 8017 §7.1.1 step 1b: mLen <= k - 2hLen - 2.
  const max = modulusBytes(key) - 2 * HASH_LEN - 2;
  if (plaintext.length > max) throw new RangeError(`"plaintext" expected at most ${max} bytes, got ${plaintext.length}`);
  try {
    return new Uint8Array(await crypto.subtle.encrypt({ name: 'RSA-OAEP', label: ab(label) }, key, ab(plaintext)));
  } catch (e) {
    throw new JanusError('internal', 'RSA-OAEP encryption failed', undefined, { cause: e });
  }
}

/**
 * RFC 8017 §7.1.2 RSAES-OAEP-DECRYPT. A ciphertext that is not k bytes is 'malformed'; every
 * other failure, the key's included, is one indistinguishable 'decrypt_failed' (§7.1.2 Note).
 */
export async function oaepDecrypt(pkcs8: Uint8Array, ciphertext: Uint8Array, label: Uint8Array): Promise<Uint8Array> {
  abytes('pkcs8', pkcs8);
  abytes('ciphertext', ciphertext);
  abytes('label', label);
  let key: CryptoKey;
  try {
    key = await importKey('pkcs8', pkcs8, 'RSA-OAEP');
  } catch (e) {
    throw new JanusError('decrypt_failed', undefined, undefined, { cause: e });
  }
  // RFC 8017 §7.1.2 step 1b: the ciphertext is exactly k octets.
  if (ciphertext.length !== modulusBytes(key)) throw new JanusError('malformed', 'RSA-OAEP ciphertext of the wrong length');
  try {
    return new Uint8Array(await crypto.subtle.decrypt({ name: 'RSA-OAEP', label: ab(label) }, key, ab(ciphertext)));
  } catch (e) {
    throw new JanusError('decrypt_failed', undefined, undefined, { cause: e });
  }
}

/** RFC 8017 §8.1.1 RSASSA-PSS-SIGN with SHA-256, MGF1-SHA-256, sLen = 32. */
export async function pssSign(pkcs8: Uint8Array, message: Uint8Array): Promise<Uint8Array> {
  abytes('pkcs8', pkcs8);
  abytes('message', message);
  let key: CryptoKey;
  try {
    key = await importKey('pkcs8', pkcs8, 'RSA-PSS');
  } catch (e) {
    throw new JanusError('bad_vendor_key', 'the private key cannot be imported', undefined, { cause: e });
  }
  try {
    return new Uint8Array(await crypto.subtle.sign({ name: 'RSA-PSS', saltLength: PSS_SALT_LEN }, key, ab(message)));
  } catch (e) {
    throw new JanusError('internal', 'RSA-PSS signing failed', undefined, { cause: e });
  }
}

/**
 * RFC 8017 §8.1.2 RSASSA-PSS-VERIFY (sLen = 32): false for any signature that does not verify,
 * JanusError('bad_vendor_key') when `spki` itself is unacceptable.
 */
export async function pssVerify(spki: Uint8Array, message: Uint8Array, signature: Uint8Array): Promise<boolean> {
  abytes('spki', spki);
  abytes('message', message);
  abytes('signature', signature);
  const key = await importPeerKey(spki, 'RSA-PSS');
  // RFC 8017 §8.1.2 step 1: a signature that is not k octets is invalid.
  if (signature.length !== modulusBytes(key)) return false;
  try {
    return await crypto.subtle.verify({ name: 'RSA-PSS', saltLength: PSS_SALT_LEN }, key, ab(signature), ab(message));
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------
// X.509 (node-forge)

const IPV4_RE = /^\d{1,3}(\.\d{1,3}){3}$/;

/**
 * A self-signed X.509 v3 certificate (RFC 5280) for the vendor key: CN and subjectAltName are the
 * origin's host (a dNSName, or an iPAddress for an IP literal), signed sha256WithRSAEncryption.
 */
export function selfSignedCertificate(opts: { spki: Uint8Array; pkcs8: Uint8Array; origin: string; days?: number; /** The issuing time, ms since the epoch (the caller's clock). */ now: number }): string {
  abytes('spki', opts.spki);
  abytes('pkcs8', opts.pkcs8);
  const days = opts.days ?? 365;
  if (!Number.isSafeInteger(days) || days < 1 || days > 3650) throw new RangeError(`"days" expected 1..3650, got ${days}`);
  let url: URL;
  try {
    url = new URL(opts.origin);
  } catch {
    throw new RangeError(`"origin" expected an absolute URL, got ${String(opts.origin)}`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new RangeError(`"origin" expected http(s), got ${url.protocol}`);
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1'); // IPv6 literals come bracketed
  if (host === '') throw new RangeError('"origin" has no host');
  const isIp = IPV4_RE.test(host) || host.includes(':');

  const { key: publicKey } = checkRsaSpki(opts.spki);
  let privateKey: forgeNs.pki.rsa.PrivateKey;
  try {
    privateKey = forge.pki.privateKeyFromAsn1(asn1FromDer(opts.pkcs8));
  } catch (e) {
    throw new JanusError('bad_vendor_key', 'the private key is not a DER RSA PKCS#8 key', undefined, { cause: e });
  }
  if (!privateKey.n.equals(publicKey.n) || !privateKey.e.equals(publicKey.e)) {
    throw new JanusError('bad_vendor_key', 'spki and pkcs8 are not one key pair');
  }

  const cert = forge.pki.createCertificate();
  cert.publicKey = publicKey;
  // RFC 5280 §4.1.2.2: positive, at most 20 octets; 16 random bytes with the top bit clear.
  const serial = randomBytes(16);
  serial[0] = (serial[0]! & 0x7f) | 0x40;
  cert.serialNumber = toHex(serial);
  // A little backdating absorbs clock skew between the vendor and its clients.
  const now = opts.now;
  if (!Number.isSafeInteger(now) || now < 0) throw new RangeError(`"now" expected ms since the epoch, got ${String(now)}`);
  cert.validity.notBefore = new Date(now - 5 * 60 * 1000);
  cert.validity.notAfter = new Date(now + days * 24 * 60 * 60 * 1000);
  const name = [{ name: 'commonName', value: host }];
  cert.setSubject(name);
  cert.setIssuer(name);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
    // RFC 5280 §4.2.1.6: dNSName (type 2) or iPAddress (type 7).
    { name: 'subjectAltName', altNames: [isIp ? { type: 7, ip: host } : { type: 2, value: host }] },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(privateKey, forge.md.sha256.create());
  return derToPem(asn1ToDer(forge.pki.certificateToAsn1(cert)), 'CERTIFICATE');
}

/**
 * Reads a PEM certificate: its SPKI (the exact bytes it carries), subject, validity and
 * subjectAltName entries. Anything unreadable is JanusError('bad_vendor_key'). The signature and
 * dates are not judged here.
 */
export function certificateInfo(pem: string): CertificateInfo {
  let der: Uint8Array;
  let cert: forgeNs.pki.Certificate;
  let spki: Uint8Array;
  try {
    der = pemBody(pem, 'CERTIFICATE');
    cert = forge.pki.certificateFromAsn1(asn1FromDer(der));
    // RFC 5280 §4.1: Certificate ::= SEQUENCE { tbsCertificate, ... }; TBSCertificate ::= SEQUENCE
    // { [0] version OPTIONAL, serialNumber, signature, issuer, validity, subject, subjectPublicKeyInfo, ... }
    const [certSeq] = derChildren(der, 0, der.length);
    const [tbs] = derChildren(der, ...contentsOf(der, certSeq!));
    const fields = derChildren(der, ...contentsOf(der, tbs!));
    const at = der[fields[0]![0]] === 0xa0 ? 6 : 5;
    const [s, e] = fields[at]!;
    spki = der.slice(s, e);
  } catch (e) {
    throw new JanusError('bad_vendor_key', 'the certificate cannot be read', undefined, { cause: e });
  }
  const subject = cert.subject.attributes.map((a) => `${a.shortName ?? a.name ?? a.type}=${String(a.value)}`).join(', ');
  const san: { altNames?: Array<{ type: number; value?: string; ip?: string }> } | undefined = cert.getExtension('subjectAltName');
  const altNames: string[] = [];
  for (const n of san?.altNames ?? []) {
    if (n.type === 7 && n.ip !== undefined) altNames.push(n.ip);
    else if (typeof n.value === 'string') altNames.push(n.value);
  }
  return { spki, subject, notBefore: cert.validity.notBefore, notAfter: cert.validity.notAfter, altNames };
}
