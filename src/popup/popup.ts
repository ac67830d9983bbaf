/** The popup: unlock and lock, and the current tab's Janus status with Register. */
import { browser } from '../shared-ext/browser.ts';
import type { TabStatus } from '../shared-ext/types.ts';
import { $, ask, date, listen, plainWords, say } from '../shared-ext/ui.ts';


/** The tab this popup is about: ?tab=ID when opened as a page (tests), else the active tab. */
async function currentTabId(): Promise<number | null> {
  const q = new URLSearchParams(location.search).get('tab');
  if (q) return Number(q);
  const [tab] = await browser.tabs.query({ active: true, currentWindow: true });
  return tab?.id ?? null;
}

function el(tag: string, text?: string, attrs: Record<string, string> = {}): HTMLElement {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  return e;
}

function renderSite(s: TabStatus, tabId: number | null): void {
  const box = $('site');
  box.replaceChildren();
  if (!s.origin) {
    box.append(el('p', 'Not a Janus site (Janus works on https sites and on local test servers).'));
    return;
  }
  if (s.problem) {
    const text = s.problem.code === 'key_pin_mismatch' ? s.problem.message : plainWords(Object.assign(new Error(s.problem.message), { code: s.problem.code }));
    box.append(el('p', `${s.origin}: ${text}`, { class: 'msg error', id: 'problem' }));
    return;
  }
  if (!s.janus) {
    box.append(el('p', `${s.origin} is not a Janus site.`));
    return;
  }
  const name = s.name ? `${s.name} (${s.origin})` : s.origin;
  if (s.vendor) {
    const p = el('p', `${name}: registered as `);
    p.append(el('strong', s.vendor.alias, { id: 'alias' }));
    const dl = el('dl');
    const rows: [string, string][] = [
      ['Subscription', s.vendor.validUntil === null ? 'no end date' : `until ${date(s.vendor.validUntil)}`],
      ['Registered', s.vendor.registeredAt === null ? 'on another device' : date(s.vendor.registeredAt)],
      ['Key', s.vendor.fingerprint.slice(0, 16) + '…'],
    ];
    for (const [k, v] of rows) dl.append(el('dt', k), el('dd', v));
    box.append(p, dl);
    return;
  }
  box.append(el('p', `${name} is a Janus site. You are not registered here.`));
  const button = el('button', 'Register', { type: 'button', id: 'register' }) as HTMLButtonElement;
  box.append(el('p', 'Registering sends this site your key for it, once, encrypted under its public key. It sees an alias, never your identity.', { class: 'muted' }), button);
  const shown = s.origin;
  listen(button, 'click', async () => {
    if (tabId === null || shown === null) return;
    button.disabled = true;
    say('Registering…');
    try {
      // The origin shown here: the worker refuses if the tab has moved to another site since.
      const r = await ask('ui.register', { tabId, origin: shown });
      say(`Registered as ${r.alias}. Reload the page to be recognized.`, 'ok');
      await refresh();
    } catch (e) {
      say(plainWords(e), 'error');
      button.disabled = false;
    }
  });
}

async function refresh(): Promise<void> {
  const tabId = await currentTabId();
  const s = tabId === null ? null : await ask('ui.tabStatus', { tabId });
  const unlocked = s?.unlocked ?? false;
  $('locked').hidden = unlocked;
  $('unlocked').hidden = !unlocked;
  document.body.dataset['state'] = unlocked ? 'unlocked' : 'locked';
  if (unlocked && s) {
    $('who').textContent = s.identity ?? '';
    renderSite(s, tabId);
    const settings = await ask('ui.settings');
    const slot = $('slot');
    slot.hidden = !(settings.showSlot && s.slot);
    if (s.slot) slot.textContent = `Time slot ${s.slot.n}; credentials refresh at ${new Date(s.slot.refreshAt * 1000).toLocaleTimeString()}.`;
  } else {
    $('identity').focus();
  }
}

$('show-secret').addEventListener('click', () => {
  const input = $<HTMLInputElement>('secret');
  const show = input.type === 'password';
  input.type = show ? 'text' : 'password';
  const b = $('show-secret');
  b.textContent = show ? 'Hide' : 'Show';
  b.setAttribute('aria-pressed', String(show));
});

browser.runtime.onMessage.addListener((m: unknown) => {
  const p = m as { type?: string; fraction?: number };
  if (p.type !== 'unlock.progress' || typeof p.fraction !== 'number') return undefined;
  // WebAssembly Argon2id reports only its start (0) and end: the bar stays indeterminate till then.
  const bar = $<HTMLProgressElement>('progress');
  if (p.fraction > 0) bar.value = Math.round(p.fraction * 100);
  else bar.removeAttribute('value');
  return undefined;
});

listen($('unlock-form'), 'submit', async (ev) => {
  ev.preventDefault();
  const identity = $<HTMLInputElement>('identity').value.trim();
  const secretInput = $<HTMLInputElement>('secret');
  if (!identity) return say('Type your identity, for example your e-mail address.', 'error');
  if (!secretInput.value) return say('Type your secret.', 'error');
  const button = $<HTMLButtonElement>('unlock');
  button.disabled = true;
  $('progress-box').hidden = false;
  say('Unlocking…');
  try {
    const r = await ask('ui.unlock', { identity, secret: secretInput.value });
    // The first unlock on this device: how strong the secret is, and what that means (a warning only).
    if (r.firstOnThisDevice) await adviseStrength(secretInput.value, identity);
    secretInput.value = '';
    say('Unlocked.', 'ok');
    await refresh();
  } catch (e) {
    say(plainWords(e), 'error');
  } finally {
    button.disabled = false;
    $('progress-box').hidden = true;
  }
});

async function adviseStrength(secret: string, identity: string): Promise<void> {
  const { estimate } = await import('../shared-ext/strength.ts');
  const s = estimate(secret, [identity]);
  const box = $('strength');
  box.replaceChildren();
  const p = document.createElement('p');
  p.textContent = s.words;
  box.append(p);
  if (s.advice) {
    const a = document.createElement('p');
    a.className = 'muted';
    a.textContent = s.advice;
    box.append(a);
  }
  box.className = s.weak ? 'msg error' : 'muted';
  box.hidden = false;
}

listen($('lock'), 'click', async () => {
  await ask('ui.lock');
  say('Locked: your keys are wiped.', 'ok');
  await refresh();
});

void refresh().catch((e: unknown) => say(plainWords(e), 'error'));
