/**
 * Options: the vendor list (receipts, a new key, forget), a change of secret and the sites still
 * waiting to move, settings, export and import of the non-secret data.
 */
import { browser } from '../shared-ext/browser.ts';
import { describeSubscription } from '../shared-ext/describe.ts';
import type { MoveReport, MoveStep, VendorEntry } from '../shared-ext/types.ts';
import { $, ask, date, listen, plainWords, say } from '../shared-ext/ui.ts';


function el<K extends keyof HTMLElementTagNameMap>(tag: K, text?: string, attrs: Record<string, string> = {}): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  return e;
}

function cell(text: string, code = false): HTMLTableCellElement {
  const td = el('td');
  if (code) td.append(el('code', text));
  else td.textContent = text;
  return td;
}

function definitions(rows: [string, string][]): HTMLDListElement {
  const dl = el('dl');
  for (const [k, v] of rows) dl.append(el('dt', k), el('dd', v));
  return dl;
}

function chainWords(v: VendorEntry): string | null {
  if (!v.chain) return null;
  const delivered = v.lastDelivery?.sub === v.chain.sub ? v.lastDelivery.i : 0;
  return `${delivered} of ${v.chain.n} delivered, ${v.lastAcked} of ${v.chain.n} acknowledged`;
}

function subscriptionCell(v: VendorEntry): HTMLTableCellElement {
  const td = el('td');
  const rows = describeSubscription(v.subscription, v.labels);
  rows.push(['Valid', v.validUntil === null ? 'no end date' : `until ${date(v.validUntil)}`]);
  const chain = chainWords(v);
  if (chain) rows.push(['Receipt chain', chain]);
  td.append(definitions(rows));
  return td;
}

function button(text: string, label: string, onClick: () => void | Promise<void>, secondary = true): HTMLButtonElement {
  const b = el('button', text, { type: 'button', 'aria-label': label });
  if (secondary) b.className = 'secondary';
  b.addEventListener('click', () => void onClick());
  return b;
}

async function renderVendors(): Promise<void> {
  const vendors = Object.values(await ask('ui.vendors'));
  const tbody = $('vendors').querySelector('tbody')!;
  tbody.replaceChildren();
  $('vendors-caption').textContent = vendors.length ? `${vendors.length} site(s)` : 'No sites yet. Register on a Janus site from the popup.';
  for (const v of vendors) {
    const tr = el('tr');
    const th = el('th', v.name ? `${v.name} (${v.origin})` : v.origin, { scope: 'row' });
    if (v.move) th.append(el('br'), el('span', 'waiting to move to your new secret', { class: 'pending' }));
    const receipts = el('td');
    receipts.append(String(v.receipts.length), ' ');
    receipts.append(button('View', `Receipts of ${v.origin}`, () => showEvidence(v.origin)));
    const actions = el('td');
    const box = el('div', undefined, { class: 'actions' });
    box.append(
      button('New key', `New key for ${v.origin}`, async () => {
        if (!confirm(`Move ${v.origin} to a new key? The site switches to it at once; your old key there stops working.`)) return;
        say(`Moving ${v.origin} to a new key…`);
        try {
          const e = await ask('ui.rotate', { origin: v.origin });
          say(`${v.origin} now knows your key of generation ${e.gen}.`, 'ok');
        } catch (err) {
          say(`${v.origin} keeps its key: ${plainWords(err)}`, 'error');
        }
        await renderVendors();
      }),
      button('Forget', `Forget ${v.origin}`, async () => {
        if (!confirm(`Forget ${v.origin}? Your account there stays; this removes only the local entry.`)) return;
        await ask('ui.forget', { origin: v.origin });
        say(`Forgot ${v.origin}.`, 'ok');
        await renderVendors();
      }),
    );
    actions.append(box);
    tr.append(th, cell(v.alias, true), cell(v.fingerprint, true), cell(v.registeredAt === null ? 'on another device' : date(v.registeredAt)), subscriptionCell(v), receipts, actions);
    tbody.append(tr);
  }
  await renderMoves();
}

// ---- receipts (src/background/evidence.ts) ----

let evidenceOrigin = '';

async function showEvidence(origin: string): Promise<void> {
  const ev = await ask('ui.evidence', { origin });
  evidenceOrigin = origin;
  const body = $('evidence-body');
  body.replaceChildren();
  $('evidence-h').textContent = `Receipts of ${ev.name ?? origin}`;
  if (ev.receipts.length === 0) body.append(el('p', 'This site gave you no signed receipt (it registered you without non-repudiation).', { class: 'muted' }));
  ev.receipts.forEach((r, i) => {
    body.append(el('h3', ev.receipts.length > 1 ? `Receipt ${i + 1} of ${ev.receipts.length}` : 'Your subscription receipt'));
    const status =
      r.verified === true
        ? el('p', 'Verified: signed by the site’s pinned key.', { class: 'verified' })
        : r.verified === false
          ? el('p', `Does not verify: ${r.reason ?? ''}`, { class: 'unverified' })
          : el('p', `Not checked now: ${r.reason ?? ''}`, { class: 'muted' });
    body.append(status);
    const p = r.payload;
    if (!p) return;
    const rows: [string, string][] = [
      ['Site', p.vendor],
      ['Your alias there', `${p.alias} (key generation ${p.gen})`],
      ['Issued', date(p.issued_at)],
      ['Valid', p.valid_until === null ? `from ${date(p.valid_from)}, no end date` : `from ${date(p.valid_from)} until ${date(p.valid_until)}`],
      ...describeSubscription(p.terms).map(([k, v]): [string, string] => [`Terms: ${k.toLowerCase()}`, v]),
      ['Signer key', r.signer ?? ev.key.fingerprint],
    ];
    if (p.payword) rows.push(['Receipt chain', `${p.payword.n} deliveries, chain ${p.payword.sub}`]);
    body.append(definitions(rows));
  });
  if (ev.chain) {
    body.append(el('h3', 'What you paid for (PayWord)'));
    body.append(
      definitions([
        ['Chain length', String(ev.chain.n)],
        ['Delivered', String(ev.chain.delivered)],
        ['Acknowledged', String(ev.chain.acknowledged)],
      ]),
    );
  }
  ($('evidence-export') as HTMLButtonElement).disabled = ev.receipts.length === 0;
  ($('evidence') as HTMLDialogElement).showModal();
}

$('evidence-close').addEventListener('click', () => ($('evidence') as HTMLDialogElement).close());
listen($('evidence-export'), 'click', async () => {
  try {
    const doc = await ask('ui.exportEvidence', { origin: evidenceOrigin });
    download(doc, `janus-evidence-${new URL(evidenceOrigin).hostname}-${new Date().toISOString().slice(0, 10)}.json`);
    say('Evidence exported: `janus-vendor verify-receipt` checks it.', 'ok');
  } catch (e) {
    say(plainWords(e), 'error');
  }
});

function download(doc: unknown, name: string): void {
  const url = URL.createObjectURL(new Blob([JSON.stringify(doc, null, 2)], { type: 'application/json' }));
  const a = el('a');
  a.href = url;
  a.download = name;
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

// ---- moving to a new secret (src/background/move.ts) ----

let steps: HTMLOListElement | null = null;
browser.runtime.onMessage.addListener((m: unknown) => {
  const p = m as { type?: string; step?: MoveStep };
  if (p.type !== 'move.progress' || !p.step || !steps) return undefined;
  const s = p.step;
  const id = `step-${s.origin}`;
  let li = steps.querySelector<HTMLLIElement>(`li[data-origin="${CSS.escape(s.origin)}"]`);
  if (!li) {
    li = el('li', undefined, { 'data-origin': s.origin, id });
    steps.append(li);
  }
  const who = s.name ? `${s.name} (${s.origin})` : s.origin;
  li.textContent = s.state === 'moving' ? `${who}: moving…` : s.state === 'moved' ? `${who}: moved` : `${who}: waiting (${s.reason ?? 'unknown'})`;
  li.className = s.state === 'pending' ? 'pending' : '';
  return undefined;
});

async function renderMoves(): Promise<void> {
  const p = await ask('ui.pendingMoves');
  $('moves').hidden = p.sites.length === 0;
  const list = $('moves-list');
  list.replaceChildren(...p.sites.map((s) => el('li', `${s.name ? `${s.name} (${s.origin})` : s.origin}: ${s.move.reason}`)));
  $('moves-form').hidden = p.need === 'unlock';
  if (p.need === 'unlock') list.append(el('li', 'Unlock Janus (from its toolbar button) to move them.', { class: 'muted' }));
  $('moves-other').hidden = p.need === 'nothing';
  $('moves-again-box').hidden = p.need !== 'new';
  $('moves-secret-label').textContent = p.need === 'new' ? 'Your new secret' : 'Your previous secret';
  $('moves-form').dataset['need'] = p.need;
}

async function runMove(list: HTMLOListElement, call: () => Promise<MoveReport>): Promise<void> {
  steps = list;
  list.replaceChildren();
  try {
    const r = await call();
    say(r.pending.length ? `${r.moved.length} site(s) moved; ${r.pending.length} still wait (listed above): Janus moves them on your next unlock, or with Finish moving.` : `Done: ${r.moved.length} site(s) moved to your new secret.`, r.pending.length ? 'error' : 'ok');
  } catch (e) {
    say(plainWords(e), 'error');
  } finally {
    await renderVendors();
  }
}

listen($('secret-next'), 'input', async () => {
  const value = $<HTMLInputElement>('secret-next').value;
  const out = $('secret-strength');
  if (!value) return void (out.textContent = '');
  const { estimate } = await import('../shared-ext/strength.ts');
  const s = estimate(value);
  out.textContent = s.words;
  out.className = s.weak ? 'msg error' : 'muted';
});

listen($('secret-form'), 'submit', async (ev) => {
  ev.preventDefault();
  const current = $<HTMLInputElement>('secret-current');
  const next = $<HTMLInputElement>('secret-next');
  const again = $<HTMLInputElement>('secret-again');
  if (!current.value || !next.value) return say('Type your current secret and a new one.', 'error');
  if (next.value !== again.value) return say('The new secret and its repetition differ.', 'error');
  const b = $<HTMLButtonElement>('secret-change');
  b.disabled = true;
  say('Changing your secret: computing the new keys, then moving each site…');
  await runMove($<HTMLOListElement>('secret-steps'), () => ask('ui.changeSecret', { current: current.value, next: next.value }));
  for (const i of [current, next, again]) i.value = '';
  $('secret-strength').textContent = '';
  b.disabled = false;
});

listen($('moves-form'), 'submit', async (ev) => {
  ev.preventDefault();
  const need = $('moves-form').dataset['need'];
  const other = $<HTMLInputElement>('moves-secret');
  if (need !== 'nothing' && !other.value) return say('Type the secret asked for.', 'error');
  if (need === 'new' && other.value !== $<HTMLInputElement>('moves-again').value) return say('The new secret and its repetition differ.', 'error');
  await runMove($<HTMLOListElement>('moves-steps'), () => ask('ui.finishMoves', need === 'nothing' ? {} : { other: other.value }));
  other.value = '';
  $<HTMLInputElement>('moves-again').value = '';
});

// ---- settings, export, import ----

async function renderSettings(): Promise<void> {
  const s = await ask('ui.settings');
  $<HTMLInputElement>('autolock').value = String(s.autoLockMinutes);
  $<HTMLInputElement>('show-slot').checked = s.showSlot;
}

listen($('settings-form'), 'submit', async (ev) => {
  ev.preventDefault();
  try {
    await ask('ui.setSettings', { autoLockMinutes: Number($<HTMLInputElement>('autolock').value), showSlot: $<HTMLInputElement>('show-slot').checked });
    say('Settings saved.', 'ok');
  } catch (e) {
    say(plainWords(e), 'error');
  }
});

listen($('export'), 'click', async () => {
  download(await ask('ui.export'), `janus-sites-${new Date().toISOString().slice(0, 10)}.json`);
  say('Exported.', 'ok');
});

listen($<HTMLInputElement>('import'), 'change', async (ev) => {
  const file = (ev.target as HTMLInputElement).files?.[0];
  if (!file) return;
  try {
    const r = await ask('ui.import', { document: JSON.parse(await file.text()) });
    say(`Imported ${r.imported} site(s).`, 'ok');
    await renderVendors();
  } catch (e) {
    say(e instanceof SyntaxError ? 'That file is not JSON.' : plainWords(e), 'error');
  }
});

void Promise.all([renderVendors(), renderSettings()]).catch((e: unknown) => say(plainWords(e), 'error'));
