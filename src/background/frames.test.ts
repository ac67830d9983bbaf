import { describe, expect, it } from 'vitest';
import { frameVerdict, sameHost } from './frames.ts';

const B = 'https://b.example';
const known = (idV: string) => idV === B;

describe('frameVerdict: which frames may use Janus', () => {
  it('a top-level page of a known vendor is that vendor', () => {
    expect(frameVerdict({ origin: B, url: `${B}/page`, frameId: 0, tabUrl: `${B}/page` }, known)).toEqual({ kind: 'janus', idV: B });
  });

  it('an opaque-origin document of the vendor (CSP sandbox, sandboxed iframe) is refused with wrong_vendor (review finding 2)', () => {
    for (const frameId of [0, 7]) {
      expect(frameVerdict({ origin: 'null', url: `${B}/user-content`, frameId, tabUrl: `${B}/` }, known)).toMatchObject({ kind: 'refused', code: 'wrong_vendor' });
    }
    // A browser that gives no origin at all is treated the same: never the URL's origin.
    expect(frameVerdict({ origin: null, url: `${B}/x`, frameId: 0, tabUrl: `${B}/x` }, known)).toMatchObject({ kind: 'refused', code: 'wrong_vendor' });
  });

  it('a vendor frame inside another site is refused: it would make the vendor a third-party tracker', () => {
    expect(frameVerdict({ origin: B, url: `${B}/widget`, frameId: 3, tabUrl: 'https://evil.example/' }, known)).toMatchObject({ kind: 'refused', code: 'origin_not_allowed' });
  });

  it('a vendor frame on its own host is served', () => {
    expect(frameVerdict({ origin: B, url: `${B}/widget`, frameId: 3, tabUrl: `${B}/account` }, known)).toEqual({ kind: 'janus', idV: B });
  });

  it('everything else gets silence, so a page cannot tell that Janus is installed', () => {
    for (const f of [
      { origin: 'https://other.example', url: 'https://other.example/', frameId: 0, tabUrl: 'https://other.example/' },
      { origin: 'null', url: 'https://other.example/', frameId: 0, tabUrl: 'https://other.example/' },
      { origin: 'http://plain.example', url: 'http://plain.example/', frameId: 0, tabUrl: 'http://plain.example/' },
      { origin: 'null', url: 'about:blank', frameId: 2, tabUrl: `${B}/` },
      { origin: B, url: undefined, frameId: 0, tabUrl: undefined },
    ]) {
      expect(frameVerdict(f, known)).toEqual({ kind: 'silent' });
    }
  });

  it('sameHost compares scheme and host, not port', () => {
    expect(sameHost('http://localhost:8080/a', 'http://localhost:9090')).toBe(true);
    expect(sameHost('http://localhost:8080/', 'https://localhost:8080')).toBe(false);
    expect(sameHost('https://a.example/', 'https://b.a.example')).toBe(false);
    expect(sameHost('not a url', B)).toBe(false);
  });
});
