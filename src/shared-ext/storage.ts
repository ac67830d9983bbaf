/**
 * Typed storage items with defaults, after fregante's webext-storage. Only non-secret data goes to
 * storage.local; the unlocked master key lives in storage.session (src/background/keys.ts).
 */
import { browser } from './browser.ts';
import { DEFAULT_SETTINGS, validSettings, validVendors, type Settings, type VendorEntry } from './types.ts';

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
  for (const key of Object.keys(changes)) {
    if (writing.get(key)) continue;
    // Written elsewhere: read it again (through its item's validation) at the next look.
    localCache.delete(key);
  }
});

/** A value handed out without a copy: its reader must not change it. */
export type Frozen<T> = T extends (infer U)[] ? readonly Frozen<U>[] : T extends object ? { readonly [K in keyof T]: Frozen<T[K]> } : T;

export class StorageItem<T> {
  private static readonly settled: Promise<unknown> = Promise.resolve();
  /** The tail of this item's updates: each runs after the one before it (read, change, write). */
  private updating: Promise<unknown> = StorageItem.settled;
  /** Updates queued behind another and not run yet. */
  private unapplied = 0;

  /**
   * `validate` checks what is read from storage (not this context's own writes): storage.local can
   * be written by a content script in Firefox (browser.ts restrictLocalStorage), so a value of the
   * wrong shape becomes what `validate` makes of it (the default, or the valid part), never trusted.
   */
  constructor(
    readonly key: string,
    readonly defaultValue: T,
    readonly area: Area = 'local',
    private readonly validate: (raw: unknown) => T = (raw) => raw as T,
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
    const value = v === undefined ? structuredClone(this.defaultValue) : this.checked(v);
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

  /** What `validate` makes of a stored value; anything it throws on is the default. */
  checked(raw: unknown): T {
    try {
      return this.validate(raw);
    } catch {
      return structuredClone(this.defaultValue);
    }
  }

  async remove(): Promise<void> {
    localCache.delete(this.key);
    await browser.storage[this.area].remove(this.key);
  }

  /**
   * Read, change, write, one update at a time: two updates started together both apply (a second
   * one reads what the first made). A storage.local update waits only for the one before it to be
   * in memory, not stored: with the value in memory, `fn` runs and its result is visible before
   * this returns, even while an earlier write is still on its way. The promise settles when storage has it.
   */
  update(fn: (v: T) => T): Promise<T> {
    let stored: Promise<void> = StorageItem.settled as Promise<void>;
    const apply = (v: T): T => {
      const next = fn(v);
      stored = this.set(next);
      return next;
    };
    let run: () => Promise<T>;
    let sync = false;
    if (this.area !== 'local') run = () => this.get().then(apply);
    else {
      // The memory copy as it is when `fn` runs, so a change applied meanwhile is never lost.
      const now = (v?: Frozen<T>) => apply(structuredClone(localCache.has(this.key) ? localCache.get(this.key) : v) as T);
      run = () => (localCache.has(this.key) ? Promise.resolve(now()) : this.peek().then(now));
      // Every update before this one applied (in memory): this one runs now, in order.
      sync = this.unapplied === 0 && localCache.has(this.key);
    }
    const attempt = () => {
      try {
        return run();
      } catch (e) {
        return Promise.reject(e instanceof Error ? e : new Error(String(e)));
      }
    };
    let applied: Promise<T>;
    if (sync) applied = attempt();
    else {
      this.unapplied++;
      const counted = () => {
        this.unapplied--;
        return attempt();
      };
      applied = this.updating.then(counted, counted);
    }
    // The next update runs once this one is in memory (local), or in storage (session: no copy here).
    const tail = (this.area === 'local' ? applied : applied.then(() => stored)).then(
      () => undefined,
      () => undefined,
    );
    this.updating = tail;
    void tail.then(() => {
      if (this.updating === tail) this.updating = StorageItem.settled;
    });
    return applied.then(async (next) => {
      await stored;
      return next;
    });
  }
}

/** Registered vendors by origin; entries of the wrong shape are dropped when read. */
export const vendorsItem = new StorageItem<Record<string, VendorEntry>>('vendors', {}, 'local', validVendors);
export const settingsItem = new StorageItem<Settings>('settings', DEFAULT_SETTINGS, 'local', validSettings);
/** Schema version of storage.local, for the migrations list below. */
const schemaItem = new StorageItem<number>('schema', 0);

/** Migrations, in order; each moves storage.local from version i to i + 1. */
const MIGRATIONS: (() => Promise<void>)[] = [async () => {}];

export async function migrate(): Promise<void> {
  let v = await schemaItem.get();
  while (v < MIGRATIONS.length) {
    await MIGRATIONS[v]!();
    v += 1;
    await schemaItem.set(v);
  }
}
