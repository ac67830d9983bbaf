import { beforeEach, describe, expect, it, vi } from 'vitest';

/** A storage.local stand-in: async like the real one, reporting changes to onChanged listeners. */
const fake = vi.hoisted(() => {
  type Listener = (changes: Record<string, { oldValue?: unknown; newValue?: unknown }>, area: string) => void;
  const data = new Map<string, unknown>();
  const listeners: Listener[] = [];
  const calls: { op: string; items: Record<string, unknown> }[] = [];
  let failNext = false;
  const emit = (changes: Record<string, { oldValue?: unknown; newValue?: unknown }>) => {
    for (const l of listeners) l(changes, 'local');
  };
  const area = {
    async get(key: string) {
      await Promise.resolve();
      return data.has(key) ? { [key]: structuredClone(data.get(key)) } : {};
    },
    async set(items: Record<string, unknown>) {
      calls.push({ op: 'set', items: structuredClone(items) });
      await Promise.resolve();
      if (failNext) {
        failNext = false;
        throw new Error('QUOTA_BYTES quota exceeded');
      }
      const changes: Record<string, { newValue: unknown }> = {};
      for (const [k, v] of Object.entries(items)) {
        data.set(k, structuredClone(v));
        changes[k] = { newValue: structuredClone(v) };
      }
      emit(changes);
    },
    async remove(key: string) {
      calls.push({ op: 'remove', items: { [key]: null } });
      data.delete(key);
      emit({ [key]: { oldValue: null } });
    },
  };
  return {
    data,
    calls,
    emit,
    failOnce: () => (failNext = true),
    browser: { storage: { local: area, session: area, onChanged: { addListener: (l: Listener) => listeners.push(l) } } },
  };
});
vi.mock('./browser.ts', () => ({ browser: fake.browser }));

const { StorageItem } = await import('./storage.ts');
const { validSettings, validVendors } = await import('./types.ts');
const settle = () => new Promise((r) => setTimeout(r, 10));
let n = 0;
const item = () => new StorageItem<{ v: number; list: number[] }>(`k${++n}`, { v: 0, list: [] });

beforeEach(() => {
  fake.calls.length = 0;
});

describe('StorageItem (storage.local)', () => {
  it('gives the default, then what storage holds, from memory after the first read', async () => {
    const a = item();
    expect(await a.get()).toEqual({ v: 0, list: [] });
    fake.data.set(a.key, { v: 7, list: [1] });
    const b = new StorageItem(`k${++n}`, { v: 0, list: [] as number[] });
    fake.data.set(b.key, { v: 7, list: [1] });
    expect(await b.get()).toEqual({ v: 7, list: [1] });
    expect(await b.peek()).toBe(await b.peek()); // no copy
    const copy = await b.get();
    copy.list.push(2);
    expect(await b.get()).toEqual({ v: 7, list: [1] }); // get() hands out a copy
  });

  it('a set is visible at once, written a moment later, and sets made meanwhile go as one write', async () => {
    const a = item();
    const p1 = a.set({ v: 1, list: [] });
    const p2 = a.update((x) => ({ ...x, v: x.v + 1 }));
    expect(await a.peek()).toEqual({ v: 2, list: [] });
    expect(fake.calls).toEqual([]); // nothing written yet
    await Promise.all([p1, p2]);
    expect(fake.calls).toEqual([{ op: 'set', items: { [a.key]: { v: 2, list: [] } } }]);
    expect(fake.data.get(a.key)).toEqual({ v: 2, list: [] });
  });

  it('never loses an update: each one sees the one before, written or not', async () => {
    const a = item();
    await a.peek();
    const all = Array.from({ length: 5 }, (_, i) => a.update((x) => ({ ...x, list: [...x.list, i] })));
    await Promise.all(all);
    await a.update((x) => ({ ...x, v: 9 }));
    expect(fake.data.get(a.key)).toEqual({ v: 9, list: [0, 1, 2, 3, 4] });
    expect(await a.get()).toEqual({ v: 9, list: [0, 1, 2, 3, 4] });
  });

  it('an update is in memory at once even while the write of the one before is in flight (the next request reads it)', async () => {
    const a = item();
    await a.peek();
    const first = a.update((x) => ({ ...x, v: 1 })); // its storage write is planned, not done
    const second = a.update((x) => ({ ...x, list: [1] }));
    // No await between the update and the read: what deliver.ts does before a paid request.
    const seen = a.peek();
    expect(await seen).toEqual({ v: 1, list: [1] });
    await Promise.all([first, second]);
    expect(fake.data.get(a.key)).toEqual({ v: 1, list: [1] });
  });

  it('takes a change made elsewhere, but not its own change events while its write is in flight', async () => {
    const a = item();
    await a.peek();
    fake.data.set(a.key, { v: 5, list: [] }); // another context wrote
    fake.emit({ [a.key]: { newValue: { v: 5, list: [] } } });
    expect(await a.peek()).toEqual({ v: 5, list: [] });
    const p = a.set({ v: 6, list: [] });
    fake.emit({ [a.key]: { newValue: { v: 5, list: [] } } }); // an older event arriving late
    expect(await a.peek()).toEqual({ v: 6, list: [] });
    await p;
    fake.data.delete(a.key); // removed elsewhere
    fake.emit({ [a.key]: {} });
    expect(await a.get()).toEqual({ v: 0, list: [] });
  });

  it('a failed write rejects and drops the memory copy, so the next read is the truth', async () => {
    const a = item();
    await a.set({ v: 1, list: [] });
    fake.failOnce();
    await expect(a.set({ v: 2, list: [] })).rejects.toThrow(/quota/);
    expect(await a.get()).toEqual({ v: 1, list: [] });
  });

  it('remove() wins over a write still planned', async () => {
    const a = item();
    const p = a.set({ v: 3, list: [] });
    await a.remove();
    await p;
    await settle();
    expect(fake.data.has(a.key)).toBe(false);
    expect(fake.calls.map((c) => c.op)).toEqual(['remove']);
    expect(await a.get()).toEqual({ v: 0, list: [] });
  });
});

describe('StorageItem (storage.session)', () => {
  it('reads and writes storage directly: nothing kept in this context', async () => {
    const s = new StorageItem<string | null>(`s${++n}`, null, 'session');
    await s.set('x');
    expect(fake.calls).toEqual([{ op: 'set', items: { [s.key]: 'x' } }]);
    fake.data.set(s.key, 'y');
    expect(await s.get()).toBe('y');
  });

  it('updates started together all apply, one after the other (review finding 4: racing registrations)', async () => {
    const s = new StorageItem<number[]>(`s${++n}`, [], 'session');
    await Promise.all(Array.from({ length: 5 }, (_, i) => s.update((list) => [...list, i])));
    expect(await s.get()).toEqual([0, 1, 2, 3, 4]);
  });

  it('an update whose function throws changes nothing and does not block the next one', async () => {
    const s = new StorageItem<number[]>(`s${++n}`, [], 'session');
    const refused = s.update(() => {
      throw new Error('taken');
    });
    const next = s.update((list) => [...list, 1]);
    await expect(refused).rejects.toThrow('taken');
    expect(await next).toEqual([1]);
  });
});

describe('StorageItem validation (what a content script could have written)', () => {
  const positive = (raw: unknown) => {
    if (typeof raw !== 'number' || raw < 0) throw new TypeError('not a count');
    return raw;
  };

  it('a stored value of the wrong shape reads as what the validator makes of it, or the default', async () => {
    const a = new StorageItem<number>(`v${++n}`, 3, 'local', positive);
    fake.data.set(a.key, -5);
    expect(await a.get()).toBe(3);
    const b = new StorageItem<number>(`v${++n}`, 3, 'local', positive);
    fake.data.set(b.key, 4);
    expect(await b.get()).toBe(4);
  });

  it('a write made elsewhere is read again through the validator', async () => {
    const a = new StorageItem<number>(`v${++n}`, 3, 'local', positive);
    await a.set(8);
    await settle();
    fake.data.set(a.key, 'sixty');
    fake.emit({ [a.key]: { newValue: 'sixty' } });
    expect(await a.get()).toBe(3);
  });
});

describe('validVendors / validSettings', () => {
  const entry = {
    origin: 'https://q.example',
    alias: 'A'.repeat(22),
    gen: 0,
    fingerprint: 'F'.repeat(43),
    name: null,
    registeredAt: null,
    validUntil: null,
    subscription: null,
    receipts: [],
    chain: null,
    lastDelivery: null,
    lastAcked: 0,
  };

  it('keeps well-formed entries and drops the rest', () => {
    const raw = {
      'https://q.example': entry,
      'https://moved.example': entry, // filed under another origin than its own
      'https://bad.example': { ...entry, origin: 'https://bad.example', alias: 'short' },
      'https://chain.example': { ...entry, origin: 'https://chain.example', chain: { sub: 'x', n: 1, w0: 'y' } },
    };
    expect(Object.keys(validVendors(raw))).toEqual(['https://q.example']);
    expect(validVendors('nonsense')).toEqual({});
  });

  it('settings out of range are the defaults', () => {
    expect(validSettings({ autoLockMinutes: -5, showSlot: 'yes' })).toEqual({ autoLockMinutes: 30, showSlot: false });
    expect(validSettings({ autoLockMinutes: 100_000 })).toEqual({ autoLockMinutes: 30, showSlot: false });
    expect(validSettings({ autoLockMinutes: 0, showSlot: true })).toEqual({ autoLockMinutes: 0, showSlot: true });
    expect(validSettings(null)).toEqual({ autoLockMinutes: 30, showSlot: false });
  });
});
