/**
 * The Store contract (store.ts, docs/VENDOR.md "Guarantees") as one vitest suite that any store
 * must pass unchanged: `storeContract({ name, fresh, persistent, shared })` defines the tests.
 * store-contract.test.ts runs it against SqliteStore (a file and :memory:) and PgStore; a third
 * store only has to pass it.
 *
 * Times are real epoch seconds (T below): a store may forget at open the one-time values that
 * expired before the real now, as SqliteStore does.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { randomBytes } from '../crypto/bytes.ts';
import { JanusError, type ErrorCode } from '../errors.ts';
import { nowSeconds, type ClientRecord } from '../protocol/index.ts';
import { fromRow, toRow } from './records.ts';
import type { ClientRow, Commit, Store } from './store.ts';

interface ContractBacking {
  /** Opens a store on this backing's data: another connection, as another vendor instance would. */
  open(): Promise<Store>;
}

interface ContractTarget {
  /** Shown in the test names. */
  name: string;
  /** A new, empty backing (a new file, a new database). */
  fresh(): Promise<ContractBacking>;
  /** A store closed and opened again finds its data (false for :memory:). */
  persistent: boolean;
  /** Several stores open at once share the data (false for :memory:). */
  shared: boolean;
}

/** How long another instance's write may stay unseen by this instance's reads (never by its commits). */
const READ_LAG_MS = 2000;

const T = nowSeconds();
const LATER = T + 3600;

let aliasCount = 0;
/** A fresh 22-character alias, as SKEP makes them. */
export const newAlias = () => `${(aliasCount++).toString(36).padStart(4, '0')}${Buffer.from(randomBytes(14)).toString('base64url')}`.slice(0, 22);

/** A stored client row: `keyEnc` is opaque bytes to a store. */
export function clientRow(alias: string, version = 1, over: Partial<ClientRow> = {}): ClientRow {
  return {
    alias,
    gen: 0,
    keyEnc: randomBytes(12 + 64 + 16),
    data: '{"plan":"gold","note":"ünïcødé ✓"}',
    chain: null,
    closedChains: '[]',
    receipt: null,
    registeredAt: T,
    validFrom: T,
    validUntil: null,
    updatedAt: T,
    version,
    ...over,
  };
}

const once = (key: string, expires = LATER) => ({ key, expires });

async function refused(p: Promise<unknown>, code: ErrorCode): Promise<JanusError> {
  const e = await p.then(
    () => null,
    (x: unknown) => x,
  );
  expect(e, `expected a JanusError ${code}, and the commit succeeded`).not.toBeNull();
  expect(e, `expected a JanusError ${code}, got ${String(e)}`).toBeInstanceOf(JanusError);
  expect((e as JanusError).code).toBe(code);
  return e as JanusError;
}

async function eventually(what: string, check: () => Promise<boolean>, ms = READ_LAG_MS): Promise<void> {
  const until = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`not seen within ${ms} ms: ${what}`);
    await new Promise((ok) => setTimeout(ok, 10));
  }
}

export function storeContract(target: ContractTarget): void {
  const open: Store[] = [];
  afterEach(async () => {
    for (const s of open.splice(0)) await s.close().catch(() => undefined);
  });
  /** A store on a fresh backing, closed after the test. */
  const track = async (b: ContractBacking) => {
    const s = await b.open();
    open.push(s);
    return s;
  };
  const store = async () => track(await target.fresh());
  const close = async (s: Store) => {
    open.splice(open.indexOf(s), 1);
    await s.close();
  };
  /** Whether a one-time value is still recorded at `now`: a commit of it is refused, else it is now taken (and recorded). */
  const usable = async (s: Store, key: string, now = T, expires = LATER) => {
    try {
      await s.commit({ now, useOnce: [once(key, expires)] });
      return true;
    } catch (e) {
      if (e instanceof JanusError && e.code === 'replayed') return false;
      throw e;
    }
  };

  describe(`Store contract: ${target.name}`, () => {
    describe('clients', () => {
      it('an inserted client reads back field for field; an unknown alias is null; countClients counts', async () => {
        const s = await store();
        expect(await s.countClients()).toBe(0);
        const plain = clientRow(newAlias());
        const full = clientRow(newAlias(), 7, {
          gen: 3,
          chain: '{"sub":"s1","n":10,"delivered":2}',
          closedChains: '[{"sub":"s0"}]',
          receipt: '{"sig":"x"}',
          validUntil: 4_102_444_800, // past 2^31: times are not 32-bit
          updatedAt: T + 5,
        });
        await s.commit({ now: T, insert: plain });
        await s.commit({ now: T, insert: full });
        for (const r of [plain, full]) {
          const got = await s.getClient(r.alias);
          expect(got).toEqual(r);
          expect(got!.keyEnc).toBeInstanceOf(Uint8Array);
        }
        expect(await s.getClient(newAlias())).toBeNull();
        expect(await s.countClients()).toBe(2);
        expect(typeof s.kind).toBe('string');
      });

      it('a key sealed under the record key (records.ts) comes back as sealed, and opens only under that key', async () => {
        const s = await store();
        const rk = randomBytes(32);
        const k = randomBytes(64);
        const record: ClientRecord = { alias: newAlias(), gen: 2, k, data: { a: 1 }, registeredAt: T, validFrom: T, validUntil: null, chain: null, closedChains: [], receipt: null, updatedAt: T };
        const row = toRow(rk, record, 1);
        await s.commit({ now: T, insert: row });
        const back = (await s.getClient(record.alias))!;
        expect(back.keyEnc).toEqual(row.keyEnc);
        expect(fromRow(rk, back).k).toEqual(k);
        expect(() => fromRow(randomBytes(32), back)).toThrowError(expect.objectContaining({ code: 'internal' }));
      });

      it('a second insert of an alias is already_registered and changes nothing', async () => {
        const s = await store();
        const r = clientRow(newAlias());
        await s.commit({ now: T, insert: r });
        await refused(s.commit({ now: T, insert: { ...r, data: '{"other":1}' } }), 'already_registered');
        expect(await s.getClient(r.alias)).toEqual(r);
        expect(await s.countClients()).toBe(1);
      });

      it('inserts of one alias racing: exactly one wins, the others are already_registered', async () => {
        const s = await store();
        for (let round = 0; round < 10; round++) {
          const alias = newAlias();
          const results = await Promise.allSettled([1, 2, 3].map((i) => s.commit({ now: T, useOnce: [once(`race-ins-${alias}-${i}`)], insert: clientRow(alias, 1, { data: `{"i":${i}}` }) })));
          expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
          for (const r of results) if (r.status === 'rejected') expect(r.reason).toMatchObject({ code: 'already_registered' });
          // The losers' one-time values went back with them.
          const won = results.findIndex((r) => r.status === 'fulfilled') + 1;
          for (const i of [1, 2, 3]) expect(await usable(s, `race-ins-${alias}-${i}`)).toBe(i !== won);
        }
      });
    });

    describe('every commit is all or nothing', () => {
      it('a refused insert takes its one-time values back with it', async () => {
        const s = await store();
        const r = clientRow(newAlias());
        await s.commit({ now: T, insert: r });
        await refused(s.commit({ now: T, useOnce: [once('ins-a'), once('ins-b')], insert: clientRow(r.alias) }), 'already_registered');
        expect(await usable(s, 'ins-a')).toBe(true);
        expect(await usable(s, 'ins-b')).toBe(true);
      });

      it('one replayed value refuses the whole commit: no row, and its other values stay usable', async () => {
        const s = await store();
        await s.commit({ now: T, useOnce: [once('rep-x')] });
        const r = clientRow(newAlias());
        await refused(s.commit({ now: T, useOnce: [once('rep-y'), once('rep-x'), once('rep-z')], insert: r }), 'replayed');
        expect(await s.getClient(r.alias)).toBeNull();
        expect(await s.countClients()).toBe(0);
        expect(await usable(s, 'rep-y')).toBe(true);
        expect(await usable(s, 'rep-z')).toBe(true);
        // The same without a row change (the hot path of every request).
        await refused(s.commit({ now: T, useOnce: [once('rep-w'), once('rep-x')] }), 'replayed');
        expect(await usable(s, 'rep-w')).toBe(true);
      });

      it('a conflicting update takes its one-time values back, and leaves the row as it was', async () => {
        const s = await store();
        const r = clientRow(newAlias());
        await s.commit({ now: T, insert: r });
        await refused(s.commit({ now: T, useOnce: [once('upd-a')], expectKey: { alias: r.alias, gen: 0 }, update: { ...r, data: '{"x":1}', version: 5 } }), 'conflict');
        expect(await s.getClient(r.alias)).toEqual(r);
        expect(await usable(s, 'upd-a')).toBe(true);
      });

      it('a rename whose new alias is taken undoes its delete and its one-time values', async () => {
        const s = await store();
        const from = clientRow(newAlias());
        const taken = clientRow(newAlias());
        await s.commit({ now: T, insert: from });
        await s.commit({ now: T, insert: taken });
        await refused(s.commit({ now: T, useOnce: [once('ren-a')], rename: { from: from.alias, expectVersion: 1, row: { ...from, alias: taken.alias, version: 2 } } }), 'already_registered');
        expect(await s.getClient(from.alias)).toEqual(from);
        expect(await s.getClient(taken.alias)).toEqual(taken);
        expect(await s.countClients()).toBe(2);
        expect(await usable(s, 'ren-a')).toBe(true);
      });

      it('a refused expectKey records nothing: neither values nor the row change', async () => {
        const s = await store();
        const r = clientRow(newAlias(), 1, { gen: 1 });
        await s.commit({ now: T, insert: r });
        await refused(s.commit({ now: T, useOnce: [once('ek-a')], expectKey: { alias: r.alias, gen: 0 } }), 'generation_mismatch');
        await refused(s.commit({ now: T, useOnce: [once('ek-b')], expectKey: { alias: r.alias, gen: 0 }, update: { ...r, data: '{"x":1}', version: 2 } }), 'generation_mismatch');
        await refused(s.commit({ now: T, useOnce: [once('ek-c')], expectKey: { alias: newAlias(), gen: 1 } }), 'unknown_client');
        expect(await s.getClient(r.alias)).toEqual(r);
        for (const k of ['ek-a', 'ek-b', 'ek-c']) expect(await usable(s, k)).toBe(true);
      });

      it('commits running at once succeed or fail each on its own', async () => {
        const s = await store();
        const r = clientRow(newAlias());
        await s.commit({ now: T, insert: r });
        await s.commit({ now: T, useOnce: [once('par-used')] });
        const commits: [Commit, ErrorCode | null][] = [
          [{ now: T, useOnce: [once('par-1')] }, null],
          [{ now: T, useOnce: [once('par-2'), once('par-used')] }, 'replayed'],
          [{ now: T, useOnce: [once('par-3')], expectKey: { alias: r.alias, gen: 0 } }, null],
          [{ now: T, useOnce: [once('par-4')], update: { ...r, version: 9 } }, 'conflict'],
          [{ now: T, useOnce: [once('par-5')], update: { ...r, data: '{"n":2}', version: 2 } }, null],
          [{ now: T, useOnce: [once('par-6')], expectKey: { alias: r.alias, gen: 4 } }, 'generation_mismatch'],
          [{ now: T, useOnce: [once('par-7')] }, null],
        ];
        const results = await Promise.allSettled(commits.map(([c]) => s.commit(c)));
        results.forEach((res, i) => {
          const want = commits[i]![1];
          if (want === null) expect(res, `commit ${i}`).toMatchObject({ status: 'fulfilled' });
          else expect(res, `commit ${i}`).toMatchObject({ status: 'rejected', reason: { code: want } });
        });
        for (const [k, taken] of [['par-1', true], ['par-2', false], ['par-3', true], ['par-4', false], ['par-5', true], ['par-6', false], ['par-7', true]] as const) {
          expect(await usable(s, k), k).toBe(!taken);
        }
        expect((await s.getClient(r.alias))!.version).toBe(2);
      });
    });

    describe('one-time values', () => {
      it('are refused the second time: in another commit, twice in one commit, with or without a row change', async () => {
        const s = await store();
        await s.commit({ now: T, useOnce: [once('n1'), once('n2')] });
        await refused(s.commit({ now: T, useOnce: [once('n1')] }), 'replayed');
        await refused(s.commit({ now: T, useOnce: [once('n3'), once('n2')] }), 'replayed');
        await refused(s.commit({ now: T, useOnce: [once('twice'), once('twice')] }), 'replayed');
        expect(await usable(s, 'twice')).toBe(true); // the self-replaying commit left nothing
        const r = clientRow(newAlias());
        await s.commit({ now: T, useOnce: [once('with-row')], insert: r });
        await refused(s.commit({ now: T, useOnce: [once('with-row')], update: { ...r, version: 2 } }), 'replayed');
        expect((await s.getClient(r.alias))!.version).toBe(1);
      });

      it('stay refused up to and including their expiry second, and are accepted again after it', async () => {
        const s = await store();
        await s.commit({ now: T, useOnce: [once('exp', T + 10)] });
        await refused(s.commit({ now: T + 10, useOnce: [once('exp', T + 20)] }), 'replayed');
        await s.commit({ now: T + 11, useOnce: [once('exp', T + 30)] }); // expired: usable again, without any cleanup
        await refused(s.commit({ now: T + 30, useOnce: [once('exp', T + 40)] }), 'replayed'); // ... and recorded anew until T + 30
        await s.commit({ now: T + 31, useOnce: [once('exp', T + 40)] });
      });

      it('cleanup forgets exactly the expired values, says how many, and they may be used again', async () => {
        const s = await store();
        await s.commit({ now: T, useOnce: [once('c1', T + 5), once('c2', T + 6)] });
        await s.commit({ now: T, useOnce: [once('c3', T + 100)] });
        await s.commit({ now: T, useOnce: [once('c4', T + 50)] }); // expires exactly at the cleanup's now: kept
        expect(await s.cleanup(T + 50)).toBe(2);
        expect(await s.cleanup(T + 50)).toBe(0);
        expect(await usable(s, 'c1', T, T + 7)).toBe(true); // forgotten: taken again even at a time it would have been live
        expect(await usable(s, 'c2', T, T + 7)).toBe(true);
        expect(await usable(s, 'c3', T + 50)).toBe(false);
        expect(await usable(s, 'c4', T + 50)).toBe(false);
        expect(await s.cleanup(T + 200)).toBe(4); // c1, c2 (taken again above), c3, c4
      });
    });

    describe('versioned updates are never lost', () => {
      it('an update applies at version + 1 only; a stale or absent one is a conflict and changes nothing', async () => {
        const s = await store();
        const r = clientRow(newAlias());
        await s.commit({ now: T, insert: r });
        const v2 = { ...r, data: '{"v":2}', chain: '{"delivered":1}', updatedAt: T + 1, version: 2 };
        await s.commit({ now: T, update: v2 });
        expect(await s.getClient(r.alias)).toEqual(v2);
        await refused(s.commit({ now: T, update: { ...r, data: '{"lost":true}', version: 2 } }), 'conflict'); // made from version 1
        await refused(s.commit({ now: T, update: { ...r, data: '{"skip":true}', version: 4 } }), 'conflict');
        await refused(s.commit({ now: T, update: clientRow(newAlias(), 2) }), 'conflict');
        expect(await s.getClient(r.alias)).toEqual(v2);
      });

      it('updates racing from the same version: exactly one wins, every round', async () => {
        const s = await store();
        const r = clientRow(newAlias());
        await s.commit({ now: T, insert: r });
        for (let v = 1; v <= 10; v++) {
          const results = await Promise.allSettled([1, 2, 3].map((i) => s.commit({ now: T, update: { ...r, data: `{"v":${v},"by":${i}}`, version: v + 1 } })));
          expect(results.filter((x) => x.status === 'fulfilled')).toHaveLength(1);
          for (const x of results) if (x.status === 'rejected') expect(x.reason).toMatchObject({ code: 'conflict' });
          const by = results.findIndex((x) => x.status === 'fulfilled') + 1;
          expect(JSON.parse((await s.getClient(r.alias))!.data)).toEqual({ v, by });
        }
      });
    });

    describe('rename', () => {
      it('moves the row at expectVersion; a wrong version or an absent alias is a conflict; the same alias at a new generation works', async () => {
        const s = await store();
        const r = clientRow(newAlias());
        await s.commit({ now: T, insert: r });
        const moved = { ...r, alias: newAlias(), gen: 1, keyEnc: randomBytes(92), version: 2 };
        await refused(s.commit({ now: T, rename: { from: r.alias, expectVersion: 2, row: moved } }), 'conflict');
        await refused(s.commit({ now: T, rename: { from: newAlias(), expectVersion: 1, row: moved } }), 'conflict');
        expect(await s.getClient(moved.alias)).toBeNull();
        await s.commit({ now: T, useOnce: [once('ren-ok')], rename: { from: r.alias, expectVersion: 1, row: moved } });
        expect(await s.getClient(r.alias)).toBeNull();
        expect(await s.getClient(moved.alias)).toEqual(moved);
        expect(await s.countClients()).toBe(1);
        expect(await usable(s, 'ren-ok')).toBe(false);
        // A rotation that keeps the alias: the row is replaced by the next generation.
        const next = { ...moved, gen: 2, keyEnc: randomBytes(92), version: 3 };
        await s.commit({ now: T, rename: { from: moved.alias, expectVersion: 2, row: next } });
        expect(await s.getClient(moved.alias)).toEqual(next);
        expect(await s.countClients()).toBe(1);
      });
    });

    describe('expectKey', () => {
      it('the current generation passes; another is generation_mismatch naming the current one; an absent alias is unknown_client', async () => {
        const s = await store();
        const r = clientRow(newAlias(), 1, { gen: 2 });
        await s.commit({ now: T, insert: r });
        await s.commit({ now: T, useOnce: [once('k1')], expectKey: { alias: r.alias, gen: 2 } });
        await s.commit({ now: T, expectKey: { alias: r.alias, gen: 2 } }); // nothing else in the commit
        const e = await refused(s.commit({ now: T, useOnce: [once('k2')], expectKey: { alias: r.alias, gen: 1 } }), 'generation_mismatch');
        expect(e.details).toMatchObject({ generation: 2 });
        await refused(s.commit({ now: T, expectKey: { alias: r.alias, gen: 3 } }), 'generation_mismatch');
        await refused(s.commit({ now: T, useOnce: [once('k3')], expectKey: { alias: newAlias(), gen: 2 } }), 'unknown_client');
        // After a rotation the retired generation is refused at once, even though the row was just read (and maybe cached).
        expect((await s.getClient(r.alias))!.gen).toBe(2);
        await s.commit({ now: T, rename: { from: r.alias, expectVersion: 1, row: { ...r, gen: 3, version: 2 } } });
        await refused(s.commit({ now: T, useOnce: [once('k4')], expectKey: { alias: r.alias, gen: 2 } }), 'generation_mismatch');
        const gone = clientRow(newAlias());
        await s.commit({ now: T, insert: gone });
        await s.commit({ now: T, rename: { from: gone.alias, expectVersion: 1, row: { ...gone, alias: newAlias(), gen: 1, version: 2 } } });
        await refused(s.commit({ now: T, useOnce: [once('k5')], expectKey: { alias: gone.alias, gen: 0 } }), 'unknown_client');
      });
    });

    if (target.persistent) {
      describe('restart', () => {
        it('close and open again: clients, versions and unexpired one-time values are still there', async () => {
          const b = await target.fresh();
          const a = await track(b);
          const r = clientRow(newAlias(), 1, { validUntil: 4_102_444_800 });
          await a.commit({ now: T, useOnce: [once('restart-1'), once('restart-2', T + 600)], insert: r });
          await a.commit({ now: T, update: { ...r, data: '{"after":"update"}', version: 2 } });
          await close(a);
          const again = await track(b);
          expect(await again.getClient(r.alias)).toEqual({ ...r, data: '{"after":"update"}', version: 2 });
          expect(await again.countClients()).toBe(1);
          await refused(again.commit({ now: T, useOnce: [once('restart-1')] }), 'replayed');
          await refused(again.commit({ now: T, useOnce: [once('restart-2')] }), 'replayed');
          await refused(again.commit({ now: T, update: { ...r, version: 2 } }), 'conflict');
          await again.commit({ now: T, update: { ...r, data: '{"third":1}', version: 3 } });
        });
      });
    }

    if (target.shared) {
      describe('two instances on the same data', () => {
        const pair = async () => {
          const b = await target.fresh();
          return [await track(b), await track(b)] as const;
        };

        it('several instances opening an empty backing at once all work (schema set up once)', async () => {
          const b = await target.fresh();
          const stores = await Promise.all([1, 2, 3].map(() => track(b)));
          await stores[0]!.commit({ now: T, insert: clientRow(newAlias()) });
          await Promise.all(stores.map((s, i) => s.commit({ now: T, useOnce: [once(`open-${i}`)], insert: clientRow(newAlias()) })));
          for (const s of stores) expect(await s.countClients()).toBe(4);
        });

        it("a value used on one is refused on the other; racing on both, exactly one commit wins (every round)", async () => {
          const [a, b] = await pair();
          await a.commit({ now: T, useOnce: [once('both-1')] });
          await refused(b.commit({ now: T, useOnce: [once('both-1')] }), 'replayed');
          await b.commit({ now: T, useOnce: [once('both-2')] });
          await refused(a.commit({ now: T, useOnce: [once('both-2')], insert: clientRow(newAlias()) }), 'replayed');
          for (let round = 0; round < 40; round++) {
            const k = `race-${round}`;
            // Two requests carrying the same challenge, each with a nonce of its own.
            const results = await Promise.allSettled([
              a.commit({ now: T, useOnce: [once(`${k}-na`), once(k)] }),
              b.commit({ now: T, useOnce: [once(`${k}-nb`), once(k)] }),
            ]);
            expect(results.filter((x) => x.status === 'fulfilled'), `round ${round}`).toHaveLength(1);
            const loser = results.findIndex((x) => x.status === 'rejected');
            expect(results[loser]).toMatchObject({ status: 'rejected', reason: { code: 'replayed' } });
            // The loser's own nonce went back with its commit.
            expect(await usable(loser === 0 ? b : a, `${k}-${loser === 0 ? 'na' : 'nb'}`)).toBe(true);
          }
        });

        it("a write on one is never overwritten from the other's stale view, and the other's commits see it at once", async () => {
          const [a, b] = await pair();
          const r = clientRow(newAlias());
          await a.commit({ now: T, insert: r });
          await eventually('an insert on one read on the other', async () => (await b.getClient(r.alias)) !== null);
          expect(await b.getClient(r.alias)).toEqual(r); // b holds version 1 now (perhaps cached)
          await a.commit({ now: T, update: { ...r, data: '{"by":"a"}', version: 2 } });
          // Right away, whatever b's reads still show: b's version-2 write is refused.
          await refused(b.commit({ now: T, useOnce: [once('stale-b')], update: { ...r, data: '{"by":"b"}', version: 2 } }), 'conflict');
          expect(await usable(b, 'stale-b')).toBe(true);
          // A rotation on a: b's commits refuse the retired generation at once.
          await a.commit({ now: T, rename: { from: r.alias, expectVersion: 2, row: { ...r, gen: 1, keyEnc: randomBytes(92), version: 3 } } });
          await refused(b.commit({ now: T, useOnce: [once('stale-k')], expectKey: { alias: r.alias, gen: 0 } }), 'generation_mismatch');
          await refused(b.commit({ now: T, rename: { from: r.alias, expectVersion: 2, row: { ...r, gen: 1, version: 3 } } }), 'conflict');
          // A move to another alias: unknown_client on b at once.
          const moved = { ...r, alias: newAlias(), gen: 2, version: 4 };
          await a.commit({ now: T, rename: { from: r.alias, expectVersion: 3, row: moved } });
          await refused(b.commit({ now: T, useOnce: [once('gone')], expectKey: { alias: r.alias, gen: 1 } }), 'unknown_client');
          await refused(b.commit({ now: T, insert: moved }), 'already_registered');
        });

        it("a fresh read on one sees the other's committed write at once, even while its cache holds the row", async () => {
          const [a, b] = await pair();
          const r = clientRow(newAlias());
          await a.commit({ now: T, insert: r });
          await eventually('an insert on one read on the other', async () => (await b.getClient(r.alias)) !== null);
          let row = r;
          for (let v = 2; v <= 21; v++) {
            await a.getClient(r.alias); // a holds the row now (cached, perhaps one write behind)
            row = { ...row, data: `{"v":${v}}`, updatedAt: T + v, version: v };
            // Every other round a rotation: the row's generation and key change (what a slot credential is checked against).
            if (v % 2) await b.commit({ now: T, rename: { from: r.alias, expectVersion: v - 1, row: (row = { ...row, gen: row.gen + 1, keyEnc: randomBytes(92) }) } });
            else await b.commit({ now: T, update: row });
            expect(await a.getClient(r.alias, { fresh: true }), `version ${v}`).toEqual(row);
          }
          // Moved to another alias: the old one is gone at once, the new one there.
          const moved = { ...row, alias: newAlias(), gen: row.gen + 1, version: row.version + 1 };
          await a.getClient(r.alias);
          await b.commit({ now: T, rename: { from: r.alias, expectVersion: row.version, row: moved } });
          expect(await a.getClient(r.alias, { fresh: true })).toBeNull();
          expect(await a.getClient(moved.alias, { fresh: true })).toEqual(moved);
        });

        it("reads on one see the other's inserts, updates and renames within a bounded time", async () => {
          const [a, b] = await pair();
          const r = clientRow(newAlias());
          await a.commit({ now: T, insert: r });
          await eventually('insert', async () => (await b.getClient(r.alias)) !== null);
          expect(await b.getClient(r.alias)).toEqual(r);
          const v2 = { ...r, data: '{"v":2}', version: 2 };
          await a.commit({ now: T, update: v2 });
          await eventually('update', async () => (await b.getClient(r.alias))?.version === 2);
          expect(await b.getClient(r.alias)).toEqual(v2);
          const moved = { ...v2, alias: newAlias(), gen: 1, version: 3 };
          await a.commit({ now: T, rename: { from: r.alias, expectVersion: 2, row: moved } });
          await eventually('rename', async () => (await b.getClient(r.alias)) === null);
          expect(await b.getClient(moved.alias)).toEqual(moved);
          expect(await b.countClients()).toBe(1);
          // And the other way round.
          await b.commit({ now: T, update: { ...moved, data: '{"by":"b"}', version: 4 } });
          await eventually('update from b', async () => (await a.getClient(moved.alias))?.version === 4);
        });

        it('racing updates and inserts across instances: exactly one wins each time', async () => {
          const [a, b] = await pair();
          const r = clientRow(newAlias());
          await a.commit({ now: T, insert: r });
          for (let v = 1; v <= 10; v++) {
            const results = await Promise.allSettled([a, b].map((s, i) => s.commit({ now: T, update: { ...r, data: `{"v":${v},"by":${i}}`, version: v + 1 } })));
            expect(results.filter((x) => x.status === 'fulfilled'), `version ${v}`).toHaveLength(1);
            for (const x of results) if (x.status === 'rejected') expect(x.reason).toMatchObject({ code: 'conflict' });
          }
          for (let round = 0; round < 10; round++) {
            const alias = newAlias();
            const results = await Promise.allSettled([a, b].map((s) => s.commit({ now: T, insert: clientRow(alias) })));
            expect(results.filter((x) => x.status === 'fulfilled')).toHaveLength(1);
            for (const x of results) if (x.status === 'rejected') expect(x.reason).toMatchObject({ code: 'already_registered' });
          }
          expect(await a.countClients()).toBe(11);
        });
      });
    }
  });
}
