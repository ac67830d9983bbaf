/** Fixed parameters of `janus/1` (docs/PROTOCOL.md). Changing any of them is a new protocol version. */

export const VERSION = 1;
export const SLOT_SECONDS = 300; // §4
export const DEFAULT_WINDOW = 1; // §4
export const MAX_WINDOW = 12; // §4
export const NONCE_BYTES = 16; // §6.1
export const KEY_BYTES = 64; // §3.4: K = K^e || K^m
export const SIG_LABEL = 'janus'; // §6.1
export const SKEP_TOKEN_TTL = 120; // §7.2, seconds
export const CHALLENGE_TTL = 120; // §9.1, seconds
export const MAX_CHAIN = 100_000; // §11.1

/**
 * The default paths of the Janus endpoints (§5: a vendor's discovery document may name others;
 * clients use the document's, never these).
 */
export const DEFAULT_PATHS = {
  skep: '/.janus/skep',
  confirm: '/.janus/skep/confirm',
  challenge: '/.janus/challenge',
  ack: '/.janus/ack',
  rotate: '/.janus/rotate',
} as const;

/** §15 */
export const LIMITS = {
  discovery: 64 * 1024,
  header: 8 * 1024,
  skepHello: 4 * 1024,
  skepConfirm: 32 * 1024,
  data: 16 * 1024,
  requestBody: 1024 * 1024,
  responsePlaintext: 16 * 1024 * 1024,
  skepToken: 1024,
  challenge: 256,
} as const;

/** Domain-separation labels, one per use (§3-§13). */
export const LABEL = {
  argon2Salt: 'janus/1 argon2id salt',
  hkdfSalt: 'janus/1',
  vendorKey: 'janus/1 vendor key',
  alias: 'janus/1 alias',
  slotKey: 'janus/1 slot key',
  credential: 'janus/1 credential',
  skepOaep: 'janus/1 skep ',
  rotateOaep: 'janus/1 rotate ',
  skepToken: 'janus/1 skep token ',
  challenge: 'janus/1 challenge',
  payword: 'janus/1 payword seed',
  receipt: 'janus/1 receipt',
} as const;

/** Signature tags (§6.3). A response's tag is the request's tag + " response". */
export const TAG = {
  skep2: 'janus/1 skep-2',
  skep3: 'janus/1 skep-3',
  sddp: 'janus/1 sddp',
  eddp: 'janus/1 eddp',
  rotate: 'janus/1 rotate',
} as const;

export const HEADER = {
  skepToken: 'janus-skep-token',
  challenge: 'janus-challenge',
  receipt: 'janus-receipt',
  ack: 'janus-ack',
  alias: 'janus-alias',
  credential: 'janus-credential',
  error: 'janus-error',
  sealed: 'janus-sealed',
} as const;

export type Level = 'credential' | 'sddp' | 'eddp' | 'eddp+receipts';
export const LEVELS: readonly Level[] = ['credential', 'sddp', 'eddp', 'eddp+receipts'];
