/**
 * Fixtures of the security scenarios (security.spec.ts):
 *
 * - the lab: a Janus vendor (the SDK behind node:http) on http://localhost:<port> with pages made
 *   for attacks (a `sandbox` page, a page that frames itself sandboxed, a page that registers
 *   without a user gesture), probe endpoints that log whether a request carried Janus-Credential,
 *   and a count of discovery requests;
 * - the probe site: a plain server reached under three names, same-site with the lab
 *   (http://localhost:<port>), cross-site with host permission (http://127.0.0.1:<port>) and
 *   cross-site without it (http://evil.test:<port>), whose page makes every kind of request to the lab.
 */
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { derToPem, generateVendorKeyPair } from '../src/crypto/rsa.ts';
import { randomBytes } from '../src/crypto/bytes.ts';
import { createVendor, type JanusVendor } from '../src/server/core.ts';
import { createJanusServer } from '../src/server/node-http.ts';
import { SqliteStore } from '../src/server/sqlite-store.ts';
import { UNPERMITTED_HOST } from './driver.ts';

export interface Hit {
  path: string;
  tag: string;
  method: string;
  credential: boolean;
}

export interface Lab {
  origin: string;
  vendor: JanusVendor;
  /** Requests to /probe/*: which carried the credential header. */
  hits: Hit[];
  /** GET /.well-known/janus requests so far. */
  discoveries(): number;
  /** What the lab's pages reported (GET /report?outcome=...). */
  reports: string[];
  close(): Promise<void>;
}

const listen = (server: Server) => new Promise<number>((r) => server.listen(0, '127.0.0.1', () => r((server.address() as AddressInfo).port)));

/** Asks for the provider and keeps it in window.labJanus (what a Janus site's own script does). */
const LAB_JS = `
window.labJanus = null;
window.labReady = new Promise((resolve) => {
  window.addEventListener('janus:announceProvider', (e) => { window.labJanus = e.detail.provider; resolve(true); });
  // An extension that defines window.janus on every page at once (as Janus did before the
  // provider protocol) is used as it is, so these scenarios also run against such a build.
  if (window.janus) { window.labJanus = window.janus; resolve(true); }
  setTimeout(() => resolve(false), 5000);
});
if (!document.documentElement.dataset.noProvider) window.dispatchEvent(new Event('janus:requestProvider'));
`;

// Reports to the server, not into the page: the test must not touch the page (a driver's evaluate
// counts as a user gesture) before the page has called register().
const REGISTER_ON_LOAD_JS = `
window.labReady.then(async () => {
  let outcome;
  try { await window.labJanus.register({ plan: 'free' }); outcome = 'registered'; }
  catch (e) { outcome = 'refused ' + e.code; }
  fetch('/report?outcome=' + encodeURIComponent(outcome));
});
`;

const RACE_JS = `
window.raceResults = [];
document.addEventListener('click', (e) => {
  if (!(e.target instanceof HTMLElement) || e.target.id !== 'go') return;
  for (let k = 0; k < 5; k++) {
    window.labJanus.register({ plan: 'free', k }).then(
      () => window.raceResults.push('registered'),
      (err) => window.raceResults.push(err.code),
    );
  }
});
`;

function page(body: string, opts: { headers?: Record<string, string>; noProvider?: boolean; scripts?: string[] } = {}) {
  const scripts = ['/lab.js', ...(opts.scripts ?? [])].map((s) => `<script src="${s}"></script>`).join('');
  return {
    headers: { 'content-type': 'text/html; charset=utf-8', ...opts.headers },
    body: `<!doctype html><html${opts.noProvider ? ' data-no-provider="1"' : ''}><head><title>Lab</title>${scripts}</head><body>${body}</body></html>`,
  };
}

const GIF = Buffer.from('R0lGODlhAQABAIAAAP///wAAACH5BAEAAAAALAAAAAABAAEAAAICRAEAOw==', 'base64');

/** n bytes that differ everywhere (a counter run through a small LCG), so a misplaced byte shows. */
export function labBytes(n: number): Uint8Array {
  if (!Number.isSafeInteger(n) || n < 0 || n > 16 * 1024 * 1024) throw new RangeError('0..16 MiB');
  const out = new Uint8Array(n);
  let x = 0x2545f491;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

/** Where a lab keeps its key, KEK and database, so that it can stop and start again as the same site. */
interface LabState {
  dir: string;
  port: number;
}

/** A lab; with `state`, the one that ran there before (same origin, key and clients). */
export async function startLab(state?: LabState): Promise<Lab & { state: LabState }> {
  const dir = state?.dir ?? mkdtempSync(join(tmpdir(), 'janus-lab-'));
  const keyFile = join(dir, 'key.pem');
  const kekFile = join(dir, 'kek.bin');
  if (!existsSync(keyFile)) {
    const { pkcs8 } = await generateVendorKeyPair(3072);
    writeFileSync(keyFile, derToPem(pkcs8, 'PRIVATE KEY'));
    writeFileSync(kekFile, randomBytes(32));
  }
  const hits: Hit[] = [];
  const reports: string[] = [];
  let discoveries = 0;
  let port = state?.port;
  if (port === undefined) {
    const server0 = createServer();
    port = await listen(server0);
    await new Promise((r) => server0.close(r));
  }
  const origin = `http://localhost:${port}`;
  const vendor = createVendor({
    config: { origin, name: 'Lab', keys: { privateKeyPem: readFileSync(keyFile, 'utf8'), kek: new Uint8Array(readFileSync(kekFile)) } },
    store: new SqliteStore(join(dir, 'lab.db')),
    routes: [
      { path: '/api/data', level: 'sddp', handler: ({ client }) => ({ alias: client.alias, secret: 'lab data' }) },
      // /api/bytes/<n>: n pseudo-random bytes (labBytes), for the transport of large bodies.
      { path: '/api/bytes/*', level: 'sddp', methods: ['GET'], handler: ({ url }) => labBytes(Number(url.pathname.split('/').pop())) },
      { path: '/', level: 'credential' },
    ],
  });
  const server = createJanusServer(vendor, async (request) => {
    const url = new URL(request.url);
    const path = url.pathname;
    if (path === '/.well-known/janus') discoveries++;
    if (path === '/report') {
      reports.push(url.searchParams.get('outcome') ?? '');
      return new Response(null, { status: 204 });
    }
    if (path.startsWith('/probe/')) {
      hits.push({ path, tag: url.searchParams.get('tag') ?? '', method: request.method, credential: request.headers.has('janus-credential') });
      const kind = path.slice('/probe/'.length);
      const type = kind === 'img' ? 'image/gif' : kind === 'script' ? 'text/javascript' : kind === 'style' ? 'text/css' : 'text/html';
      const cors = { 'access-control-allow-origin': request.headers.get('origin') ?? '*', 'access-control-allow-credentials': 'true' };
      return new Response(kind === 'img' ? GIF : kind === 'nav' ? '<!doctype html><title>Lab nav</title><p id="arrived">arrived</p>' : '', { headers: { 'content-type': type, ...cors } });
    }
    const pages: Record<string, ReturnType<typeof page>> = {
      '/': page('<h1>Lab</h1><p id="out"></p>'),
      '/quiet': page('<h1>Lab without asking</h1>', { noProvider: true }),
      '/sandboxed': page('<h1>Sandboxed</h1><p id="out"></p>', { headers: { 'content-security-policy': 'sandbox allow-scripts' } }),
      '/frames': page(`<h1>Frames</h1><iframe sandbox="allow-scripts" src="/?frame=sandboxed"></iframe><iframe src="/?frame=same"></iframe>`),
      // Five registrations at one click: one window, four refusals.
      '/race': page('<h1>Race</h1><button id="go" type="button">Register five times</button><p id="out"></p>', { scripts: ['/race.js'] }),
      '/register-on-load': page('<h1>Registers at once</h1><p id="out"></p>', { scripts: ['/register-on-load.js'] }),
    };
    if (path === '/lab.js') return new Response(LAB_JS, { headers: { 'content-type': 'text/javascript' } });
    if (path === '/race.js') return new Response(RACE_JS, { headers: { 'content-type': 'text/javascript' } });
    if (path === '/register-on-load.js') return new Response(REGISTER_ON_LOAD_JS, { headers: { 'content-type': 'text/javascript' } });
    const p = pages[path];
    if (p) return new Response(p.body, { headers: p.headers });
    return new Response('not found', { status: 404 });
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
  return {
    origin,
    state: { dir, port },
    vendor,
    hits,
    reports,
    discoveries: () => discoveries,
    async close() {
      server.closeAllConnections?.();
      await new Promise((r) => server.close(r));
      await vendor.close();
    },
  };
}

/** The kinds of request the probe page makes to the lab, each tagged. */
export const PROBE_KINDS = ['img', 'script', 'style', 'iframe', 'fetch-omit', 'fetch-include', 'fetch-no-cors', 'beacon', 'form-post'] as const;

function probePage(lab: string, tag: string): string {
  const u = (kind: string) => `${lab}/probe/${kind.split('-')[0]}?tag=${encodeURIComponent(`${tag}:${kind}`)}`;
  return `<!doctype html><html><head><title>Probe</title>
<link rel="stylesheet" href="${u('style')}">
<script src="${u('script')}"></script>
</head><body>
<img src="${u('img')}" alt="">
<iframe src="${u('iframe')}"></iframe>
<iframe name="sink"></iframe>
<form id="post" method="POST" action="${u('form-post')}" target="sink"><input name="x" value="1"></form>
<a id="nav" href="${u('nav')}">to the lab</a>
<script>
  fetch(${JSON.stringify(u('fetch-omit'))}, { credentials: 'omit' }).catch(() => {});
  fetch(${JSON.stringify(u('fetch-include'))}, { credentials: 'include' }).catch(() => {});
  fetch(${JSON.stringify(u('fetch-no-cors'))}, { mode: 'no-cors' }).catch(() => {});
  navigator.sendBeacon(${JSON.stringify(u('beacon'))}, 'x');
  document.getElementById('post').submit();
</script>
</body></html>`;
}

export interface ProbeSite {
  /** The same server under three names: same-site with the lab, cross-site with and without host permission. */
  origins: { sameSite: string; crossSite: string; unpermitted: string };
  discoveries(): number;
  close(): Promise<void>;
}

export async function startProbeSite(lab: string): Promise<ProbeSite> {
  let discoveries = 0;
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname === '/.well-known/janus') {
      discoveries++;
      res.writeHead(404).end();
      return;
    }
    if (url.pathname === '/frame') {
      // The lab's page framed by this (other) site.
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(`<!doctype html><title>Framing</title><iframe src="${lab}/?frame=embedded"></iframe>`);
      return;
    }
    if (url.pathname === '/probe') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(probePage(lab, url.searchParams.get('tag') ?? ''));
      return;
    }
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end('<!doctype html><title>Plain</title><h1>A site that is no Janus vendor</h1>');
  });
  const port = await listen(server);
  return {
    origins: { sameSite: `http://localhost:${port}`, crossSite: `http://127.0.0.1:${port}`, unpermitted: `http://${UNPERMITTED_HOST}:${port}` },
    discoveries: () => discoveries,
    async close() {
      server.closeAllConnections?.();
      await new Promise((r) => server.close(r));
    },
  };
}
