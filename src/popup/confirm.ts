/** The confirmation page: shows what a page proposed and registers only on the user's click. */
import type { Proposal, RegisterResult } from '../shared-ext/types.ts';
import { $, ask, date, plainWords } from '../shared-ext/ui.ts';

const id = new URLSearchParams(location.search).get('id') ?? '';
const msg = $('msg');
const say = (t: string, kind = '') => {
  msg.textContent = t;
  msg.className = 'msg' + (kind ? ' ' + kind : '');
};

function shown(data: Record<string, unknown>): string {
  const copy: Record<string, unknown> = { ...data };
  const card = copy['card'];
  if (card && typeof card === 'object') {
    const n = String((card as Record<string, unknown>)['number'] ?? '');
    copy['card'] = { ...(card as object), number: n.length > 4 ? '•••• ' + n.slice(-4) : n };
  }
  return JSON.stringify(copy, null, 2);
}

async function main(): Promise<void> {
  let p: Proposal;
  try {
    p = await ask<Proposal>('ui.proposal', { id });
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
      const r = await ask<RegisterResult | null>('ui.decide', { id, accept });
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
