/**
 * Subscription data in words (the options page): each member under the site's own name for it
 * (its discovery document's `subscription.fields`, docs/PROTOCOL.md §5), or its key made readable,
 * with its value written out: lists as lists, a card as its last digits and expiry, dates as dates.
 */
const TIME_KEYS = /(^|_)(at|until|since|from|time)$|At$|Until$|From$/;

function readable(key: string): string {
  const spaced = key.replace(/[_-]+/g, ' ').replace(/([a-z])([A-Z])/g, '$1 $2').trim().toLowerCase();
  return spaced.charAt(0).toUpperCase() + spaced.slice(1);
}

function value(key: string, v: unknown): string {
  if (v === null || v === undefined) return '—';
  if (typeof v === 'boolean') return v ? 'yes' : 'no';
  if (typeof v === 'number') {
    // Unix seconds in a member that names a time: a date.
    if (TIME_KEYS.test(key) && v > 1e9 && v < 1e11) return new Date(v * 1000).toISOString().slice(0, 10);
    return v.toLocaleString('en');
  }
  if (typeof v === 'string') return v;
  if (Array.isArray(v)) return v.length ? v.map((x) => value(key, x)).join(', ') : 'none';
  if (typeof v === 'object') {
    const o = v as Record<string, unknown>;
    // What the extension keeps of a card (register.ts redact): its last four digits and expiry.
    if ('last4' in o) return [`card ending ${typeof o['last4'] === 'string' ? o['last4'] : '????'}`, typeof o['exp'] === 'string' ? `expiring ${o['exp']}` : ''].filter(Boolean).join(', ');
    return Object.entries(o)
      .map(([k, x]) => `${readable(k).toLowerCase()} ${value(k, x)}`)
      .join('; ');
  }
  return typeof v === 'bigint' || typeof v === 'symbol' ? v.toString() : '—';
}

/** [name, value in words] for each member of `data`, in the order the site lists its fields, then the rest. */
export function describeSubscription(data: Record<string, unknown> | null, labels: Record<string, string> = {}): [string, string][] {
  if (!data) return [];
  const keys = [...Object.keys(labels).filter((k) => k in data), ...Object.keys(data).filter((k) => !(k in labels))];
  return keys.map((k) => [labels[k] ?? readable(k), value(k, data[k])]);
}

/** The last four digits of the card in subscription data, or null: all the extension shows or keeps of its number. */
export function cardLast4(data: Record<string, unknown>): string | null {
  const card = data['card'];
  const number = card && typeof card === 'object' ? (card as Record<string, unknown>)['number'] : undefined;
  return typeof number === 'string' ? number.slice(-4) : null;
}

/** What is kept of data_C locally: everything but the card number (its last four digits stay) and the chain. */
export function redact(data: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...data };
  const card = out['card'];
  if (card && typeof card === 'object') out['card'] = { last4: cardLast4(data), exp: (card as Record<string, unknown>)['exp'] ?? null };
  delete out['payword'];
  return out;
}
