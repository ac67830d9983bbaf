/**
 * SHA-256, HMAC-SHA256 and HKDF-SHA256 (RFC 2104, RFC 5869), synchronous, from the current crypto
 * provider (src/crypto/provider.ts: @noble/hashes by default, node:crypto in the vendor SDK).
 * Synchronous on purpose: the protocol derives several small keys per message, and WebCrypto's
 * async importKey/deriveBits round trips cost more than the hashing itself at these sizes.
 */
import { abytes } from './bytes.ts';
import { cryptoProvider } from './provider.ts';

export function sha256(data: Uint8Array): Uint8Array {
  return cryptoProvider().sha256(abytes('data', data));
}

export function hmacSha256(key: Uint8Array, message: Uint8Array): Uint8Array {
  return cryptoProvider().hmacSha256(abytes('key', key), abytes('message', message));
}

/** RFC 5869 HKDF-SHA256: extract with `salt` (empty = HashLen zeros), expand to `length` bytes. */
export function hkdfSha256(ikm: Uint8Array, salt: Uint8Array, info: Uint8Array, length: number): Uint8Array {
  if (!Number.isInteger(length) || length < 1 || length > 255 * 32) {
    throw new RangeError(`"length" expected 1..8160, got ${length}`);
  }
  return cryptoProvider().hkdfSha256(abytes('ikm', ikm), abytes('salt', salt), abytes('info', info), length);
}
