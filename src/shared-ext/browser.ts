/**
 * Every run-time difference between Chrome and Firefox sits in this module, each with the reason
 * and its source; the rest of the extension imports `browser` from here and never touches
 * `chrome.*` directly. (Build-time differences, the two manifests, are in vite.config.ts.)
 */
import browser from 'webextension-polyfill';
import type { DeclarativeNetRequest, Runtime } from 'webextension-polyfill';

export { browser };

function isChromium(): boolean {
  // The extension's own URL scheme, which every context has (content scripts too, which lack
  // Firefox's runtime.getBrowserInfo): moz-extension: in Firefox, chrome-extension: in Chrome.
  return !browser.runtime.getURL('').startsWith('moz-extension:');
}

/**
 * declarativeNetRequest resource types. Without `resourceTypes` a rule skips main_frame (MV3 docs),
 * so every type is listed. Each browser has types of its own and rejects the other's
 * (https://bugzilla.mozilla.org/show_bug.cgi?id=1797408): Chrome `webtransport` and `webbundle`;
 * Firefox files `navigator.sendBeacon` under `beacon` (Chrome under `ping`) and has `json`,
 * `imageset`, `object_subrequest`, `web_manifest`, `speculative`, `xslt` and `xml_dtd` (its
 * declarative_net_request schema; each checked in Firefox ESR 153).
 */
export function dnrResourceTypes(): DeclarativeNetRequest.ResourceType[] {
  const common: string[] = [
    'main_frame', 'sub_frame', 'stylesheet', 'script', 'image', 'font', 'object',
    'xmlhttprequest', 'ping', 'csp_report', 'media', 'websocket', 'other',
  ];
  if (isChromium()) common.push('webtransport', 'webbundle');
  else common.push('beacon', 'json', 'imageset', 'object_subrequest', 'web_manifest', 'speculative', 'xslt', 'xml_dtd');
  return common as DeclarativeNetRequest.ResourceType[];
}

/**
 * Chrome's DNR conditions have `topDomains` (the top-level frame's domain), which lets the
 * credential rule skip a vendor page framed by another site, as a SameSite=Lax cookie would
 * (https://developer.chrome.com/docs/extensions/reference/api/declarativeNetRequest#type-RuleCondition).
 * Firefox has no such condition (its RuleCondition schema lists none) and refuses unknown keys.
 */
export function dnrHasTopDomains(): boolean {
  return isChromium();
}

/**
 * The origin of the frame that sent a message: `sender.origin`, which both browsers give (seen in
 * Chromium 156 and Firefox ESR 153): "null" for opaque origins such as a `Content-Security-Policy: sandbox` page or
 * a sandboxed iframe, where `sender.url` still shows the site's URL. Returns "null" for those, so
 * the caller refuses them; never falls back to the URL when the origin is opaque.
 */
export function senderOrigin(sender: Runtime.MessageSender): string | null {
  const o = (sender as { origin?: unknown }).origin;
  if (typeof o === 'string') return o;
  // A browser without sender.origin: the URL's origin, which is "null" for about:blank and data:.
  if (typeof sender.url === 'string') {
    try {
      return new URL(sender.url).origin;
    } catch {
      return null;
    }
  }
  return null;
}

/**
 * Whether extension messaging carries bytes as they are. Firefox's runtime messages and ports are
 * structured clones (a Uint8Array arrives as one, seen in Firefox ESR 153); Chrome's are JSON
 * (a Uint8Array arrives as an object of numbered keys, seen in Chromium 156), so bodies go as text
 * there, or through the pipe frame (src/background/transport.ts).
 */
export function messagingClonesBytes(): boolean {
  return !isChromium();
}

/**
 * Keeps storage.local away from content scripts. Chrome has `StorageArea.setAccessLevel` for every
 * area (TRUSTED_CONTEXTS: extension pages and the worker only); Firefox has it for storage.session
 * only (https://bugzilla.mozilla.org/show_bug.cgi?id=1724754), so there a compromised renderer can
 * still read the vendor list (docs/THREAT-MODEL.md). Returns whether the restriction is in place.
 */
export async function restrictLocalStorage(): Promise<boolean> {
  const area = browser.storage.local as { setAccessLevel?: (o: { accessLevel: string }) => Promise<void> };
  if (!isChromium() || typeof area.setAccessLevel !== 'function') return false;
  try {
    await area.setAccessLevel({ accessLevel: 'TRUSTED_CONTEXTS' });
    return true;
  } catch {
    return false;
  }
}

/**
 * Opens an extension page as a small window (the registration confirmation) and says which window
 * or tab it is, so its closing can be noticed.
 */
export async function openExtensionWindow(path: string): Promise<{ windowId: number | null; tabId: number | null }> {
  const url = browser.runtime.getURL(path);
  try {
    const w = await browser.windows.create({ url, type: 'popup', width: 460, height: 640 });
    return { windowId: w.id ?? null, tabId: w.tabs?.[0]?.id ?? null };
  } catch {
    // Android and some headless setups have no windows API: a tab does the same job.
    const t = await browser.tabs.create({ url });
    return { windowId: null, tabId: t.id ?? null };
  }
}
