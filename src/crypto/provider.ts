/**
 * Where the symmetric primitives come from. The default is pure and Web-standard (@noble/hashes;
 * AES-GCM on crypto.subtle), so it runs in a service worker, a page and Node. A platform with a
 * faster native implementation (the vendor SDK on Node: node:crypto) installs its own provider;
 * tests run the vectors under both and cross-check them (src/server/node-crypto.test.ts).
 */
import { hkdf as nobleHkdf } from '@noble/hashes/hkdf.js';
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js';

export interface CryptoProvider {
  readonly name: string;
  /** Native primitives (node:crypto): synchronous calls beat crypto.subtle's promises at every size. */
  readonly native?: boolean;
  sha256(data: Uint8Array): Uint8Array;
  hmacSha256(key: Uint8Array, message: Uint8Array): Uint8Array;
  hkdfSha256(ikm: Uint8Array, salt: Uint8Array, info: Uint8Array, length: number): Uint8Array;
  /**
   * Optional synchronous AES-GCM (128-bit tag; ciphertext || tag). `open` returns null when the tag
   * does not verify. When absent, `janus-gcm` bodies (sealed.ts) use crypto.subtle.
   */
  /** Optional UTF-8 encoder, for a platform with a faster one than TextEncoder (Node's Buffer). */
  readonly utf8?: (s: string) => Uint8Array;
  readonly aesGcm?: {
    seal(key: Uint8Array, iv: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Uint8Array;
    open(key: Uint8Array, iv: Uint8Array, sealed: Uint8Array, aad: Uint8Array): Uint8Array | null;
  };
}

export const nobleProvider: CryptoProvider = {
  name: 'noble',
  sha256: (d) => nobleSha256(d),
  hmacSha256: (k, m) => hmac(nobleSha256, k, m),
  hkdfSha256: (ikm, salt, info, length) => nobleHkdf(nobleSha256, ikm, salt, info, length),
};

let current: CryptoProvider = nobleProvider;

export function cryptoProvider(): CryptoProvider {
  return current;
}

/** Installs `p` process-wide (or in this worker) and returns the previous provider. */
export function useCryptoProvider(p: CryptoProvider): CryptoProvider {
  const prev = current;
  current = p;
  return prev;
}
