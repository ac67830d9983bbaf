/**
 * The shape of each test vector file (test/vectors/*.json, docs/PROTOCOL.md §16): what
 * scripts/gen-vectors.ts writes and test/vectors.test.ts reads, one type per file, so that the
 * generator and the test agree on one shape checked by the compiler. Field names are the files'
 * (snake_case, as on the wire); binary values are hex (`Hex`), b64u where the protocol stores
 * them so (`B64u`). Times are Unix seconds.
 */
import type { Argon2Params } from '../../src/crypto/argon2.ts';
import type { DeliveryLevel, ErrorCode, JsonObject, Level, ReceiptPolicy } from '../../src/protocol/index.ts';
import type { WireReq, WireRes } from './support.ts';

export type { WireReq, WireRes };

/** Bytes in lowercase hex. */
export type Hex = string;
/** Bytes in unpadded base64url (§2), as the protocol carries them. */
export type B64u = string;

// ---------------------------------------------------------------------------------------------
// Shared parts

/** The vector vendor (§5, §7.2, §9.1): the same in skep.json, sddp.json, eddp.json and rotate.json. */
export interface VendorVector {
  /** id_V: the vendor's origin (§3). */
  id_v: string;
  /** The RSA public key, DER SubjectPublicKeyInfo. */
  spki: Hex;
  /** The RSA private key, DER PKCS #8: recorded so that RSA-OAEP ciphertexts can be decrypted. */
  pkcs8: Hex;
  /** The key's pin: b64u SHA-256 of the SPKI (§5). */
  fingerprint: B64u;
  /** The SKEP token key (§7.2). */
  tk: Hex;
  /** The EDDP challenge key (§9.1). */
  ck: Hex;
  /** The acceptance window, in slots either side of the current one (§4). */
  window: number;
  /** The receipt policy it publishes (§5, §12): none, offered or required. */
  receipt: ReceiptPolicy;
}

/** A client's key with one vendor (§3). */
export interface ClientKeyVector {
  /** id_C: the canonical identity. */
  id_c: string;
  /** The Argon2id master key. */
  master: Hex;
  id_v: string;
  /** The client's alias with this vendor. */
  alias: B64u;
  /** The key generation. */
  gen: number;
  /** K: the client's key with this vendor at `gen`. */
  k: Hex;
}

/** A client key together with the identity, secret and Argon2id parameters it comes from (§3). */
export interface StretchedClientVector {
  /** The identity as typed (canonicalized into id_c). */
  identity: string;
  secret: string;
  params: Argon2Params;
  id_c: string;
  master: Hex;
  alias: B64u;
  gen: number;
  k: Hex;
}

/** A PayWord commitment (§11.1): the chain id, its length and its anchor. */
export interface PaywordVector {
  /** The chain id. */
  sub: B64u;
  /** N: the number of deliveries. */
  n: number;
  /** The anchor w_0. */
  w0: B64u;
}

/** The vendor's state of a PayWord chain (§11.2). */
export interface ChainVector extends PaywordVector {
  /** Deliveries made. */
  delivered: number;
  /** a: the last delivery acknowledged (0: none). */
  acked: number;
  /** w_a: the word of the last acknowledgement (w_0 when none). */
  acked_w: B64u;
}

/** The parts of a vendor's client record a rotation reads and changes (§13). */
export interface RecordVector {
  alias: B64u;
  gen: number;
  /** The open chain, if any. */
  chain: ChainVector | null;
  /** Chains settled by earlier rotations: their subs may not be used again. */
  closed_chains: ChainVector[];
  /** Whether the record holds a receipt (non-repudiation SKEP, §12). */
  receipt: boolean;
}

/** A request with the error code the vendor must refuse it with. */
export interface InvalidRequestVector {
  name: string;
  request: WireReq;
  error: ErrorCode;
  why?: string;
}

/**
 * An answer to the request of the run `answers`, sealed under that request's key but breaking a
 * rule (§6.3, §11.2, §13): the client must refuse it with `error` after opening it.
 */
export interface InvalidResponseVector {
  name: string;
  /** The name of the run whose request this answers. */
  answers: string;
  why: string;
  response: WireRes;
  error: ErrorCode;
}

// ---------------------------------------------------------------------------------------------
// janus.json (§3)

export interface JanusVectors {
  description: string;
  identities: { input: string; id_c: string }[];
  invalid_identities: { input: string; error: ErrorCode }[];
  vendor_ids: { url: string; id_v: string }[];
  invalid_vendor_ids: { url: string; error: ErrorCode }[];
  /** Argon2id master keys (real and small parameters). */
  masters: {
    identity: string;
    secret: string;
    params: Argon2Params;
    id_c: string;
    /** The Argon2id salt derived from id_c. */
    salt: Hex;
    master: Hex;
  }[];
  /** Vendor keys K at a generation, and the alias (which does not depend on it), from a master. */
  vendor_keys: { master: Hex; id_c: string; id_v: string; gen: number; k: Hex; alias: B64u }[];
}

// ---------------------------------------------------------------------------------------------
// slot.json (§4, §10)

export interface SlotVectors {
  description: string;
  /** The client of invalid_credentials. */
  client: ClientKeyVector;
  /** The slot n of a time. */
  slots: { time: number; n: number }[];
  /** The slot keys K_n^e (`ke`) and K_n^m (`km`) of K for slot n. */
  slot_keys: { k: Hex; n: number; ke: Hex; km: Hex }[];
  /** Slot credentials made at `time`: `value` is the credential. */
  credentials: { alias: B64u; gen: number; k: Hex; id_v: string; time: number; value: string }[];
  /** Credentials the vendor refuses at `now` with its acceptance `window`. */
  invalid_credentials: { value: string; now: number; window: number; error: ErrorCode; why?: string }[];
}

// ---------------------------------------------------------------------------------------------
// skep.json (§7, §12)

/** What the client holds after SKEP (`SkepResult`, as JSON). */
export interface SkepResultVector {
  alias: B64u;
  gen: number;
  registeredAt: number;
  validFrom: number;
  validUntil: number | null;
  /** The vendor's signed receipt (non-repudiation SKEP, §12). */
  receipt: { alg: 'PS256'; payload: B64u; sig: B64u; fingerprint: B64u } | null;
  /** The PayWord chain the receipt commits to (§11.1). */
  payword: PaywordVector | null;
  /** The fingerprint of the vendor key the client pinned. */
  fingerprint: B64u;
}

export interface SkepRunVector {
  name: string;
  client: StretchedClientVector;
  now: number;
  /** data_C: the subscription data the client sends in message 3 (§7.3). */
  data: JsonObject;
  /** Whether the client asks for a receipt (non-repudiation SKEP, §12). */
  receipt_requested: boolean;
  /** The length of the PayWord chain the client commits to; 0: none. */
  chain: number;
  /** The recorded random inputs. */
  fixed: {
    /** N_C (message 1). */
    n_c: Hex;
    /** The nonce of message 3. */
    n_c3: Hex;
    /** The body IV of message 3. */
    body_iv3: Hex;
    /** The chain id, when `chain` is set. */
    sub: B64u;
    /** The SKEP token's IV (§7.2). */
    token_iv: Hex;
    /** The SKEP token's random value (§7.2). */
    token_r: Hex;
    /** The body IV of message 2. */
    body_iv2: Hex;
    /** The body IV of message 4. */
    body_iv4: Hex;
  };
  /** The key transport plaintext RSA-OAEP encrypts in message 1 (§7.1). */
  oaep_plaintext: Hex;
  /** The RSA-OAEP label (§7.1). */
  oaep_label: string;
  messages: { m1: WireReq; m2: WireRes; m3: WireReq; m4: WireRes };
  result: SkepResultVector;
  /** The parts that are randomized by definition, checked by decryption or verification. */
  randomized: string[];
}

export interface SkepVectors {
  description: string;
  vendor: VendorVector;
  runs: SkepRunVector[];
}

// ---------------------------------------------------------------------------------------------
// sddp.json and eddp.json (§6, §8, §9, §11)

/** One signed request and the vendor's sealed answer, both sides reproduced. */
export interface DeliveryRunVector {
  name: string;
  level: DeliveryLevel;
  /** The client's alias, generation and key (its record: the SKEP run's, as the earlier runs left it). */
  alias: B64u;
  gen: number;
  k: Hex;
  now: number;
  /** The recorded random inputs. */
  fixed: {
    /** n_C of the request (§6.1). */
    nonce: Hex;
    /** The request body's IV. */
    body_iv: Hex;
    /** The response body's IV. */
    response_iv: Hex;
    /** The random value of the next challenge the answer carries (§9.2). */
    next_challenge_r: Hex;
  };
  /** The request body before encryption ('' when the request has none). */
  request_plaintext: string;
  /** What the vendor answered, in words (for the reader; not checked). */
  answer: string;
  /** Present when the application answered with its own error, which the vendor sealed. */
  application_error?: { code: ErrorCode; message: string };
  /** The response body before encryption. */
  response_plaintext: string;
  /** eddp+receipts: the client's chain as the vendor holds it after this run. */
  chain_after?: ChainVector | null;
  request: WireReq;
  response: WireRes;
}

/** A signed request sent after the run `after`, refused with `error`; it stores nothing. */
export interface RefusedRequestVector {
  name: string;
  /** The name of the run it follows. */
  after: string;
  level: DeliveryLevel;
  why: string;
  request: WireReq;
  error: ErrorCode;
}

export interface SddpVectors {
  description: string;
  vendor: VendorVector;
  /** In order: each run's record is the one the run before left. */
  runs: DeliveryRunVector[];
  /** Mutated requests, and a signed request the vendor must refuse, with their errors. */
  invalid: InvalidRequestVector[];
  invalid_responses: InvalidResponseVector[];
}

export interface EddpVectors {
  description: string;
  vendor: VendorVector;
  /** Challenges issued to `alias` at `now` with the random value `r` (§9.1). */
  challenges: { alias: B64u; now: number; r: Hex; challenge: string; expires: number }[];
  invalid_challenges: { alias: B64u; challenge: string; now: number; error: ErrorCode; why: string }[];
  /** In order: each run's record is the one the run before left. */
  runs: DeliveryRunVector[];
  refused: RefusedRequestVector[];
  invalid: InvalidRequestVector[];
  invalid_responses: InvalidResponseVector[];
}

// ---------------------------------------------------------------------------------------------
// payword.json (§11)

/** An acknowledgement header checked against a stored chain: accepted (the chain after) or refused. */
type AckCheckVector = { header: string; chain: ChainVector; why: string } & (
  | { accepted: { acked: number; acked_w: B64u }; error?: undefined }
  | { error: ErrorCode; accepted?: undefined }
);

export interface PaywordVectors {
  description: string;
  /** Chains of K for `sub`: `seed` is r = w_N, `words` are w_0..w_N (hex). */
  chains: { k: Hex; sub: B64u; n: number; seed: Hex; words: Hex[] }[];
  /** The Janus-Ack header of delivery `i` (its word from the second chain). */
  acks: { sub: B64u; i: number; header: string }[];
  ack_checks: AckCheckVector[];
  /** Janus-Ack headers that do not parse. */
  invalid_acks: { header: string; error: ErrorCode; why: string }[];
}

// ---------------------------------------------------------------------------------------------
// rotate.json (§13)

/** What the client makes of the rotation's answer: the new key's session, or the error. */
export type RotateClientResultVector =
  | { alias: B64u; gen: number; payword: PaywordVector | null; receipt: boolean }
  | { error: ErrorCode; details?: Record<string, unknown> };

export interface RotateRunVector {
  name: string;
  description: string;
  /** The key rotated from. */
  old: StretchedClientVector;
  /** The key rotated to. */
  next: StretchedClientVector;
  /** The vendor's record before. */
  record: RecordVector;
  now: number;
  /** The recorded random inputs. */
  fixed: {
    /** n_C of the request, also the nonce in the key transport plaintext. */
    nonce: Hex;
    body_iv: Hex;
    response_iv: Hex;
    /** The new chain's id, when one is committed. */
    sub: B64u;
  };
  /** The key transport plaintext RSA-OAEP encrypts inside the request body (§13). */
  oaep_plaintext: Hex;
  request: WireReq;
  response: WireRes;
  /** Whether the vendor rotated (false: the sealed ack_required under the old key). */
  rotated: boolean;
  /** The vendor's record after. */
  record_after: RecordVector;
  client_result: RotateClientResultVector;
  /** The parts that are randomized by definition, checked by decryption or verification. */
  randomized: string[];
}

/** A signed rotation request the vendor must refuse, before any RSA work. */
export interface InvalidRotationVector {
  name: string;
  why: string;
  /** The vendor's record it is checked against. */
  record: RecordVector;
  /** The key the request is signed with. */
  old: { alias: B64u; gen: number; k: Hex };
  request: WireReq;
  error: ErrorCode;
}

export interface RotateVectors {
  description: string;
  vendor: VendorVector;
  runs: RotateRunVector[];
  invalid: InvalidRotationVector[];
  invalid_responses: InvalidResponseVector[];
}

// ---------------------------------------------------------------------------------------------
// routes.json (§5.1)

/** A route of the vendor's table (§5): `methods` null for any method. */
interface RouteVector {
  path: string;
  methods: readonly string[] | null;
  level: Level;
}

/** What a request gets: its protected route, the site's application, or a refusal. */
export type RouteVerdictVector =
  | { verdict: 'protected'; route: string; level: Level }
  | {
      verdict: 'refused';
      error: ErrorCode;
      /** The HTTP status of `error` (§14.1). */
      status: number;
      /** The Allow header of a 405. */
      allow?: string;
    }
  | {
      verdict: 'app';
      /** What is passed on to the application: the canonical path and the query. */
      path: string;
    };

/** A request (method and request-target as received), its canonical path, and its verdict. */
type RouteCaseVector = { method: string; target: string; canonical: string } & RouteVerdictVector;

export interface RoutesVectors {
  description: string;
  routes: RouteVector[];
  cases: RouteCaseVector[];
}

// ---------------------------------------------------------------------------------------------
// The files

export interface VectorFiles {
  'janus.json': JanusVectors;
  'slot.json': SlotVectors;
  'skep.json': SkepVectors;
  'sddp.json': SddpVectors;
  'eddp.json': EddpVectors;
  'payword.json': PaywordVectors;
  'rotate.json': RotateVectors;
  'routes.json': RoutesVectors;
}
export type VectorFile = keyof VectorFiles;

type Kind<V> = V extends string ? 'string' : V extends readonly unknown[] ? 'array' : 'object';
type TopLevel<T> = { [K in keyof T]-?: Kind<T[K]> };

/** Each file's top-level members and their JSON kind: what `parseVectors` checks. */
const TOP_LEVEL: { [F in VectorFile]: TopLevel<VectorFiles[F]> } = {
  'janus.json': { description: 'string', identities: 'array', invalid_identities: 'array', vendor_ids: 'array', invalid_vendor_ids: 'array', masters: 'array', vendor_keys: 'array' },
  'slot.json': { description: 'string', client: 'object', slots: 'array', slot_keys: 'array', credentials: 'array', invalid_credentials: 'array' },
  'skep.json': { description: 'string', vendor: 'object', runs: 'array' },
  'sddp.json': { description: 'string', vendor: 'object', runs: 'array', invalid: 'array', invalid_responses: 'array' },
  'eddp.json': { description: 'string', vendor: 'object', challenges: 'array', invalid_challenges: 'array', runs: 'array', refused: 'array', invalid: 'array', invalid_responses: 'array' },
  'payword.json': { description: 'string', chains: 'array', acks: 'array', ack_checks: 'array', invalid_acks: 'array' },
  'rotate.json': { description: 'string', vendor: 'object', runs: 'array', invalid: 'array', invalid_responses: 'array' },
  'routes.json': { description: 'string', routes: 'array', cases: 'array' },
};

const kindOf = (v: unknown): string => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);

/**
 * The trust boundary: a vector file's text read as its type. Checked here: the top-level members,
 * exactly, and the kind of each; below them the file is taken to be what the generator wrote.
 */
export function parseVectors<F extends VectorFile>(file: F, text: string): VectorFiles[F] {
  const v: unknown = JSON.parse(text);
  if (kindOf(v) !== 'object') throw new Error(`${file}: not a JSON object`);
  const o = v as Record<string, unknown>;
  const want: Record<string, string> = TOP_LEVEL[file];
  const [got, expected] = [Object.keys(o).sort().join(', '), Object.keys(want).sort().join(', ')];
  if (got !== expected) throw new Error(`${file}: top-level members are ${got}, expected ${expected}`);
  for (const [k, kind] of Object.entries(want)) if (kindOf(o[k]) !== kind) throw new Error(`${file}: ${k} is ${kindOf(o[k])}, expected ${kind}`);
  return v as VectorFiles[F];
}
