/**
 * The message boundary (handlers.ts dispatch): who may send what. Run on the fake browser; the
 * e2e scenarios (e2e/security.spec.ts) run the same rules in real browsers.
 */
import { beforeEach, describe, expect, it, vi } from 'vitest';
import type { Runtime } from 'webextension-polyfill';
import { fakeBrowser } from './fake-browser.ts';

const fake = vi.hoisted(() => ({ current: null as ReturnType<typeof import('./fake-browser.ts').fakeBrowser> | null }));
vi.mock('webextension-polyfill', () => ({ default: {} })); // so the real browser.ts loads, for senderOrigin
vi.mock('../shared-ext/browser.ts', async (orig) => {
  const real = await orig<typeof import('../shared-ext/browser.ts')>();
  return {
    get browser() {
      return fake.current!.browser;
    },
    isChromium: () => true,
    dnrHasTopDomains: () => false,
    dnrResourceTypes: () => ['main_frame'],
    senderOrigin: real.senderOrigin,
    restrictLocalStorage: async () => false,
    openExtensionWindow: async () => ({ windowId: 1, tabId: null }),
  };
});

const VENDOR = 'https://b.example';
const ENTRY = {
  origin: VENDOR,
  alias: 'AAAAAAAAAAAAAAAAAAAAAA',
  gen: 0,
  fingerprint: 'B'.repeat(43),
  name: null,
  registeredAt: 1,
  validUntil: null,
  subscription: null,
  receipts: [],
  chain: null,
  lastDelivery: null,
  lastAcked: 0,
};

type Sender = Runtime.MessageSender & { origin?: string };
const page = (over: Partial<Sender> = {}): Sender => ({
  id: 'janus-test-id',
  origin: VENDOR,
  url: `${VENDOR}/account`,
  frameId: 0,
  tab: { id: 5, url: `${VENDOR}/account`, index: 0, highlighted: false, active: true, pinned: false, incognito: false },
  ...over,
});
const extensionPage: Runtime.MessageSender = { id: 'janus-test-id', url: 'chrome-extension://janus-test-id/src/popup/index.html' };

async function dispatch(message: unknown, sender: Runtime.MessageSender) {
  const { dispatch } = await import('./handlers.ts');
  return dispatch(message, sender);
}

beforeEach(() => {
  vi.resetModules();
  fake.current = fakeBrowser();
  fake.current.areas.local.set('vendors', { [VENDOR]: ENTRY });
});

describe('dispatch: the sender decides, never the message', () => {
  it('a content script cannot send a ui.* message', async () => {
    await expect(dispatch({ type: 'ui.vendors' }, page())).rejects.toMatchObject({ code: 'origin_not_allowed' });
  });

  it('another extension cannot send a page.* message (its id is not ours)', async () => {
    await expect(dispatch({ type: 'page.status' }, page({ id: 'another-extension' }))).rejects.toMatchObject({ code: 'origin_not_allowed' });
  });

  it('an opaque-origin document on a vendor URL is refused with wrong_vendor, never served as the vendor', async () => {
    await expect(dispatch({ type: 'page.status' }, page({ origin: 'null' }))).rejects.toMatchObject({ code: 'wrong_vendor' });
    expect(await dispatch({ type: 'page.hello' }, page({ origin: 'null' }))).toMatchObject({ state: 'refused', error: { code: 'wrong_vendor' } });
  });

  it('a page that is no vendor’s gets silence from page.hello and a refusal for everything else', async () => {
    const other = page({ origin: 'https://other.example', url: 'https://other.example/', tab: { ...page().tab!, url: 'https://other.example/' } });
    expect(await dispatch({ type: 'page.hello' }, other)).toEqual({ state: 'silent' });
    await expect(dispatch({ type: 'page.status' }, other)).rejects.toMatchObject({ code: 'origin_not_allowed' });
  });

  it('the popup registers only the origin it showed (review finding 1): a tab that moved is wrong_vendor', async () => {
    fake.current!.tabs.set(5, 'https://elsewhere.example/');
    await expect(dispatch({ type: 'ui.register', payload: { tabId: 5, origin: VENDOR } }, extensionPage)).rejects.toMatchObject({ code: 'wrong_vendor' });
  });

  it('register() without a user gesture opens nothing (user_activation_required)', async () => {
    await expect(dispatch({ type: 'page.register', payload: { data: {}, userActivation: false } }, page())).rejects.toMatchObject({ code: 'user_activation_required' });
  });
});
