/**
 * The SDK as a site gets it: `npm run build:sdk`, `npm pack`, the tarball installed into an empty
 * project offline (its dependencies from the npm cache `npm ci` filled), then every TypeScript
 * block of docs/VENDOR.md, of README.md's SDK section and of the package's README compiled there
 * with `tsc --strict` against the installed package, and each block marked `ts run` run: its server started on a free port,
 * a client registered (SKEP) and served on each protected route the server's discovery document
 * lists (SDDP, EDDP), the server stopped. The samples in the docs are the ones run.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDiscovery } from '../src/protocol/index.ts';
import { deliver, fetchChallenge, register, sessionFor } from './support/client.ts';
import { httpPeer } from './support/vendor-kit.ts';

const ROOT = resolve(import.meta.dirname, '..');
const PKG = join(ROOT, 'packages/janus-vendor');
const now = () => Math.floor(Date.now() / 1000);

/** What the sample project installs beside the package: the frameworks, the SQLite driver, TypeScript. */
const BESIDE = ['hono', '@hono/node-server', 'express', 'better-sqlite3', 'typescript', '@types/node', '@types/express'];

interface LockEntry {
  version: string;
  resolved?: string;
  integrity?: string;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  [k: string]: unknown;
}

function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): string {
  const r = spawnSync(cmd, args, { cwd, env: { ...process.env, ...env }, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} (in ${cwd}) exited ${r.status}:\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/**
 * A lockfile for the sample project made of the checkout's own: each package at the version
 * `npm ci` installed here, with its registry address, so that `npm ci --offline` takes it from the
 * cache (an offline `npm install` would ask the registry for package documents the cache does not
 * hold). `janus` is the package's own entry: the tarball, and its package.json's fields.
 */
function sampleLock(tarball: { filename: string; integrity: string }, janus: { dependencies: Record<string, string> } & Record<string, unknown>): { lock: object; dependencies: Record<string, string> } {
  const root = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockEntry> };
  const all = root.packages;
  const packages: Record<string, LockEntry> = {};
  const parent = (path: string) => path.slice(0, Math.max(0, path.lastIndexOf('/node_modules/')));
  // Node's lookup: the nearest node_modules/<name> from the dependent's folder up.
  const locate = (from: string, name: string): string | null => {
    for (let base = from; ; base = parent(base)) {
      const path = `${base ? base + '/' : ''}node_modules/${name}`;
      if (all[path]) return path;
      if (!base) return null;
    }
  };
  const add = (path: string) => {
    if (packages[path]) return;
    const { dev: _d, devOptional: _o, peer: _p, optional: _x, ...entry } = all[path]!;
    const name = path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length);
    packages[path] = { ...entry, resolved: `https://registry.npmjs.org/${name}/-/${name.split('/').pop()}-${entry.version}.tgz` };
    for (const dep of Object.keys(entry.dependencies ?? {})) {
      const at = locate(path, dep);
      if (!at) throw new Error(`${path} needs ${dep}, which the checkout's lockfile does not hold`);
      add(at);
    }
    for (const dep of Object.keys(entry.optionalDependencies ?? {})) {
      const at = locate(path, dep);
      if (at) add(at); // another platform's optional package is not installed here
    }
  };
  for (const name of [...BESIDE, ...Object.keys(janus.dependencies)]) add(`node_modules/${name}`);
  packages['node_modules/janus-vendor'] = { version: '0.1.0', resolved: `file:../${tarball.filename}`, integrity: tarball.integrity, ...janus };
  const dependencies = { 'janus-vendor': `file:../${tarball.filename}`, ...Object.fromEntries(BESIDE.map((n) => [n, packages[`node_modules/${n}`]!.version])) };
  return { lock: { name: 'janus-samples', lockfileVersion: 3, requires: true, packages: { '': { name: 'janus-samples', dependencies }, ...packages } }, dependencies };
}

interface Sample {
  file: string;
  from: string;
  runs: boolean;
}

/** Every ```ts block of a Markdown text (`ts run`: also run), from `start` (a heading) to the next heading of its level. */
function samples(doc: string, name: string, start?: string): { code: string; runs: boolean; from: string }[] {
  let text = readFileSync(join(ROOT, doc), 'utf8');
  if (start) {
    const i = text.indexOf(start);
    if (i < 0) throw new Error(`${doc} has no "${start}"`);
    const level = /^#+/.exec(start)![0];
    const next = text.indexOf(`\n${level} `, i + start.length);
    text = text.slice(i, next < 0 ? undefined : next);
  }
  const out: { code: string; runs: boolean; from: string }[] = [];
  for (const m of text.matchAll(/^```(ts|typescript)( run)?\n([\s\S]*?)^```$/gm)) out.push({ code: m[3]!, runs: m[2] === ' run', from: `${name} block ${out.length + 1}` });
  return out;
}

describe('the janus-vendor package, packed, installed offline, and the docs samples run against it', () => {
  let dir: string;
  let app: string;
  let files: string[];
  const list: Sample[] = [];
  const children: ChildProcess[] = [];

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'janus-package-'));
    run('npm', ['run', '--silent', 'build:sdk'], ROOT);
    const packed = JSON.parse(run('npm', ['pack', '--json', '--pack-destination', dir], PKG)) as { filename: string; integrity: string; files: { path: string }[] }[];
    files = packed[0]!.files.map((f) => f.path);
    const { dependencies, peerDependencies, peerDependenciesMeta, bin, engines, license } = JSON.parse(readFileSync(join(PKG, 'package.json'), 'utf8')) as { dependencies: Record<string, string> } & Record<string, unknown>;
    const sample = sampleLock(packed[0]!, { dependencies, peerDependencies, peerDependenciesMeta, bin, engines, license });
    app = join(dir, 'app');
    mkdirSync(join(app, 'samples'), { recursive: true });
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'janus-samples', private: true, type: 'module', dependencies: sample.dependencies }, null, 2));
    writeFileSync(join(app, 'package-lock.json'), JSON.stringify(sample.lock, null, 2));
    // Offline, and any attempt at the network sent to a closed port: every byte comes from the
    // tarball and the cache. Install scripts off: better-sqlite3's would compile SQLite from source
    // (its prebuilt download is offline too); its compiled module is the one `npm ci` built for
    // this Node in the checkout.
    const offline = { npm_config_offline: 'true', npm_config_proxy: 'http://127.0.0.1:9', npm_config_https_proxy: 'http://127.0.0.1:9' };
    run('npm', ['ci', '--offline', '--ignore-scripts', '--no-audit', '--no-fund'], app, offline);
    const native = 'node_modules/better-sqlite3/build/Release/better_sqlite3.node';
    mkdirSync(join(app, native, '..'), { recursive: true });
    copyFileSync(join(ROOT, native), join(app, native));

    for (const [doc, name, start] of [
      ['docs/VENDOR.md', 'VENDOR', undefined],
      ['README.md', 'README', '## The vendor SDK'],
      ['packages/janus-vendor/README.md', 'PACKAGE', undefined],
    ] as const) {
      for (const s of samples(doc, name, start)) {
        const file = `samples/${name.toLowerCase()}-${list.length + 1}.ts`;
        writeFileSync(join(app, file), s.code);
        list.push({ file, from: s.from, runs: s.runs });
      }
    }
    writeFileSync(
      join(app, 'tsconfig.json'),
      JSON.stringify({ compilerOptions: { strict: true, target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', types: ['node'], outDir: 'out', rootDir: 'samples' }, include: ['samples'] }),
    );
    // The vendor's keys, made by the package's own CLI.
    run('node', ['node_modules/.bin/janus-vendor', 'keygen', '--origin', 'https://quotes.example', '--out', 'keys'], app);
  }, 120_000);

  afterAll(() => {
    for (const c of children) c.kill('SIGKILL');
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('holds compiled JavaScript and declarations only, and the CLI as its bin', () => {
    expect(files.filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))).toEqual([]);
    for (const door of ['server/index', 'server/hono', 'server/express', 'server/node', 'server/sqlite-store', 'server/pg-store', 'server/proxy', 'server/cli/index']) {
      expect(files).toContain(`dist/${door}.js`);
      expect(files).toContain(`dist/${door}.d.ts`);
    }
    expect(files).toContain('bin/janus-vendor.js');
    const installed = JSON.parse(readFileSync(join(app, 'node_modules/janus-vendor/package.json'), 'utf8')) as { dependencies: Record<string, string> };
    expect(Object.keys(installed.dependencies).sort()).toEqual(['@noble/ciphers', '@noble/hashes', 'hash-wasm', 'node-forge']);
  });

  it('the core and the framework doors load neither better-sqlite3 nor pg; the store doors do', () => {
    // A loader hook that refuses the two drivers: a door that imports one fails to load.
    const deny = `data:text/javascript,${encodeURIComponent("export async function resolve(s, c, next) { if (s === 'better-sqlite3' || s === 'pg') throw new Error('the driver ' + s + ' was loaded'); return next(s, c); }")}`;
    writeFileSync(join(app, 'deny-drivers.mjs'), `import { register } from 'node:module';\nregister(${JSON.stringify(deny)});\n`);
    const load = (spec: string) => spawnSync('node', ['--import', './deny-drivers.mjs', '--input-type=module', '-e', `await import(${JSON.stringify(spec)});`], { cwd: app, encoding: 'utf8' });
    for (const door of ['janus-vendor', 'janus-vendor/hono', 'janus-vendor/express', 'janus-vendor/node', 'janus-vendor/proxy']) {
      const r = load(door);
      expect([door, r.status, r.stderr]).toEqual([door, 0, '']);
    }
    for (const [door, driver] of [
      ['janus-vendor/sqlite', 'better-sqlite3'],
      ['janus-vendor/postgres', 'pg'],
    ]) {
      const r = load(door!);
      expect([door, r.status, r.stderr.includes(`the driver ${driver} was loaded`)]).toEqual([door, 1, true]);
    }
    // pg is not installed here: openStore says so with a typed error.
    const r = spawnSync('node', ['--input-type=module', '-e', "const { openStore } = await import('janus-vendor'); await openStore('postgres://u@localhost/db').catch((e) => console.log(e.code, e.message));"], { cwd: app, encoding: 'utf8' });
    expect(r.stdout.trim()).toBe('bad_input a PostgreSQL database needs the pg package: npm install pg');
  });

  it('every TypeScript block of the docs compiles with tsc --strict against the installed package', () => {
    expect(list.filter((s) => s.from.startsWith('VENDOR')).length).toBeGreaterThanOrEqual(5);
    expect(list.filter((s) => s.from.startsWith('README')).length).toBeGreaterThanOrEqual(1);
    expect(list.filter((s) => s.from.startsWith('PACKAGE')).length).toBeGreaterThanOrEqual(1);
    const r = spawnSync('node', ['node_modules/typescript/bin/tsc', '-p', '.'], { cwd: app, encoding: 'utf8' });
    const where = list.map((s) => `${s.file}: ${s.from}`).join('\n');
    expect(r.stdout + r.stderr, `tsc in ${app}\n${where}`).toBe('');
    expect(r.status).toBe(0);
  });

  it('every block marked to run serves a registered client on each of its protected routes', async () => {
    const runnable = list.filter((s) => s.runs);
    expect(runnable.length).toBeGreaterThanOrEqual(4);
    for (const sample of runnable) {
      const cwd = join(dir, sample.file.replace(/\W/g, '-'));
      mkdirSync(cwd);
      for (const f of ['vendor-key.pem', 'vendor-cert.pem', 'kek.key']) {
        mkdirSync(join(cwd, 'keys'), { recursive: true });
        copyFileSync(join(app, 'keys', f), join(cwd, 'keys', f));
      }
      const child = spawn('node', [join(app, 'out', sample.file.slice('samples/'.length).replace(/\.ts$/, '.js'))], { cwd, env: { ...process.env, PORT: '0' } });
      children.push(child);
      let output = '';
      child.stdout.on('data', (c: Buffer) => (output += c.toString()));
      child.stderr.on('data', (c: Buffer) => (output += c.toString()));
      const port = await new Promise<number>((ok, fail) => {
        const timer = setTimeout(() => fail(new Error(`${sample.from} did not say where it listens:\n${output}`)), 15_000);
        child.stdout.on('data', () => {
          const m = /listening on http:\/\/localhost:(\d+)/.exec(output);
          if (m) {
            clearTimeout(timer);
            ok(Number(m[1]));
          }
        });
        child.on('exit', (code) => fail(new Error(`${sample.from} exited ${code}:\n${output}`)));
      });
      const base = `http://127.0.0.1:${port}`;
      const raw = (await (await fetch(base + '/.well-known/janus')).json()) as { origin: string };
      const peer = httpPeer(base);
      const doc = parseDiscovery(new TextEncoder().encode(JSON.stringify(raw)), raw.origin);
      const protectedRoutes = doc.routes.filter((r) => r.level !== 'credential');
      expect(protectedRoutes.length, sample.from).toBeGreaterThan(0);
      const s = await sessionFor('sam@example.org', 'sam secret', doc.origin);
      await register(peer, s, doc, { now: now(), chain: 5 });
      for (const r of protectedRoutes) {
        const path = r.path.endsWith('/*') ? r.path.slice(0, -1) + 'IBM' : r.path;
        const level = r.level as 'sddp' | 'eddp' | 'eddp+receipts';
        const d = await deliver(peer, s, level, path, { now: now(), ...(level === 'sddp' ? {} : { challenge: await fetchChallenge(peer, s, doc) }) });
        expect([sample.from, path, d.status], output).toEqual([sample.from, path, 200]);
        if (level === 'eddp+receipts') expect(d.receipt?.i, sample.from).toBeGreaterThan(0);
      }
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
  }, 60_000);
});
