/**
 * Lock wins every race (keys.ts, dnr.ts): each interleaving the security review found, replayed
 * step by step on a fake browser whose calls are held at gates, so the order is exact, not luck.
 */
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { b64u } from '../crypto/bytes.ts';
import { fakeBrowser } from './fake-browser.ts';

const fake = vi.hoisted(() => ({ current: null as ReturnType<typeof import('./fake-browser.ts').fakeBrowser> | null }));
vi.mock('../shared-ext/browser.ts', () => ({
  get browser() {
    return fake.current!.browser;
  },
  isChromium: () => true,
  dnrHasTopDomains: () => false,
  dnrResourceTypes: () => ['main_frame'],
  senderOrigin: () => null,
  restrictLocalStorage: async () => false,
  openExtensionWindow: async () => ({ windowId: null, tabId: null }),
}));
vi.mock('../crypto/argon2.ts', async (orig) => ({ ...(await orig<typeof import('../crypto/argon2.ts')>()), JANUS_ARGON2: Object.freeze({ m: 64, t: 1, p: 1 }) }));

const SESSION = { idC: 'alice@example.com', master: b64u.encode(new Uint8Array(32).fill(7)) };
const VENDOR = {
  origin: 'https://quotes.example',
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

/** A fresh worker: new module instances (module globals die with a worker) over the same browser. */
async function worker() {
  vi.resetModules();
  const keys = await import('./keys.ts');
  const dnr = await import('./dnr.ts');
  const handlers = await import('./handlers.ts');
  return { keys, dnr, lockAll: handlers.lockAll };
}

beforeEach(() => {
  fake.current = fakeBrowser();
  fake.current.areas.local.set('vendors', { [VENDOR.origin]: VENDOR });
});

describe('lock against a background waking up (review finding 5)', () => {
  it('a rehydration from storage.session that started before the lock does not bring the key back', async () => {
    const f = fake.current!;
    f.areas.session.set('unlocked', SESSION); // unlocked, then the worker stopped
    const w = await worker();
    const read = f.hold('session.get');
    const rehydrating = w.keys.unlocked(); // janus.status() wakes the worker
    await read.reached; // ...its read of storage.session is under way
    await w.lockAll(); // the user locks
    read.release(); // the read returns the key it found before the lock
    expect(await rehydrating).toBeNull();
    expect(await w.keys.unlocked()).toBeNull();
    expect(f.areas.session.has('unlocked')).toBe(false);
    expect(f.rules()).toEqual([]);
  });

  it.each(['local.get', 'dnr.getSessionRules', 'dnr.updateSessionRules'])('a header-rule rebuild held at %s when the lock comes adds no rule', async (step) => {
    const f = fake.current!;
    f.areas.session.set('unlocked', SESSION);
    const w = await worker();
    expect(await w.keys.unlocked()).not.toBeNull();
    const gate = f.hold(step);
    const rebuilding = w.dnr.refreshRules(); // the slot alarm, or the rebuild after a wake-up
    await gate.reached;
    const locking = w.lockAll();
    gate.release();
    await Promise.all([rebuilding, locking]);
    expect(f.rules()).toEqual([]);
    expect(await w.keys.unlocked()).toBeNull();
  });

  it('a vendor key derived across a lock is not kept', async () => {
    const f = fake.current!;
    f.areas.session.set('unlocked', SESSION);
    const w = await worker();
    const read = f.hold('session.get');
    const deriving = w.keys.sessionFor(VENDOR.origin, 0);
    await read.reached;
    await w.lockAll();
    read.release();
    await expect(deriving).rejects.toMatchObject({ code: 'locked' });
  });

  it('an unlock that finishes after a lock began does not stay unlocked', async () => {
    const f = fake.current!;
    const w = await worker();
    const write = f.hold('session.set');
    const unlocking = w.keys.unlock('alice@example.com', 'a secret', () => {});
    await write.reached; // Argon2id done, the master being written to storage.session
    const locking = w.lockAll();
    write.release();
    await expect(unlocking).rejects.toMatchObject({ code: 'locked' });
    await locking;
    expect(await w.keys.unlocked()).toBeNull();
    expect(f.areas.session.has('unlocked')).toBe(false);
  });

  it('without a lock, the same steps keep the key and the rules (the gates change nothing else)', async () => {
    const f = fake.current!;
    f.areas.session.set('unlocked', SESSION);
    const w = await worker();
    const read = f.hold('session.get');
    const rehydrating = w.keys.unlocked();
    await read.reached;
    read.release();
    expect(await rehydrating).not.toBeNull();
    expect(await w.dnr.refreshRules()).toBe(1);
    expect(f.rules()).toHaveLength(2);
  });
});
