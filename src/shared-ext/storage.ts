/**
 * Typed storage items with defaults, after fregante's webext-storage. Only non-secret data goes to
 * storage.local; the unlocked master key lives in storage.session (src/background/keys.ts).
 */
import { browser } from './browser.ts';
import { DEFAULT_SETTINGS, type Settings, type VendorEntry } from './types.ts';

type Area = 'local' | 'session';

// A read of storage.local costs about a millisecond and the fetch relay reads the vendor list on
// every protected request: values of storage.local are kept in memory. A write goes to the memory
// copy at once (the next reader sees it even before storage.local has it), then to storage.local.
// The worker is the only writer; a change made anywhere else (storage.onChanged reaches every
// context) replaces the copy, except while this context's own writes of that key are in flight:
// the copy holds them already, or something newer.
const localCache = new Map<string, unknown>();
/** storage.local writes of this context in flight, per key. */
const writing = new Map<string, number>();
/** The write planned for each key, not started yet. */
const flushes = new Map<string, Promise<void>>();

function written(key: string): void {
  const n = (writing.get(key) ?? 1) - 1;
  if (n > 0) writing.set(key, n);
  else writing.delete(key);
}
browser.storage.onChanged.addListener((changes, area) => {
  if (area !== 'local') return;
  for (const [key, change] of Object.entries(changes)) {
    if (writing.get(key)) continue;
    if ('newValue' in change) localCache.set(key, change.newValue);
    else localCache.delete(key);
  }
});

/** A value handed out without a copy: its reader must not change it. */
export type Frozen<T> = T extends (infer U)[] ? readonly Frozen<U>[] : T extends object ? { readonly [K in keyof T]: Frozen<T[K]> } : T;

export class StorageItem<T> {
  constructor(
    readonly key: string,
    readonly defaultValue: T,
    readonly area: Area = 'local',
  ) {}

  /** A copy of the value, the caller's to change. */
  async get(): Promise<T> {
    return structuredClone(await this.peek()) as T;
  }

  /** The value itself, without a copy (storage.local values come from memory): read it, never change it. */
  async peek(): Promise<Frozen<T>> {
    if (this.area === 'local' && localCache.has(this.key)) return localCache.get(this.key) as Frozen<T>;
    const got = await browser.storage[this.area].get(this.key);
    const v = got[this.key];
    const value = v === undefined ? structuredClone(this.defaultValue) : (v as T);
    // A write made while this read was in flight is newer than what the read returned.
    if (this.area === 'local') {
      if (localCache.has(this.key)) return localCache.get(this.key) as Frozen<T>;
      localCache.set(this.key, value);
    }
    return value as Frozen<T>;
  }

  /**
   * Visible to this context's readers at once; the promise settles when storage has it. A
   * storage.local write is made a moment later (a macrotask, so a handler's answer is posted
   * first), and writes made meanwhile go together as the latest value.
   */
  set(value: T): Promise<void> {
    if (this.area !== 'local') return browser.storage[this.area].set({ [this.key]: value });
    localCache.set(this.key, structuredClone(value));
    let flush = flushes.get(this.key);
    if (!flush) {
      writing.set(this.key, (writing.get(this.key) ?? 0) + 1);
      const name = this.key; // the item's name (e.g. vendors): storage.local holds only non-secret items
      flush = new Promise<void>((resolve, reject) => {
        setTimeout(() => {
          flushes.delete(name); // a set from now on is a new write
          if (!localCache.has(name)) {
            // removed since (remove() goes to storage itself)
            written(name);
            resolve();
            return;
          }
          // The latest value: every set since this flush was planned is in it.
          browser.storage.local.set({ [name]: localCache.get(name) }).then(
            () => {
              written(name);
              resolve();
            },
            (e: unknown) => {
              written(name);
              localCache.delete(name); // storage did not take it: read the truth again
              reject(e instanceof Error ? e : new Error(String(e)));
            },
          );
        }, 0);
      });
      flushes.set(this.key, flush);
    }
    return flush;
  }

  async remove(): Promise<void> {
    localCache.delete(this.key);
    await browser.storage[this.area].remove(this.key);
  }

  /**
   * Read, change, write (the worker is the only writer, so no lock is needed). With the value in
   * memory, `fn` runs and its result is visible before this returns; the promise settles when
   * storage has it.
   */
  update(fn: (v: T) => T): Promise<T> {
    const write = (v: T): Promise<T> => {
      const next = fn(v);
      return this.set(next).then(() => next);
    };
    if (this.area !== 'local') return this.get().then(write);
    // The memory copy as it is when `fn` runs, so a change applied meanwhile is never lost.
    const now = (v?: Frozen<T>) => write(structuredClone(localCache.has(this.key) ? localCache.get(this.key) : v) as T);
    return localCache.has(this.key) ? now() : this.peek().then(now);
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
