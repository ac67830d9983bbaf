/**
 * The Quotes pages: server-rendered HTML, no framework. Every value that comes from a client is
 * escaped; the pages' JavaScript is /app.js (the Content-Security-Policy allows no inline script).
 * Each page says which Janus protocol protects which request, after the paper's Examples 1 and 2.
 */
import type { JanusClient } from 'janus-vendor';
import { DEFAULT_WATCHLIST } from './quotes.ts';
import { DELIVERIES_PER_MONTH, PRICE_CENTS_PER_MONTH, planOf } from './plans.ts';

export interface PageContext {
  /** The client recognized by its slot credential (§10), or null for a visitor. */
  client: JanusClient | null;
  origin: string;
  fingerprint: string;
  now: number;
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
const esc = (s: unknown): string => String(s).replace(/[&<>"']/g, (c) => ESCAPES[c]!);

const date = (t: number) => new Date(t * 1000).toISOString().slice(0, 10);
const dollars = (cents: number) => `$${(cents / 100).toFixed(2)}`;

/** How the site addresses a recognized client: the e-mail it chose to disclose, else its alias. */
function displayName(c: JanusClient): string {
  const email = c.data['email'];
  return typeof email === 'string' ? email : `client ${c.alias}`;
}

const NAV: [string, string][] = [
  ['/', 'Home'],
  ['/watchlist', 'Watchlist'],
  ['/intraday', 'Intraday'],
];

function layout(page: string, path: string, title: string, ctx: PageContext, main: string): string {
  const nav = NAV.map(([href, label]) => `<li><a href="${href}"${href === path ? ' aria-current="page"' : ''}>${label}</a></li>`).join('');
  const who = ctx.client
    ? `Recognized by your slot credential as <strong>${esc(displayName(ctx.client))}</strong>`
    : 'Not recognized: visitor';
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)} · Quotes</title>
<link rel="stylesheet" href="/app.css">
<link rel="icon" href="/favicon.svg" type="image/svg+xml">
<script src="/app.js" defer></script>
</head>
<body data-page="${page}">
<a class="skip" href="#main">Skip to the content</a>
<header class="site">
  <a class="brand" href="/">Quotes</a>
  <nav aria-label="Main"><ul>${nav}</ul></nav>
  <p class="who">${who}</p>
</header>
<main id="main">
<noscript><p class="msg error">These pages need JavaScript for their protected requests (the Janus extension intercepts them).</p></noscript>
<p id="extension" class="msg" role="status" hidden></p>
${main}
</main>
<footer class="site">
  <p>Quotes is the demo vendor of Janus, after Matias, Mayer and Silberschatz,
  <cite>Lightweight Security Primitives for E-Commerce</cite> (USENIX USITS 1997): Example 1 (free personalized quotes) and Example 2 (a paid subscription).
  Prices are simulated; no card is charged.</p>
  <p>Vendor identity <code>${esc(ctx.origin)}</code>, key fingerprint <code>${esc(ctx.fingerprint)}</code>,
  <a href="/.well-known/janus">discovery document</a>.</p>
</footer>
</body>
</html>
`;
}

const PROTOCOL_TABLE = `
<table class="protocols">
  <caption>Which protocol protects which request</caption>
  <thead><tr><th scope="col">Request</th><th scope="col">Janus protocol</th><th scope="col">What it gives you</th></tr></thead>
  <tbody>
    <tr><td>Register for the free plan</td><td>SKEP (paper Fig. 1)</td>
      <td>Your key for this site goes to it once, encrypted under its public key; both sides confirm they hold it.</td></tr>
    <tr><td>Subscribe to the intraday plan</td><td>Non-repudiation SKEP (Fig. 2) with a PayWord commitment</td>
      <td>The site signs a receipt for your subscription terms and your receipt chain.</td></tr>
    <tr><td><code>GET</code> and <code>PUT /api/watchlist</code></td><td>SDDP (Fig. 3), paper Example 1</td>
      <td>Your quotes come encrypted and authenticated, bound to your request's nonce.</td></tr>
    <tr><td><code>GET /api/intraday/<var>SYMBOL</var></code></td><td>EDDP with receipts (Fig. 4, §5), paper Example 2</td>
      <td>You prove your key before the site sends anything; each delivery is numbered, and you acknowledge it with the next word of your PayWord chain.</td></tr>
    <tr><td>Page loads (<code>/</code>, <code>/watchlist</code>, <code>/intraday</code>)</td><td>Slot credential (§10)</td>
      <td>The site recognizes you to greet you. It authorizes nothing.</td></tr>
  </tbody>
</table>`;

function clientSummary(c: JanusClient, now: number): string {
  const plan = planOf(c.data);
  const lines: string[] = [];
  if (plan === 'intraday') {
    const until = c.validUntil;
    lines.push(
      until !== null && until > now
        ? `Your plan: <strong>intraday</strong>, paid through ${esc(date(until))}.`
        : `Your intraday subscription ended${until !== null ? ` on ${esc(date(until))}` : ''}.`,
    );
    if (c.chain) {
      lines.push(`Receipt chain <code>${esc(c.chain.sub)}</code>: ${c.chain.delivered} of ${c.chain.n} deliveries made, ${c.chain.acked} acknowledged.`);
    }
  } else {
    lines.push('Your plan: <strong>free</strong> personalized quotes (paper Example 1), for as long as you like.');
  }
  lines.push(`Registered on ${esc(date(c.registeredAt))}; key generation ${c.gen}.`);
  return lines.map((l) => `<p>${l}</p>`).join('\n');
}

const REGISTER_FORMS = `
<section aria-labelledby="register-h">
<h2 id="register-h">Register</h2>
<p>Registration runs in the Janus extension: it computes your key for <em>this</em> site from your identity and secret,
and sends it here once. The site never sees your identity, only an alias.
These buttons ask the extension (<code>window.janus.register</code>) to register with the data below; it asks you to confirm.</p>

<form id="register-free" class="card" novalidate>
  <h3>Free plan: personalized quotes</h3>
  <p>Paper Example 1: SKEP, then SDDP for your watchlist.</p>
  <p><label for="free-watchlist">Ticker symbols (comma separated)</label>
     <input id="free-watchlist" name="watchlist" value="${DEFAULT_WATCHLIST.join(', ')}" autocomplete="off" spellcheck="false" required></p>
  <p><label for="free-email">E-mail (optional: only if you want the site to know it)</label>
     <input id="free-email" name="email" type="email" autocomplete="email"></p>
  <p><button type="submit">Register for free quotes</button></p>
</form>

<form id="register-paid" class="card" novalidate>
  <h3>Intraday plan: ${dollars(PRICE_CENTS_PER_MONTH)} a month</h3>
  <p>Paper Example 2: non-repudiation SKEP (you get a signed receipt), then EDDP with PayWord receipts,
  ${DELIVERIES_PER_MONTH} intraday deliveries a month. This demo charges nothing: use a test number such as 4242 4242 4242 4242.</p>
  <p><label for="paid-months">Months</label>
     <select id="paid-months" name="months">${Array.from({ length: 12 }, (_, i) => `<option value="${i + 1}"${i === 0 ? ' selected' : ''}>${i + 1}</option>`).join('')}</select></p>
  <p><label for="paid-number">Card number</label>
     <input id="paid-number" name="number" inputmode="numeric" autocomplete="cc-number" required></p>
  <p><label for="paid-name">Name on the card</label>
     <input id="paid-name" name="name" autocomplete="cc-name" required></p>
  <p><label for="paid-exp">Expiry (MM/YY)</label>
     <input id="paid-exp" name="exp" autocomplete="cc-exp" placeholder="MM/YY" required></p>
  <p><label for="paid-watchlist">Ticker symbols (optional)</label>
     <input id="paid-watchlist" name="watchlist" autocomplete="off" spellcheck="false"></p>
  <p><button type="submit">Subscribe to intraday quotes</button></p>
</form>
<p id="register-status" class="msg" role="status" aria-live="polite"></p>
</section>`;

export function homePage(ctx: PageContext): string {
  const c = ctx.client;
  const hello = c
    ? `<h1>Welcome back, ${esc(displayName(c))}</h1>
${clientSummary(c, ctx.now)}
<p>Your browser sent a <strong>slot credential</strong> with this page load, so the site knows it is you.
Your quotes themselves travel under SDDP and EDDP: see <a href="/watchlist">your watchlist</a>
${planOf(c.data) === 'intraday' ? 'and <a href="/intraday">intraday quotes</a>' : ''}.</p>`
    : `<h1>Hello, visitor</h1>
<p>Quotes delivers personalized stock quotes to its subscribers, protected by <strong>Janus</strong>:
a key per site computed by your browser from one identity and one secret, with nothing stored on your machine
and no password stored here.</p>
<p>To register, load the Janus extension, unlock it with your identity and secret, and press one of the buttons below.
Once registered, this page greets you.</p>`;
  const register = c
    ? `<section aria-labelledby="register-h"><h2 id="register-h">Registration</h2>
<p>You are registered. A site registers one key per identity; to try the other plan, unlock the extension with another identity.</p></section>`
    : REGISTER_FORMS;
  return layout(
    'home',
    '/',
    c ? 'Welcome back' : 'Hello',
    ctx,
    `${hello}
${register}
<section aria-labelledby="how-h">
<h2 id="how-h">How this site uses Janus</h2>
${PROTOCOL_TABLE}
<p><button type="button" id="extension-status">Ask the extension for its status</button></p>
<p id="status-out" class="msg" role="status" aria-live="polite"></p>
</section>`,
  );
}

export function watchlistPage(ctx: PageContext): string {
  return layout(
    'watchlist',
    '/watchlist',
    'Watchlist',
    ctx,
    `<h1>Your watchlist</h1>
<p>Paper Example 1, free personalized stock quotes. This page asks for <code>GET /api/watchlist</code> with plain
<code>fetch</code>; the Janus extension turns it into an <strong>SDDP</strong> request: your alias, a fresh nonce,
the request MACed with this time slot's key. The answer comes back encrypted and MACed, bound to that nonce.
Saving sends <code>PUT /api/watchlist</code> the same way, its body encrypted.</p>
<section aria-labelledby="quotes-h">
<h2 id="quotes-h">Quotes</h2>
<p id="quotes-status" class="msg" role="status" aria-live="polite">Loading your quotes…</p>
<table id="quotes" class="quotes" hidden>
  <caption id="quotes-caption">Your watchlist</caption>
  <thead><tr><th scope="col">Symbol</th><th scope="col">Price</th><th scope="col">24 h change</th><th scope="col">%</th></tr></thead>
  <tbody></tbody>
</table>
<p><button type="button" id="quotes-refresh">Refresh (SDDP GET)</button></p>
</section>
<section aria-labelledby="edit-h">
<h2 id="edit-h">Change your watchlist</h2>
<form id="watchlist-form" novalidate>
  <p><label for="watchlist-input">Ticker symbols, comma separated (1 to 20)</label>
     <input id="watchlist-input" name="watchlist" autocomplete="off" spellcheck="false" required></p>
  <p><button type="submit">Save (SDDP PUT)</button></p>
</form>
<p id="watchlist-status" class="msg" role="status" aria-live="polite"></p>
</section>`,
  );
}

export function intradayPage(ctx: PageContext): string {
  return layout(
    'intraday',
    '/intraday',
    'Intraday',
    ctx,
    `<h1>Intraday quotes</h1>
<p>Paper Example 2, a paid subscription. <code>GET /api/intraday/<var>SYMBOL</var></code> is an <strong>EDDP</strong>
route with receipts: before the site sends anything, the extension proves it holds your key by MACing the site's
challenge (the first one fetched from <code>/.janus/challenge</code>, later ones piggybacked on each answer).
Each delivery is numbered (<code>Janus-Receipt</code>); the site sends the next one only after you acknowledge this one
with the next word of your PayWord chain, which proves to a third party how many deliveries you received.</p>
<form id="intraday-form" novalidate>
  <p><label for="intraday-symbol">Ticker symbol</label>
     <input id="intraday-symbol" name="symbol" value="LU" autocomplete="off" spellcheck="false" required></p>
  <p><button type="submit">Get the intraday series (EDDP)</button></p>
</form>
<p id="intraday-status" class="msg" role="status" aria-live="polite"></p>
<section id="intraday-result" aria-labelledby="series-h" hidden>
<h2 id="series-h">Series</h2>
<figure>
  <div id="chart"></div>
  <figcaption id="chart-caption"></figcaption>
</figure>
<dl id="series-summary" class="summary"></dl>
<p id="delivery" class="msg"></p>
</section>`,
  );
}

export function notFoundPage(ctx: PageContext): string {
  return layout('none', '', 'Not found', ctx, `<h1>Not found</h1><p>There is no such page. Try the <a href="/">home page</a>.</p>`);
}

export function errorPage(ctx: PageContext): string {
  return layout('none', '', 'Error', ctx, `<h1>Something went wrong</h1><p>The server could not build this page. Try again, or go to the <a href="/">home page</a>.</p>`);
}
