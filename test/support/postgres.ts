/**
 * A throwaway PostgreSQL cluster for tests, benchmarks and the demo: Debian's binaries
 * (/usr/lib/postgresql/<version>/bin), initdb into a temporary directory as an unprivileged user
 * (PostgreSQL refuses to run as root; as root we use the system user `janustest`, created when
 * absent), listening on 127.0.0.1 only on a free port, unix sockets inside the temporary directory,
 * fsync off, a random password (SCRAM), and everything removed by `stop()`.
 *
 * If this process dies without calling `stop()` (a killed test worker), a small watchdog shell
 * notices its stdin pipe closing and stops the server and removes the directory.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';

const TEST_USER = 'janustest';

export interface PgCluster {
  /** A superuser URL to the database `janus` (created empty). */
  readonly url: string;
  /** The PostgreSQL bin directory used. */
  readonly bin: string;
  /** The temporary directory holding the data and the sockets. */
  readonly dir: string;
  stop(): Promise<void>;
}

/** The bin directory: $JANUS_PG_BIN, else the newest /usr/lib/postgresql/<version>/bin (Debian's layout). */
function findPgBin(): string {
  const env = process.env.JANUS_PG_BIN;
  if (env) {
    if (!existsSync(join(env, 'postgres'))) throw new Error(`JANUS_PG_BIN=${env} holds no postgres binary`);
    return env;
  }
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root)
    ? readdirSync(root)
        .filter((v) => /^\d+(\.\d+)?$/.test(v) && existsSync(join(root, v, 'bin', 'postgres')) && existsSync(join(root, v, 'bin', 'initdb')))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (!versions[0]) throw new Error("no PostgreSQL server found in /usr/lib/postgresql/*/bin: install Debian's package (apt-get install -y postgresql), or set JANUS_PG_BIN");
  return join(root, versions[0], 'bin');
}

function run(cmd: string, args: string[], opts: Parameters<typeof spawnSync>[2] = {}): { status: number | null; out: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', ...opts });
  return { status: r.status, out: `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? String(r.error) : ''}` };
}

/** uid/gid to run the server as: ours unless we are root, then `janustest` (created if absent). */
function serverUser(): { uid: number; gid: number } | null {
  if (process.getuid?.() !== 0) return null;
  const lookup = () => {
    const u = run('id', ['-u', TEST_USER]);
    const g = run('id', ['-g', TEST_USER]);
    return u.status === 0 && g.status === 0 ? { uid: Number(u.out.trim()), gid: Number(g.out.trim()) } : null;
  };
  for (let attempt = 0; attempt < 20; attempt++) {
    const found = lookup();
    if (found) return found;
    // Another test worker may be adding it at the same moment (useradd exits 9, or 10 while /etc/passwd is locked).
    const r = run('useradd', ['--system', '--user-group', '--no-create-home', '--home-dir', '/nonexistent', '--shell', '/usr/sbin/nologin', TEST_USER]);
    if (r.status === 0) continue;
    if (r.status !== 9 && r.status !== 10) throw new Error(`useradd ${TEST_USER} failed: ${r.out}`);
    spawnSync('sleep', ['0.1']);
  }
  throw new Error(`could not create the system user ${TEST_USER}`);
}

export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((ok, fail) => s.once('error', fail).listen(0, '127.0.0.1', ok));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((ok) => s.close(() => ok()));
  return port;
}

/** Starts `postgres` and resolves once it accepts connections; rejects with its log if it exits first. */
function startServer(bin: string, data: string, dir: string, port: number, user: { uid: number; gid: number } | null, env: NodeJS.ProcessEnv, settings: Readonly<Record<string, string>>): Promise<ChildProcess> {
  const args = [
    '-D', data,
    '-p', String(port),
    '-c', 'listen_addresses=127.0.0.1',
    '-c', `unix_socket_directories=${dir}`,
    // A throwaway cluster: durability buys nothing, speed does.
    '-c', 'fsync=off',
    '-c', 'synchronous_commit=off',
    '-c', 'full_page_writes=off',
    '-c', 'max_connections=200',
    '-c', 'logging_collector=off',
    ...Object.entries(settings).flatMap(([k, v]) => ['-c', `${k}=${v}`]),
  ];
  const child = spawn(join(bin, 'postgres'), args, { cwd: dir, env, stdio: ['ignore', 'ignore', 'pipe'], ...(user ?? {}) });
  let log = '';
  return new Promise((ok, fail) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      fail(new Error(`postgres did not start within 30 s:\n${log}`));
    }, 30_000);
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (chunk: string) => {
      log = (log + chunk).slice(-16_384);
      if (log.includes('database system is ready to accept connections')) {
        clearTimeout(timer);
        ok(child);
      }
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      fail(Object.assign(new Error(`postgres exited (${code ?? signal}) before accepting connections:\n${log}`), { log }));
    });
    child.once('error', (e) => {
      clearTimeout(timer);
      fail(e);
    });
  });
}

/** A shell that outlives this process only to clean up after it: it waits for EOF on stdin (our death). */
function watchdog(pid: number, dir: string): ChildProcess {
  const script = 'while read -r _; do :; done; kill -INT "$1" 2>/dev/null; i=0; while kill -0 "$1" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done; kill -KILL "$1" 2>/dev/null; rm -rf "$2"';
  const w = spawn('sh', ['-c', script, 'janus-pg-watchdog', String(pid), dir], { stdio: ['pipe', 'ignore', 'ignore'], detached: true });
  w.unref();
  return w;
}

/** `settings`: more server settings (`-c name=value`), e.g. `{ shared_buffers: '1GB' }` for a benchmark. */
export async function startCluster(settings: Readonly<Record<string, string>> = {}): Promise<PgCluster> {
  const bin = findPgBin();
  const user = serverUser();
  // The server's user must reach the directory: a private TMPDIR (root's 0700) would stop it.
  const parent = user && (statSync(tmpdir()).mode & 0o001) === 0 ? '/tmp' : tmpdir();
  const dir = mkdtempSync(join(parent, 'janus-pg-'));
  const data = join(dir, 'data');
  const password = randomBytes(18).toString('base64url');
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C', LC_ALL: 'C', TZ: 'UTC' };
  let server: ChildProcess | null = null;
  try {
    if (user) chownSync(dir, user.uid, user.gid);
    const pwfile = join(dir, 'pw');
    writeFileSync(pwfile, password + '\n', { mode: 0o600 });
    if (user) chownSync(pwfile, user.uid, user.gid);
    const init = run(join(bin, 'initdb'), ['-D', data, '-U', 'janus', `--pwfile=${pwfile}`, '--auth=scram-sha-256', '-E', 'UTF8', '--locale=C', '--no-sync', '--no-instructions'], {
      cwd: dir,
      env,
      ...(user ?? {}),
    });
    rmSync(pwfile, { force: true });
    if (init.status !== 0) throw new Error(`initdb failed:\n${init.out}`);
    let port = 0;
    for (let attempt = 0; ; attempt++) {
      port = await freePort();
      try {
        server = await startServer(bin, data, dir, port, user, env, settings);
        break;
      } catch (e) {
        // The port was taken between our probe and the server's bind: try another.
        if (attempt < 4 && /could not (bind|create listen socket)|Address already in use/.test(String((e as { log?: string }).log ?? ''))) continue;
        throw e;
      }
    }
    const dog = watchdog(server.pid!, dir);
    const base = `postgres://janus:${encodeURIComponent(password)}@127.0.0.1:${port}`;
    const admin = new pg.Client({ connectionString: `${base}/postgres` });
    await admin.connect();
    try {
      await admin.query('CREATE DATABASE janus');
    } finally {
      await admin.end();
    }
    const child = server;
    let stopped: Promise<void> | null = null;
    return {
      url: `${base}/janus`,
      bin,
      dir,
      stop: () =>
        (stopped ??= (async () => {
          dog.kill('SIGKILL');
          dog.stdin?.destroy();
          await stopServer(child);
          rmSync(dir, { recursive: true, force: true });
        })()),
    };
  } catch (e) {
    if (server) await stopServer(server);
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
}

async function stopServer(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((ok) => child.once('exit', () => ok()));
  child.kill('SIGINT'); // fast shutdown: active sessions are ended
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

/** Creates an empty database on the server of `url` and returns its URL. */
export async function createDatabase(url: string, name = `janus_${randomBytes(6).toString('hex')}`): Promise<string> {
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new RangeError(`database name must be a plain identifier, got ${name}`);
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

/** Drops a database made by `createDatabase`, ending its sessions first. */
export async function dropDatabase(url: string): Promise<void> {
  const name = decodeURIComponent(new URL(url).pathname.slice(1));
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new RangeError(`database name must be a plain identifier, got ${name}`);
  const u = new URL(url);
  u.pathname = '/postgres';
  const admin = new pg.Client({ connectionString: u.toString() });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  } finally {
    await admin.end();
  }
}
