/**
 * Typed storage items with defaults, after fregante's webext-storage. Only non-secret data goes to
 * storage.local; the unlocked master key lives in storage.session (src/background/keys.ts).
 */
import { browser } from './browser.ts';
import { DEFAULT_SETTINGS, type Settings, type VendorEntry } from './types.ts';

type Area = 'local' | 'session';

// A read of storage.local costs about a millisecond and the fetch relay reads the vendor list on
// every protected request: values of storage.local are kept in memory, and dropped whenever any
// extension context changes them (storage.onChanged reaches every context, the writer's included).
const localCache = new Map<string, unknown>();
browser.storage.onChanged.addListener((changes, area) => {
  if (area !== 'local') return;
  for (const key of Object.keys(changes)) localCache.delete(key);
});

export class StorageItem<T> {
  constructor(
    readonly key: string,
    readonly defaultValue: T,
    readonly area: Area = 'local',
  ) {}

  async get(): Promise<T> {
    if (this.area === 'local' && localCache.has(this.key)) return structuredClone(localCache.get(this.key) as T);
    const got = await browser.storage[this.area].get(this.key);
    const v = got[this.key];
    const value = v === undefined ? structuredClone(this.defaultValue) : (v as T);
    if (this.area === 'local') localCache.set(this.key, structuredClone(value));
    return value;
  }

  async set(value: T): Promise<void> {
    localCache.delete(this.key);
    await browser.storage[this.area].set({ [this.key]: value });
  }

  async remove(): Promise<void> {
    localCache.delete(this.key);
    await browser.storage[this.area].remove(this.key);
  }

  /** Read, change, write (one extension process writes these, so no lock is needed). */
  async update(fn: (v: T) => T): Promise<T> {
    const next = fn(await this.get());
    await this.set(next);
    return next;
  }
}

/** Registered vendors by origin. */
export const vendorsItem = new StorageItem<Record<string, VendorEntry>>('vendors', {});
export const settingsItem = new StorageItem<Settings>('settings', DEFAULT_SETTINGS);
/** Schema version of storage.local, for the migrations list below. */
export const schemaItem = new StorageItem<number>('schema', 0);

/** Migrations, in order; each moves storage.local from version i to i + 1. */
export const MIGRATIONS: (() => Promise<void>)[] = [async () => {}];

export async function migrate(): Promise<void> {
  let v = await schemaItem.get();
  while (v < MIGRATIONS.length) {
    await MIGRATIONS[v]!();
    v += 1;
    await schemaItem.set(v);
  }
}
