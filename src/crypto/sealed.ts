/**
 * The `janus-gcm` content coding (docs/PROTOCOL.md §6.4): one AES-256-GCM message under K_n^e,
 *
 *   body = iv (12 bytes) || ciphertext || tag (16 bytes)
 *
 * with a fresh random iv per message and the caller's additional data. It replaces RFC 8188
 * aes128gcm, whose per-message HKDF and records cost the vendor four more primitive calls per
 * response than this one AEAD call (bench/framing.ts).
 *
 * `seal`/`open` use the provider's synchronous AES-GCM when it has one (node:crypto in the vendor),
 * else crypto.subtle; `sealedNoble` is the same coding on @noble/ciphers, to cross-check both in
 * tests. `open` returns null when the tag does not verify: the caller names the error (a response
 * that does not authenticate is `bad_signature`, a request body `decrypt_failed`). Framing and
 * limits are JanusError('malformed' | 'too_large').
 */
import { gcm } from '@noble/ciphers/aes.js';
import { JanusError } from '../errors.ts';
import { abytes, randomBytes } from './bytes.ts';
import { cryptoProvider } from './provider.ts';

/** The Content-Encoding token. */
export const CODING = 'janus-gcm';
export const IV_LEN = 12;
const TAG_LEN = 16;
const KEY_LEN = 32;
/** Bytes a sealed body adds to its plaintext. */
export const OVERHEAD = IV_LEN + TAG_LEN;

interface Aead {
  seal(key: Uint8Array, iv: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Promise<Uint8Array>;
  open(key: Uint8Array, iv: Uint8Array, sealed: Uint8Array, aad: Uint8Array): Promise<Uint8Array | null>;
}

/** WebCrypto wants ArrayBuffer-backed views; copy only when the view sits on something else. */
function ab(b: Uint8Array): Uint8Array<ArrayBuffer> {
  return b.buffer instanceof ArrayBuffer ? (b as Uint8Array<ArrayBuffer>) : new Uint8Array(b);
}

const subtleKey = (key: Uint8Array, use: 'encrypt' | 'decrypt') => crypto.subtle.importKey('raw', ab(key), { name: 'AES-GCM' }, false, [use]);

const defaultAead: Aead = {
  async seal(key, iv, plaintext, aad) {
    const g = cryptoProvider().aesGcm;
    if (g) return g.seal(key, iv, plaintext, aad);
    const ct = await crypto.subtle.encrypt({ name: 'AES-GCM', iv: ab(iv), additionalData: ab(aad), tagLength: 128 }, await subtleKey(key, 'encrypt'), ab(plaintext));
    return new Uint8Array(ct);
  },
  async open(key, iv, sealed, aad) {
    const g = cryptoProvider().aesGcm;
    if (g) return g.open(key, iv, sealed, aad);
    try {
      const pt = await crypto.subtle.decrypt({ name: 'AES-GCM', iv: ab(iv), additionalData: ab(aad), tagLength: 128 }, await subtleKey(key, 'decrypt'), ab(sealed));
      return new Uint8Array(pt);
    } catch {
      return null; // OperationError: the tag does not verify
    }
  },
};

const nobleAead: Aead = {
  seal: async (key, iv, plaintext, aad) => gcm(key, iv, aad).encrypt(plaintext),
  async open(key, iv, sealed, aad) {
    try {
      return gcm(key, iv, aad).decrypt(sealed);
    } catch {
      return null;
    }
  },
};

/** Checks the inputs and picks the iv (random unless a test vector fixes it). */
function ivFor(key: Uint8Array, plaintext: Uint8Array, iv?: Uint8Array): Uint8Array {
  abytes('key', key, KEY_LEN);
  abytes('plaintext', plaintext);
  return iv === undefined ? randomBytes(IV_LEN) : abytes('iv', iv, IV_LEN);
}

/** iv || ciphertext || tag. */
function frame(iv: Uint8Array, ct: Uint8Array): Uint8Array {
  const body = new Uint8Array(IV_LEN + ct.length);
  body.set(iv);
  body.set(ct, IV_LEN);
  return body;
}

async function sealWith(aead: Aead, key: Uint8Array, plaintext: Uint8Array, aad: Uint8Array, iv?: Uint8Array): Promise<Uint8Array> {
  const n = ivFor(key, plaintext, iv);
  return frame(n, await aead.seal(key, n, plaintext, aad));
}

async function openWith(aead: Aead, key: Uint8Array, body: Uint8Array, aad: Uint8Array, maxPlaintext: number): Promise<Uint8Array | null> {
  abytes('key', key, KEY_LEN);
  abytes('body', body);
  if (body.length < OVERHEAD) throw new JanusError('malformed', `${CODING}: a body is at least ${OVERHEAD} bytes, got ${body.length}`);
  // Checked before any work, so a huge body costs nothing.
  if (body.length - OVERHEAD > maxPlaintext) throw new JanusError('too_large', `${CODING}: plaintext exceeds ${maxPlaintext} bytes`);
  return aead.open(key, body.subarray(0, IV_LEN), body.subarray(IV_LEN), aad);
}

/** Seals `plaintext` under a 32-byte key with additional data `aad`; `iv` is for test vectors only. */
export function seal(key: Uint8Array, plaintext: Uint8Array, aad: Uint8Array, iv?: Uint8Array): Promise<Uint8Array> {
  const g = cryptoProvider().aesGcm;
  if (!g) return sealWith(defaultAead, key, plaintext, aad, iv);
  // A synchronous provider (node:crypto): no promise hops on the vendor's hot path.
  try {
    const n = ivFor(key, plaintext, iv);
    return Promise.resolve(frame(n, g.seal(key, n, plaintext, aad)));
  } catch (e) {
    return Promise.reject(e instanceof Error ? e : new Error(String(e)));
  }
}

/** The plaintext, or null when the tag does not verify (wrong key, aad or bytes). */
export function open(key: Uint8Array, body: Uint8Array, aad: Uint8Array, maxPlaintext: number): Promise<Uint8Array | null> {
  return openWith(defaultAead, key, body, aad, maxPlaintext);
}

/**
 * Plain synchronous AES-GCM (96-bit IV, 128-bit tag; ciphertext || tag) for the vendor's own small
 * tokens and stored keys: the provider's native AES-GCM when it has one (node:crypto, about 3 us for
 * a SKEP token), else @noble/ciphers (about 100 us: it builds its GHASH table per key). Same bytes
 * either way. `open` returns null when the tag does not verify.
 */
export const aesGcmSync = Object.freeze({
  seal(key: Uint8Array, iv: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Uint8Array {
    const g = cryptoProvider().aesGcm;
    return g ? g.seal(key, iv, plaintext, aad) : gcm(key, iv, aad).encrypt(plaintext);
  },
  open(key: Uint8Array, iv: Uint8Array, sealed: Uint8Array, aad: Uint8Array): Uint8Array | null {
    const g = cryptoProvider().aesGcm;
    if (g) return g.open(key, iv, sealed, aad);
    try {
      return gcm(key, iv, aad).decrypt(sealed);
    } catch {
      return null;
    }
  },
});

/** The same coding on @noble/ciphers (pure JS): a cross-check for the native and WebCrypto paths. */
export const sealedNoble = Object.freeze({
  seal: (key: Uint8Array, plaintext: Uint8Array, aad: Uint8Array, iv?: Uint8Array) => sealWith(nobleAead, key, plaintext, aad, iv),
  open: (key: Uint8Array, body: Uint8Array, aad: Uint8Array, maxPlaintext: number) => openWith(nobleAead, key, body, aad, maxPlaintext),
});
