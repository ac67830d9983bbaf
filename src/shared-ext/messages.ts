/**
 * Messages between the extension's parts: one map from message type to what it carries and what it
 * answers, used by the senders (`ask` in ui.ts, the page script's `call`) and by the background's
 * handler table (src/background/handlers.ts), so both sides are checked by the compiler. Every
 * request is `{ type, payload }`; every answer is `{ ok: true, value }` or `{ ok: false, error:
 * { code, message, details? } }`, and the caller rethrows it as a JanusError with its details.
 * Payloads arrive from other contexts (a page, in the page.* case): handlers still check every field.
 */
import { isErrorCode, JanusError, type ErrorCode } from '../errors.ts';
import type {
  Evidence,
  FrameState,
  MoveReport,
  PageRoutes,
  PageStatus,
  PendingMoves,
  Proposal,
  RegisterResult,
  Reply,
  Settings,
  TabStatus,
  VendorEntry,
  WireRequest,
  WireResponse,
} from './types.ts';

type Empty = Record<string, never>;

/** Every message: `req` what it carries, `res` what it answers. */
export interface Messages {
  // ---- from a page's content script (the page's own origin only) ----
  'page.hello': { req: Empty; res: FrameState };
  'page.provide': { req: Empty; res: { injected: boolean } };
  'page.routes': { req: Empty; res: PageRoutes };
  'page.status': { req: Empty; res: PageStatus };
  'page.fetch': { req: { request: WireRequest }; res: WireResponse };
  'page.register': { req: { data: unknown; options: { receipt?: boolean; chain?: number }; userActivation?: boolean }; res: RegisterResult };
  'page.acknowledge': { req: { which: { sub: string; i: number } | null }; res: { acked: number } };
  // ---- from the extension's own pages ----
  'ui.unlock': { req: { identity: string; secret: string }; res: { identity: string; firstOnThisDevice: boolean } };
  'ui.lock': { req: Empty; res: void };
  'ui.worker': { req: Empty; res: { startedAt: number } };
  'ui.tabStatus': { req: { tabId: number }; res: TabStatus };
  'ui.register': { req: { tabId: number; origin: string }; res: RegisterResult };
  'ui.proposal': { req: { id: string }; res: Proposal };
  'ui.decide': { req: { id: string; accept: boolean }; res: RegisterResult | null };
  'ui.vendors': { req: Empty; res: Record<string, VendorEntry> };
  'ui.forget': { req: { origin: string }; res: void };
  'ui.settings': { req: Empty; res: Settings };
  'ui.setSettings': { req: Settings; res: Settings };
  'ui.export': { req: Empty; res: { janus: 'vendor-list'; version: number; exportedAt: string; vendors: VendorEntry[] } };
  'ui.import': { req: { document: unknown }; res: { imported: number } };
  'ui.rotate': { req: { origin: string }; res: VendorEntry };
  'ui.changeSecret': { req: { current: string; next: string }; res: MoveReport };
  'ui.pendingMoves': { req: Empty; res: PendingMoves };
  'ui.finishMoves': { req: { other?: string }; res: MoveReport };
  'ui.evidence': { req: { origin: string }; res: Evidence };
  'ui.exportEvidence': { req: { origin: string }; res: Record<string, unknown> };
}

export type MessageType = keyof Messages;
export type RequestOf<T extends MessageType> = Messages[T]['req'];
export type AnswerOf<T extends MessageType> = Messages[T]['res'];
/** A page's messages (the relay forwards only these). */
export type PageMessageType = Extract<MessageType, `page.${string}`>;

export function toReply<T>(value: T): Reply<T> {
  return { ok: true, value };
}

/** A handler's failure as it crosses the message boundary: the code, plain words and its (non-secret) details, never a key. */
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
