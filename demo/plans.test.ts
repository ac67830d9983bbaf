/** The Quotes subscription policy and the simulated prices, without a server. */
import { describe, expect, it } from 'vitest';
import { JanusError } from '../src/errors.ts';
import type { JsonObject } from '../src/protocol/index.ts';
import { luhnValid, MONTH_SECONDS, parseWatchlist, quotesPolicy, redactForStorage } from './plans.ts';
import { intraday, priceAt, quote } from './quotes.ts';

const now = Date.UTC(2026, 5, 15) / 1000;
const payword = { sub: 'AAAAAAAAAAAAAAAAAAAAAA', n: 10, w0: 'A'.repeat(43) };
const card = { number: '4111111111111111', name: 'Ada', exp: '08/27' };
const paid = (over: JsonObject = {}): JsonObject => ({ plan: 'intraday', months: 2, card, payword, ...over });

function refusal(data: JsonObject): string {
  try {
    quotesPolicy(data, now);
  } catch (e) {
    expect(e).toBeInstanceOf(JanusError);
    expect((e as JanusError).code).toBe('malformed');
    return (e as JanusError).message;
  }
  throw new Error('accepted');
}

describe('subscription policy', () => {
  it('Luhn', () => {
    for (const ok of ['4111111111111111', '4242424242424242', '5555555555554444', '378282246310005', '6011111111111117']) expect(luhnValid(ok)).toBe(true);
    for (const bad of ['4111111111111112', '4242424242424241', '1234567812345678']) expect(luhnValid(bad)).toBe(false);
  });

  it('free plan: watchlist and e-mail, forever', () => {
    expect(quotesPolicy({}, now)).toEqual({ validFrom: now, validUntil: null, terms: { plan: 'free' } });
    expect(quotesPolicy({ watchlist: ['LU', 'BRK.B'], email: 'a@b.example' }, now).validUntil).toBeNull();
    expect(refusal({ watchlist: [] })).toMatch(/^watchlist:/);
    expect(refusal({ watchlist: Array.from({ length: 21 }, () => 'LU') })).toMatch(/^watchlist:/);
    expect(refusal({ watchlist: ['lu'] })).toMatch(/^watchlist: "lu" is not a ticker symbol/);
    expect(refusal({ watchlist: ['TOOLONGX'] })).toMatch(/^watchlist:/);
    expect(refusal({ email: 'nope' })).toMatch(/^email:/);
    expect(refusal({ card })).toMatch(/^card: not part of the free plan/);
    expect(refusal({ payword })).toMatch(/^payword: not part of the free plan/);
    expect(refusal({ plan: 'gold' })).toMatch(/^plan:/);
  });

  it('paid plan: months, a valid card, a chain; terms without the card number', () => {
    const decided = quotesPolicy(paid(), now);
    expect(decided).toMatchObject({
      validFrom: now,
      validUntil: now + 2 * MONTH_SECONDS,
      terms: { plan: 'intraday', months: 2, price_cents: 1800, card_last4: '1111' },
    });
    // What the record keeps: the card's last four digits, never its number.
    expect(decided.keep!['card']).toEqual({ last4: '1111', exp: '08/27' });
    expect(JSON.stringify(decided)).not.toContain('4111111111111111');
    expect(refusal(paid({ months: 0 }))).toMatch(/^months:/);
    expect(refusal(paid({ months: 1.5 }))).toMatch(/^months:/);
    expect(refusal(paid({ card: { ...card, number: '4111 1111 1111 1111' } }))).toMatch(/^card.number: .*13 to 19 digits/);
    expect(refusal(paid({ card: { ...card, number: '4111111111111112' } }))).toMatch(/^card.number: .*check digit/);
    expect(refusal(paid({ card: { ...card, name: ' ' } }))).toMatch(/^card.name:/);
    expect(refusal(paid({ card: { ...card, exp: '13/27' } }))).toMatch(/^card.exp: .*MM\/YY/);
    expect(refusal(paid({ card: { ...card, exp: '05/26' } }))).toMatch(/^card.exp: the card has expired/);
    expect(quotesPolicy(paid({ card: { ...card, exp: '06/26' } }), now).validUntil).toBe(now + 2 * MONTH_SECONDS); // through June's end
    expect(refusal(paid({ card: 'x' }))).toMatch(/^card:/);
    expect(refusal(paid({ payword: undefined as never }))).toMatch(/^payword:/);
    expect(refusal(paid({ payword: { ...payword, n: 2001 } }))).toMatch(/^payword: a chain of 2001/);
    expect(refusal(paid({ coupon: 'FREE' }))).toMatch(/^coupon: not part of the intraday plan/);
  });

  it('stores the last four digits of the card, nothing more', () => {
    expect(redactForStorage(paid())).toEqual({ ...paid(), card: { last4: '1111', exp: '08/27' } });
    expect(redactForStorage({ watchlist: ['LU'] })).toEqual({ watchlist: ['LU'] });
  });

  it('parseWatchlist drops duplicates and keeps the order', () => {
    expect(parseWatchlist(['T', 'LU', 'T'])).toEqual(['T', 'LU']);
  });
});

describe('simulated quotes', () => {
  const minute = Math.floor(now / 60);

  it('are deterministic per symbol and minute, in cents, and differ between symbols', () => {
    expect(priceAt('LU', minute)).toBe(priceAt('LU', minute));
    expect(Math.round(priceAt('LU', minute) * 100) / 100).toBe(priceAt('LU', minute));
    expect(priceAt('LU', minute)).not.toBe(priceAt('T', minute));
    expect(quote('IBM', now)).toEqual(quote('IBM', now + 59 - (now % 60)));
  });

  it('walk in small steps, also across midnight (UTC)', () => {
    const midnight = Math.floor(minute / 1440) * 1440;
    for (const s of ['LU', 'T', 'IBM', 'ZZZ']) {
      for (let m = midnight - 30; m < midnight + 30; m++) {
        const a = priceAt(s, m);
        const b = priceAt(s, m + 1);
        expect(Math.abs(b - a) / a).toBeLessThan(0.01);
      }
      expect(priceAt(s, minute)).toBeGreaterThan(1);
    }
  });

  it('intraday: 390 one-minute points ending now, with open, high, low and last', () => {
    const s = intraday('LU', now);
    expect(s.points).toHaveLength(390);
    expect(s.points[389]).toEqual([new Date(minute * 60_000).toISOString(), priceAt('LU', minute)]);
    expect(s.last).toBe(priceAt('LU', minute));
    expect(s.open).toBe(s.points[0]![1]);
    expect(s.high).toBeGreaterThanOrEqual(s.last);
    expect(s.low).toBeLessThanOrEqual(s.open);
  });
});
