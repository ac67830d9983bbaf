import { describe, expect, it } from 'vitest';
import { cardLast4, describeSubscription, redact } from './describe.ts';
import { duration, estimate } from './strength.ts';

describe('describeSubscription: subscription data in words', () => {
  it('uses the site’s names for its fields, in its order, then the rest made readable', () => {
    const data = { watchlist: ['LU', 'T', 'IBM'], plan: 'intraday', months: 12, card: { last4: '4242', exp: '12/39' }, email: 'a@example.com', renewAt: 1893456000 };
    expect(describeSubscription(data, { plan: 'Plan', watchlist: 'Symbols you follow' })).toEqual([
      ['Plan', 'intraday'],
      ['Symbols you follow', 'LU, T, IBM'],
      ['Months', '12'],
      ['Card', 'card ending 4242, expiring 12/39'],
      ['Email', 'a@example.com'],
      ['Renew at', '2030-01-01'],
    ]);
  });

  it('falls back to a key/value list, and says nothing of no data', () => {
    expect(describeSubscription({ free_trial: true, tags: [] })).toEqual([
      ['Free trial', 'yes'],
      ['Tags', 'none'],
    ]);
    expect(describeSubscription(null)).toEqual([]);
  });
});

describe('estimate: a secret’s strength in words', () => {
  it('calls a common password weak and says what an offline attacker needs', () => {
    const s = estimate('password1');
    expect(s.weak).toBe(true);
    expect(s.words).toContain('64 MiB');
    expect(s.words).toContain('not enough');
  });

  it('finds a long passphrase strong, and counts the identity as known to the attacker', () => {
    expect(estimate('correct horse battery staple 1997').weak).toBe(false);
    expect(estimate('alice.example1997', ['alice@example.com']).guessesLog10).toBeLessThan(estimate('alice.example1997').guessesLog10);
  });

  it('writes durations in words', () => {
    expect(duration(30)).toBe('under a minute');
    expect(duration(7200)).toBe('about 2 hours');
    expect(duration(3 * 365.25 * 24 * 3600)).toBe('about 3 years');
    expect(duration(1e20)).toBe('more than a million years');
  });
});

describe('redact: what the extension keeps of the data it sent', () => {
  const data = { plan: 'intraday', card: { number: '4242 4242 4242 4242', name: 'Bob', exp: '12/39' }, payword: { sub: 'x' } };

  it('keeps the card’s last four digits and expiry, nothing else of it, and drops the chain', () => {
    expect(redact(data)).toEqual({ plan: 'intraday', card: { last4: '4242', exp: '12/39' } });
    expect(JSON.stringify(redact(data))).not.toContain('4242 4242');
    expect(cardLast4(data)).toBe('4242');
    expect(cardLast4({ card: 'not an object' })).toBeNull();
    expect(redact({ watchlist: ['LU'] })).toEqual({ watchlist: ['LU'] });
  });

  it('reads the kept card back in words', () => {
    expect(describeSubscription(redact(data))).toContainEqual(['Card', 'card ending 4242, expiring 12/39']);
  });
});
