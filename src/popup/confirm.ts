/** The confirmation page: shows what a page proposed and registers only on the user's click. */
import { cardLast4 } from '../shared-ext/describe.ts';
import type { Proposal } from '../shared-ext/types.ts';
import { $, ask, date, plainWords, say } from '../shared-ext/ui.ts';

const id = new URLSearchParams(location.search).get('id') ?? '';

/** The data as it will be sent, but for the card number: its last four digits only. */
function shown(data: Record<string, unknown>): string {
  const last4 = cardLast4(data);
  const card = data['card'];
  return JSON.stringify(last4 === null ? data : { ...data, card: { ...(card as object), number: '•••• ' + last4 } }, null, 2);
}

async function main(): Promise<void> {
  let p: Proposal;
  try {
    p = await ask('ui.proposal', { id });
  } catch (e) {
    say(plainWords(e), 'error');
    return;
  }
  $('origin').textContent = p.origin;
  $('site-name').textContent = p.name ? ` with ${p.name}` : '';
  $('data').textContent = shown(p.data);
  const terms = $('terms');
  const rows: [string, string][] = [
    ['Signed receipt', p.receipt || p.receiptPolicy === 'required' ? 'yes (non-repudiation registration)' : 'no'],
    ['Receipt chain', p.chain ? `${p.chain} deliveries (PayWord)` : 'none'],
  ];
  if (p.subscription && typeof p.subscription['description'] === 'string') rows.unshift(['Site offers', p.subscription['description']]);
  for (const [k, v] of rows) {
    const dt = document.createElement('dt');
    dt.textContent = k;
    const dd = document.createElement('dd');
    dd.textContent = v;
    terms.append(dt, dd);
  }
  $('proposal').hidden = false;
  $('confirm').focus();
  const buttons = [$<HTMLButtonElement>('confirm'), $<HTMLButtonElement>('decline')];
  const decideNow = async (accept: boolean) => {
    for (const b of buttons) b.disabled = true;
    say(accept ? 'Registering…' : 'Declining…');
    try {
      const r = await ask('ui.decide', { id, accept });
      say(r ? `Registered as ${r.alias}${r.validUntil ? `, valid until ${date(r.validUntil)}` : ''}. You can close this window.` : 'Declined. You can close this window.', 'ok');
      setTimeout(() => window.close(), 1500);
    } catch (e) {
      say(plainWords(e), 'error');
    }
  };
  $('confirm').addEventListener('click', () => void decideNow(true));
  $('decline').addEventListener('click', () => void decideNow(false));
}

void main();
