/**
 * The one table of error codes shared by the client and the vendor (docs/PROTOCOL.md §14.1).
 * A code is stable once published: the wire carries the code, the message is for humans.
 */

export const ERRORS = {
  // Message shape
  malformed: { status: 400, text: 'the message is not well formed' },
  unsupported_version: { status: 400, text: 'the protocol version is not supported' },
  too_large: { status: 413, text: 'the message exceeds a size limit' },
  bad_digest: { status: 400, text: 'Content-Digest does not match the body' },
  method_not_allowed: { status: 405, text: 'this method is not allowed on this protected path' },
  // Authentication
  missing_signature: { status: 401, text: 'the message carries no Janus signature' },
  bad_signature: { status: 401, text: 'the signature (MAC) does not verify' },
  decrypt_failed: { status: 400, text: 'the body could not be decrypted' },
  slot_out_of_window: { status: 401, text: 'the time slot is outside the acceptance window' },
  replayed: { status: 409, text: 'this nonce or token was already used' },
  bad_credential: { status: 401, text: 'the slot credential does not verify' },
  // Clients and keys
  unknown_client: { status: 401, text: 'no client is registered under this alias' },
  generation_mismatch: { status: 409, text: 'the key generation is not the current one' },
  already_registered: { status: 409, text: 'a client is already registered under this alias' },
  wrong_vendor: { status: 400, text: 'the message was made for another vendor' },
  key_pin_mismatch: { status: 400, text: "the vendor's public key differs from the pinned key" },
  bad_vendor_key: { status: 400, text: "the vendor's public key or certificate is not acceptable" },
  // SKEP and rotation
  skep_token_invalid: { status: 400, text: 'the SKEP token is invalid or expired' },
  bad_receipt: { status: 400, text: 'the receipt does not verify or does not match the subscription' },
  rate_limited: { status: 429, text: 'too many costly requests; retry later' },
  overloaded: { status: 503, text: 'the vendor is holding too many unverified request bodies; retry later' },
  conflict: { status: 409, text: 'the client record changed concurrently; retry' },
  // EDDP and receipts
  challenge_invalid: { status: 401, text: 'the EDDP challenge is invalid, expired or not for this client' },
  subscription_expired: { status: 403, text: 'the subscription is not valid now' },
  subscription_required: { status: 403, text: 'this route needs a subscription with a receipt chain' },
  ack_required: { status: 402, text: 'the previous delivery must be acknowledged first' },
  bad_ack: { status: 400, text: 'the PayWord acknowledgement does not verify' },
  chain_exhausted: { status: 402, text: 'every delivery of the receipt chain was used' },
  chain_reused: { status: 409, text: 'this receipt chain id was used before by this client' },
  // Client side only
  locked: { status: 423, text: 'the extension is locked' },
  not_registered: { status: 404, text: 'not registered with this vendor, or a wrong identity or secret' },
  origin_not_allowed: { status: 403, text: 'this origin may not use that key' },
  user_declined: { status: 403, text: 'the user declined or closed the confirmation' },
  user_activation_required: { status: 403, text: 'the page may ask for this only right after the user clicked or typed on it' },
  registration_pending: { status: 409, text: 'a registration proposal from this page is already waiting for the user' },
  unreachable: { status: 503, text: 'the site could not be reached' },
  bad_input: { status: 400, text: 'an argument is out of range' },
  // The vendor's own site
  upstream_unavailable: { status: 502, text: 'the site behind the vendor could not be reached, did not answer in time, or answered unusably' },
  internal: { status: 500, text: 'internal error' },
} as const satisfies Record<string, { status: number; text: string }>;

export type ErrorCode = keyof typeof ERRORS;

export function isErrorCode(x: unknown): x is ErrorCode {
  return typeof x === 'string' && Object.hasOwn(ERRORS, x);
}

/** Every failure Janus reports is a JanusError; nothing else is thrown across a module boundary. */
export class JanusError extends Error {
  override name = 'JanusError';
  readonly code: ErrorCode;
  /** Extra, non-secret facts for the peer (e.g. `{ generation: 2 }`). */
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message?: string, details?: Record<string, unknown>, options?: { cause?: unknown }) {
    super(message ?? ERRORS[code].text, options);
    this.code = code;
    this.details = details;
  }

  get status(): number {
    return ERRORS[this.code].status;
  }

  /** The wire form (§14.1): `{"error":{"code":..,"message":..,...details}}`. Never carries secrets. */
  toJSON(): { error: { code: ErrorCode; message: string } & Record<string, unknown> } {
    return { error: { ...this.details, code: this.code, message: this.message } };
  }
}

/** Runs `fn`, turning any foreign exception into `JanusError(code)`: decoders never leak a TypeError. */
export function guard<T>(code: ErrorCode, fn: () => T, message?: string): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof JanusError) throw e;
    throw new JanusError(code, message ?? (e instanceof Error ? e.message : undefined), undefined, { cause: e });
  }
}

export async function guardAsync<T>(code: ErrorCode, fn: () => Promise<T>, message?: string): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof JanusError) throw e;
    throw new JanusError(code, message ?? (e instanceof Error ? e.message : undefined), undefined, { cause: e });
  }
}
