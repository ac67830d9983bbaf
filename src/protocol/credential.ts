/** The slot credential attached by declarativeNetRequest (docs/PROTOCOL.md §10). */
import { b64u, concat, equalBytes, utf8 } from '../crypto/bytes.ts';
import { hmacSha256 } from '../crypto/hash.ts';
import { guard, JanusError } from '../errors.ts';
import { LABEL } from './constants.ts';
import { parseKeyid, type KeyHolder } from './secure.ts';
import { assertInWindow, slotKey, slotOf } from './slot.ts';

function tag(km: Uint8Array, idV: string): Uint8Array {
  return hmacSha256(km, concat(utf8(LABEL.credential), new Uint8Array([0]), utf8(idV))).subarray(0, 16);
}

/** `alias.gen.n.b64u(tag)`: one value per slot, so a static header rule can carry it. */
export function makeCredential(key: KeyHolder, idV: string, now: number): { value: string; n: number } {
  const n = slotOf(now);
  const { km } = slotKey(key.k, n);
  return { value: `${key.alias}.${key.gen}.${n}.${b64u.encode(tag(km, idV))}`, n };
}

/** Keyless part of the check: format and window. */
export function parseCredential(value: string, now: number, window: number): { alias: string; gen: number; n: number; tag: Uint8Array } {
  if (value.length > 200) throw new JanusError('malformed', 'credential too long');
  const i = value.lastIndexOf('.');
  if (i < 0) throw new JanusError('malformed', 'credential must be alias.gen.n.tag');
  const { alias, gen, n } = parseKeyid(value.slice(0, i));
  const t = guard('malformed', () => b64u.decode(value.slice(i + 1)));
  if (t.length !== 16) throw new JanusError('malformed', 'credential tag must be 16 bytes');
  assertInWindow(n, now, window);
  return { alias, gen, n, tag: t };
}

/** The keyed part: constant-time comparison of the tag. */
export function verifyCredential(parsed: { n: number; tag: Uint8Array }, k: Uint8Array, idV: string): void {
  const { km } = slotKey(k, parsed.n);
  if (!equalBytes(parsed.tag, tag(km, idV))) throw new JanusError('bad_credential');
}
