/**
 * The load-generator side shared by the vendor benchmarks (a module, not a script): bundling and
 * starting a bench server, pre-signed request pools, one timed run with autocannon against a server
 * that reports its own CPU time and stalls (bench/stats.ts), and CPU time of other processes
 * (PostgreSQL's backends, cluster workers) from /proc.
 *
 * Latencies are taken per response from autocannon's `response` event (float milliseconds), not
 * from its summary, whose histogram keeps whole milliseconds.
 */
import autocannon from 'autocannon';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { b64u, randomBytes } from '../src/crypto/bytes.ts';
import { signHmac } from '../src/crypto/httpsig.ts';
import { HEADER, keyidOf, slotKey, slotOf, TAG } from '../src/protocol/index.ts';
import { issueChallenge } from '../src/protocol/tokens.ts';
import type { ServerStats } from './stats.ts';

// ---- server processes: bundled to plain JavaScript first, as a site would deploy it (running it
// through tsx would add its loader hooks and keep-names wrappers to every request). The bundle keeps
// the native and driver modules outside, so it is written inside this checkout: Node resolves a bare
// import from the importing file's folder upwards (NODE_PATH does not apply to ES modules), and
// this folder is below the checkout's node_modules wherever it was cloned.
const root = fileURLToPath(new URL('..', import.meta.url));
let outDir: string | null = null;

export async function bundle(name: string): Promise<string> {
  if (!outDir) {
    const cacheDir = join(root, 'node_modules', '.cache');
    mkdirSync(cacheDir, { recursive: true });
    const dir = mkdtempSync(join(cacheDir, 'janus-bench-'));
    outDir = dir;
    process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  }
  const outfile = join(outDir, name.replace(/\.ts$/, '.mjs'));
  if (existsSync(outfile)) return outfile;
  await build({
    entryPoints: [new URL(`./${name}`, import.meta.url).pathname],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    external: ['better-sqlite3', 'pg', 'pg-native'],
    outfile,
    banner: { js: "import { createRequire as __benchCreateRequire } from 'node:module'; const require = __benchCreateRequire(import.meta.url);" },
    logLevel: 'error',
  });
  return outfile;
}

export interface Spawned<T> {
  child: ChildProcess;
  info: T;
  /** Further JSON lines the process prints (one per request made with `ask`). */
  next(): Promise<unknown>;
  stop(): Promise<void>;
}

/**
 * Starts a bundled bench script and resolves with the first JSON line it prints. `profile`: a
 * folder for V8's CPU profile of that process (written when it exits).
 */
export async function startBundled<T>(name: string, args: string[] = [], env: NodeJS.ProcessEnv = {}, profile?: string): Promise<Spawned<T>> {
  const file = await bundle(name);
  const prof = [...(profile ? ['--cpu-prof', '--cpu-prof-dir', profile] : []), ...(process.env['JANUS_DEV_NODEFLAGS'] ? process.env['JANUS_DEV_NODEFLAGS'].split(' ') : [])];
  const child = spawn(process.execPath, [...prof, file, ...args], { stdio: ['pipe', 'pipe', 'inherit'], env: { ...process.env, ...env } });
  const kill = () => child.kill('SIGKILL');
  process.on('exit', kill);
  const lines = createInterface({ input: child.stdout! });
  const queue: string[] = [];
  const waiting: ((l: string) => void)[] = [];
  lines.on('line', (l) => {
    if (!l.startsWith('{')) return void console.log(l);
    const w = waiting.shift();
    if (w) w(l);
    else queue.push(l);
  });
  const exited = once(child, 'exit');
  const next = () =>
    new Promise<unknown>((ok, fail) => {
      const q = queue.shift();
      if (q !== undefined) return ok(JSON.parse(q));
      waiting.push((l) => ok(JSON.parse(l)));
      void exited.then(() => fail(new Error(`${name} exited`)));
    });
  const info = (await next()) as T;
  return {
    child,
    info,
    next,
    async stop() {
      process.off('exit', kill);
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM'); // the servers exit on SIGTERM, so a CPU profile gets written
      const t = setTimeout(kill, 20_000);
      await exited;
      clearTimeout(t);
    },
  };
}

// ---- requests

export interface ClientKey {
  alias: string;
  gen: number;
  k: Uint8Array;
}

const EMPTY_DIGEST = 'sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:';

/** A signed SDDP/EDDP GET for `targetUri` (id_V + path), as the extension sends it (§6.1). */
export function signedGet(key: ClientKey, targetUri: string, tag: string, challenge?: string, now = Math.floor(Date.now() / 1000)): Record<string, string> {
  const n = slotOf(now);
  const slot = slotKey(key.k, n);
  const headers: Record<string, string> = { 'content-digest': EMPTY_DIGEST };
  const components = ['@method', '@target-uri', 'content-digest'];
  if (challenge) {
    headers[HEADER.challenge] = challenge;
    components.push(HEADER.challenge);
  }
  const sig = signHmac(slot.km, 'janus', components, { created: now, nonce: b64u.encode(randomBytes(16)), alg: 'hmac-sha256', keyid: keyidOf(key.alias, key.gen, n), tag }, { method: 'GET', targetUri, headers });
  headers['signature-input'] = flat(sig.signatureInput);
  headers['signature'] = flat(sig.signature);
  return headers;
}

/**
 * A string built by concatenation is a rope in V8, flattened by the first regex or indexOf that
 * reads it: in process that cost would land on the vendor's parser, whereas strings from Node's
 * HTTP parser arrive flat. So pre-signed headers are flattened here.
 */
const flat = (s: string): string => Buffer.from(s, 'latin1').toString('latin1');

/**
 * Pre-signed requests, one per delivery, spread over `keys` in turn (one client or a million). SDDP
 * requests are signed before the run so the load generator spends on each about what it spends on a
 * plain request. EDDP steady-state requests each carry a challenge as an earlier EDDP response
 * would have piggybacked it (§9.2): minted here with the vendor's challenge key `ck`, which gives
 * the same bytes the vendor's own `issueChallenge` would (the server's work is the same: check the
 * challenge, record it, issue the next); the request path to the challenge endpoint is measured
 * separately (EDDP cold).
 */
export function signedPool(opts: { keys: readonly ClientKey[]; idV: string; path: string; level: 'sddp' | 'eddp'; count: number; ck?: Uint8Array }): Record<string, string>[] {
  const out = new Array<Record<string, string>>(opts.count);
  const now = Math.floor(Date.now() / 1000);
  const target = opts.idV + opts.path;
  for (let i = 0; i < opts.count; i++) {
    const key = opts.keys[i % opts.keys.length]!;
    if (opts.level === 'sddp') out[i] = signedGet(key, target, TAG.sddp, undefined, now);
    else out[i] = signedGet(key, target, TAG.eddp, issueChallenge(opts.ck!, opts.idV, key.alias, now).challenge, now);
  }
  // Shuffled: consecutive requests go to different clients even when `keys` is short.
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

// ---- runs

export interface RunResult {
  title: string;
  /** Answers per second (all statuses). */
  rps: number;
  total: number;
  non2xx: number;
  errors: number;
  /** Client-observed latency percentiles, ms. */
  p50: number;
  p99: number;
  /** Server CPU per request, us (from the server's own cpuUsage). */
  cpu: number;
  server: ServerStats;
  /** The load generator's CPU use over the run, in cores (1.0 = one core busy all the time). */
  loadCores: number;
  /** Other processes' CPU (PostgreSQL, workers), in cores over the run. */
  otherCores?: Record<string, number>;
}

export function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** Reads and resets a bench server's counters (its GET /stats). */
export async function serverStats(origin: string): Promise<ServerStats> {
  return (await (await fetch(origin + '/stats')).json()) as ServerStats;
}

/**
 * One timed run with autocannon. `stats`: where to read the server's counters (reset at the start);
 * `others`: named groups of pids whose CPU time (from /proc) is reported too.
 */
export async function timedRun(opts: {
  title: string;
  url: string;
  connections: number;
  amount?: number;
  duration?: number;
  requests: autocannon.Request[];
  stats: () => Promise<ServerStats>;
  others?: () => Record<string, number[]>;
}): Promise<RunResult> {
  await opts.stats(); // reset
  const groups = opts.others?.() ?? {};
  const before = Object.fromEntries(Object.entries(groups).map(([k, pids]) => [k, procCpu(pids)]));
  const lat: number[] = [];
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const run = autocannon({ url: opts.url, connections: opts.connections, ...(opts.amount ? { amount: opts.amount } : { duration: opts.duration ?? 8 }), requests: opts.requests });
  // The promise of the result is also the instance's EventEmitter (its types give only the promise).
  (run as unknown as autocannon.Instance).on('response', (_client, _status, _bytes, ms) => void lat.push(ms));
  const r = await run;
  const wall = (performance.now() - t0) * 1000;
  const cpu = process.cpuUsage(cpu0);
  const server = await opts.stats();
  const otherCores = Object.fromEntries(Object.entries(groups).map(([k, pids]) => [k, (procCpu(pids) - before[k]!) / wall]));
  const sorted = Float64Array.from(lat).sort();
  const total = r.requests.total;
  return {
    title: opts.title,
    rps: total / (wall / 1e6),
    total,
    non2xx: r.non2xx,
    errors: r.errors + r.timeouts,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    cpu: server.cpu / Math.max(1, total),
    server,
    loadCores: (cpu.user + cpu.system) / wall,
    ...(opts.others ? { otherCores } : {}),
  };
}

export function fmtRun(r: RunResult, label = r.title): string {
  const s = r.server;
  const others = r.otherCores ? '  ' + Object.entries(r.otherCores).map(([k, v]) => `${k} ${v.toFixed(2)}`).join(' ') : '';
  return (
    `  ${label.padEnd(46)} ${r.rps.toFixed(0).padStart(7)}/s  CPU ${r.cpu.toFixed(1).padStart(6)} us/req  p50 ${r.p50.toFixed(2).padStart(6)}  p99 ${r.p99.toFixed(2).padStart(6)} ms` +
    `  stalls ${String(s.stalls).padStart(3)} (max ${s.stallMax.toFixed(0)} ms, GC ${s.gcOver}, preempted ${s.preempted})  load-gen ${r.loadCores.toFixed(2)} cores${others}${r.non2xx || r.errors ? `  NON-2XX ${r.non2xx} ERRORS ${r.errors}` : ''}`
  );
}

/** user + system CPU time of these processes so far, microseconds (Linux /proc; 0 elsewhere). */
export function procCpu(pids: readonly number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(f[11]) + Number(f[12]); // utime, stime (fields 14 and 15)
    } catch {
      // gone meanwhile
    }
  }
  return (ticks / 100) * 1e6; // USER_HZ is 100 on Linux
}

/** The pids whose parent is `ppid` (PostgreSQL's backends under its postmaster, a cluster's workers). */
export function childrenOf(ppid: number): number[] {
  const out: number[] = [];
  let entries: string[] = [];
  try {
    entries = readdirSync('/proc');
  } catch {
    return out;
  }
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(f[1]) === ppid) out.push(Number(e));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

export const pct = (a: number, b: number) => `${((a / b) * 100).toFixed(0)}%`;
