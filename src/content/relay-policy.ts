/** What the relay (relay.ts) may do on its own; pure, so it is tested without a browser. */

export interface RelayMessage {
  type: string;
  payload: unknown;
}

/**
 * Whether a request may be sent again when the worker went away without answering it (it may or
 * may not have started it): reads that change nothing, and fetches with a safe method (RFC 9110
 * §9.2.1). A registration, an acknowledgement or a POST is never repeated behind the page's back.
 */
export function replayable(msg: RelayMessage): boolean {
  if (msg.type === 'page.routes' || msg.type === 'page.status') return true;
  if (msg.type !== 'page.fetch') return false;
  const method = (msg.payload as { request?: { method?: unknown } } | null)?.request?.method;
  return typeof method === 'string' && (method.toUpperCase() === 'GET' || method.toUpperCase() === 'HEAD');
}
