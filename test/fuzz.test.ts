/**
 * The vendor-side fuzz suite, a bounded run (test/support/fuzz.ts; the long run is bench/fuzz.ts):
 * every endpoint from valid messages, mutated (bit flips, truncation, dropped, duplicated, re-cased
 * and underscored headers, other methods and path spellings, oversized fields, abandoned uploads,
 * replays), against the SDK's server and against `janus-vendor serve` in front of an Express site,
 * each in its own process. Accepted forgeries, 5xx, crashes, logged errors, store inconsistencies
 * and refused legitimate requests all stay at zero.
 */
import { describe, expect, it } from 'vitest';
import { useCryptoProvider } from '../src/crypto/provider.ts';
import { nodeCryptoProvider } from '../src/server/node-crypto.ts';
import { runFuzz, type FuzzMode } from './support/fuzz.ts';

useCryptoProvider(nodeCryptoProvider);

// A different plan every day, the same plan all day (a failure can be re-run with its seed).
const SEED = Number(process.env['JANUS_FUZZ_SEED'] ?? Math.floor(Date.now() / 86_400_000));

describe.each(['sdk', 'proxy'] as FuzzMode[])('fuzz: the %s vendor', (mode) => {
  it(`2000 operations from valid messages (seed ${SEED}): no forgery accepted, no 5xx, no crash, the store consistent`, async () => {
    const r = await runFuzz({ mode, operations: 2000, seed: SEED, concurrency: 4 });
    expect({
      acceptedForgeries: r.acceptedForgeries,
      fiveXX: r.fiveXX,
      crashes: r.crashes,
      errorLogLines: r.errorLogLines,
      storeInconsistencies: r.storeInconsistencies,
      legitimateRefused: r.legitimateRefused,
      problems: r.problems,
    }).toEqual({ acceptedForgeries: 0, fiveXX: 0, crashes: 0, errorLogLines: 0, storeInconsistencies: 0, legitimateRefused: 0, problems: [] });
    // The run did what it says: every endpoint and every mutation, thousands of requests.
    expect(Object.keys(r.byEndpoint).sort()).toEqual(['ack', 'challenge', 'discovery', 'eddp', 'oversize', 'page', 'paid', 'rotate', 'sddp-get', 'sddp-put', 'skep1', 'skep3']);
    expect(Object.keys(r.byMutation).length).toBe(13);
    expect(r.requests).toBeGreaterThan(4000);
    expect(r.mutants).toBeGreaterThan(1500);
    expect(r.registrationsAcknowledged).toBeGreaterThan(80);
  });
});
