/**
 * The service worker's entry point: every listener registered synchronously at top level (MV3: the
 * worker may be started for any event), state rehydrated lazily (keys.ts).
 */
import type { Runtime } from 'webextension-polyfill';
import { browser, messagingClonesBytes, restrictLocalStorage } from '../shared-ext/browser.ts';
import { errorReply, toReply } from '../shared-ext/messages.ts';
import { migrate } from '../shared-ext/storage.ts';
import { RELAY_PORT } from '../shared-ext/types.ts';
import { refreshRules, SLOT_ALARM } from './dnr.ts';
import { AUTOLOCK_ALARM, dispatch, lockAll } from './handlers.ts';
import { onConfirmationClosed } from './register.ts';
import { forChannel, pipeConnected } from './transport.ts';

browser.runtime.onMessage.addListener((message: unknown, sender: Runtime.MessageSender) => {
  // Progress broadcasts from this worker to its pages are not requests.
  const type = typeof message === 'object' && message !== null ? (message as { type?: unknown }).type : undefined;
  if (type === 'unlock.progress' || type === 'move.progress') return undefined;
  return dispatch(message, sender).then(toReply, errorReply).then((reply) => forChannel(reply));
});

// The content script's port (src/content/relay.ts): `{ id, type, payload, pipe? }` in. Out, where
// messaging is JSON (Chrome): `{ id, json }`, json the page's event detail `{ id, reply }` already
// serialized, so the relay passes it on as it is; where it clones (Firefox): `{ id, reply }`.
// The sender is the port's, fixed when the frame opened it; the same checks as for a message apply.
browser.runtime.onConnect.addListener((port: Runtime.Port) => {
  const sender = port.sender;
  if (port.name !== RELAY_PORT || !sender) {
    port.disconnect();
    return;
  }
  port.onMessage.addListener((message: unknown) => {
    const m = typeof message === 'object' && message !== null ? (message as { id?: unknown; pipe?: unknown }) : {};
    const id = m.id;
    if (typeof id !== 'string') return;
    void dispatch(message, sender, { pageOnly: true })
      .then(toReply, errorReply)
      .then((reply) => forChannel(reply, typeof m.pipe === 'string' ? m.pipe : undefined))
      .then((reply) => {
        try {
          port.postMessage(messagingClonesBytes() ? { id, reply } : { id, json: JSON.stringify({ id, reply }) });
        } catch {
          // The page went away (closed, navigated, back/forward cache) before the answer.
        }
      });
  });
});

browser.alarms.onAlarm.addListener((alarm) => {
  if (alarm.name === SLOT_ALARM) void refreshRules().catch(() => {});
  else if (alarm.name === AUTOLOCK_ALARM) void lockAll().catch(() => {});
});

// Chrome's pipe frames hand over their channels (transport.ts); a service worker gets messages only
// from pages of its own origin.
(globalThis as { addEventListener?: (t: string, l: (e: MessageEvent) => void) => void }).addEventListener?.('message', (e: MessageEvent) => pipeConnected(e.data));

// Closing a registration's confirmation window declines it (register.ts).
browser.windows?.onRemoved.addListener((windowId) => void onConfirmationClosed({ windowId }).catch(() => {}));
browser.tabs.onRemoved.addListener((tabId) => void onConfirmationClosed({ tabId }).catch(() => {}));

browser.runtime.onInstalled.addListener(() => {
  void migrate().catch(() => {});
});

// Content scripts have no business in storage.local (browser.ts): closed to them where the browser can.
void restrictLocalStorage();
// After a worker restart: the rules outlived it, but their slot may have passed; after a browser
// restart storage.session is empty, so this removes any rule left over.
void refreshRules().catch(() => {});
