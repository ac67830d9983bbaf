// Quotes, the Janus demo vendor: the pages' script. Plain fetch() calls; the Janus extension
// intercepts those to protected routes (SDDP, EDDP) and answers with the decrypted response.
//
// The page API (docs/PAGE-API.md): the page asks for the provider with a `janus:requestProvider`
// event; where the extension serves this site it answers `janus:announceProvider` with
//   janus.register(data, { receipt?: boolean, chain?: number }) -> Promise<result>
//       propose subscription data to the user; `chain` asks for a PayWord chain of that many deliveries
//   janus.status() -> Promise<object>        e.g. { unlocked, registered, alias }
//   janus.acknowledge?.(receipt?) -> Promise  acknowledge the last eddp+receipts delivery now
'use strict';
(() => {
  const $ = (id) => document.getElementById(id);
  let provider = null;
  // Protected fetches wait for the provider (at most a moment): until the extension has looked at
  // this site, it does not intercept them.
  const providerReady = new Promise((resolve) => {
    window.addEventListener('janus:announceProvider', (e) => {
      if (e.detail && typeof e.detail.provider === 'object') provider = e.detail.provider;
      resolve(provider);
    });
    setTimeout(() => resolve(null), 1500);
  });
  window.dispatchEvent(new Event('janus:requestProvider'));
  const janus = () => provider;
  const NO_EXTENSION =
    'The Janus extension is not active on this page. Load it (npm start builds it into dist/: chrome://extensions, Developer mode, Load unpacked), unlock it with your identity and secret, and reload.';

  function say(el, text, kind) {
    if (!el) return;
    el.textContent = text;
    el.className = 'msg' + (kind ? ' ' + kind : '');
    el.hidden = !text;
  }

  /** Plain words for a refused or failed protected request. */
  async function explain(res, what) {
    let code = res.headers.get('janus-error');
    let message = '';
    try {
      const body = await res.json();
      if (body && body.error) {
        code = code || body.error.code;
        message = body.error.message || '';
      }
    } catch {
      // not JSON: the status is all we have
    }
    switch (code) {
      case 'missing_signature':
        return `${what} was refused: it must be protected by Janus, and it arrived unprotected. ${janus() ? 'Register on the home page first.' : NO_EXTENSION}`;
      case 'unknown_client':
      case 'not_registered':
        return `${what} was refused: you are not registered here (or the extension is unlocked with another identity). Register on the home page.`;
      case 'locked':
        return `${what} needs your key: unlock the Janus extension.`;
      case 'subscription_expired':
        return message && !/^the subscription is not valid now$/.test(message)
          ? `${what} was refused: ${message}`
          : `${what} was refused: your subscription has ended.`;
      case 'subscription_required':
        return `${what} was refused: the free plan has no intraday quotes. Subscribe to the intraday plan (with another identity).`;
      case 'ack_required':
        return `${what} was refused: the previous delivery has not been acknowledged yet. The extension acknowledges it on the next request; try again.`;
      case 'chain_exhausted':
        return `${what} was refused: you have used every delivery your subscription includes.`;
      case 'malformed':
        return `${what} was refused: ${message || 'the request was not accepted'}.`;
      default:
        return `${what} failed (HTTP ${res.status}${code ? ', ' + code : ''})${message ? ': ' + message : ''}.`;
    }
  }

  async function request(path, init, what, statusEl) {
    await providerReady;
    let res;
    try {
      res = await fetch(path, { ...init, headers: { accept: 'application/json', ...(init && init.headers) } });
    } catch (e) {
      say(statusEl, `${what} failed: ${e && e.message ? e.message : e}. ${janus() ? '' : NO_EXTENSION}`, 'error');
      return null;
    }
    if (!res.ok) {
      say(statusEl, await explain(res, what), 'error');
      return null;
    }
    try {
      return { res, body: await res.json() };
    } catch {
      say(statusEl, `${what} returned something that is not JSON.`, 'error');
      return null;
    }
  }

  const parseSymbols = (text) =>
    text
      .split(/[\s,;]+/)
      .map((s) => s.trim().toUpperCase())
      .filter(Boolean);

  const money = (x) => x.toFixed(2);

  // ---- Home: registration and status -------------------------------------------------------

  async function register(form, data, options) {
    const out = $('register-status');
    const j = janus();
    if (!j || typeof j.register !== 'function') {
      say(out, NO_EXTENSION, 'error');
      return;
    }
    const button = form.querySelector('button');
    button.disabled = true;
    say(out, 'Asking the Janus extension to register (it runs SKEP with this site)…');
    try {
      const result = await j.register(data, options);
      const until = result && typeof result.validUntil === 'number' ? ` Valid until ${new Date(result.validUntil * 1000).toISOString().slice(0, 10)}.` : '';
      const receipt = result && result.receipt ? ' The extension keeps the signed receipt.' : '';
      say(out, `Registered.${until}${receipt} Reload the page to be greeted.`, 'ok');
    } catch (e) {
      const code = e && e.code ? ` (${e.code})` : '';
      say(out, `Registration did not happen${code}: ${e && e.message ? e.message : e}`, 'error');
    } finally {
      button.disabled = false;
    }
  }

  function home() {
    const free = $('register-free');
    if (free) {
      free.addEventListener('submit', (ev) => {
        ev.preventDefault();
        const data = {};
        const symbols = parseSymbols($('free-watchlist').value);
        if (symbols.length) data.watchlist = symbols;
        const email = $('free-email').value.trim();
        if (email) data.email = email;
        void register(free, data, { receipt: false });
      });
    }
    const paid = $('register-paid');
    if (paid) {
      paid.addEventListener('submit', (ev) => {
        ev.preventDefault();
        const months = Number($('paid-months').value);
        const data = {
          plan: 'intraday',
          months,
          card: { number: $('paid-number').value.replace(/[\s-]/g, ''), name: $('paid-name').value.trim(), exp: $('paid-exp').value.trim() },
        };
        const symbols = parseSymbols($('paid-watchlist').value);
        if (symbols.length) data.watchlist = symbols;
        // Non-repudiation SKEP, and a PayWord chain of the deliveries the plan includes.
        void register(paid, data, { receipt: true, chain: months * 1000 });
      });
    }
    const button = $('extension-status');
    if (button) {
      button.addEventListener('click', async () => {
        const out = $('status-out');
        const j = janus();
        if (!j || typeof j.status !== 'function') {
          say(out, NO_EXTENSION, 'error');
          return;
        }
        try {
          const s = await j.status();
          const parts = [];
          if (s && 'unlocked' in s) parts.push(s.unlocked ? 'unlocked' : 'locked');
          if (s && 'registered' in s) parts.push(s.registered ? 'registered with this site' : 'not registered with this site');
          if (s && s.alias) parts.push('alias ' + s.alias);
          say(out, 'The extension reports: ' + (parts.length ? parts.join(', ') : JSON.stringify(s)) + '.', 'ok');
        } catch (e) {
          say(out, `The extension did not answer: ${e && e.message ? e.message : e}`, 'error');
        }
      });
    }
  }

  // ---- Watchlist: SDDP GET and PUT ----------------------------------------------------------

  function showQuotes(body) {
    const table = $('quotes');
    const tbody = table.querySelector('tbody');
    tbody.replaceChildren();
    for (const q of body.quotes) {
      const tr = document.createElement('tr');
      const cls = q.change > 0 ? 'up' : q.change < 0 ? 'down' : '';
      for (const [text, c] of [
        [q.symbol, ''],
        [money(q.price), ''],
        [(q.change > 0 ? '+' : '') + money(q.change), cls],
        [(q.change_pct > 0 ? '+' : '') + q.change_pct.toFixed(2), cls],
      ]) {
        const td = document.createElement('td');
        td.textContent = text;
        if (c) td.className = c;
        tr.append(td);
      }
      tbody.append(tr);
    }
    $('quotes-caption').textContent = `Your watchlist at ${new Date(body.as_of).toLocaleTimeString()} (delivered by SDDP)`;
    table.hidden = false;
    $('watchlist-input').value = body.watchlist.join(', ');
  }

  async function loadQuotes() {
    const status = $('quotes-status');
    say(status, 'Loading your quotes (SDDP)…');
    const r = await request('/api/watchlist', { method: 'GET' }, 'Loading your quotes', status);
    if (!r) return;
    showQuotes(r.body);
    say(status, '');
  }

  function watchlist() {
    void loadQuotes();
    $('quotes-refresh').addEventListener('click', () => void loadQuotes());
    $('watchlist-form').addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const status = $('watchlist-status');
      const symbols = parseSymbols($('watchlist-input').value);
      if (!symbols.length) {
        say(status, 'Give at least one ticker symbol.', 'error');
        return;
      }
      say(status, 'Saving (SDDP PUT)…');
      const r = await request(
        '/api/watchlist',
        { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ watchlist: symbols }) },
        'Saving your watchlist',
        status,
      );
      if (!r) return;
      showQuotes(r.body);
      say(status, 'Saved.', 'ok');
    });
  }

  // ---- Intraday: EDDP with receipts ---------------------------------------------------------

  const SVG = 'http://www.w3.org/2000/svg';

  function chart(series) {
    const w = 600;
    const h = 220;
    const pad = 36;
    const prices = series.points.map((p) => p[1]);
    const lo = Math.min(...prices);
    const hi = Math.max(...prices);
    const span = hi - lo || 1;
    const svg = document.createElementNS(SVG, 'svg');
    svg.setAttribute('viewBox', `0 0 ${w} ${h}`);
    svg.setAttribute('role', 'img');
    const first = series.points[0][0];
    const last = series.points[series.points.length - 1][0];
    svg.setAttribute('aria-label', `${series.symbol} from ${new Date(first).toLocaleTimeString()} to ${new Date(last).toLocaleTimeString()}: low ${money(lo)}, high ${money(hi)}, last ${money(series.last)}`);
    const line = document.createElementNS(SVG, 'polyline');
    const n = prices.length;
    line.setAttribute(
      'points',
      prices.map((p, i) => `${(pad + (i * (w - 2 * pad)) / Math.max(1, n - 1)).toFixed(1)},${(h - pad - ((p - lo) * (h - 2 * pad)) / span).toFixed(1)}`).join(' '),
    );
    svg.append(line);
    for (const [y, text] of [
      [pad - 8, money(hi)],
      [h - pad + 18, money(lo)],
    ]) {
      const t = document.createElementNS(SVG, 'text');
      t.setAttribute('x', '4');
      t.setAttribute('y', String(y));
      t.textContent = text;
      svg.append(t);
    }
    $('chart').replaceChildren(svg);
  }

  function intraday() {
    $('intraday-form').addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const status = $('intraday-status');
      const symbol = $('intraday-symbol').value.trim().toUpperCase();
      if (!/^[A-Z.]{1,6}$/.test(symbol)) {
        say(status, 'A ticker symbol is 1 to 6 capital letters or dots, like LU.', 'error');
        return;
      }
      say(status, `Asking for ${symbol} (EDDP)…`);
      const r = await request(`/api/intraday/${encodeURIComponent(symbol)}`, { method: 'GET' }, `The intraday series of ${symbol}`, status);
      if (!r) return;
      const b = r.body;
      chart(b.series);
      $('chart-caption').textContent = `${b.symbol}, one point a minute for the last ${b.series.points.length} minutes (simulated prices).`;
      const dl = $('series-summary');
      dl.replaceChildren();
      for (const [k, v] of [
        ['Open', money(b.series.open)],
        ['High', money(b.series.high)],
        ['Low', money(b.series.low)],
        ['Last', money(b.series.last)],
      ]) {
        const dt = document.createElement('dt');
        dt.textContent = k;
        const dd = document.createElement('dd');
        dd.textContent = v;
        dl.append(dt, dd);
      }
      const d = b.delivery;
      $('delivery').textContent = d
        ? `Delivery ${d.i} of ${d.n} on receipt chain ${d.sub} (${d.acked} acknowledged so far). Your next request acknowledges it with PayWord word w${d.i}.`
        : '';
      $('intraday-result').hidden = false;
      say(status, '');
      // Acknowledge now rather than on the next request, when the extension offers it.
      const j = janus();
      if (j && typeof j.acknowledge === 'function') {
        try {
          await j.acknowledge(d ? { sub: d.sub, i: d.i } : undefined);
          if (d) $('delivery').textContent = `Delivery ${d.i} of ${d.n} on receipt chain ${d.sub}, acknowledged with PayWord word w${d.i}.`;
        } catch (e) {
          say(status, `The extension could not acknowledge the delivery: ${e && e.message ? e.message : e}`, 'error');
        }
      }
    });
  }

  // ---- Start --------------------------------------------------------------------------------

  function start() {
    void providerReady.then((j) => {
      if (!j) say($('extension'), NO_EXTENSION, 'error');
    });
    const page = document.body.dataset.page;
    if (page === 'home') home();
    else if (page === 'watchlist') watchlist();
    else if (page === 'intraday') intraday();
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
