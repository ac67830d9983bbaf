/**
 * The worker's message handlers, one table. Each handler declares who may call it: `page` handlers
 * answer content scripts and take the vendor origin from the sender frame (never from the message);
 * `ui` handlers answer only the extension's own pages.
 */
import { JanusError, slotOf, vendorIdentity } from '../protocol/index.ts';
import { browser, senderOrigin } from '../shared-ext/browser.ts';
import { settingsItem, StorageItem, vendorsItem } from '../shared-ext/storage.ts';
import type { AnswerOf, MessageType, PageMessageType } from '../shared-ext/messages.ts';
import { AUTOLOCK_MAX_MINUTES, type FrameState, type MoveStep, type PageRoutes, type PageStatus, type Settings, type TabStatus, type VendorEntry, type WireRequest } from '../shared-ext/types.ts';
import type { Runtime } from 'webextension-polyfill';
import { discover, forgetDiscovery } from './discovery.ts';
import { acknowledge, applyNotes, forgetChallenges, proxyFetch } from './deliver.ts';
import { nextRefresh, refreshRules, removeAllRules } from './dnr.ts';
import { frameVerdict, type FrameFacts, type FrameVerdict } from './frames.ts';
import { lock, unlock, unlocked } from './keys.ts';
import { injectPageScript, knownVendors, markProvided, vendorListChanged } from './pagescript.ts';
import { evidenceOf, exportEvidence } from './evidence.ts';
import { changeSecret, finishMoves, pendingMoves, rotateGeneration } from './move.ts';
import { redact } from '../shared-ext/describe.ts';
import { decide, getProposal, proposeFromPage, register } from './register.ts';

export const AUTOLOCK_ALARM = 'janus-autolock';
/** When this worker instance started: module globals die with it (for the restart test and the popup). */
const WORKER_STARTED = Date.now();

type Ctx = { sender: Runtime.MessageSender };
type PageCtx = Ctx & { idV: string; tabId: number | null };
/**
 * One message's handler: who may send it, and what it answers (messages.ts). The payload is what
 * arrived, unchecked: the handler reads each field with `str`/`int` or checks it itself.
 */
type Handler<T extends MessageType> = T extends PageMessageType
  ?
      | { audience: 'page'; run: (payload: Record<string, unknown>, ctx: PageCtx) => Promise<AnswerOf<T>> }
      /** Page messages that decide about the frame themselves (they answer every frame). */
      | { audience: 'frame'; run: (payload: Record<string, unknown>, ctx: Ctx & { verdict: FrameVerdict }) => Promise<AnswerOf<T>> }
  : { audience: 'ui'; run: (payload: Record<string, unknown>, ctx: Ctx) => Promise<AnswerOf<T>> };
type AnyHandler =
  | { audience: 'page'; run: (payload: Record<string, unknown>, ctx: PageCtx) => Promise<unknown> }
  | { audience: 'frame'; run: (payload: Record<string, unknown>, ctx: Ctx & { verdict: FrameVerdict }) => Promise<unknown> }
  | { audience: 'ui'; run: (payload: Record<string, unknown>, ctx: Ctx) => Promise<unknown> };

const str = (p: Record<string, unknown>, k: string): string => {
  const v = p[k];
  if (typeof v !== 'string') throw new JanusError('bad_input', `"${k}" must be a string`);
  return v;
};
const int = (p: Record<string, unknown>, k: string): number => {
  const v = p[k];
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw new JanusError('bad_input', `"${k}" must be an integer`);
  return v;
};

/** Whether Janus was ever unlocked in this profile (not secret): the popup's strength advice is for the first time. */
const unlockedHereItem = new StorageItem<boolean>('unlockedHere', false, 'local', (v) => v === true);

/** A move's progress, to the options page. */
function progress(step: MoveStep): void {
  browser.runtime.sendMessage({ type: 'move.progress', step }).catch(() => {});
}

/** Locks now: keys wiped from memory and storage.session, every header rule removed. */
export async function lockAll(): Promise<void> {
  const locked = lock(); // the epoch moves now, before any await (keys.ts)
  forgetChallenges();
  await Promise.all([locked, removeAllRules(), browser.alarms.clear(AUTOLOCK_ALARM)]);
}

let lastTouch = 0;
/** Idle auto-lock: each use pushes the alarm back (at most every 15 s, to keep this cheap). */
async function touch(): Promise<void> {
  if (Date.now() - lastTouch < 15_000) return;
  lastTouch = Date.now();
  const { autoLockMinutes } = await settingsItem.get();
  if (autoLockMinutes > 0) await browser.alarms.create(AUTOLOCK_ALARM, { delayInMinutes: autoLockMinutes });
  else await browser.alarms.clear(AUTOLOCK_ALARM);
}

async function tabOrigin(tabId: number): Promise<string | null> {
  const tab = await browser.tabs.get(tabId);
  if (!tab.url) return null;
  try {
    return vendorIdentity(tab.url);
  } catch {
    return null;
  }
}

async function tabStatus(tabId: number): Promise<TabStatus> {
  const u = await unlocked();
  const origin = await tabOrigin(tabId);
  const base: TabStatus = {
    unlocked: !!u,
    identity: u?.idC ?? null,
    origin,
    janus: false,
    name: null,
    vendor: null,
    problem: null,
    slot: u ? { n: slotOf(Date.now() / 1000), refreshAt: nextRefresh() } : null,
  };
  if (!origin) return base;
  const { doc, error } = await discover(origin);
  const vendor = (await vendorsItem.get())[origin] ?? null;
  let problem = error ? { code: error.code, message: error.message } : null;
  if (doc && vendor && vendor.fingerprint !== doc.key.fingerprint) {
    problem = { code: 'key_pin_mismatch', message: `This site's key changed since you registered (pinned ${vendor.fingerprint}, now ${doc.key.fingerprint}). Janus refuses to use it.` };
  }
  return { ...base, janus: !!doc, name: doc?.name ?? null, vendor, problem };
}

const HANDLERS: { [T in MessageType]: Handler<T> } = {
  // ---- content scripts (the page's own origin only) ----
  'page.hello': {
    audience: 'frame',
    async run(_p, { verdict }): Promise<FrameState> {
      if (verdict.kind === 'janus') return { state: 'janus' };
      if (verdict.kind === 'refused') return { state: 'refused', error: { code: verdict.code, message: verdict.message } };
      return { state: 'silent' };
    },
  },
  'page.provide': {
    audience: 'frame',
    // The site asked for the provider (janus:requestProvider): only now is its discovery document
    // fetched. On a Janus site the page script goes into the asking frame: a frame Janus serves
    // gets the API; one it refuses (sandboxed, or framed by another site) gets the API whose calls
    // all fail with the reason. Anywhere else nothing happens.
    async run(_p, { sender }): Promise<{ injected: boolean }> {
      let byUrl: string;
      try {
        byUrl = vendorIdentity(sender.url ?? '');
      } catch {
        return { injected: false };
      }
      const { doc } = await discover(byUrl);
      if (!doc) return { injected: false };
      const verdict = frameVerdict(frameFacts(sender), (idV) => idV === byUrl);
      if (verdict.kind === 'janus') await markProvided(verdict.idV);
      await injectPageScript(sender);
      return { injected: true };
    },
  },
  'page.routes': {
    audience: 'page',
    async run(_p, { idV, tabId }): Promise<PageRoutes> {
      const { doc } = await discover(idV);
      if (tabId !== null && doc) await browser.action.setBadgeText({ tabId, text: 'J' }).catch(() => {});
      return { janus: !!doc, routes: (doc?.routes ?? []).map((r) => ({ path: r.path, methods: r.methods ? [...r.methods] : null, level: r.level })) };
    },
  },
  'page.status': {
    audience: 'page',
    async run(_p, { idV }): Promise<PageStatus> {
      const u = await unlocked();
      const { doc } = await discover(idV);
      const v = (await vendorsItem.get())[idV];
      return { unlocked: !!u, janus: !!doc, registered: !!v, alias: v && u ? v.alias : null };
    },
  },
  'page.fetch': {
    audience: 'page',
    async run(p, { idV }) {
      await touch();
      return proxyFetch(idV, p['request'] as WireRequest);
    },
  },
  'page.register': {
    audience: 'page',
    async run(p, { idV }) {
      const opts = (typeof p['options'] === 'object' && p['options'] !== null ? p['options'] : {}) as { receipt?: unknown; chain?: unknown };
      // userActivation is the relay's reading of navigator.userActivation, not the page's word.
      return proposeFromPage(idV, p['data'] ?? {}, opts, p['userActivation'] === true);
    },
  },
  'page.acknowledge': {
    audience: 'page',
    async run(p, { idV }) {
      const w = p['which'] as { sub?: unknown; i?: unknown } | null | undefined;
      const which = w && typeof w.sub === 'string' && typeof w.i === 'number' ? { sub: w.sub, i: w.i } : null;
      return acknowledge(idV, which);
    },
  },

  // ---- extension pages ----
  'ui.unlock': {
    audience: 'ui',
    async run(p) {
      let last = 0;
      const idC = await unlock(str(p, 'identity'), str(p, 'secret'), (f) => {
        if (f > 0 && f - last < 0.02 && f < 1) return;
        last = f;
        browser.runtime.sendMessage({ type: 'unlock.progress', fraction: f }).catch(() => {});
      });
      lastTouch = 0;
      await touch();
      await refreshRules();
      // A secret change left halfway in this browser session: both secrets are at hand again.
      if ((await pendingMoves()).need === 'nothing') void finishMoves(null, progress).catch(() => {});
      const seen = await unlockedHereItem.get();
      if (!seen) await unlockedHereItem.set(true);
      return { identity: idC, firstOnThisDevice: !seen };
    },
  },
  'ui.lock': { audience: 'ui', run: async () => lockAll() },
  // ---- keys: a new generation for one site, a new secret for all (move.ts) ----
  'ui.rotate': { audience: 'ui', run: async (p) => rotateGeneration(str(p, 'origin')) },
  'ui.changeSecret': {
    audience: 'ui',
    async run(p) {
      const report = await changeSecret(str(p, 'current'), str(p, 'next'), progress);
      return report;
    },
  },
  'ui.pendingMoves': { audience: 'ui', run: async () => pendingMoves() },
  'ui.finishMoves': {
    audience: 'ui',
    run: async (p) => finishMoves(typeof p['other'] === 'string' && p['other'] ? p['other'] : null, progress),
  },
  // ---- what the user agreed to and paid for (evidence.ts) ----
  'ui.evidence': { audience: 'ui', run: async (p) => evidenceOf(str(p, 'origin')) },
  'ui.exportEvidence': { audience: 'ui', run: async (p) => exportEvidence(str(p, 'origin')) },
  'ui.worker': { audience: 'ui', run: async () => ({ startedAt: WORKER_STARTED }) },
  'ui.tabStatus': { audience: 'ui', run: async (p) => tabStatus(int(p, 'tabId')) },
  'ui.register': {
    audience: 'ui',
    async run(p) {
      // The origin the popup showed: the tab may have moved to another site since (a page can
      // navigate its own tab while the popup is open), and then nothing is registered.
      const shown = str(p, 'origin');
      const origin = await tabOrigin(int(p, 'tabId'));
      if (!origin) throw new JanusError('wrong_vendor', 'this tab is not a Janus site');
      if (origin !== shown) throw new JanusError('wrong_vendor', `the tab now shows ${origin}, not ${shown}: nothing was registered`);
      const data = (typeof p['data'] === 'object' && p['data'] !== null ? p['data'] : {}) as Record<string, never>;
      return register(origin, data, { receipt: p['receipt'] === true, chain: null });
    },
  },
  'ui.proposal': { audience: 'ui', run: async (p) => getProposal(str(p, 'id')) },
  'ui.decide': { audience: 'ui', run: async (p) => decide(str(p, 'id'), p['accept'] === true) },
  'ui.vendors': { audience: 'ui', run: async () => vendorsItem.get() },
  'ui.forget': {
    audience: 'ui',
    async run(p) {
      const origin = str(p, 'origin');
      await vendorsItem.update((all) => {
        const { [origin]: _gone, ...rest } = all;
        return rest;
      });
      forgetDiscovery(origin);
      await vendorListChanged();
    },
  },
  'ui.settings': { audience: 'ui', run: async () => settingsItem.get() },
  'ui.setSettings': {
    audience: 'ui',
    async run(p) {
      const minutes = int(p, 'autoLockMinutes');
      if (minutes < 0 || minutes > AUTOLOCK_MAX_MINUTES) throw new JanusError('bad_input', `auto-lock must be 0..${AUTOLOCK_MAX_MINUTES} minutes`);
      const s: Settings = { autoLockMinutes: minutes, showSlot: p['showSlot'] === true };
      await settingsItem.set(s);
      lastTouch = 0;
      if (await unlocked()) await touch();
      return s;
    },
  },
  'ui.export': {
    audience: 'ui',
    async run() {
      return { janus: 'vendor-list', version: 1, exportedAt: new Date().toISOString(), vendors: Object.values(await vendorsItem.get()) };
    },
  },
  'ui.import': {
    audience: 'ui',
    async run(p) {
      const doc = p['document'] as { janus?: unknown; vendors?: unknown };
      if (!doc || doc.janus !== 'vendor-list' || !Array.isArray(doc.vendors)) throw new JanusError('bad_input', 'not a Janus vendor list export');
      const incoming: VendorEntry[] = [];
      for (const v of doc.vendors as Record<string, unknown>[]) {
        const origin = vendorIdentity(String(v['origin']));
        if (typeof v['alias'] !== 'string' || typeof v['fingerprint'] !== 'string') throw new JanusError('bad_input', `entry ${origin} lacks alias or fingerprint`);
        incoming.push({
          origin,
          alias: v['alias'],
          gen: typeof v['gen'] === 'number' ? v['gen'] : 0,
          fingerprint: v['fingerprint'],
          ...(typeof v['spki'] === 'string' ? { spki: v['spki'] } : {}),
          ...(v['labels'] && typeof v['labels'] === 'object' ? { labels: v['labels'] as Record<string, string> } : {}),
          name: typeof v['name'] === 'string' ? v['name'] : null,
          registeredAt: typeof v['registeredAt'] === 'number' ? v['registeredAt'] : null,
          validUntil: typeof v['validUntil'] === 'number' ? v['validUntil'] : null,
          subscription: v['subscription'] && typeof v['subscription'] === 'object' ? redact(v['subscription'] as Record<string, unknown>) : null,
          receipts: Array.isArray(v['receipts']) ? v['receipts'] : [],
          chain: (v['chain'] as VendorEntry['chain']) ?? null,
          lastDelivery: (v['lastDelivery'] as VendorEntry['lastDelivery']) ?? null,
          lastAcked: typeof v['lastAcked'] === 'number' ? v['lastAcked'] : 0,
        });
      }
      await vendorsItem.update((all) => {
        const next = { ...all };
        for (const v of incoming) next[v.origin] = v;
        return next;
      });
      await vendorListChanged();
      return { imported: incoming.length };
    },
  },
};

function frameFacts(sender: Runtime.MessageSender): FrameFacts {
  return { origin: senderOrigin(sender), url: sender.url, frameId: sender.frameId, tabUrl: sender.tab?.url };
}

function isExtensionPage(sender: Runtime.MessageSender): boolean {
  const base = browser.runtime.getURL('');
  return sender.id === browser.runtime.id && typeof sender.url === 'string' && sender.url.startsWith(base);
}

/**
 * Routes one message: checks its sender against the handler's audience first, touches no key
 * otherwise. `pageOnly`: the relay's port, which serves `page` handlers only.
 */
export async function dispatch(message: unknown, sender: Runtime.MessageSender, opts: { pageOnly?: boolean } = {}): Promise<unknown> {
  applyNotes(); // every handler reads the vendor list as it is after the last answer
  if (typeof message !== 'object' || message === null) throw new JanusError('bad_input', 'not a message');
  const { type, payload } = message as { type?: unknown; payload?: unknown };
  const h: AnyHandler | undefined = typeof type === 'string' && Object.hasOwn(HANDLERS, type) ? (HANDLERS[type as MessageType] as AnyHandler) : undefined;
  if (!h) throw new JanusError('bad_input', `unknown message ${String(type)}`);
  const p = (typeof payload === 'object' && payload !== null ? payload : {}) as Record<string, unknown>;
  if (h.audience === 'ui') {
    if (opts.pageOnly) throw new JanusError('origin_not_allowed', 'only page.* messages go over this port');
    if (!isExtensionPage(sender)) throw new JanusError('origin_not_allowed', 'only the extension’s own pages may send this');
    return h.run(p, { sender });
  }
  if (sender.id !== browser.runtime.id || !sender.tab || isExtensionPage(sender)) {
    throw new JanusError('origin_not_allowed', 'only a page’s content script may send this');
  }
  const verdict = frameVerdict(frameFacts(sender), await knownVendors(sender));
  if (h.audience === 'frame') return h.run(p, { sender, verdict });
  if (verdict.kind === 'refused') throw new JanusError(verdict.code, verdict.message);
  if (verdict.kind === 'silent') throw new JanusError('origin_not_allowed', 'this page is not a Janus vendor’s');
  return h.run(p, { sender, idV: verdict.idV, tabId: sender.tab.id ?? null });
}
