/** Canonical identities (docs/PROTOCOL.md §3.1, §3.2). */
import { utf8 } from '../crypto/bytes.ts';
import { JanusError } from '../errors.ts';

/** §3.1: lower(trim(NFC(identity))), 1..256 bytes, so the same person gets the same keys everywhere. */
export function canonicalClientId(identity: string): string {
  if (typeof identity !== 'string') throw new JanusError('bad_input', 'identity must be a string');
  const id = identity.normalize('NFC').trim().toLowerCase();
  const n = utf8(id).length;
  if (n < 1 || n > 256) throw new JanusError('bad_input', `identity must be 1..256 bytes, got ${n}`);
  return id;
}

/** §3.1: NFC only; the secret keeps its case and spaces (all of its entropy). */
export function canonicalSecret(secret: string): Uint8Array {
  if (typeof secret !== 'string') throw new JanusError('bad_input', 'secret must be a string');
  const b = utf8(secret.normalize('NFC'));
  if (b.length < 1 || b.length > 1024) throw new JanusError('bad_input', `secret must be 1..1024 bytes, got ${b.length}`);
  return b;
}

function isLoopback(hostname: string): boolean {
  if (hostname === 'localhost' || hostname === '[::1]') return true;
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname);
}

/**
 * §3.2: id_V is the origin the client computed from the URL it talks to (WHATWG serialization:
 * lower-case punycode host, default port dropped). Never a name the site supplies.
 */
export function vendorIdentity(url: string | URL): string {
  let u: URL;
  try {
    u = typeof url === 'string' ? new URL(url) : url;
  } catch {
    throw new JanusError('wrong_vendor', 'not a URL');
  }
  if (u.protocol === 'https:') return u.origin;
  if (u.protocol === 'http:' && isLoopback(u.hostname)) return u.origin;
  throw new JanusError('wrong_vendor', `only https origins (or http on loopback) are vendors, not ${u.protocol}//${u.host}`);
}
