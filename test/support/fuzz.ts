/**
 * The fuzz suite of the vendor side (issue 10): every endpoint, from valid messages a real client
 * makes, each sent once mutated (bit flips in the body or a header, truncation, dropped, duplicated,
 * re-cased and underscored headers, another method or path spelling, oversized fields, abandoned
 * uploads, replays) and then as made. The plan comes from fast-check arbitraries and a seed, so a
 * run is reproducible. The vendor runs in its own process (test/support/fuzz-vendor.ts), the SDK's
 * server or `serve`'s proxy in front of an Express site, and reports what it accepted.
 *
 * What is counted (and must stay zero):
 * - accepted forgeries: a handler ran for a request no client sent as such (a nonce it did not make,
 *   one nonce twice, or any of method, path, query, content type, body or alias not as the client
 *   made them); the site's protected resource reached without verification (proxy); a registration
 *   or rotation committed that no client asked for, or with other data;
 * - 5xx answers; crashes of the vendor process; lines on its stderr (errors logged);
 * - store inconsistencies after the run: SQLite's integrity_check, a stored key that is not the key
 *   its client derives for that alias and generation, a receipt chain whose acknowledged word does
 *   not hash to its root, a registration the client saw acknowledged that is not there.
 * Also reported: originals the vendor refused although nothing had used them (legitimate requests lost).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { b64u, equalBytes, toHex, utf8 } from '../../src/crypto/bytes.ts';
import { sha256 } from '../../src/crypto/hash.ts';
import {
  ackRequest,
  canonicalPath,
  challengeRequest,
  deliveryRequest,
  deliveryResponse,
  makeCredential,
  paywordSeed,
  readChallengeResponse,
  rotateOnResponse,
  rotateStart,
  skepOnResponse,
  skepStart,
  stretchSecret,
  vendorKey,
  vendorSession,
  type Ack,
  type Discovery,
  type HttpRequestMsg,
  type HttpResponseMsg,
  type PendingRequest,
  type VendorSession,
} from '../../src/protocol/index.ts';
import { parseDiscovery, WELL_KNOWN } from '../../src/protocol/discovery.ts';
import { fromRow } from '../../src/server/records.ts';
import { toClient, type SqliteClientRow } from '../../src/server/sqlite-store.ts';
import { resolveConfig } from '../../src/server/config.ts';
import { sendRaw, type RawAnswer, type RawRequest } from './raw-http.ts';
import { freePort } from './http-vendor.ts';
import { testKeyMaterial } from './vendor-kit.ts';
import { FAST_ARGON2 } from './client.ts';

export type FuzzMode = 'sdk' | 'proxy';

interface FuzzOptions {
  mode: FuzzMode;
  /** Operations to run; each sends a mutant and usually the original, plus the unmutated steps it needs. */
  operations: number;
  seed?: number;
  concurrency?: number;
  progress?: (line: string) => void;
}

export interface FuzzReport {
  mode: FuzzMode;
  seed: number;
  /** HTTP requests sent in all. */
  requests: number;
  mutants: number;
  /** Mutants the vendor answered with a 2xx (harmless mutations, e.g. re-cased header names). */
  mutantsAccepted: number;
  acceptedForgeries: number;
  fiveXX: number;
  crashes: number;
  errorLogLines: number;
  storeInconsistencies: number;
  legitimateRefused: number;
  registrationsAcknowledged: number;
  byEndpoint: Record<string, number>;
  byMutation: Record<string, number>;
  /** The first problems found, in words. */
  problems: string[];
}

// ---------------------------------------------------------------------------------------------
// The plan

type Endpoint = 'discovery' | 'skep1' | 'skep3' | 'challenge' | 'ack' | 'sddp-get' | 'sddp-put' | 'eddp' | 'paid' | 'rotate' | 'page' | 'oversize';

const PATH_SPELLINGS = ['upper', 'upper-first', 'trailing-slash', 'dot-segment', 'escape-letter', 'double-slash', 'semicolon', 'encoded-slash', 'backslash', 'query', 'absolute-form'] as const;

type Mutation =
  | { kind: 'none' }
  | { kind: 'flip-body'; at: number; bit: number }
  | { kind: 'flip-header'; header: number; at: number; bit: number }
  | { kind: 'truncate'; keep: number }
  | { kind: 'drop-header'; header: number }
  | { kind: 'dup-header'; header: number; same: boolean; first: boolean }
  | { kind: 'recase'; pattern: boolean[] }
  | { kind: 'underscore'; header: number }
  | { kind: 'method'; method: string }
  | { kind: 'path'; spell: (typeof PATH_SPELLINGS)[number] }
  | { kind: 'oversize-header'; header: number; size: number }
  | { kind: 'content-type'; value: string }
  | { kind: 'abandon'; keep: number }
  | { kind: 'replay' };

const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 1, arbitrary: fc.constant<Mutation>({ kind: 'none' }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('flip-body' as const), at: fc.nat(), bit: fc.nat(7) }) },
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('flip-header' as const), header: fc.nat(), at: fc.nat(), bit: fc.nat(5) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('truncate' as const), keep: fc.double({ min: 0, max: 0.999, noNaN: true }) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('drop-header' as const), header: fc.nat() }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('dup-header' as const), header: fc.nat(), same: fc.boolean(), first: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('recase' as const), pattern: fc.array(fc.boolean(), { minLength: 16, maxLength: 16 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('underscore' as const), header: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('method' as const), method: fc.constantFrom('GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS') }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('path' as const), spell: fc.constantFrom(...PATH_SPELLINGS) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('oversize-header' as const), header: fc.nat(), size: fc.integer({ min: 8 * 1024 + 1, max: 24 * 1024 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('content-type' as const), value: fc.constantFrom('text/plain', 'application/json; charset=utf-8', 'APPLICATION/JSON', 'application/json ', 'x') }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('abandon' as const), keep: fc.double({ min: 0, max: 0.9, noNaN: true }) }) },
  { weight: 2, arbitrary: fc.constant<Mutation>({ kind: 'replay' }) },
);

interface Op {
  endpoint: Endpoint;
  client: number;
  mutation: Mutation;
}

const opArb: fc.Arbitrary<Op> = fc.record({
  endpoint: fc.oneof(
    ...(
      [
        ['discovery', 1],
        ['skep1', 2],
        ['skep3', 3],
        ['challenge', 2],
        ['ack', 2],
        ['sddp-get', 5],
        ['sddp-put', 5],
        ['eddp', 4],
        ['paid', 5],
        ['rotate', 1],
        ['page', 3],
        ['oversize', 1],
      ] as const
    ).map(([e, weight]) => ({ weight, arbitrary: fc.constant(e as Endpoint) })),
  ),
  client: fc.nat(),
  mutation: mutationArb,
});

// ---------------------------------------------------------------------------------------------
// Mutations on the wire

function toRaw(m: HttpRequestMsg): RawRequest {
  const u = new URL(m.url);
  const headers: [string, string][] = [['Host', u.host], ...Object.entries(m.headers)];
  if (m.body.length || (m.method !== 'GET' && m.method !== 'HEAD')) headers.push(['Content-Length', String(m.body.length)]);
  return { method: m.method, target: u.pathname + u.search, headers, body: m.body };
}

const printable = (c: number) => (c >= 0x21 && c <= 0x7e ? c : c === 0x41 ? 0x42 : 0x41);

function respell(target: string, spell: (typeof PATH_SPELLINGS)[number], host: string): string {
  const q = target.indexOf('?');
  const path = q < 0 ? target : target.slice(0, q);
  const query = q < 0 ? '' : target.slice(q);
  const segs = path.split('/');
  const last = segs.length - 1;
  switch (spell) {
    case 'upper':
      return path.toUpperCase() + query;
    case 'upper-first':
      return segs.map((s) => s.slice(0, 1).toUpperCase() + s.slice(1)).join('/') + query;
    case 'trailing-slash':
      return path + '/' + query;
    case 'dot-segment':
      return '/./' + path.slice(1) + query;
    case 'escape-letter': {
      const i = path.search(/[a-z]/);
      return i < 0 ? target : path.slice(0, i) + '%' + path.charCodeAt(i).toString(16) + path.slice(i + 1) + query;
    }
    case 'double-slash':
      return path.replace('/', '//') + query;
    case 'semicolon':
      return segs.map((s, i) => (i === last ? s + ';x=1' : s)).join('/') + query;
    case 'encoded-slash':
      return '/' + path.slice(1).replace('/', '%2F') + query;
    case 'backslash':
      return '/' + path.slice(1).replace('/', '\\') + query;
    case 'query':
      return path + (query ? query + '&x=1' : '?x=1');
    case 'absolute-form':
      return `http://${host}${target}`;
  }
}

/** The mutant's wire form; null when the mutation does not apply to this message. */
function mutate(raw: RawRequest, m: Mutation): RawRequest | null {
  const headers = raw.headers.map(([k, v]) => [k, v] as [string, string]);
  const named = headers.filter(([k]) => k !== 'Host' && k !== 'Content-Length');
  const pick = (i: number) => (named.length ? named[i % named.length]! : null);
  const setLength = (r: RawRequest): RawRequest => ({ ...r, headers: r.headers.map(([k, v]) => (k === 'Content-Length' ? [k, String(r.body.length)] : [k, v])) });
  switch (m.kind) {
    case 'none':
    case 'replay':
      return raw;
    case 'flip-body': {
      if (!raw.body.length) return null;
      const body = raw.body.slice();
      body[m.at % body.length]! ^= 1 << m.bit;
      return { ...raw, body };
    }
    case 'flip-header': {
      const h = pick(m.header);
      if (!h || !h[1].length) return null;
      const i = m.at % h[1].length;
      const c = printable(h[1].charCodeAt(i) ^ (1 << m.bit));
      h[1] = h[1].slice(0, i) + String.fromCharCode(c) + h[1].slice(i + 1);
      return { ...raw, headers };
    }
    case 'truncate':
      if (!raw.body.length) return null;
      return setLength({ ...raw, headers, body: raw.body.subarray(0, Math.floor(raw.body.length * m.keep)) });
    case 'drop-header': {
      const h = pick(m.header);
      if (!h) return null;
      return { ...raw, headers: headers.filter((x) => x !== h) };
    }
    case 'dup-header': {
      const h = pick(m.header);
      if (!h) return null;
      const extra: [string, string] = [h[0], m.same ? h[1] : h[1].slice(0, Math.max(1, h[1].length >> 1))];
      const i = headers.indexOf(h);
      headers.splice(m.first ? i : i + 1, 0, extra);
      return { ...raw, headers };
    }
    case 'recase':
      return { ...raw, headers: headers.map(([k, v], i) => [[...k].map((c, j) => (m.pattern[(i + j) % 16] ? c.toUpperCase() : c.toLowerCase())).join(''), v]) };
    case 'underscore': {
      const h = pick(m.header);
      if (!h || !h[0].includes('-')) return null;
      h[0] = h[0].replace(/-/g, '_');
      return { ...raw, headers };
    }
    case 'method':
      if (m.method === raw.method) return null;
      return setLength({ ...raw, method: m.method, body: m.method === 'GET' || m.method === 'HEAD' ? new Uint8Array(0) : raw.body });
    case 'path': {
      const host = headers.find(([k]) => k === 'Host')![1];
      const target = respell(raw.target, m.spell, host);
      return target === raw.target ? null : { ...raw, target };
    }
    case 'oversize-header': {
      const h = pick(m.header);
      if (!h) return null;
      h[1] = h[1] + 'A'.repeat(m.size);
      return { ...raw, headers };
    }
    case 'content-type': {
      const h = headers.find(([k]) => k.toLowerCase() === 'content-type');
      if (!h) return null;
      h[1] = m.value;
      return { ...raw, headers };
    }
    case 'abandon':
      return { ...raw, abandonAfter: Math.floor(raw.body.length * m.keep), body: raw.body.length ? raw.body : new Uint8Array(100), headers: raw.body.length ? headers : headers.concat([['Content-Length', '100']]) };
  }
}

// ---------------------------------------------------------------------------------------------
// The vendor process

interface Accepted {
  t: 'accepted';
  nonce: string | null;
  method: string;
  url: string;
  contentType: string | null;
  body: string;
  alias: string;
  level: string;
}
type VendorEvent = Accepted | { t: 'site'; path: string; level: string | null; method: string } | { t: 'commit'; insert?: { alias: string; gen: number; data: string }; rename?: { from: string; alias: string; gen: number } } | { t: 'pong'; id: number };

/** The vendor in its own process (fuzz-vendor.ts), restarted on the same database when it dies. */
export class VendorProcess {
  child!: ChildProcess;
  stopping = false;
  crashes = 0;
  errorLines: string[] = [];
  events: VendorEvent[] = [];
  private pongs = new Map<number, () => void>();
  private mems = new Map<number, (u: NodeJS.MemoryUsage) => void>();
  /** Extra environment for the vendor process. */
  env: NodeJS.ProcessEnv = {};
  private nextPing = 0;
  ready!: Promise<void>;

  constructor(
    readonly mode: FuzzMode,
    readonly db: string,
    readonly kekHex: string,
    readonly keyFile: string,
    readonly port: number,
  ) {}

  start(): Promise<void> {
    const file = new URL('./fuzz-vendor.ts', import.meta.url).pathname;
    this.child = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', file, this.mode, this.db, this.kekHex, this.keyFile, String(this.port)], {
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      env: { ...process.env, ...this.env },
    });
    this.child.on('message', (m: VendorEvent | { t: 'mem'; id: number; usage: NodeJS.MemoryUsage }) => {
      if (m.t === 'pong') this.pongs.get(m.id)?.();
      else if (m.t === 'mem') this.mems.get(m.id)?.(m.usage);
      else this.events.push(m);
    });
    createInterface({ input: this.child.stderr! }).on('line', (l) => this.errorLines.push(l));
    this.child.on('exit', () => {
      if (this.stopping) return;
      this.crashes++;
      void this.start();
    });
    this.ready = new Promise((ok, fail) => {
      const rl = createInterface({ input: this.child.stdout! });
      rl.once('line', (l) => (l.startsWith('ready') ? ok() : fail(new Error(l))));
      this.child.once('exit', (code) => fail(new Error(`the vendor exited (${code}) before it was ready`)));
    });
    return this.ready;
  }

  /** Waits until every event the vendor sent before now has arrived. */
  async flush(): Promise<void> {
    const id = this.nextPing++;
    await new Promise<void>((ok) => {
      this.pongs.set(id, ok);
      this.child.send({ t: 'ping', id });
    });
    this.pongs.delete(id);
  }

  /** The vendor's memory after a full garbage collection. */
  async memory(): Promise<NodeJS.MemoryUsage> {
    const id = this.nextPing++;
    const u = await new Promise<NodeJS.MemoryUsage>((ok) => {
      this.mems.set(id, ok);
      this.child.send({ t: 'mem', id });
    });
    this.mems.delete(id);
    return u;
  }

  /** kill -9, then a restart on the same database (not counted as a crash). */
  async kill9(): Promise<void> {
    this.stopping = true;
    const exited = new Promise((ok) => this.child.once('exit', ok));
    this.child.kill('SIGKILL');
    await exited;
    this.stopping = false;
    await this.start();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    const exited = new Promise((ok) => this.child.once('exit', ok));
    this.child.kill('SIGTERM');
    await exited;
  }
}

// ---------------------------------------------------------------------------------------------
// The clients

interface Client {
  name: string;
  /** The session of the current generation. */
  s: VendorSession;
  chain: { sub: string; n: number; words: Uint8Array[]; delivered: number; acked: number } | null;
  lock: Promise<void>;
}

/** What the original of a mutant was: the handler must see exactly this, once. */
interface Expect {
  method: string;
  url: string;
  contentType: string | null;
  body: string;
  alias: string;
}

/** w_0 .. w_N of a chain (§11.1), hashed down once from the seed. */
function chainWords(k: Uint8Array, sub: string, n: number): Uint8Array[] {
  const words = new Array<Uint8Array>(n + 1);
  words[n] = paywordSeed(k, sub);
  for (let i = n; i > 0; i--) words[i - 1] = sha256(words[i]!);
  return words;
}

const SUCCESS: Record<Endpoint, number[]> = {
  discovery: [200],
  skep1: [200],
  skep3: [201],
  challenge: [200],
  ack: [200],
  'sddp-get': [200],
  'sddp-put': [200],
  eddp: [200],
  paid: [200, 402],
  rotate: [200],
  page: [200],
  oversize: [413],
};
/** What an original may get after its mutant was accepted (the mutant used it up). */
const USED_UP = new Set(['replayed', 'already_registered', 'generation_mismatch', 'unknown_client', 'challenge_invalid']);

export async function runFuzz(opts: FuzzOptions): Promise<FuzzReport> {
  const seed = opts.seed ?? 1;
  const dir = mkdtempSync(join(tmpdir(), `janus-fuzz-${opts.mode}-`));
  const keys = await testKeyMaterial();
  const keyFile = join(dir, 'key.pem');
  writeFileSync(keyFile, keys.privateKeyPem, { mode: 0o600 });
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  const db = join(dir, 'vendor.db');
  const vendor = new VendorProcess(opts.mode, db, toHex(keys.kek), keyFile, port);
  await vendor.start();

  const report: FuzzReport = {
    mode: opts.mode,
    seed,
    requests: 0,
    mutants: 0,
    mutantsAccepted: 0,
    acceptedForgeries: 0,
    fiveXX: 0,
    crashes: 0,
    errorLogLines: 0,
    storeInconsistencies: 0,
    legitimateRefused: 0,
    registrationsAcknowledged: 0,
    byEndpoint: {},
    byMutation: {},
    problems: [],
  };
  const problem = (what: string) => {
    if (report.problems.length < 20) report.problems.push(what);
  };

  const send = async (r: RawRequest): Promise<RawAnswer> => {
    report.requests++;
    const a = await sendRaw(port, r);
    if (a.status >= 500) {
      report.fiveXX++;
      problem(`${a.status} for ${r.method} ${r.target}: ${Buffer.from(a.body).toString('utf8').slice(0, 200)}`);
    }
    return a;
  };
  const asMsg = (a: RawAnswer): HttpResponseMsg => ({ status: a.status, headers: a.headers, body: a.body });
  const exchange = async (m: HttpRequestMsg) => asMsg(await send(toRaw(m)));

  // One identity makes every client: aliases and keys differ by the identity string (§3.4).
  const { master } = await stretchSecret('fuzz@example.org', 'fuzz secret', { params: FAST_ARGON2 });
  const idOf = (name: string) => `${name}@fuzz.example`;
  const sessionOf = (name: string, gen = 0) => vendorSession(master, idOf(name), origin, gen);
  const nameOfAlias = new Map<string, string>();
  const doc: Discovery = parseDiscovery((await exchange({ method: 'GET', url: origin + WELL_KNOWN, headers: {}, body: new Uint8Array(0) })).body, origin);
  const now = () => Math.floor(Date.now() / 1000);

  const expected = new Map<string, Expect>(); // nonce -> what the handler must see
  const registrations = new Map<string, string>(); // alias -> the data JSON its client sent
  const acknowledged = new Set<string>(); // aliases whose 201 the client opened
  const rotations = new Set<string>(); // "from>alias.gen" a client asked for
  const counter = { n: 0 };

  async function registerClient(name: string, chain: number): Promise<Client> {
    const s = sessionOf(name);
    nameOfAlias.set(s.alias, name);
    let { state, request } = await skepStart({ session: s, discovery: doc, data: { name }, now: now(), ...(chain ? { chain } : {}) });
    for (let i = 0; i < 2; i++) {
      if (state.phase === 'confirm_sent') registrations.set(s.alias, JSON.stringify(state.payword ? { ...state.input.data, payword: { ...state.payword } } : state.input.data));
      const next = await skepOnResponse(state, await exchange(request!), now());
      state = next.state;
      request = next.request!;
    }
    if (state.phase !== 'done') throw new Error('registration failed');
    acknowledged.add(s.alias);
    const pw = state.result.payword;
    return {
      name,
      s,
      chain: pw ? { sub: pw.sub, n: pw.n, words: chainWords(s.k, pw.sub, pw.n), delivered: 0, acked: 0 } : null,
      lock: Promise.resolve(),
    };
  }

  const plain: Client[] = [];
  const paid: Client[] = [];
  for (let i = 0; i < 4; i++) plain.push(await registerClient(`plain${i}`, 0));
  for (let i = 0; i < 3; i++) paid.push(await registerClient(`paid${i}`, 3000));

  const withLock = async <T>(c: Client, f: () => Promise<T>): Promise<T> => {
    const prev = c.lock;
    let release!: () => void;
    c.lock = new Promise((r) => (release = r));
    await prev;
    try {
      return await f();
    } finally {
      release();
    }
  };

  const challengeFor = async (c: Client): Promise<string> => {
    const res = await exchange(challengeRequest(c.s.alias, origin + doc.challengePath));
    return readChallengeResponse(res).challenge;
  };

  const expect_ = (req: HttpRequestMsg, pendingNonce: string, c: Client, contentType: string | null, plaintext: Uint8Array) => {
    const u = new URL(req.url);
    expected.set(pendingNonce, { method: req.method, url: canonicalPath(u.pathname) + u.search, contentType, body: toHex(plaintext), alias: c.s.alias });
  };

  /** Learns a generation the vendor says is current (after a rotation whose answer the client could not read). */
  const follow = (c: Client, a: RawAnswer) => {
    if (a.headers['janus-error'] !== 'generation_mismatch') return;
    try {
      const g = (JSON.parse(Buffer.from(a.body).toString('utf8')) as { error: { generation?: unknown } }).error.generation;
      if (typeof g === 'number' && Number.isSafeInteger(g)) c.s = sessionOf(c.name, g);
    } catch {
      // not ours to read
    }
  };

  /**
   * The mutant, then the original. The original must get its success status, unless the mutant was
   * served (a harmless mutation, or a replay: the mutant is then the original itself) and used it up.
   */
  async function run(op: Op, original: HttpRequestMsg, onAnswer: (a: RawAnswer) => void | Promise<void>): Promise<void> {
    const raw = toRaw(original);
    const mutant = mutate(raw, op.mutation);
    let mutantServed = false;
    if (mutant && op.mutation.kind !== 'none') {
      report.mutants++;
      report.byMutation[op.mutation.kind] = (report.byMutation[op.mutation.kind] ?? 0) + 1;
      const a = await send(mutant);
      if (mutant.abandonAfter === undefined) {
        mutantServed = SUCCESS[op.endpoint].includes(a.status);
        if (a.status >= 200 && a.status < 300) report.mutantsAccepted++;
        await onAnswer(a);
      }
    }
    const a = await send(raw);
    await onAnswer(a);
    const ok = SUCCESS[op.endpoint].includes(a.status);
    if (!ok && !(mutantServed && USED_UP.has(a.headers['janus-error'] ?? '')) && vendor.crashes === 0) {
      report.legitimateRefused++;
      problem(`original ${op.endpoint} refused after ${op.mutation.kind}: ${a.status} ${a.headers['janus-error'] ?? Buffer.from(a.body).toString('utf8').slice(0, 120)}`);
    }
  }

  async function execute(op: Op): Promise<void> {
    report.byEndpoint[op.endpoint] = (report.byEndpoint[op.endpoint] ?? 0) + 1;
    const id = counter.n++;
    switch (op.endpoint) {
      case 'discovery':
        return run(op, { method: 'GET', url: origin + WELL_KNOWN, headers: { accept: 'application/json' }, body: new Uint8Array(0) }, () => undefined);
      case 'skep1': {
        const s = sessionOf(`hello${seed}-${id}`);
        const { request } = await skepStart({ session: s, discovery: doc, data: {}, now: now() });
        return run(op, request, () => undefined);
      }
      case 'skep3': {
        const name = `reg${seed}-${id}`;
        const s = sessionOf(name);
        nameOfAlias.set(s.alias, name);
        const start = await skepStart({ session: s, discovery: doc, data: { name, note: 'x'.repeat(id % 50) }, now: now(), receipt: id % 2 === 0 });
        const s2 = await skepOnResponse(start.state, await exchange(start.request), now());
        if (s2.state.phase !== 'confirm_sent') return;
        registrations.set(s.alias, JSON.stringify(s2.state.input.data));
        const state = s2.state;
        return run(op, s2.request!, async (a) => {
          if (a.status !== 201) return;
          try {
            await skepOnResponse(state, asMsg(a), now());
          } catch {
            return;
          }
          acknowledged.add(s.alias);
          if (plain.length < 12) plain.push({ name, s, chain: null, lock: Promise.resolve() });
        });
      }
      case 'challenge': {
        const c = plain[op.client % plain.length]!;
        return run(op, challengeRequest(c.s.alias, origin + doc.challengePath), () => undefined);
      }
      case 'ack': {
        const c = paid[op.client % paid.length]!;
        return withLock(c, async () => {
          const ch = c.chain!;
          if (ch.delivered <= ch.acked) {
            // Nothing to acknowledge: make a delivery first (unmutated), then acknowledge it.
            const d = await deliver(c, { endpoint: 'paid', client: 0, mutation: { kind: 'none' } });
            if (!d || ch.delivered <= ch.acked) return;
          }
          const i = ch.delivered;
          return run(op, ackRequest(c.s.alias, origin + doc.ackPath, { sub: ch.sub, i, w: ch.words[i]! }), (a) => {
            if (a.status === 200) ch.acked = Math.max(ch.acked, i);
          });
        });
      }
      case 'sddp-get':
      case 'sddp-put':
      case 'eddp': {
        const c = plain[op.client % plain.length]!;
        return withLock(c, async () => {
          const level = op.endpoint === 'eddp' ? 'eddp' : 'sddp';
          const body = op.endpoint === 'sddp-put' ? utf8(JSON.stringify({ note: `n${id}`, pad: 'p'.repeat(id % 300) })) : undefined;
          const { request, pending } = await deliveryRequest({
            key: c.s,
            level,
            method: op.endpoint === 'sddp-put' ? 'PUT' : 'GET',
            url: origin + (level === 'eddp' ? `/api/eddp/x${id % 7}` : `/api/notes${id % 3 ? '' : `?q=${id}`}`),
            now: now(),
            ...(level === 'eddp' ? { challenge: await challengeFor(c) } : {}),
            ...(body ? { body, contentType: 'application/json' } : {}),
          });
          expect_(request, pending.nonce, c, body ? 'application/json' : null, body ?? new Uint8Array(0));
          return run(op, request, (a) => follow(c, a));
        });
      }
      case 'paid': {
        const c = paid[op.client % paid.length]!;
        return withLock(c, async () => void (await deliver(c, op)));
      }
      case 'rotate': {
        const c = plain[op.client % plain.length]!;
        return withLock(c, async () => {
          const next = sessionOf(c.name, c.s.gen + 1);
          const { state, request } = await rotateStart({ old: c.s, next, discovery: doc, now: now() });
          rotations.add(`${c.s.alias}>${next.alias}.${next.gen}`);
          return run(op, request, async (a) => {
            follow(c, a);
            if (a.status !== 200) return;
            try {
              await rotateOnResponse(state, asMsg(a));
              if (c.s.gen < next.gen) c.s = next;
            } catch {
              // an answer to a mutant that does not open for the original
            }
          });
        });
      }
      case 'page': {
        const c = plain[op.client % plain.length]!;
        const credential = makeCredential(c.s, origin, now()).value;
        return run(op, { method: 'GET', url: origin + `/page${id % 5}?v=${id}`, headers: { 'janus-credential': credential, accept: 'text/html' }, body: new Uint8Array(0) }, () => undefined);
      }
      case 'oversize': {
        // Valid messages that are too large: refused with too_large, never read whole.
        const c = plain[op.client % plain.length]!;
        return withLock(c, async () => {
          const body = utf8(JSON.stringify({ pad: 'p'.repeat(70 * 1024) }));
          const { request } = await deliveryRequest({ key: c.s, level: 'sddp', method: 'PUT', url: origin + '/api/notes', now: now(), body, contentType: 'application/json' });
          return run(op, request, () => undefined);
        });
      }
    }
  }

  /** One eddp+receipts delivery for a paid client (with the acknowledgement it owes), mutated per `op`. */
  async function deliver(c: Client, op: Op): Promise<boolean> {
    const ch = c.chain!;
    if (ch.delivered >= ch.n) return false;
    const ack: Ack | undefined = ch.delivered > ch.acked ? { sub: ch.sub, i: ch.delivered, w: ch.words[ch.delivered]! } : undefined;
    const { request, pending } = await deliveryRequest({ key: c.s, level: 'eddp+receipts', method: 'GET', url: origin + `/api/paid/s${ch.delivered % 9}`, now: now(), challenge: await challengeFor(c), ...(ack ? { ack } : {}) });
    expect_(request, pending.nonce, c, null, new Uint8Array(0));
    let delivered = false;
    const learn = async (a: RawAnswer, p: PendingRequest) => {
      // "Already acknowledged": the vendor took this acknowledgement from an answer the client never read.
      if (ack && a.headers['janus-error'] === 'replayed' && /acknowledged/.test(Buffer.from(a.body).toString('utf8'))) ch.acked = Math.max(ch.acked, ack.i);
      if (a.status !== 200 && a.status !== 402) return;
      try {
        const d = await deliveryResponse(p, 'eddp+receipts', asMsg(a));
        if (ack) ch.acked = Math.max(ch.acked, ack.i);
        if (d.receipt) {
          if (d.ackRequired) ch.delivered = Math.max(ch.delivered, d.receipt.i);
          else {
            ch.delivered = Math.max(ch.delivered, d.receipt.i);
            delivered = true;
          }
        }
      } catch {
        // an answer to a mutant that does not open for the original: nothing learned
      }
    };
    await run(op, request, (a) => learn(a, pending));
    return delivered;
  }

  // The plan: fast-check draws the operations from the seed.
  const plan = fc.sample(opArb, { numRuns: opts.operations, seed });
  const concurrency = opts.concurrency ?? 4;
  let nextOp = 0;
  const started = Date.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (nextOp < plan.length) {
        const index = nextOp++;
        const op = plan[index]!;
        try {
          await execute(op);
        } catch (e) {
          // A client-side step failed (an unmutated helper request refused): reported, never fatal.
          report.legitimateRefused++;
          problem(`${op.endpoint}: ${(e as Error).message}`);
        }
        if (opts.progress && (index + 1) % 1000 === 0) opts.progress(`${opts.mode}: ${nextOp}/${plan.length} operations, ${report.requests} requests, ${((Date.now() - started) / 1000).toFixed(0)} s`);
      }
    }),
  );
  await vendor.flush();
  await vendor.stop();
  report.crashes = vendor.crashes;
  report.errorLogLines = vendor.errorLines.length;
  for (const l of vendor.errorLines.slice(0, 5)) problem(`vendor stderr: ${l}`);

  // What the vendor accepted, against what the clients made.
  const seenNonces = new Set<string>();
  for (const e of vendor.events) {
    if (e.t === 'accepted') {
      const want = e.nonce ? expected.get(e.nonce) : undefined;
      const got: Expect = { method: e.method, url: e.url, contentType: e.contentType, body: e.body, alias: e.alias };
      if (!want || seenNonces.has(e.nonce!) || JSON.stringify(want) !== JSON.stringify(got)) {
        report.acceptedForgeries++;
        problem(`accepted ${JSON.stringify(got).slice(0, 300)} ${!want ? '(no client made it)' : seenNonces.has(e.nonce!) ? '(a replay)' : `(the client made ${JSON.stringify(want).slice(0, 300)})`}`);
      }
      if (e.nonce) seenNonces.add(e.nonce);
    } else if (e.t === 'site') {
      if (e.level !== 'sddp' && e.level !== 'eddp' && e.level !== 'eddp+receipts') {
        report.acceptedForgeries++;
        problem(`the site's protected resource reached unverified: ${e.method} ${e.path} as ${e.level}`);
      }
    } else if (e.t === 'commit') {
      if (e.insert && registrations.get(e.insert.alias) !== e.insert.data) {
        report.acceptedForgeries++;
        problem(`registered ${e.insert.alias} with ${e.insert.data.slice(0, 200)}, the client sent ${registrations.get(e.insert.alias)?.slice(0, 200)}`);
      }
      if (e.rename && !rotations.has(`${e.rename.from}>${e.rename.alias}.${e.rename.gen}`)) {
        report.acceptedForgeries++;
        problem(`rotated ${e.rename.from} to ${e.rename.alias}.${e.rename.gen}, which no client asked for`);
      }
    }
  }

  // The store as left on disk.
  const rk = resolveConfig({ origin, keys }).rk;
  const dbh = new Database(db, { readonly: true });
  const integrity = dbh.pragma('integrity_check', { simple: true });
  if (integrity !== 'ok') {
    report.storeInconsistencies++;
    problem(`integrity_check: ${String(integrity)}`);
  }
  const rows = dbh.prepare<[], SqliteClientRow>('SELECT * FROM clients').all();
  const present = new Set<string>();
  for (const r of rows) {
    const alias = r.alias;
    present.add(alias);
    try {
      const rec = fromRow(rk, toClient(r));
      const name = nameOfAlias.get(alias);
      if (!name || !equalBytes(rec.k, vendorKey(master, idOf(name), origin, rec.gen).k)) throw new Error(`the stored key of ${alias} (generation ${rec.gen}) is not its client's`);
      const ch = rec.chain;
      if (ch) {
        let w = b64u.decode(ch.ackedW);
        for (let i = 0; i < ch.acked; i++) w = sha256(w);
        if (!(ch.acked <= ch.delivered && ch.delivered <= ch.n) || !equalBytes(w, b64u.decode(ch.w0))) throw new Error(`the chain of ${alias} is inconsistent: ${JSON.stringify({ ...ch, ackedW: undefined })}`);
      }
    } catch (e) {
      report.storeInconsistencies++;
      problem(`store: ${(e as Error).message}`);
    }
  }
  dbh.close();
  for (const alias of acknowledged) {
    if (!present.has(alias) && ![...rotations].some((r) => r.startsWith(`${alias}>`))) {
      report.storeInconsistencies++;
      problem(`the acknowledged registration of ${alias} is not in the store`);
    }
  }
  report.registrationsAcknowledged = acknowledged.size;
  return report;
}
