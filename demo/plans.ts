/**
 * The Quotes subscription policy (docs/PROTOCOL.md §7.4): what a client may put in its subscription
 * data, and what the vendor grants for it. The paper's Example 1 is the free plan (a watchlist);
 * Example 2 is the paid plan (a card, a duration and a PayWord receipt chain).
 *
 * Every refusal is JanusError('malformed') with a message that names the member in plain words: the
 * SDK sends it to the client, and the extension shows it to the user.
 */
import { JanusError, type Json, type JsonObject, type SubscribePolicy, type SubscriptionTerms } from 'janus-vendor';
import { SYMBOL_RE } from './quotes.ts';

const MAX_WATCHLIST = 20;
export const PRICE_CENTS_PER_MONTH = 900;
/** A month of the paid plan: 30 days. */
export const MONTH_SECONDS = 30 * 24 * 3600;
/** Intraday deliveries a month of the paid plan includes: the upper bound on the PayWord chain. */
export const DELIVERIES_PER_MONTH = 1000;

const FREE_MEMBERS = new Set(['watchlist', 'email']);
const PAID_MEMBERS = new Set(['plan', 'months', 'card', 'payword', 'watchlist', 'email']);

function refuse(message: string): never {
  throw new JanusError('malformed', message);
}

const isObject = (v: Json | undefined): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A watchlist: 1..20 ticker symbols, duplicates dropped, order kept. */
export function parseWatchlist(v: unknown, name = 'watchlist'): string[] {
  if (!Array.isArray(v) || v.length < 1 || v.length > MAX_WATCHLIST) {
    refuse(`${name}: give a list of 1 to ${MAX_WATCHLIST} ticker symbols`);
  }
  const out: string[] = [];
  for (const s of v as unknown[]) {
    if (typeof s !== 'string' || !SYMBOL_RE.test(s)) {
      refuse(`${name}: ${JSON.stringify(s)?.slice(0, 20) ?? 'that'} is not a ticker symbol (1 to 6 capital letters or dots, like "LU" or "BRK.B")`);
    }
    if (!out.includes(s)) out.push(s);
  }
  return out;
}

function parseEmail(v: Json | undefined): void {
  if (v === undefined) return;
  if (typeof v !== 'string' || v.length > 254 || !/^[^\s@]+@[^\s@]+$/.test(v)) refuse('email: not an e-mail address');
}

/** Luhn's check digit (ISO/IEC 7812-1 Annex B). */
export function luhnValid(digits: string): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = digits.charCodeAt(digits.length - 1 - i) - 48;
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

/** The card is checked for shape only: this demo charges nothing and sends the number nowhere. */
function parseCard(v: Json | undefined, now: number): { last4: string } {
  if (!isObject(v)) refuse('card: give the card as an object with number, name and exp');
  const { number, name, exp } = v;
  if (typeof number !== 'string' || !/^\d{13,19}$/.test(number)) refuse('card.number: the card number must be 13 to 19 digits, without spaces');
  if (!luhnValid(number)) refuse('card.number: the card number is not valid (its check digit is wrong)');
  if (typeof name !== 'string' || name.trim() === '' || name.length > 100) refuse('card.name: give the name on the card');
  const m = typeof exp === 'string' ? /^(0[1-9]|1[0-2])\/(\d{2})$/.exec(exp) : null;
  if (!m) refuse('card.exp: give the expiry date as MM/YY');
  // A card is valid through the last day of its expiry month.
  const endOfMonth = Date.UTC(2000 + Number(m[2]), Number(m[1]), 1) / 1000;
  if (now >= endOfMonth) refuse('card.exp: the card has expired');
  return { last4: number.slice(-4) };
}

function rejectUnknown(data: JsonObject, allowed: ReadonlySet<string>, plan: string): void {
  for (const k of Object.keys(data)) {
    if (!allowed.has(k)) refuse(`${k}: not part of the ${plan} (it takes ${[...allowed].join(', ')})`);
  }
}

/** Which plan the data asks for. */
export function planOf(data: JsonObject): 'free' | 'intraday' {
  return data['plan'] === 'intraday' ? 'intraday' : 'free';
}

export const quotesPolicy: SubscribePolicy = (data, now): SubscriptionTerms => {
  if (data['plan'] === undefined) {
    // Example 1: free personalized quotes, forever.
    rejectUnknown(data, FREE_MEMBERS, 'free plan');
    if (data['watchlist'] !== undefined) parseWatchlist(data['watchlist']);
    parseEmail(data['email']);
    return { validFrom: now, validUntil: null, terms: { plan: 'free' } };
  }
  if (data['plan'] !== 'intraday') refuse('plan: the only paid plan is "intraday"; leave plan out for the free plan');
  // Example 2: a subscription paid by card, with a receipt chain for the intraday deliveries.
  rejectUnknown(data, PAID_MEMBERS, 'intraday plan');
  const months = data['months'];
  if (typeof months !== 'number' || !Number.isInteger(months) || months < 1 || months > 12) refuse('months: subscribe for 1 to 12 months');
  const card = parseCard(data['card'], now);
  const payword = data['payword'];
  // The SDK has already checked the commitment's shape (§11.1); the plan bounds its length.
  if (!isObject(payword)) refuse('payword: the intraday plan needs a PayWord receipt chain (the Janus extension commits to one)');
  const n = payword['n'];
  const most = months * DELIVERIES_PER_MONTH;
  if (typeof n !== 'number') refuse('payword: n must be a number');
  if (n > most) refuse(`payword: a chain of ${n} deliveries is more than the ${most} that ${months} month(s) include`);
  if (data['watchlist'] !== undefined) parseWatchlist(data['watchlist']);
  parseEmail(data['email']);
  return {
    validFrom: now,
    validUntil: now + months * MONTH_SECONDS,
    // The receipt's terms: never the card number, only its last four digits.
    terms: { plan: 'intraday', months, price_cents: months * PRICE_CENTS_PER_MONTH, card_last4: card.last4 },
    // What the record keeps: the card number is replaced by its last four digits.
    keep: redactForStorage(data),
  };
};

/**
 * What the vendor keeps of the data: the card number is replaced by its last four digits before the
 * record is stored (the receipt's request_sha256 still commits to what the client sent).
 */
export function redactForStorage(data: JsonObject): JsonObject {
  const card = data['card'];
  if (!isObject(card)) return data;
  const number = typeof card['number'] === 'string' ? card['number'] : '';
  return { ...data, card: { last4: number.slice(-4), ...(typeof card['exp'] === 'string' ? { exp: card['exp'] } : {}) } };
}

/** The subscription description in the discovery document (display only, §5). */
export const SUBSCRIPTION_DESCRIPTION: JsonObject = {
  description: 'Personalized stock quotes. Free: your watchlist, any time. Intraday: minute-by-minute series with receipts.',
  // Labels the extension shows the subscription data under (docs/PROTOCOL.md §5, subscription.fields).
  fields: { watchlist: 'Symbols you follow', email: 'E-mail for notices', plan: 'Plan', months: 'Months paid', card: 'Card' },
  plans: [
    { plan: 'free', data: { watchlist: `1..${MAX_WATCHLIST} ticker symbols`, email: 'optional' }, protocols: ['SKEP', 'SDDP'] },
    {
      plan: 'intraday',
      price_cents_per_month: PRICE_CENTS_PER_MONTH,
      deliveries_per_month: DELIVERIES_PER_MONTH,
      data: { plan: 'intraday', months: '1..12', card: '{ number, name, exp: "MM/YY" }', payword: 'receipt chain' },
      protocols: ['non-repudiation SKEP', 'EDDP', 'PayWord receipts'],
    },
  ],
};
