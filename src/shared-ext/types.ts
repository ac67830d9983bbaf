/** Shapes shared by the worker, the content scripts and the extension pages. Nothing secret. */

export interface ExtensionError {
  code: string;
  message: string;
  /** The JanusError's details (never secret: e.g. `{ generation: 2 }`, `{ sub, pending }`). */
  details?: Record<string, unknown>;
}

export type Reply<T> = { ok: true; value: T } | { ok: false; error: ExtensionError };

/** A PayWord chain the client committed to (sub, n, w0 are public once sent). */
export interface ChainSummary {
  sub: string;
  n: number;
  w0: string;
}

/** One registered vendor in storage.local: non-secret by construction. */
export interface VendorEntry {
  origin: string;
  alias: string;
  gen: number;
  /** The pinned key fingerprint (§5). */
  fingerprint: string;
  /** The pinned key itself (b64u SubjectPublicKeyInfo): receipts are checked against it offline. */
  spki?: string;
  /** The site's names for the subscription data's members (its discovery document's `subscription.fields`). */
  labels?: Record<string, string>;
  name: string | null;
  /** Unix seconds; null when the entry was learned on another machine's registration (mobility). */
  registeredAt: number | null;
  validUntil: number | null;
  /** The subscription data as proposed, without card numbers. */
  subscription: Record<string, unknown> | null;
  /** Signed receipts (non-repudiation SKEP), as received. */
  receipts: unknown[];
  chain: ChainSummary | null;
  /** The last eddp+receipts delivery received, and the last one acknowledged. */
  lastDelivery: { sub: string; i: number } | null;
  lastAcked: number;
  /**
   * A move to another key that has not happened yet (a secret change, src/background/move.ts):
   * why it waits. The site still knows the entry's alias and generation.
   */
  move?: PendingMove | null;
}

export interface PendingMove {
  /** Unix seconds of the last attempt. */
  at: number;
  /** Why it has not happened, in words (the site's error code and message, or "could not be reached"). */
  reason: string;
  code: string;
}

export interface Settings {
  /** Minutes without use before the keys are wiped; 0 = never (until the browser closes). */
  autoLockMinutes: number;
  /** Show the slot window (current slot, next refresh) in the popup. */
  showSlot: boolean;
}

export const DEFAULT_SETTINGS: Settings = { autoLockMinutes: 30, showSlot: false };

/** What the popup shows about the current tab. */
export interface TabStatus {
  unlocked: boolean;
  identity: string | null;
  origin: string | null;
  /** The tab's origin serves a valid discovery document. */
  janus: boolean;
  name: string | null;
  vendor: VendorEntry | null;
  /** Why discovery failed (key pin mismatch...), in plain words. */
  problem: { code: string; message: string } | null;
  slot: { n: number; refreshAt: number } | null;
}

/** What a page may learn about itself through `janus.status()`. */
export interface PageStatus {
  unlocked: boolean;
  janus: boolean;
  registered: boolean;
  alias: string | null;
}

/** A registration the page proposed, waiting for the user's decision. */
export interface Proposal {
  id: string;
  origin: string;
  name: string | null;
  data: Record<string, unknown>;
  receipt: boolean;
  chain: number | null;
  receiptPolicy: string;
  subscription: Record<string, unknown> | null;
}

export interface RegisterResult {
  alias: string;
  gen: number;
  registeredAt: number;
  validUntil: number | null;
  receipt: boolean;
}

/**
 * A body on its way between page and background (src/background/transport.ts): base64url text where
 * the channel carries JSON only (Chrome's extension messaging, and DOM events between worlds),
 * bytes where it carries structured clones (Firefox's), or `{ pipe }`: sent as bytes through the
 * pipe frame (Chrome, large bodies) under that sequence number.
 */
export type WireBody = string | Uint8Array | { pipe: number };

/** A page's fetch, carried through the relay. */
export interface WireRequest {
  url: string;
  method: string;
  headers: [string, string][];
  body: WireBody | null;
}

export interface WireResponse {
  status: number;
  statusText: string;
  headers: [string, string][];
  body: WireBody;
}

/** What the MAIN-world script learns at document start: the routes it must hand over. */
export interface PageRoutes {
  janus: boolean;
  routes: { path: string; methods: string[] | null; level: string }[];
}

/** Relay events between the MAIN world and the isolated content script (JSON strings: Firefox). */
export const RELAY_REQUEST = 'janus:request';
export const RELAY_RESPONSE = 'janus:response';
/** The page script asks whether the relay serves this frame; the relay answers with a FrameState. */
export const RELAY_PING = 'janus:page-ping';
export const RELAY_READY = 'janus:relay-ready';
/** The runtime port the relay opens to the worker on a Janus site (page.* requests only). */
export const RELAY_PORT = 'janus-relay';

/**
 * Provider discovery, after EIP-6963: a site dispatches `janus:requestProvider` on window; where
 * Janus serves the page, the page script answers with `janus:announceProvider` whose detail is
 * `{ info, provider }` (docs/PAGE-API.md). Nothing answers anywhere else.
 */
export const PROVIDER_REQUEST = 'janus:requestProvider';
export const PROVIDER_ANNOUNCE = 'janus:announceProvider';

/** What the worker says of a frame (src/background/frames.ts), as the relay passes it to the page script. */
export type FrameState = { state: 'janus' } | { state: 'refused'; error: ExtensionError } | { state: 'silent' };

/** The relay's answer to the page script's ping: the frame's state, and whether large bodies come through the pipe (Chrome). */
export type RelayReady = FrameState & { pipe?: boolean };

/** What the pipe frame posts to the relay, and the relay to the page script (Chrome): a response body as bytes. */
export interface PipeMessage {
  janusPipe: number;
  body: ArrayBuffer;
}

/** Bodies from this size on travel through the pipe frame in Chrome (below it, base64 costs less than the extra hop). */
export const PIPE_MIN_BYTES = 32 * 1024;

// ---- validation of what is read from storage.local (storage.ts) ----

const isObj = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
const isB64u = (x: unknown, len?: number): x is string => typeof x === 'string' && /^[A-Za-z0-9_-]+$/.test(x) && (len === undefined || x.length === len);
const isCount = (x: unknown): x is number => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
const isTimeOrNull = (x: unknown): x is number | null => x === null || isCount(x);

/** One vendor entry as the worker wrote it, or null. */
function validVendor(origin: string, v: unknown): VendorEntry | null {
  if (!isObj(v) || v['origin'] !== origin) return null;
  if (!isB64u(v['alias'], 22) || !isCount(v['gen']) || v['gen'] > 0xffffffff || !isB64u(v['fingerprint'], 43)) return null;
  if (!(v['name'] === null || typeof v['name'] === 'string') || !isTimeOrNull(v['registeredAt']) || !isTimeOrNull(v['validUntil'])) return null;
  if (!(v['subscription'] === null || isObj(v['subscription'])) || !Array.isArray(v['receipts']) || !isCount(v['lastAcked'])) return null;
  const c = v['chain'];
  if (!(c === null || (isObj(c) && isB64u(c['sub'], 22) && isCount(c['n']) && isB64u(c['w0'], 43)))) return null;
  const d = v['lastDelivery'];
  if (!(d === null || (isObj(d) && isB64u(d['sub'], 22) && isCount(d['i'])))) return null;
  if (!(v['spki'] === undefined || isB64u(v['spki']))) return null;
  const l = v['labels'];
  if (!(l === undefined || (isObj(l) && Object.values(l).every((x) => typeof x === 'string')))) return null;
  const m = v['move'];
  if (!(m === undefined || m === null || (isObj(m) && isCount(m['at']) && typeof m['reason'] === 'string' && typeof m['code'] === 'string'))) return null;
  return v as unknown as VendorEntry;
}

export function validVendors(raw: unknown): Record<string, VendorEntry> {
  const out: Record<string, VendorEntry> = {};
  if (!isObj(raw)) return out;
  for (const [origin, v] of Object.entries(raw)) {
    const e = validVendor(origin, v);
    if (e) out[origin] = e;
  }
  return out;
}

export const AUTOLOCK_MAX_MINUTES = 24 * 60;

export function validSettings(raw: unknown): Settings {
  const s = isObj(raw) ? raw : {};
  const m = s['autoLockMinutes'];
  return {
    autoLockMinutes: isCount(m) && m <= AUTOLOCK_MAX_MINUTES ? m : DEFAULT_SETTINGS.autoLockMinutes,
    showSlot: s['showSlot'] === true,
  };
}

// ---- key moves and evidence (src/background/move.ts, evidence.ts), as the options page sees them ----

/** One site's progress in a move (broadcast as `move.progress`). */
export interface MoveStep {
  origin: string;
  name: string | null;
  state: 'moving' | 'moved' | 'pending';
  reason?: string;
  code?: string;
}

export interface MoveReport {
  moved: string[];
  pending: { origin: string; code: string; reason: string }[];
}

/** The sites still waiting to move, and what is needed to move them now. */
export interface PendingMoves {
  sites: { origin: string; name: string | null; move: PendingMove }[];
  /** nothing: both secrets are at hand; previous / new: type that secret; unlock: unlock first. */
  need: 'nothing' | 'previous' | 'new' | 'unlock';
}

/** A receipt's payload as the options page shows it (docs/PROTOCOL.md §12.1). */
export interface ReceiptFacts {
  vendor: string;
  alias: string;
  gen: number;
  issued_at: number;
  valid_from: number;
  valid_until: number | null;
  terms: Record<string, unknown>;
  payword: { sub: string; n: number; w0: string } | null;
}

export interface ReceiptView {
  /** The receipt as the site sent it. */
  receipt: unknown;
  /** Its payload, when it could be read. */
  payload: ReceiptFacts | null;
  /** true: signed by the pinned key; false: does not verify (reason); null: the key could not be had now. */
  verified: boolean | null;
  reason: string | null;
  signer: string | null;
}

export interface Evidence {
  origin: string;
  name: string | null;
  /** The pinned key's fingerprint, and the key itself when known. */
  key: { fingerprint: string; spki: string | null };
  receipts: ReceiptView[];
  chain: { sub: string; n: number; delivered: number; acknowledged: number } | null;
  subscription: Record<string, unknown> | null;
  validUntil: number | null;
}
