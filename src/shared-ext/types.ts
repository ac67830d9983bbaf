/** Shapes shared by the worker, the content scripts and the extension pages. Nothing secret. */

export interface ExtensionError {
  code: string;
  message: string;
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

/** A page's fetch, carried as JSON through the relay (bodies in base64url). */
export interface WireRequest {
  url: string;
  method: string;
  headers: [string, string][];
  body: string | null;
}

export interface WireResponse {
  status: number;
  statusText: string;
  headers: [string, string][];
  body: string;
}

/** What the MAIN-world script learns at document start: the routes it must hand over. */
export interface PageRoutes {
  janus: boolean;
  routes: { path: string; methods: string[] | null; level: string }[];
}

/** Relay events between the MAIN world and the isolated content script (JSON strings: Firefox). */
export const RELAY_REQUEST = 'janus:request';
export const RELAY_RESPONSE = 'janus:response';
/** The runtime port the relay opens to the worker on a Janus site (page.* requests only). */
export const RELAY_PORT = 'janus-relay';
