/**
 * RFC 9530 Content-Digest with sha-256 only. The digest is what an RFC 9421 signature covers
 * (through the "content-digest" component) to bind the body, so verification is strict:
 * the sha-256 member must be present and exactly 32 bytes, whatever else the field carries.
 */
import { JanusError } from '../errors.ts';
import { abytes, b64, equalBytes } from './bytes.ts';
import { sha256 } from './hash.ts';
import { parseDictionary } from './sf.ts';

const SHA256_LEN = 32;

/** The Content-Digest field value for `body`: exactly `sha-256=:<base64>:`. */
export function contentDigest(body: Uint8Array): string {
  // RFC 9530 §2: a Dictionary keyed by algorithm, the value a Byte Sequence (RFC 8941 §4.1.8)
  if (abytes('body', body).length === 0) return EMPTY_DIGEST; // every GET carries this one
  return `sha-256=:${b64.encode(sha256(body))}:`;
}
const EMPTY_DIGEST = 'sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:';

/**
 * Checks a received Content-Digest against `body`. Throws JanusError 'malformed' when the field
 * is absent, unparseable (or 'too_large'), lacks a 32-byte sha-256 Byte Sequence; 'bad_digest'
 * when the digest differs.
 */
export function verifyContentDigest(headerValue: string | null | undefined, body: Uint8Array): void {
  abytes('body', body);
  if (headerValue === null || headerValue === undefined) throw new JanusError('malformed', 'Content-Digest is missing');
  if (typeof headerValue !== 'string') throw new TypeError(`"headerValue" expected string, got ${typeof headerValue}`);
  if (headerValue === EMPTY_DIGEST && body.length === 0) return; // the common GET, without parsing
  const dict = parseDictionary(headerValue);
  // RFC 9530 §2: the recipient picks the algorithms it supports and ignores the others
  const member = dict.get('sha-256');
  if (member === undefined) throw new JanusError('malformed', 'Content-Digest has no sha-256 member');
  // RFC 9530 §2: each member value is a Byte Sequence (parameters carry no meaning and are ignored)
  if (member.kind !== 'item' || member.value.type !== 'bytes') {
    throw new JanusError('malformed', 'Content-Digest sha-256 member is not a byte sequence');
  }
  const got = member.value.value;
  if (got.length !== SHA256_LEN) throw new JanusError('malformed', 'Content-Digest sha-256 has the wrong length');
  // constant time: the digest is public, but this keeps one comparison rule for all MAC-like values
  if (!equalBytes(sha256(body), got)) throw new JanusError('bad_digest');
}
