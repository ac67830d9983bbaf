/**
 * Messages between the extension's parts. Every request is `{ type, payload }`; every answer is
 * `{ ok: true, value }` or `{ ok: false, error: { code, message } }`, and the caller rethrows it.
 */
import { isErrorCode, JanusError, type ErrorCode } from '../errors.ts';
import type { ExtensionError, Reply } from './types.ts';

export function toReply<T>(value: T): Reply<T> {
  return { ok: true, value };
}

/** A handler's failure as it crosses the message boundary: the code and plain words, never a key. */
export function errorReply(e: unknown): Reply<never> {
  if (e instanceof JanusError) return { ok: false, error: { code: e.code, message: e.message, ...(e.details ? { details: e.details } : {}) } };
  const message = e instanceof Error ? e.message : String(e);
  return { ok: false, error: { code: 'internal', message } };
}

export function rethrow<T>(reply: unknown): T {
  if (typeof reply !== 'object' || reply === null) throw new JanusError('internal', 'no answer from the extension');
  const r = reply as Reply<T>;
  if (r.ok) return r.value;
  const code: ErrorCode = isErrorCode(r.error?.code) ? r.error.code : 'internal';
  throw new JanusError(code, r.error?.message, r.error?.details);
}

export function isExtensionError(x: unknown): x is ExtensionError {
  return typeof x === 'object' && x !== null && typeof (x as ExtensionError).code === 'string';
}
