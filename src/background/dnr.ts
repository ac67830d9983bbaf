/**
 * declarativeNetRequest session rules carrying the slot credential (docs/PROTOCOL.md §10) to every
 * registered vendor: one rule per vendor, all rebuilt at once each slot (alarms), after a worker
 * restart, and removed on lock. Session rules live in memory only and outlive worker restarts.
 */
import { makeCredential, slotOf, SLOT_SECONDS, type VendorSession } from '../protocol/index.ts';
import { browser, dnrResourceTypes } from '../shared-ext/browser.ts';
import { vendorsItem } from '../shared-ext/storage.ts';
import { sessionFor, unlocked } from './keys.ts';

export const SLOT_ALARM = 'janus-slot';

/** `|http://localhost:8080/`: the rule matches this origin and nothing else. */
function urlFilter(origin: string): string {
  return `|${origin}/`;
}

export async function removeAllRules(): Promise<void> {
  const rules = await browser.declarativeNetRequest.getSessionRules();
  if (rules.length) await browser.declarativeNetRequest.updateSessionRules({ removeRuleIds: rules.map((r) => r.id) });
}

/** Rebuilds every rule for the current slot; removes them all when locked. */
export async function refreshRules(now = Date.now() / 1000): Promise<number> {
  const u = await unlocked();
  const existing = await browser.declarativeNetRequest.getSessionRules();
  if (!u) {
    if (existing.length) await browser.declarativeNetRequest.updateSessionRules({ removeRuleIds: existing.map((r) => r.id) });
    return 0;
  }
  const vendors = Object.values(await vendorsItem.get());
  const addRules = [];
  let id = 1;
  for (const v of vendors) {
    const s: VendorSession = await sessionFor(v.origin, v.gen);
    const { value } = makeCredential(s, v.origin, now);
    addRules.push({
      id: id++,
      priority: 1,
      action: {
        type: 'modifyHeaders' as const,
        requestHeaders: [{ header: 'Janus-Credential', operation: 'set' as const, value }],
      },
      condition: { urlFilter: urlFilter(v.origin), resourceTypes: dnrResourceTypes() },
    });
  }
  // One call: the old rules go and the new ones come atomically.
  await browser.declarativeNetRequest.updateSessionRules({ removeRuleIds: existing.map((r) => r.id), addRules });
  await scheduleSlotAlarm(now);
  return addRules.length;
}

/** The next refresh at the start of the next slot (chrome.alarms fire at most once per 30 s). */
export async function scheduleSlotAlarm(now = Date.now() / 1000): Promise<void> {
  const next = (slotOf(now) + 1) * SLOT_SECONDS;
  await browser.alarms.create(SLOT_ALARM, { when: next * 1000 + 500, periodInMinutes: SLOT_SECONDS / 60 });
}

export function nextRefresh(now = Date.now() / 1000): number {
  return (slotOf(now) + 1) * SLOT_SECONDS;
}
