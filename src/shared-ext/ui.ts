/** Helpers for the extension's pages (popup, confirmation, options). */
import { JanusError } from '../errors.ts';
import { browser } from './browser.ts';
import { rethrow, type AnswerOf, type MessageType, type RequestOf } from './messages.ts';

/** A message to the background from an extension page; its answer, or its error rethrown. */
export async function ask<T extends MessageType>(type: T, ...payload: RequestOf<T> extends Record<string, never> ? [] : [RequestOf<T>]): Promise<AnswerOf<T>> {
  return rethrow<AnswerOf<T>>(await browser.runtime.sendMessage({ type, payload: payload[0] ?? {} }));
}

/** An error in plain words for the user. */
export function plainWords(e: unknown): string {
  const code = e instanceof JanusError ? e.code : null;
  switch (code) {
    case 'bad_input':
      return e instanceof Error ? e.message.charAt(0).toUpperCase() + e.message.slice(1) + '.' : 'Check what you typed.';
    case 'locked':
      return 'Janus is locked. Unlock it with your identity and secret.';
    case 'key_pin_mismatch':
      return "This site's key has changed since you registered. Janus will not use it: the site may be an impostor. If the site says it changed its key, forget it in Options and register again.";
    case 'already_registered':
      return 'This identity is already registered with this site. Browse the site: Janus recognizes the account.';
    case 'not_registered':
    case 'unknown_client':
      return 'You are not registered with this site, or you unlocked with another identity or secret.';
    case 'wrong_vendor':
      return e instanceof Error && e.message && e.message !== 'the message was made for another vendor'
        ? e.message.charAt(0).toUpperCase() + e.message.slice(1) + '.'
        : 'This page is not a Janus site.';
    default:
      return e instanceof Error ? e.message : String(e);
  }
}

export function $<T extends HTMLElement = HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`missing #${id}`);
  return el as T;
}

export function date(t: number | null): string {
  return t === null ? '—' : new Date(t * 1000).toISOString().slice(0, 10);
}

/** The page's status line (#msg): a message, plain, `ok` or `error`. */
export function say(text: string, kind: '' | 'ok' | 'error' = ''): void {
  const msg = $('msg');
  msg.textContent = text;
  msg.className = 'msg' + (kind ? ' ' + kind : '');
}

/** An event handler that waits on something: a failure it did not handle is said on the page (#msg), never lost. */
export function listen<K extends keyof HTMLElementEventMap>(target: HTMLElement, type: K, handler: (ev: HTMLElementEventMap[K]) => Promise<void>): void {
  target.addEventListener(type, (ev) => {
    handler(ev).catch((e: unknown) => say(plainWords(e), 'error'));
  });
}
