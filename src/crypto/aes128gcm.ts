/**
 * RFC 8188 "aes128gcm" content coding, the encryption of every Janus body.
 *
 * `encrypt`/`decrypt` run AES-GCM on crypto.subtle (native speed in browsers and Node);
 * `aes128gcmNoble` is the same coding on @noble/ciphers, kept to cross-check the WebCrypto path
 * in tests and usable where crypto.subtle is missing. Both share the framing code below, so the
 * two differ only in the record AEAD.
 *
 * Errors: header and framing problems are JanusError('malformed'); anything learnt only after
 * decrypting (tag, delimiter, padding) is JanusError('decrypt_failed'); limits are 'too_large'.
 */
import { gcm } from '@noble/ciphers/aes.js';
import { abytes, concat, randomBytes, u32be, utf8 } from './bytes.ts';
import { hmacSha256 } from './hash.ts';
import { cryptoProvider } from './provider.ts';
import { JanusError } from '../errors.ts';

export interface Aes128gcmOptions {
  /** 16 bytes; random by default. Never reuse a salt with the same IKM. */
  salt?: Uint8Array;
  /** Record size in bytes (18..2^32-1), default 65536. */
  rs?: number;
  /** At most 255 bytes, default empty. */
  keyid?: Uint8Array;
}

export interface Aes128gcmLimits {
  /** Largest acceptable `rs` header value; default 1 MiB + 17. */
  maxRecordSize?: number;
  /** Largest acceptable plaintext, padding included; default 16 MiB. */
  maxPlaintext?: number;
}

export interface Aes128gcmDecrypted {
  plaintext: Uint8Array;
  keyid: Uint8Array;
  rs: number;
  salt: Uint8Array;
}

export interface Aes128gcmHeader {
  salt: Uint8Array;
  rs: number;
  keyid: Uint8Array;
  headerLength: number;
}

export const DEFAULT_RS = 65536;
export const DEFAULT_MAX_RECORD_SIZE = 1024 * 1024 + 17;
export const DEFAULT_MAX_PLAINTEXT = 16 * 1024 * 1024;

const SALT_LEN = 16;
const TAG_LEN = 16; // AEAD_AES_128_GCM tag
const KEY_LEN = 16;
const NONCE_LEN = 12;
/** RFC 8188 §2.1: salt(16) || rs(4) || idlen(1), then keyid. */
const FIXED_HEADER = SALT_LEN + 4 + 1;
/** RFC 8188 §2: "Values smaller than 18 are invalid" (16-byte tag + delimiter + 1 byte of data). */
const MIN_RS = 18;
const MAX_RS = 0xffffffff;
const DELIM_RECORD = 0x01;
const DELIM_FINAL = 0x02;

// RFC 8188 §2.2 / §2.3: the info strings end with a zero octet.
const CEK_INFO = utf8('Content-Encoding: aes128gcm\0');
const NONCE_INFO = utf8('Content-Encoding: nonce\0');

/** One AEAD backend: seal returns ciphertext || tag; open returns null when the tag is wrong. */
interface RecordAead {
  seal(nonce: Uint8Array, plaintext: Uint8Array): Promise<Uint8Array>;
  open(nonce: Uint8Array, sealed: Uint8Array): Promise<Uint8Array | null>;
}
type AeadFactory = (cek: Uint8Array) => Promise<RecordAead>;

/** WebCrypto wants ArrayBuffer-backed views; copy only when the view sits on something else. */
function ab(b: Uint8Array): Uint8Array<ArrayBuffer> {
  return b.buffer instanceof ArrayBuffer ? (b as Uint8Array<ArrayBuffer>) : new Uint8Array(b);
}

/** A provider's synchronous AES-GCM (node:crypto in the vendor SDK), when it has one. */
function providerAead(cek: Uint8Array): RecordAead | null {
  const g = cryptoProvider().aesGcm;
  if (!g) return null;
  return {
    seal: async (nonce, plaintext) => g.seal(cek, nonce, plaintext),
    open: async (nonce, sealed) => g.open(cek, nonce, sealed),
  };
}

const subtleAead: AeadFactory = async (cek) => {
  const fast = providerAead(cek);
  if (fast) return fast;
  const key = await crypto.subtle.importKey('raw', ab(cek), { name: 'AES-GCM' }, false, ['encrypt', 'decrypt']);
  return {
    async seal(nonce, plaintext) {
      const ct = await crypto.subtle.encrypt({ name: 'AES-GCM', iv: ab(nonce), tagLength: 128 }, key, ab(plaintext));
      return new Uint8Array(ct);
    },
    async open(nonce, sealed) {
      try {
        const pt = await crypto.subtle.decrypt({ name: 'AES-GCM', iv: ab(nonce), tagLength: 128 }, key, ab(sealed));
        return new Uint8Array(pt);
      } catch {
        return null; // OperationError: the tag does not verify
      }
    },
  };
};

const nobleAead: AeadFactory = async (cek) => ({
  async seal(nonce, plaintext) {
    return gcm(cek, nonce).encrypt(plaintext);
  },
  async open(nonce, sealed) {
    try {
      return gcm(cek, nonce).decrypt(sealed);
    } catch {
      return null;
    }
  },
});

/** RFC 8188 §2.2 CEK and §2.3 NONCE base: HKDF with salt = header salt, PRK = HMAC-SHA256(salt, IKM). */
function deriveKeys(ikm: Uint8Array, salt: Uint8Array): { cek: Uint8Array; nonceBase: Uint8Array } {
  // Both outputs are one-block HKDF-Expands of the same PRK (RFC 5869 §2.2-2.3): extract once.
  const prk = hmacSha256(salt, ikm);
  return {
    cek: hmacSha256(prk, concat(CEK_INFO, ONE)).subarray(0, KEY_LEN),
    nonceBase: hmacSha256(prk, concat(NONCE_INFO, ONE)).subarray(0, NONCE_LEN),
  };
}
const ONE = new Uint8Array([1]);

/** RFC 8188 §2.3: NONCE = base XOR SEQ, SEQ the record index as a 96-bit big-endian integer. */
function recordNonce(base: Uint8Array, seq: number): Uint8Array {
  const nonce = base.slice();
  let s = seq;
  for (let i = NONCE_LEN - 1; s > 0; i--) {
    nonce[i]! ^= s % 256;
    s = Math.floor(s / 256);
  }
  return nonce;
}

function checkRs(rs: unknown): number {
  if (typeof rs !== 'number' || !Number.isSafeInteger(rs) || rs < MIN_RS || rs > MAX_RS) {
    throw new RangeError(`"rs" expected an integer in ${MIN_RS}..${MAX_RS}, got ${String(rs)}`);
  }
  return rs;
}

function checkLimit(name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
    throw new RangeError(`"${name}" expected a non-negative integer, got ${String(v)}`);
  }
  return v;
}

/** RFC 8188 §2.1 header. Truncation or rs < 18 is JanusError('malformed'); limits are the caller's. */
export function parseHeader(body: Uint8Array): Aes128gcmHeader {
  abytes('body', body);
  if (body.length < FIXED_HEADER) throw new JanusError('malformed', 'aes128gcm: truncated header');
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  const rs = view.getUint32(SALT_LEN, false);
  const idlen = body[SALT_LEN + 4]!;
  const headerLength = FIXED_HEADER + idlen;
  if (body.length < headerLength) throw new JanusError('malformed', 'aes128gcm: truncated key id');
  if (rs < MIN_RS) throw new JanusError('malformed', `aes128gcm: record size ${rs} is below ${MIN_RS}`);
  return { salt: body.slice(0, SALT_LEN), rs, keyid: body.slice(FIXED_HEADER, headerLength), headerLength };
}

async function encryptWith(aead: AeadFactory, plaintext: Uint8Array, ikm: Uint8Array, opts: Aes128gcmOptions): Promise<Uint8Array> {
  abytes('plaintext', plaintext);
  abytes('ikm', ikm);
  const salt = opts.salt === undefined ? randomBytes(SALT_LEN) : abytes('salt', opts.salt, SALT_LEN);
  const rs = checkRs(opts.rs ?? DEFAULT_RS);
  const keyid = opts.keyid === undefined ? new Uint8Array(0) : abytes('keyid', opts.keyid);
  if (keyid.length > 255) throw new RangeError(`"keyid" expected at most 255 bytes, got ${keyid.length}`);

  const { cek, nonceBase } = deriveKeys(ikm, salt);
  const cipher = await aead(cek);
  // RFC 8188 §2: every record but the last carries rs - 16 bytes = data || 0x01 (no padding here).
  const perRecord = rs - TAG_LEN - 1;
  // The last record holds the remaining 1..perRecord bytes || 0x02; only empty plaintext yields
  // the delimiter-only record, so no record (and no empty final record) is ever wasted.
  const count = Math.max(1, Math.ceil(plaintext.length / perRecord));
  const sealed: Promise<Uint8Array>[] = [];
  for (let seq = 0; seq < count; seq++) {
    const start = seq * perRecord;
    const data = plaintext.subarray(start, Math.min(start + perRecord, plaintext.length));
    const record = new Uint8Array(data.length + 1);
    record.set(data);
    record[data.length] = seq === count - 1 ? DELIM_FINAL : DELIM_RECORD;
    sealed.push(cipher.seal(recordNonce(nonceBase, seq), record));
  }
  const header = concat(salt, u32be(rs), Uint8Array.of(keyid.length), keyid);
  return concat(header, ...(await Promise.all(sealed)));
}

async function decryptWith(aead: AeadFactory, body: Uint8Array, ikm: Uint8Array, limits: Aes128gcmLimits): Promise<Aes128gcmDecrypted> {
  abytes('body', body);
  abytes('ikm', ikm);
  const maxRecordSize = checkLimit('maxRecordSize', limits.maxRecordSize ?? DEFAULT_MAX_RECORD_SIZE);
  const maxPlaintext = checkLimit('maxPlaintext', limits.maxPlaintext ?? DEFAULT_MAX_PLAINTEXT);

  const { salt, rs, keyid, headerLength } = parseHeader(body);
  if (rs > maxRecordSize) throw new JanusError('too_large', `aes128gcm: record size ${rs} exceeds ${maxRecordSize}`);
  const content = body.subarray(headerLength);
  // RFC 8188 §2: there is always a final record, at least tag + delimiter long.
  if (content.length === 0) throw new JanusError('malformed', 'aes128gcm: no records');
  // Records are cut every rs bytes; only the last may be shorter (RFC 8188 §2).
  const count = Math.ceil(content.length / rs);
  const lastLength = content.length - (count - 1) * rs;
  if (lastLength < TAG_LEN + 1) throw new JanusError('malformed', 'aes128gcm: truncated final record');
  // Upper bound of data + padding, checked before any work so a huge body costs nothing.
  if (content.length - count * (TAG_LEN + 1) > maxPlaintext) {
    throw new JanusError('too_large', `aes128gcm: plaintext exceeds ${maxPlaintext} bytes`);
  }

  const { cek, nonceBase } = deriveKeys(ikm, salt);
  const cipher = await aead(cek);
  const opened: Promise<Uint8Array | null>[] = [];
  for (let seq = 0; seq < count; seq++) {
    opened.push(cipher.open(recordNonce(nonceBase, seq), content.subarray(seq * rs, Math.min((seq + 1) * rs, content.length))));
  }
  const records = await Promise.all(opened);

  const parts: Uint8Array[] = [];
  for (let seq = 0; seq < count; seq++) {
    const record = records[seq];
    if (!record) throw new JanusError('decrypt_failed', `aes128gcm: record ${seq} does not authenticate`);
    // RFC 8188 §2: the delimiter is the last non-zero octet; everything after it is zero padding.
    let d = record.length - 1;
    while (d >= 0 && record[d] === 0) d--;
    if (d < 0) throw new JanusError('decrypt_failed', `aes128gcm: record ${seq} has no padding delimiter`);
    // RFC 8188 §2: 0x02 on the last record, 0x01 on every other one. This also catches a body
    // cut at a record boundary (its new last record says 0x01) and records after a final one.
    const want = seq === count - 1 ? DELIM_FINAL : DELIM_RECORD;
    if (record[d] !== want) throw new JanusError('decrypt_failed', `aes128gcm: record ${seq} has a wrong delimiter`);
    parts.push(record.subarray(0, d));
  }
  return { plaintext: concat(...parts), keyid, rs, salt };
}

/** RFC 8188 aes128gcm encoding on crypto.subtle. */
export async function encrypt(plaintext: Uint8Array, ikm: Uint8Array, opts: Aes128gcmOptions = {}): Promise<Uint8Array> {
  return encryptWith(subtleAead, plaintext, ikm, opts);
}

/** RFC 8188 aes128gcm decoding on crypto.subtle; every failure caused by `body` is a JanusError. */
export async function decrypt(body: Uint8Array, ikm: Uint8Array, limits: Aes128gcmLimits = {}): Promise<Aes128gcmDecrypted> {
  return decryptWith(subtleAead, body, ikm, limits);
}

/** The same coding on @noble/ciphers (pure JS): a cross-check and a fallback without crypto.subtle. */
export const aes128gcmNoble: { readonly encrypt: typeof encrypt; readonly decrypt: typeof decrypt } = Object.freeze({
  encrypt: (plaintext: Uint8Array, ikm: Uint8Array, opts: Aes128gcmOptions = {}) => encryptWith(nobleAead, plaintext, ikm, opts),
  decrypt: (body: Uint8Array, ikm: Uint8Array, limits: Aes128gcmLimits = {}) => decryptWith(nobleAead, body, ikm, limits),
});
