/** Options: the vendor list (forget), settings, export and import of the non-secret data. */
import type { Settings, VendorEntry } from '../shared-ext/types.ts';
import { $, ask, date, plainWords } from '../shared-ext/ui.ts';

const msg = $('msg');
const say = (t: string, kind = '') => {
  msg.textContent = t;
  msg.className = 'msg' + (kind ? ' ' + kind : '');
};

function cell(text: string, code = false): HTMLTableCellElement {
  const td = document.createElement('td');
  if (code) {
    const c = document.createElement('code');
    c.textContent = text;
    td.append(c);
  } else td.textContent = text;
  return td;
}

function subscriptionText(v: VendorEntry): string {
  const parts: string[] = [];
  if (v.subscription && Object.keys(v.subscription).length) parts.push(JSON.stringify(v.subscription));
  parts.push(v.validUntil === null ? 'no end date' : `until ${date(v.validUntil)}`);
  if (v.chain) parts.push(`chain ${v.chain.sub}: ${v.lastAcked} of ${v.chain.n} acknowledged`);
  return parts.join('; ');
}

async function renderVendors(): Promise<void> {
  const vendors = Object.values(await ask<Record<string, VendorEntry>>('ui.vendors'));
  const tbody = $('vendors').querySelector('tbody')!;
  tbody.replaceChildren();
  $('vendors-caption').textContent = vendors.length ? `${vendors.length} site(s)` : 'No sites yet. Register on a Janus site from the popup.';
  for (const v of vendors) {
    const tr = document.createElement('tr');
    const th = document.createElement('th');
    th.scope = 'row';
    th.textContent = v.name ? `${v.name} (${v.origin})` : v.origin;
    const forget = document.createElement('button');
    forget.type = 'button';
    forget.className = 'secondary';
    forget.textContent = 'Forget';
    forget.setAttribute('aria-label', `Forget ${v.origin}`);
    forget.addEventListener('click', async () => {
      if (!confirm(`Forget ${v.origin}? Your account there stays; this removes only the local entry.`)) return;
      await ask('ui.forget', { origin: v.origin });
      say(`Forgot ${v.origin}.`, 'ok');
      await renderVendors();
    });
    const action = document.createElement('td');
    action.append(forget);
    tr.append(th, cell(v.alias, true), cell(v.fingerprint, true), cell(v.registeredAt === null ? 'on another device' : date(v.registeredAt)), cell(subscriptionText(v)), cell(String(v.receipts.length)), action);
    tbody.append(tr);
  }
}

async function renderSettings(): Promise<void> {
  const s = await ask<Settings>('ui.settings');
  $<HTMLInputElement>('autolock').value = String(s.autoLockMinutes);
  $<HTMLInputElement>('show-slot').checked = s.showSlot;
}

$('settings-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  try {
    await ask('ui.setSettings', { autoLockMinutes: Number($<HTMLInputElement>('autolock').value), showSlot: $<HTMLInputElement>('show-slot').checked });
    say('Settings saved.', 'ok');
  } catch (e) {
    say(plainWords(e), 'error');
  }
});

$('export').addEventListener('click', async () => {
  const doc = await ask<unknown>('ui.export');
  const url = URL.createObjectURL(new Blob([JSON.stringify(doc, null, 2)], { type: 'application/json' }));
  const a = document.createElement('a');
  a.href = url;
  a.download = `janus-sites-${new Date().toISOString().slice(0, 10)}.json`;
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
  say('Exported.', 'ok');
});

$<HTMLInputElement>('import').addEventListener('change', async (ev) => {
  const file = (ev.target as HTMLInputElement).files?.[0];
  if (!file) return;
  try {
    const r = await ask<{ imported: number }>('ui.import', { document: JSON.parse(await file.text()) });
    say(`Imported ${r.imported} site(s).`, 'ok');
    await renderVendors();
  } catch (e) {
    say(e instanceof SyntaxError ? 'That file is not JSON.' : plainWords(e), 'error');
  }
});

void Promise.all([renderVendors(), renderSettings()]).catch((e: unknown) => say(plainWords(e), 'error'));
