import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fromUtf8, utf8 } from './bytes.ts';

describe('utf8', () => {
  it('equals TextEncoder for any string, lone surrogates included, and is a plain Uint8Array', () => {
    const te = new TextEncoder();
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: 'binary', maxLength: 300 }), fc.string({ unit: 'grapheme', maxLength: 300 }), fc.string({ maxLength: 5000 })), (s) => {
        const b = utf8(s);
        expect(b.constructor).toBe(Uint8Array);
        expect(b).toEqual(te.encode(s));
      }),
      { numRuns: 500 },
    );
    expect(utf8('\ud800x')).toEqual(new Uint8Array([0xef, 0xbf, 0xbd, 0x78]));
    expect(fromUtf8(utf8('Bücher €'))).toBe('Bücher €');
  });
});
