/**
 * The Web platform as the protocol core sees it: exactly what src/crypto and src/protocol use of
 * it, no more. tsconfig.core.json compiles the core against this file instead of the DOM, WebWorker
 * or Node declarations, so a use of anything else (a Buffer, a window, a DOM type) fails to compile.
 * Every name here has the same meaning in a service worker, a page and Node 20.
 */
export {};

declare global {
  type KeyUsage = 'encrypt' | 'decrypt' | 'sign' | 'verify' | 'deriveKey' | 'deriveBits' | 'wrapKey' | 'unwrapKey';
  type KeyFormat = 'raw' | 'spki' | 'pkcs8' | 'jwk';
  type BufferSource = ArrayBufferView<ArrayBuffer> | ArrayBuffer;

  interface Algorithm {
    name: string;
  }
  interface KeyAlgorithm {
    name: string;
  }
  interface RsaHashedKeyAlgorithm extends KeyAlgorithm {
    modulusLength: number;
    publicExponent: Uint8Array;
    hash: KeyAlgorithm;
  }
  interface CryptoKey {
    readonly algorithm: KeyAlgorithm;
    readonly extractable: boolean;
    readonly type: 'public' | 'private' | 'secret';
    readonly usages: KeyUsage[];
  }
  interface CryptoKeyPair {
    privateKey: CryptoKey;
    publicKey: CryptoKey;
  }
  type AlgorithmParams = Algorithm & Record<string, unknown>;

  interface SubtleCrypto {
    importKey(format: KeyFormat, keyData: BufferSource, algorithm: AlgorithmParams, extractable: boolean, keyUsages: readonly KeyUsage[]): Promise<CryptoKey>;
    exportKey(format: 'spki' | 'pkcs8' | 'raw', key: CryptoKey): Promise<ArrayBuffer>;
    generateKey(algorithm: AlgorithmParams, extractable: boolean, keyUsages: readonly KeyUsage[]): Promise<CryptoKeyPair>;
    encrypt(algorithm: AlgorithmParams, key: CryptoKey, data: BufferSource): Promise<ArrayBuffer>;
    decrypt(algorithm: AlgorithmParams, key: CryptoKey, data: BufferSource): Promise<ArrayBuffer>;
    sign(algorithm: AlgorithmParams, key: CryptoKey, data: BufferSource): Promise<ArrayBuffer>;
    verify(algorithm: AlgorithmParams, key: CryptoKey, signature: BufferSource, data: BufferSource): Promise<boolean>;
    digest(algorithm: string, data: BufferSource): Promise<ArrayBuffer>;
  }
  interface Crypto {
    readonly subtle: SubtleCrypto;
    getRandomValues<T extends Uint8Array>(array: T): T;
  }
  var crypto: Crypto;

  class TextEncoder {
    encode(input?: string): Uint8Array<ArrayBuffer>;
    encodeInto(source: string, destination: Uint8Array): { read: number; written: number };
  }
  class TextDecoder {
    constructor(label?: string, options?: { fatal?: boolean; ignoreBOM?: boolean });
    decode(input?: BufferSource | Uint8Array): string;
  }

  class URL {
    constructor(url: string | URL, base?: string | URL);
    readonly href: string;
    readonly origin: string;
    readonly protocol: string;
    readonly username: string;
    readonly password: string;
    readonly host: string;
    readonly hostname: string;
    readonly port: string;
    readonly pathname: string;
    readonly search: string;
    readonly hash: string;
    toString(): string;
  }
}
