/**
 * declarativeNetRequest session rules carrying the slot credential (docs/PROTOCOL.md §10) to the
 * registered vendors, rebuilt at once each slot (alarms), after a worker restart, and removed on
 * lock. Session rules live in memory only and outlive worker restarts.
 *
 * Reach (§10.1): the header goes where a SameSite=Lax cookie of the vendor would, and no further,
 * so that no other site can make the vendor recognise the user (a tracking channel):
 *   1. requests the vendor's own pages start (initiator on the vendor's host), of every type, and
 *      on Chrome only when the top-level page is on that host too (`topDomains`, browser.ts);
 *   2. top-level navigations to the vendor with a safe method (GET, HEAD), whoever started them.
 * Every rule change goes through one queue and checks the lock epoch (keys.ts) right before it is
 * applied, so a rebuild that started before a lock can never put a rule back after it.
 */
import type { DeclarativeNetRequest } from 'webextension-polyfill';
import { makeCredential, slotOf, SLOT_SECONDS } from '../protocol/index.ts';
import { browser, dnrHasTopDomains, dnrResourceTypes } from '../shared-ext/browser.ts';
import { vendorsItem } from '../shared-ext/storage.ts';
import { keyEpoch, sessionFor, unlocked } from './keys.ts';

export const SLOT_ALARM = 'janus-slot';

/** `|http://localhost:8080/`: the rule matches this origin and nothing else. */
function urlFilter(origin: string): string {
  return `|${origin}/`;
}

/** The two rules that carry one vendor's credential (module comment): ids 2k+1 and 2k+2. */
function credentialRules(origin: string, value: string, k: number, opts: { topDomains: boolean }): DeclarativeNetRequest.Rule[] {
  const host = new URL(origin).hostname.replace(/^\[|\]$/g, '');
  const action = {
    type: 'modifyHeaders' as const,
    requestHeaders: [{ header: 'Janus-Credential', operation: 'set' as const, value }],
  };
  return [
    {
      id: 2 * k + 1,
      priority: 1,
      action,
      condition: {
        urlFilter: urlFilter(origin),
        resourceTypes: dnrResourceTypes(),
        initiatorDomains: [host],
        ...(opts.topDomains ? ({ topDomains: [host] } as object) : {}),
      },
    },
    {
      id: 2 * k + 2,
      priority: 1,
      action,
      condition: { urlFilter: urlFilter(origin), resourceTypes: ['main_frame'], requestMethods: ['get', 'head'] },
    },
  ];
}

let queue: Promise<unknown> = Promise.resolve();
/** Runs rule changes one after the other, in the order they were asked for. */
function serialized<T>(fn: () => Promise<T>): Promise<T> {
  const run = queue.then(fn, fn);
  queue = run.catch(() => undefined);
  return run;
}

export function removeAllRules(): Promise<void> {
  return serialized(async () => {
    const rules = await browser.declarativeNetRequest.getSessionRules();
    if (rules.length) await browser.declarativeNetRequest.updateSessionRules({ removeRuleIds: rules.map((r) => r.id) });
  });
}

/** Rebuilds every rule for the current slot; removes them all when locked. */
export function refreshRules(now = Date.now() / 1000): Promise<number> {
  return serialized(async () => {
    const at = keyEpoch();
    const u = await unlocked();
    const addRules: DeclarativeNetRequest.Rule[] = [];
    if (u) {
      const vendors = Object.values(await vendorsItem.get());
      const topDomains = dnrHasTopDomains();
      let k = 0;
      for (const v of vendors) {
        const s = await sessionFor(v.origin, v.gen).catch(() => null);
        if (!s) break; // locked meanwhile
        addRules.push(...credentialRules(v.origin, makeCredential(s, v.origin, now).value, k++, { topDomains }));
      }
    }
    const existing = await browser.declarativeNetRequest.getSessionRules();
    // Locked since this rebuild began: add nothing (the lock's own removal is queued behind us).
    const add = u && keyEpoch() === at ? addRules : [];
    // One call: the old rules go and the new ones come atomically.
    await browser.declarativeNetRequest.updateSessionRules({ removeRuleIds: existing.map((r) => r.id), addRules: add });
    if (add.length) await scheduleSlotAlarm(now);
    return add.length / 2;
  });
}

/** The next refresh at the start of the next slot (chrome.alarms fire at most once per 30 s). */
async function scheduleSlotAlarm(now = Date.now() / 1000): Promise<void> {
  const next = (slotOf(now) + 1) * SLOT_SECONDS;
  await browser.alarms.create(SLOT_ALARM, { when: next * 1000 + 500, periodInMinutes: SLOT_SECONDS / 60 });
}

export function nextRefresh(now = Date.now() / 1000): number {
  return (slotOf(now) + 1) * SLOT_SECONDS;
}
