/**
 * Which frames may use Janus (docs/PAGE-API.md, docs/THREAT-MODEL.md): pure, so every case is
 * tested without a browser. The worker asks it for every message from a page; the answer decides
 * whether the page gets an answer at all.
 *
 * - `silent`: the frame's URL is not a vendor this extension knows (registered, or a Janus site
 *   whose page asked for the provider). Nothing is answered, so a page cannot learn that Janus is
 *   installed by poking at the relay (fingerprinting).
 * - `refused`: the page script is there (the URL is a known vendor's) but this frame may not use
 *   the key: an opaque origin (a `sandbox` page or iframe: never a vendor, docs/PROTOCOL.md §3.2),
 *   or a frame on another site than the top-level page (a vendor framed by someone else would
 *   otherwise be a third-party tracker). Every call there fails with the code.
 * - `janus`: the page's own origin is `idV`.
 */
import { vendorIdentity } from '../protocol/index.ts';
import type { ErrorCode } from '../errors.ts';

export type FrameVerdict =
  | { readonly kind: 'janus'; readonly idV: string }
  | { readonly kind: 'refused'; readonly code: ErrorCode; readonly message: string }
  | { readonly kind: 'silent' };

export interface FrameFacts {
  /** sender.origin: "null" for an opaque origin. */
  readonly origin: string | null;
  /** sender.url: the document's URL (its origin even when the document's own origin is opaque). */
  readonly url: string | undefined;
  /** 0 for the top-level frame. */
  readonly frameId: number | undefined;
  /** The top-level document's URL (sender.tab.url). */
  readonly tabUrl: string | undefined;
}

function identity(url: string | undefined | null): string | null {
  if (!url || url === 'null') return null;
  try {
    return vendorIdentity(url);
  } catch {
    return null;
  }
}

/** Same scheme and host (ports aside): stricter than a registrable-domain site, which needs a public suffix list. */
export function sameHost(a: string, b: string): boolean {
  try {
    const x = new URL(a);
    const y = new URL(b);
    return x.protocol === y.protocol && x.hostname === y.hostname;
  } catch {
    return false;
  }
}

export function frameVerdict(f: FrameFacts, known: (idV: string) => boolean): FrameVerdict {
  const byUrl = identity(f.url);
  if (byUrl === null || !known(byUrl)) return { kind: 'silent' };
  if (f.origin === null || f.origin === 'null') {
    return { kind: 'refused', code: 'wrong_vendor', message: 'an opaque-origin document (a sandboxed page or frame) is never a Janus vendor' };
  }
  const idV = identity(f.origin);
  if (idV === null || idV !== byUrl) return { kind: 'refused', code: 'wrong_vendor', message: 'this document’s origin cannot be a Janus vendor' };
  if (f.frameId !== 0 && !(f.tabUrl && sameHost(f.tabUrl, idV))) {
    return { kind: 'refused', code: 'origin_not_allowed', message: 'Janus works in a site’s own pages and its frames on the same site, not in a frame of another site' };
  }
  return { kind: 'janus', idV };
}
