/**
 * Vendor-side tokens that any instance of the vendor can check without a shared store:
 * the SKEP token (sealed pending SKEP state, §7.2) and the EDDP challenge N_V (§9.1).
 * Their formats are the vendor's business; these are the reference ones from the spec.
 */
import { abytes, b64u, concat, equalBytes, fromUtf8, randomBytes, u32be, u64be, utf8, writeU64be } from '../crypto/bytes.ts';
import { hmacSha256 } from '../crypto/hash.ts';
import { aesGcmSync } from '../crypto/sealed.ts';
import { guard, JanusError } from '../errors.ts';
import { CHALLENGE_TTL, KEY_BYTES, LABEL, LIMITS, SKEP_TOKEN_TTL } from './constants.ts';
import { ALIAS_RE } from './janus.ts';

function readU64(b: Uint8Array, off: number): number {
  const hi = ((b[off]! << 24) | (b[off + 1]! << 16) | (b[off + 2]! << 8) | b[off + 3]!) >>> 0;
  const lo = ((b[off + 4]! << 24) | (b[off + 5]! << 16) | (b[off + 6]! << 8) | b[off + 7]!) >>> 0;
  if (hi >= 2 ** 21) return Number.MAX_SAFE_INTEGER;
  return hi * 2 ** 32 + lo;
}

export interface SkepPending {
  readonly alias: string;
  readonly gen: number;
  readonly n: number;
  readonly k: Uint8Array;
  readonly expires: number;
  /** The token's random part: the vendor nonce N_V proper. */
  readonly r: Uint8Array;
}

/** §7.2: t1.b64u(iv || AES-256-GCM(TK, iv, aad, r || exp || gen || n || K || alias)). */
export function sealSkepToken(
  tk: Uint8Array,
  idV: string,
  p: Omit<SkepPending, 'r' | 'expires'>,
  now: number,
  fixed?: { iv?: Uint8Array; r?: Uint8Array },
): { token: string; expires: number } {
  const expires = now + SKEP_TOKEN_TTL;
  const iv = fixed?.iv ?? randomBytes(12);
  const r = fixed?.r ?? randomBytes(16);
  const pt = concat(r, u64be(expires), u32be(p.gen), u64be(p.n), p.k, utf8(p.alias));
  const ct = aesGcmSync.seal(tk, iv, pt, utf8(LABEL.skepToken + idV));
  return { token: `t1.${b64u.encode(concat(iv, ct))}`, expires };
}

export function openSkepToken(tk: Uint8Array, idV: string, token: string, now: number): SkepPending {
  if (token.length > LIMITS.skepToken || !token.startsWith('t1.')) throw new JanusError('skep_token_invalid', 'not a SKEP token');
  const raw = guard('skep_token_invalid', () => b64u.decode(token.slice(3)));
  if (raw.length < 12 + 16 + 8 + 4 + 8 + KEY_BYTES + 16) throw new JanusError('skep_token_invalid', 'SKEP token too short');
  const pt = guard('skep_token_invalid', () => aesGcmSync.open(tk, raw.subarray(0, 12), raw.subarray(12), utf8(LABEL.skepToken + idV)));
  if (!pt) throw new JanusError('skep_token_invalid', 'SKEP token does not verify');
  const expires = readU64(pt, 16);
  if (expires < now) throw new JanusError('skep_token_invalid', 'SKEP token expired');
  const gen = ((pt[24]! << 24) | (pt[25]! << 16) | (pt[26]! << 8) | pt[27]!) >>> 0;
  const n = readU64(pt, 28);
  const k = pt.slice(36, 36 + KEY_BYTES);
  const alias = guard('skep_token_invalid', () => fromUtf8(pt.subarray(36 + KEY_BYTES)));
  if (!ALIAS_RE.test(alias)) throw new JanusError('skep_token_invalid');
  return { alias, gen, n, k, expires, r: pt.slice(0, 16) };
}

/**
 * §9.1: HMAC(CK, utf8(label) || lp(id_V) || lp(alias) || r || u64be(exp))[0..16), the MAC input
 * written into one buffer (the alias is ASCII by ALIAS_RE in every caller, but it is encoded as
 * UTF-8 all the same). No state is kept between calls.
 */
function challengeTag(ck: Uint8Array, idV: string, alias: string, r: Uint8Array, expires: number): Uint8Array {
  const v = utf8(idV);
  const a = utf8(alias);
  const msg = new Uint8Array(CHALLENGE_LABEL.length + 4 + v.length + 4 + a.length + r.length + 8);
  msg.set(CHALLENGE_LABEL, 0);
  let o = CHALLENGE_LABEL.length;
  o = putLp(msg, o, v);
  o = putLp(msg, o, a);
  msg.set(r, o);
  writeU64be(msg, o + r.length, expires);
  return hmacSha256(ck, msg).subarray(0, 16);
}

const CHALLENGE_LABEL = utf8(LABEL.challenge);

/** lp(b) written at `o`: u32be(length) || b. Returns the offset after it. */
function putLp(out: Uint8Array, o: number, b: Uint8Array): number {
  const n = b.length;
  out[o] = n >>> 24;
  out[o + 1] = n >>> 16;
  out[o + 2] = n >>> 8;
  out[o + 3] = n;
  out.set(b, o + 4);
  return o + 4 + n;
}

/** §9.1: c1.b64u(r || exp || HMAC(CK, ...)[0..16)): bound to the alias, expiring, stateless to check. */
export function issueChallenge(ck: Uint8Array, idV: string, alias: string, now: number, r = randomBytes(16)): { challenge: string; expires: number } {
  const expires = now + CHALLENGE_TTL;
  if (!Number.isSafeInteger(expires) || expires < 0) throw new RangeError(`"now" expected Unix seconds, got ${now}`);
  const raw = new Uint8Array(40);
  raw.set(abytes('r', r, 16), 0);
  writeU64be(raw, 16, expires);
  raw.set(challengeTag(ck, idV, alias, r, expires), 24);
  return { challenge: `c1.${b64u.encode(raw)}`, expires };
}

/** §9.1: checks a challenge; returns its one-time key (to be consumed after the MAC verifies). */
export function checkChallenge(ck: Uint8Array, idV: string, alias: string, challenge: string, now: number): { key: string; expires: number } {
  if (challenge.length > LIMITS.challenge || !challenge.startsWith('c1.')) throw new JanusError('challenge_invalid', 'not an EDDP challenge');
  const raw = guard('challenge_invalid', () => b64u.decode(challenge.slice(3)));
  if (raw.length !== 40) throw new JanusError('challenge_invalid', 'challenge has the wrong length');
  const r = raw.subarray(0, 16);
  const expires = readU64(raw, 16);
  if (!equalBytes(raw.subarray(24), challengeTag(ck, idV, alias, r, expires))) {
    throw new JanusError('challenge_invalid', 'challenge does not verify for this client');
  }
  if (expires < now) throw new JanusError('challenge_invalid', 'challenge expired');
  return { key: `challenge:${b64u.encode(r)}`, expires };
}
