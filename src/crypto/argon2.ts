/**
 * Argon2id (RFC 9106), the cost of every unlock (docs/PROTOCOL.md §3.3). Two implementations that
 * must agree byte for byte (argon2.test.ts, and the vectors under both):
 *
 * - WebAssembly (hash-wasm): about four times faster than JavaScript, so an unlock at the real
 *   parameters takes well under a second (bench/extension.ts). It runs in one go, so its progress
 *   is only "started" and "done". The extension's pages allow it with `'wasm-unsafe-eval'`
 *   (manifest.json); where WebAssembly cannot be compiled, the JavaScript one takes over.
 * - JavaScript (@noble/hashes), asynchronous: it yields to the event loop every few milliseconds
 *   and reports its progress. Also used for the secret value and associated data of RFC 9106,
 *   which Janus does not use and hash-wasm does not offer.
 */
import { argon2idAsync } from '@noble/hashes/argon2.js';
import { argon2id as wasmArgon2id } from 'hash-wasm';
import { abytes } from './bytes.ts';

export interface Argon2Params {
  /** Memory in KiB (RFC 9106 §3.1 "m"). */
  m: number;
  /** Passes (RFC 9106 §3.1 "t"). */
  t: number;
  /** Lanes (RFC 9106 §3.1 "p"). */
  p: number;
}

/**
 * Janus parameters: RFC 9106 §4 second recommended option (64 MiB, 3 passes), with p = 1 because
 * JavaScript runs the lanes sequentially anyway, so more lanes only cost time.
 */
export const JANUS_ARGON2: Argon2Params = Object.freeze({ m: 65536, t: 3, p: 1 });

/** noble allocates the whole matrix at once; 1 GiB (its default `maxmem`) is the most we allow. */
const MAX_M_KIB = 1024 * 1024;
/** Milliseconds of hashing between yields: short enough for a responsive service worker. */
const ASYNC_TICK_MS = 10;

interface Argon2Options {
  /** Tag length in bytes, RFC 9106 §3.1 "T" (4..2^32-1); default 32. */
  dkLen?: number;
  /**
   * Called with the completed fraction: non-decreasing, last call 1. JavaScript reports as it goes
   * (every call above 0); WebAssembly runs in one go and reports 0, then 1.
   */
  onProgress?: (fraction: number) => void;
  /** RFC 9106 §3.1 secret value "K". */
  key?: Uint8Array;
  /** RFC 9106 §3.1 associated data "X". */
  personalization?: Uint8Array;
  /** Which implementation (tests): default WebAssembly where it can run, else JavaScript. */
  engine?: 'wasm' | 'js';
}

/** Whether WebAssembly ran here; decided by the first derivation that tries it. */
let wasmWorks: boolean | undefined;
let wasmImpl: typeof wasmArgon2id = wasmArgon2id;

/** Tests: puts another WebAssembly implementation in place (one that fails, to see the fallback); null restores. */
export function _useWasmArgon2(impl: typeof wasmArgon2id | null): void {
  wasmImpl = impl ?? wasmArgon2id;
  wasmWorks = undefined;
}

/** Which engine the last derivation used (bench, tests). */
export let argon2Engine: 'wasm' | 'js' | null = null;

function checkInt(name: string, v: unknown, min: number, max: number): void {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) {
    throw new RangeError(`"${name}" expected an integer in ${min}..${max}, got ${String(v)}`);
  }
}

/** Asserts parameters RFC 9106 §3.1 accepts (and that fit in memory here): RangeError otherwise. */
function checkArgon2Params(params: Argon2Params): void {
  if (typeof params !== 'object' || params === null) throw new TypeError('"params" expected an object');
  checkInt('params.p', params.p, 1, 2 ** 24 - 1); // §3.1: p in 1..2^24-1
  checkInt('params.t', params.t, 1, 2 ** 32 - 1); // §3.1: t >= 1
  checkInt('params.m', params.m, 8 * params.p, MAX_M_KIB); // §3.1: m >= 8*p KiB
}

export async function argon2id(
  password: Uint8Array,
  salt: Uint8Array,
  params: Argon2Params,
  opts: Argon2Options = {},
): Promise<Uint8Array> {
  abytes('password', password);
  abytes('salt', salt);
  // RFC 9106 §3.1 allows shorter salts, but noble (and prudence) require 8 bytes; 16 is recommended.
  if (salt.length < 8) throw new RangeError(`"salt" expected at least 8 bytes, got ${salt.length}`);
  checkArgon2Params(params);
  const dkLen = opts.dkLen ?? 32;
  checkInt('dkLen', dkLen, 4, 2 ** 32 - 1); // §3.1: T in 4..2^32-1
  if (opts.key !== undefined) abytes('key', opts.key);
  if (opts.personalization !== undefined) abytes('personalization', opts.personalization);
  if (opts.onProgress !== undefined && typeof opts.onProgress !== 'function') {
    throw new TypeError('"onProgress" expected a function');
  }
  const wantWasm = opts.engine !== 'js' && opts.key === undefined && opts.personalization === undefined;
  if (wantWasm && (wasmWorks !== false || opts.engine === 'wasm')) {
    try {
      opts.onProgress?.(0);
      const tag = await wasmImpl({
        password,
        salt,
        parallelism: params.p,
        iterations: params.t,
        memorySize: params.m,
        hashLength: dkLen,
        outputType: 'binary',
      });
      wasmWorks = true;
      argon2Engine = 'wasm';
      opts.onProgress?.(1);
      return tag;
    } catch (e) {
      // No WebAssembly here (a CSP without 'wasm-unsafe-eval', say): JavaScript from now on.
      if (opts.engine === 'wasm' || wasmWorks === true) throw e;
      wasmWorks = false;
    }
  }
  argon2Engine = 'js';
  return argon2idAsync(password, salt, {
    m: params.m,
    t: params.t,
    p: params.p,
    version: 0x13, // RFC 9106 §3.1: v = 0x13
    dkLen,
    key: opts.key,
    personalization: opts.personalization,
    onProgress: opts.onProgress,
    asyncTick: ASYNC_TICK_MS,
    maxmem: MAX_M_KIB * 1024,
  });
}
