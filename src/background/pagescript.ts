/// <reference types="@crxjs/vite-plugin/client" />
/**
 * Where the page script (src/content/page.iife.ts: window.janus and the fetch wrapper) runs: in a
 * document of a Janus site that asked for the provider (`janus:requestProvider`), never on every
 * site (docs/PERMISSIONS.md, fingerprinting). Only then is the site's discovery document fetched;
 * if it is a valid one, the script is injected into the asking frame.
 *
 * The worker remembers, until the browser closes (storage.session), the origins whose top-level
 * (or same-site) pages asked ("provided") and the documents it injected into, so that the relay in
 * such a document gets answers and every other page gets none.
 */
import pageScript from '../content/page.iife.ts?script';
import type { Runtime } from 'webextension-polyfill';
import { browser } from '../shared-ext/browser.ts';
import { StorageItem, vendorsItem } from '../shared-ext/storage.ts';
import { refreshRules } from './dnr.ts';

/** Origins whose page asked for the provider and served a valid discovery document. */
const providedItem = new StorageItem<string[]>('provided', [], 'session');
/** Documents the page script was put into (documentId, or tab/frame/URL where there is none). */
const injectedItem = new StorageItem<string[]>('injected', [], 'session');

/** One document, as the sender of a message names it. */
function documentKey(sender: Runtime.MessageSender): string {
  const id = (sender as { documentId?: unknown }).documentId;
  return typeof id === 'string' ? id : `${sender.tab?.id ?? -1}/${sender.frameId ?? -1}/${sender.url ?? ''}`;
}

/** The vendors the relay may answer in this document: registered, provided, or this document's own. */
export async function knownVendors(sender: Runtime.MessageSender): Promise<(idV: string) => boolean> {
  const [vendors, provided, injected] = await Promise.all([vendorsItem.peek(), providedItem.peek(), injectedItem.peek()]);
  const here = injected.includes(documentKey(sender));
  return (idV) => here || Object.hasOwn(vendors, idV) || provided.includes(idV);
}

export async function markProvided(idV: string): Promise<void> {
  await providedItem.update((all) => (all.includes(idV) ? all : [...all, idV].slice(-1000)));
}

/** Puts the page script into the sender's frame. */
export async function injectPageScript(sender: Runtime.MessageSender): Promise<void> {
  const tabId = sender.tab?.id;
  if (tabId === undefined) return;
  const key = documentKey(sender);
  await injectedItem.update((all) => (all.includes(key) ? all : [...all, key].slice(-1000)));
  await browser.scripting.executeScript({
    target: { tabId, frameIds: [sender.frameId ?? 0] },
    world: 'MAIN',
    files: [pageScript],
    injectImmediately: true,
  } as Parameters<typeof browser.scripting.executeScript>[0]);
}

/** After the vendor list changed: the header rules follow it. */
export async function vendorListChanged(): Promise<void> {
  await refreshRules();
}
