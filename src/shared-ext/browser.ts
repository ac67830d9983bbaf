/**
 * Every difference between Chrome and Firefox sits in this module; the rest of the extension
 * imports `browser` from here and never touches `chrome.*` directly.
 */
import browser from 'webextension-polyfill';
import type { DeclarativeNetRequest, Runtime } from 'webextension-polyfill';

export { browser };

/**
 * declarativeNetRequest resource types. Without `resourceTypes` a rule skips main_frame (MV3 docs),
 * so every type is listed. Chrome knows `webtransport` and `webbundle`; Firefox rejects unknown
 * types (https://bugzilla.mozilla.org/show_bug.cgi?id=1797408), so they are added only on Chrome.
 */
export function dnrResourceTypes(): DeclarativeNetRequest.ResourceType[] {
  const common: string[] = [
    'main_frame', 'sub_frame', 'stylesheet', 'script', 'image', 'font', 'object',
    'xmlhttprequest', 'ping', 'csp_report', 'media', 'websocket', 'other',
  ];
  if (isChromium()) common.push('webtransport', 'webbundle');
  return common as DeclarativeNetRequest.ResourceType[];
}

export function isChromium(): boolean {
  // Firefox has runtime.getBrowserInfo; Chrome does not.
  return typeof (browser.runtime as { getBrowserInfo?: unknown }).getBrowserInfo !== 'function';
}

/**
 * The origin of the frame that sent a message. Chrome gives `sender.origin` (right for about:blank and
 * srcdoc frames too); Firefox gives only `sender.url` (https://bugzilla.mozilla.org/show_bug.cgi?id=1787379),
 * whose origin is "null" for such frames, so they are refused there (fail closed).
 */
export function senderOrigin(sender: Runtime.MessageSender): string | null {
  const o = (sender as { origin?: unknown }).origin;
  if (typeof o === 'string' && o !== 'null') return o;
  if (typeof sender.url === 'string') {
    try {
      const origin = new URL(sender.url).origin;
      return origin === 'null' ? null : origin;
    } catch {
      return null;
    }
  }
  return null;
}

/** Opens an extension page as a small window (the registration confirmation). */
export async function openExtensionWindow(path: string): Promise<void> {
  const url = browser.runtime.getURL(path);
  try {
    await browser.windows.create({ url, type: 'popup', width: 460, height: 640 });
  } catch {
    // Android and some headless setups have no windows API: a tab does the same job.
    await browser.tabs.create({ url });
  }
}
