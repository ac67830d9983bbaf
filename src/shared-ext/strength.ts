/**
 * How strong a secret is, in words that say what it means here (shown at the first unlock on a
 * device and when choosing a new secret; a warning, never a refusal). The estimate is zxcvbn's
 * (@zxcvbn-ts, with the common and English dictionaries): the number of guesses an attacker who
 * knows how people choose passwords would need. What one guess costs is set by Janus's Argon2id
 * parameters (docs/PROTOCOL.md §3.3): the attacker of docs/THREAT-MODEL.md who copied a site's
 * database and its key-encryption key tests guesses offline, each one 64 MiB and three passes.
 * Loaded only when needed (the dictionaries are large): `import('./strength.ts')`.
 */
import { ZxcvbnFactory } from '@zxcvbn-ts/core';
import * as common from '@zxcvbn-ts/language-common';
import * as en from '@zxcvbn-ts/language-en';

/** Guesses per second one processor core can test at Janus's Argon2id cost (~0.1 s each, memory-bound). */
const GUESSES_PER_CORE_SECOND = 10;
/** The attacker the words assume: a thousand cores. */
const ATTACKER_CORES = 1000;

let factory: ZxcvbnFactory | null = null;

interface Strength {
  /** zxcvbn's 0..4. */
  score: number;
  /** log10 of the estimated guesses. */
  guessesLog10: number;
  /** Weak enough to warn about. */
  weak: boolean;
  /** What it means, in plain words. */
  words: string;
  /** zxcvbn's own advice, when it has some. */
  advice: string | null;
}

/** A duration in words, from seconds. */
export function duration(seconds: number): string {
  const units: [number, string][] = [
    [365.25 * 24 * 3600 * 1000, 'thousand years'],
    [365.25 * 24 * 3600, 'years'],
    [30 * 24 * 3600, 'months'],
    [24 * 3600, 'days'],
    [3600, 'hours'],
    [60, 'minutes'],
  ];
  if (seconds >= 1e6 * 365.25 * 24 * 3600) return 'more than a million years';
  for (const [size, name] of units) {
    if (seconds >= size) {
      const n = Math.round(seconds / size);
      return `about ${n.toLocaleString('en')} ${n === 1 ? name.replace(/s$/, '') : name}`;
    }
  }
  return 'under a minute';
}

/** The estimate for `secret`; `identity` and the site names count as known to the attacker. */
export function estimate(secret: string, known: string[] = []): Strength {
  factory ??= new ZxcvbnFactory({
    translations: en.translations,
    graphs: common.adjacencyGraphs,
    dictionary: { ...common.dictionary, ...en.dictionary },
  });
  const r = factory.check(secret, known.flatMap((k) => [k, ...k.split(/[^\p{L}\p{N}]+/u)]).filter((k) => k.length >= 3));
  const seconds = 10 ** r.guessesLog10 / (GUESSES_PER_CORE_SECOND * ATTACKER_CORES);
  const weak = r.guessesLog10 < 12;
  const words =
    `Someone who copies one of your sites' database (and its key-encryption key) can test guesses of your secret offline, ` +
    `each costing 64 MiB of memory and about a tenth of a second of a processor core. This secret needs about 10^${Math.round(r.guessesLog10)} guesses: ` +
    `${duration(seconds)} for an attacker with ${ATTACKER_CORES.toLocaleString('en')} cores.` +
    (weak ? ' That is not enough: a longer secret, such as four or five unrelated words, is much stronger.' : '');
  return { score: r.score, guessesLog10: r.guessesLog10, weak, words, advice: r.feedback.warning ?? r.feedback.suggestions[0] ?? null };
}
