/**
 * The slot-key cache (slot.ts): `slotKey` remembers K_n per key object in a shared cache that
 * `clearSlotKeys` empties; a caller's own SlotKeyCache is apart from it, and `null` remembers nothing.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { clearSlotKeys, SlotKeyCache, slotKey } from './slot.ts';

const key = (fill: number) => new Uint8Array(64).fill(fill);

describe('slot-key cache', () => {
  afterEach(() => clearSlotKeys());

  it('the shared cache returns the same K_n until clearSlotKeys, then derives a new object with the same bytes', () => {
    const k = key(1);
    const a = slotKey(k, 100);
    expect(slotKey(k, 100)).toBe(a);
    clearSlotKeys();
    const b = slotKey(k, 100);
    expect(b).not.toBe(a);
    expect(b).toEqual(a);
    expect(slotKey(k, 100)).toBe(b);
  });

  it('entries belong to the key object: an equal K in another array is derived apart', () => {
    const a = slotKey(key(2), 7);
    const b = slotKey(key(2), 7);
    expect(b).not.toBe(a);
    expect(b).toEqual(a);
  });

  it('a caller-owned SlotKeyCache is apart from the shared one: neither clear reaches the other', () => {
    const k = key(3);
    const own = new SlotKeyCache();
    const mine = slotKey(k, 5, own);
    const theirs = slotKey(k, 5);
    expect(theirs).not.toBe(mine);
    expect(theirs).toEqual(mine);
    expect(slotKey(k, 5, own)).toBe(mine);
    clearSlotKeys();
    expect(slotKey(k, 5, own)).toBe(mine);
    expect(slotKey(k, 5)).not.toBe(theirs);
    const theirsAgain = slotKey(k, 5);
    own.clear();
    expect(own.get(k, 5)).toBeUndefined();
    expect(slotKey(k, 5, own)).not.toBe(mine);
    expect(slotKey(k, 5)).toBe(theirsAgain);
  });

  it('cache null derives afresh every time and leaves the shared cache untouched', () => {
    const k = key(4);
    const a = slotKey(k, 9, null);
    const b = slotKey(k, 9, null);
    expect(b).not.toBe(a);
    expect(b).toEqual(a);
    const shared = slotKey(k, 9);
    expect(shared).not.toBe(a);
    expect(slotKey(k, 9, null)).not.toBe(shared);
    expect(slotKey(k, 9)).toBe(shared);
  });

  it('remembers at most 8 slots per key: a ninth slot starts the key\'s table over', () => {
    const k = key(5);
    const own = new SlotKeyCache();
    const first = slotKey(k, 0, own);
    for (let n = 1; n < 8; n++) slotKey(k, n, own);
    expect(own.get(k, 0)).toBe(first);
    slotKey(k, 8, own);
    expect(own.get(k, 0)).toBeUndefined();
    expect(own.get(k, 8)?.n).toBe(8);
  });
});
