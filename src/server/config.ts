/**
 * The vendor's configuration: one typed object with defaults (docs/VENDOR.md). Keys and the
 * key-encryption key come from files or the environment, never from code.
 */
import { readFileSync } from 'node:fs';
import { b64, b64u, concat, utf8 } from '../crypto/bytes.ts';
import { hkdfSha256 } from '../crypto/hash.ts';
import { certificateInfo, parseVendorPublicKey, spkiFingerprint } from '../crypto/rsa.ts';
import { JanusError } from '../errors.ts';
import { checkWindow, defaultPolicy, nowSeconds, vendorIdentity, type JsonObject, type ReceiptPolicy, type SubscribePolicy, type VendorKeys } from '../protocol/index.ts';
import { createPublicKey, createPrivateKey } from 'node:crypto';

export interface VendorLimits {
  /** Largest request body the vendor reads (413 `too_large` beyond). */
  maxBodyBytes: number;
  /** Largest single header value and total header bytes. */
  maxHeaderBytes: number;
  /**
   * Bytes of request bodies the vendor holds, all requests together, before their MAC verified
   * (503 `overloaded` beyond). Bodies are read only after the headers passed every keyless check.
   */
  unverifiedBodyBytes: number;
}

export interface RateLimits {
  /** SKEP message 1 (an RSA decryption) per client address per minute. */
  skepPerAddressPerMinute: number;
  /** SKEP message 1 per alias per minute, counted only for messages that passed every check before the decryption. */
  skepPerAliasPerMinute: number;
  /** Key rotations (an RSA decryption each) per client per minute. */
  rotatePerAliasPerMinute: number;
  /**
   * Verified secure requests per client per slot (5 minutes): each leaves a one-time value in the
   * replay memory until its window ends, so this caps that memory per client.
   */
  requestsPerClientPerSlot: number;
}

/**
 * Where the client's address comes from when the vendor sits behind a proxy (a TLS terminator):
 * the `hops`-th address from the right of `header` (a list as in X-Forwarded-For), written by the
 * proxies the vendor trusts. Only believed when the TCP peer is in `from` (when given).
 */
export interface TrustProxy {
  /** Default `x-forwarded-for`. */
  header?: string;
  /** How many proxies in front of the vendor append to `header`; default 1. */
  hops?: number;
  /** The proxies' own addresses; absent: any peer (the vendor must then be reachable only through them). */
  from?: readonly string[];
}

export interface VendorKeyMaterial {
  /** PKCS#8 PEM of the vendor's RSA key (3072 bits or more). */
  privateKeyPem: string;
  /** Optional X.509 certificate (PEM) published in the discovery document. */
  certificatePem?: string;
  /** 32-byte key-encryption key: encrypts client keys at rest, derives the SKEP-token and challenge keys. */
  kek: Uint8Array;
}

export interface VendorConfig {
  /** id_V: the origin clients reach this vendor at, e.g. "https://quotes.example". */
  origin: string;
  keys: VendorKeyMaterial;
  /** Slot acceptance window w (docs/PROTOCOL.md §4). Default 1. */
  window?: number;
  /** Non-repudiation SKEP: "none", "offered" (default) or "required". */
  receipt?: ReceiptPolicy;
  /** Display name and subscription description in the discovery document. */
  name?: string;
  subscription?: JsonObject;
  /** Judges subscription data: validity and the receipt's terms. Default: valid from now, forever. */
  policy?: SubscribePolicy;
  limits?: Partial<VendorLimits>;
  rateLimits?: Partial<RateLimits>;
  /** The client's address for the rate limits: the TCP peer (default), or what trusted proxies say. */
  trustProxy?: TrustProxy | false;
  /**
   * Protected paths are matched case-insensitively unless this is true (docs/PROTOCOL.md §5.1): set
   * it only when every server behind the vendor tells `/API/x` from `/api/x`.
   */
  caseSensitivePaths?: boolean;
  /** Called after a key rotation moved a client to a new alias (a secret change), so app tables keyed by alias can follow. */
  onRotate?: (oldAlias: string, newAlias: string) => void | Promise<void>;
  /** Clock in Unix seconds (tests). */
  now?: () => number;
}

export interface ResolvedConfig {
  readonly idV: string;
  readonly vk: VendorKeys;
  /** The record key: AES-256-GCM key for client keys at rest. */
  readonly rk: Uint8Array;
  readonly spkiB64u: string;
  readonly fingerprint: string;
  readonly certificatePem: string | undefined;
  readonly name: string | undefined;
  readonly subscription: JsonObject | undefined;
  readonly policy: SubscribePolicy;
  readonly limits: VendorLimits;
  readonly rateLimits: RateLimits;
  readonly trustProxy: Required<Omit<TrustProxy, 'from'>> & { from: ReadonlySet<string> | null } | null;
  readonly caseSensitivePaths: boolean;
  readonly now: () => number;
  readonly onRotate: ((oldAlias: string, newAlias: string) => void | Promise<void>) | undefined;
}

export const DEFAULT_LIMITS: VendorLimits = { maxBodyBytes: 1024 * 1024, maxHeaderBytes: 16 * 1024, unverifiedBodyBytes: 32 * 1024 * 1024 };
export const DEFAULT_RATE_LIMITS: RateLimits = { skepPerAddressPerMinute: 30, skepPerAliasPerMinute: 5, rotatePerAliasPerMinute: 5, requestsPerClientPerSlot: 6000 };

const positive = (what: string, n: unknown) => {
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 1) throw new JanusError('bad_input', `${what} must be a positive whole number, got ${String(n)}`);
};

function resolveTrustProxy(t: TrustProxy | false | undefined): ResolvedConfig['trustProxy'] {
  if (!t) return null;
  const header = (t.header ?? 'x-forwarded-for').toLowerCase();
  if (!/^[a-z0-9-]+$/.test(header)) throw new JanusError('bad_input', `trustProxy.header must be a header name, got ${t.header}`);
  const hops = t.hops ?? 1;
  if (!Number.isSafeInteger(hops) || hops < 1 || hops > 10) throw new JanusError('bad_input', `trustProxy.hops must be 1..10, got ${hops}`);
  return { header, hops, from: t.from ? new Set(t.from.map(plainAddress)) : null };
}

/** An IPv4-mapped IPv6 address (Node's dual-stack sockets) as plain IPv4; brackets dropped. */
export function plainAddress(a: string): string {
  const s = a.trim().replace(/^\[(.*)\]$/, '$1');
  const m = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(s);
  return (m ? m[1]! : s).toLowerCase();
}

/** Each derived key has its own label, so the one KEK can be shared by all instances. */
function derive(kek: Uint8Array, label: string): Uint8Array {
  return hkdfSha256(kek, new Uint8Array(0), concat(utf8('janus vendor '), utf8(label)), 32);
}

export function resolveConfig(c: VendorConfig): ResolvedConfig {
  const idV = vendorIdentity(c.origin);
  if (idV !== c.origin.replace(/\/$/, '')) {
    throw new JanusError('bad_input', `origin must be an origin like ${idV}, got ${c.origin}`);
  }
  if (!(c.keys.kek instanceof Uint8Array) || c.keys.kek.length !== 32) throw new JanusError('bad_input', 'the key-encryption key must be 32 bytes');
  let pkcs8: Uint8Array;
  let spki: Uint8Array;
  try {
    const priv = createPrivateKey(c.keys.privateKeyPem);
    pkcs8 = new Uint8Array(priv.export({ format: 'der', type: 'pkcs8' }));
    spki = new Uint8Array(createPublicKey(priv).export({ format: 'der', type: 'spki' }));
  } catch (e) {
    throw new JanusError('bad_vendor_key', `the vendor private key could not be read: ${(e as Error).message}`);
  }
  const pub = parseVendorPublicKey({ spki: b64u.encode(spki) });
  if (c.keys.certificatePem) {
    const info = certificateInfo(c.keys.certificatePem);
    if (spkiFingerprint(info.spki) !== pub.fingerprint) throw new JanusError('bad_vendor_key', 'the certificate is not for the vendor key');
  }
  const window = checkWindow(c.window ?? 1);
  const kek = c.keys.kek;
  const limits = { ...DEFAULT_LIMITS, ...c.limits };
  const rateLimits = { ...DEFAULT_RATE_LIMITS, ...c.rateLimits };
  for (const [k, v] of Object.entries(limits)) positive(`limits.${k}`, v);
  for (const [k, v] of Object.entries(rateLimits)) positive(`rateLimits.${k}`, v);
  if (limits.unverifiedBodyBytes < limits.maxBodyBytes) {
    throw new JanusError('bad_input', `limits.unverifiedBodyBytes (${limits.unverifiedBodyBytes}) must be at least limits.maxBodyBytes (${limits.maxBodyBytes}): else no body of the largest size is ever read`);
  }
  return {
    idV,
    vk: { idV, spki, pkcs8, tk: derive(kek, 'skep token key'), ck: derive(kek, 'challenge key'), window, receipt: c.receipt ?? 'offered' },
    rk: derive(kek, 'record key'),
    spkiB64u: b64u.encode(spki),
    fingerprint: pub.fingerprint,
    certificatePem: c.keys.certificatePem,
    name: c.name,
    subscription: c.subscription,
    policy: c.policy ?? defaultPolicy,
    limits,
    rateLimits,
    trustProxy: resolveTrustProxy(c.trustProxy),
    caseSensitivePaths: c.caseSensitivePaths === true,
    now: c.now ?? nowSeconds,
    onRotate: c.onRotate,
  };
}


/** Reads a KEK: 32 bytes as base64 (standard or url-safe) text. */
export function parseKek(text: string): Uint8Array {
  const t = text.trim().replace(/-/g, '+').replace(/_/g, '/');
  const padded = t + '='.repeat((4 - (t.length % 4)) % 4);
  let k: Uint8Array;
  try {
    k = b64.decode(padded);
  } catch {
    throw new JanusError('bad_input', 'the key-encryption key must be 32 bytes in base64');
  }
  if (k.length !== 32) throw new JanusError('bad_input', `the key-encryption key must be 32 bytes, got ${k.length}`);
  return k;
}

/**
 * Key material from files, or from the environment when a path is not given:
 * JANUS_PRIVATE_KEY (PEM), JANUS_CERTIFICATE (PEM, optional), JANUS_KEK (base64).
 */
export function loadKeyMaterial(paths: { privateKey?: string; certificate?: string; kek?: string } = {}, env: NodeJS.ProcessEnv = process.env): VendorKeyMaterial {
  const read = (p: string, what: string) => {
    try {
      return readFileSync(p, 'utf8');
    } catch (e) {
      throw new JanusError('bad_input', `cannot read the ${what} at ${p}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  };
  const privateKeyPem = paths.privateKey ? read(paths.privateKey, 'private key') : env['JANUS_PRIVATE_KEY'];
  if (!privateKeyPem) throw new JanusError('bad_input', 'no vendor private key: give a key file or set JANUS_PRIVATE_KEY');
  const certificatePem = paths.certificate ? read(paths.certificate, 'certificate') : env['JANUS_CERTIFICATE'];
  const kekText = paths.kek ? read(paths.kek, 'key-encryption key') : env['JANUS_KEK'];
  if (!kekText) throw new JanusError('bad_input', 'no key-encryption key: give a KEK file or set JANUS_KEK');
  return { privateKeyPem, ...(certificatePem ? { certificatePem } : {}), kek: parseKek(kekText) };
}

