import { JanusError } from '../../src/errors.ts';

/** The JanusError code `fn` throws, or undefined when it returns; any other exception is rethrown. */
export function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    if (e instanceof JanusError) return e.code;
    throw e;
  }
  return undefined;
}
