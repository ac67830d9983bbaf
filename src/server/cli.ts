/**
 * `janus-vendor`: the vendor's command line (docs/CLI.md).
 *
 *   keygen          a vendor key pair, a key-encryption key, a certificate or a CSR
 *   serve           a vendor as a reverse proxy in front of the site's own server
 *   inspect         a client record, without its key
 *   verify-receipt  the third party of paper §5: what a receipt proves
 *
 * `main` takes the arguments and an `io` (stdout, stderr, environment, stdin, a stop signal) and
 * returns the exit code, so that tests run it in-process. Exit codes: 0 ok, 1 the answer is negative
 * (a receipt that does not verify, an unknown client), 2 usage error, 3 input, IO or other error.
 * No secret key or KEK is ever printed; keygen writes them to files only.
 */
import { closeSync, existsSync, fchmodSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { dirname, isAbsolute, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import * as forgeNs from 'node-forge';
import { b64, b64u, randomBytes } from '../crypto/bytes.ts';
import { useCryptoProvider } from '../crypto/provider.ts';
import {
  certificateInfo,
  derToPem,
  generateVendorKeyPair,
  MAX_RSA_BITS,
  MIN_RSA_BITS,
  parseVendorPublicKey,
  pemToDer,
  selfSignedCertificate,
  spkiFingerprint,
  type CertificateInfo,
  type VendorPublicKey,
} from '../crypto/rsa.ts';
import { JanusError } from '../errors.ts';
import { LEVELS, MAX_WINDOW, parseReceipt, verifyReceipt, verifyWord, vendorIdentity, type JsonObject, type Level, type ReceiptPayload, type ReceiptPolicy } from '../protocol/index.ts';
import { loadKeyMaterial, resolveConfig, type RateLimits, type TrustProxy, type VendorConfig, type VendorLimits } from './config.ts';
import { nodeCryptoProvider } from './node-crypto.ts';
import { displayStoreLocation, openStore, parseStoreLocation } from './open-store.ts';
import { createProxy, parseUpstream, type ProxyRoute } from './proxy.ts';
import { publicView } from './records.ts';
import type { Store } from './store.ts';

// node-forge is CommonJS: Node's ESM loader exposes it only as `default`, bundlers as the namespace.
const forge: typeof forgeNs = (forgeNs as unknown as { default?: typeof forgeNs }).default ?? forgeNs;

export interface Io {
  /** Standard output; every call is one or more whole lines. */
  out(text: string): void;
  err(text: string): void;
  /** Environment for JANUS_PRIVATE_KEY / JANUS_CERTIFICATE / JANUS_KEK. Default process.env. */
  env?: NodeJS.ProcessEnv;
  /** Reads all of standard input (verify-receipt `-`). Default process.stdin. */
  stdin?: () => Promise<string>;
  /** Stops `serve` when aborted (besides SIGINT and SIGTERM). */
  signal?: AbortSignal;
  /** Relative paths on the command line resolve against this. Default process.cwd(). */
  cwd?: string;
}

export const processIo: Io = {
  out: (s) => void process.stdout.write(s),
  err: (s) => void process.stderr.write(s),
};

export const EXIT = { ok: 0, negative: 1, usage: 2, input: 3 } as const;

/** A failure with its exit code and a message in plain words (printed without a stack). */
export class CliError extends Error {
  constructor(
    readonly exitCode: 1 | 2 | 3,
    message: string,
  ) {
    super(message);
  }
}

const usage = (m: string) => new CliError(EXIT.usage, m);
const inputError = (m: string) => new CliError(EXIT.input, m);
const negative = (m: string) => new CliError(EXIT.negative, m);

// ---------------------------------------------------------------------------------------------
// Commands and their arguments

type OptionSpec = { type: 'string' | 'boolean'; short?: string };
type Values = Record<string, string | boolean | undefined>;

interface Command {
  name: string;
  summary: string;
  help: string;
  options: Record<string, OptionSpec>;
  run(values: Values, positionals: string[], io: Io): Promise<number>;
}

// An alias is 22 base64url characters, so one in 64 begins with '-': such an argument is an alias,
// not an option (no option is spelled like that). `--` works too.
const ALIAS_ARG_RE = /^-[A-Za-z0-9_-]{21}$/;

function parse(cmd: Command, args: readonly string[]): { values: Values; positionals: string[] } {
  try {
    const end = args.indexOf('--');
    const head = end < 0 ? [...args] : args.slice(0, end);
    const aliases = head.filter((a) => ALIAS_ARG_RE.test(a));
    const r = parseArgs({
      args: [...head.filter((a) => !ALIAS_ARG_RE.test(a)), ...(end < 0 ? [] : args.slice(end))],
      options: { ...cmd.options, help: { type: 'boolean', short: 'h' } },
      allowPositionals: true,
      strict: true,
    });
    return { values: r.values as Values, positionals: [...aliases, ...r.positionals] };
  } catch (e) {
    const m = e instanceof Error ? e.message : String(e);
    const unknown = /Unknown option '([^']+)'/.exec(m);
    if (unknown) throw usage(`${cmd.name}: unknown option ${unknown[1]} (see janus-vendor ${cmd.name} --help)`);
    const missing = /Option '(?:-\w, )?(--[\w-]+)[^']*' argument missing/.exec(m);
    if (missing) throw usage(`${cmd.name}: ${missing[1]} needs a value`);
    throw usage(`${cmd.name}: ${m.split('. ')[0]}`);
  }
}

const str = (v: Values, name: string): string | undefined => {
  const x = v[name];
  return typeof x === 'string' ? x : undefined;
};

function required(v: Values, name: string, cmd: string): string {
  const x = str(v, name);
  if (x === undefined || x === '') throw usage(`${cmd}: --${name} is required (see janus-vendor ${cmd} --help)`);
  return x;
}

function intOption(v: Values, name: string, cmd: string, dflt: number): number {
  const x = str(v, name);
  if (x === undefined) return dflt;
  if (!/^\d+$/.test(x)) throw usage(`${cmd}: --${name} must be a whole number, got ${x}`);
  return Number(x);
}

function cwdOf(io: Io): string {
  return io.cwd ?? process.cwd();
}

function readText(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'it is a folder' : (code ?? (e as Error).message);
    throw inputError(`cannot read the ${what} ${path}: ${why}`);
  }
}

const iso = (t: number) => new Date(t * 1000).toISOString();

// ---------------------------------------------------------------------------------------------
// keygen

const IPV4_RE = /^\d{1,3}(\.\d{1,3}){3}$/;

/** The origin's host for CN and subjectAltName, and whether it is an IP literal. */
function hostOf(origin: string): { host: string; isIp: boolean } {
  const host = new URL(origin).hostname.replace(/^\[(.*)\]$/, '$1');
  return { host, isIp: IPV4_RE.test(host) || host.includes(':') };
}

/** A PKCS#10 request (RFC 2986) for a real CA: CN = host, subjectAltName asked for, SHA-256. */
export function certificateSigningRequest(pkcs8: Uint8Array, origin: string): string {
  const { host, isIp } = hostOf(origin);
  const priv = forge.pki.privateKeyFromAsn1(forge.asn1.fromDer(forge.util.createBuffer(Buffer.from(pkcs8).toString('binary')), true)) as forgeNs.pki.rsa.PrivateKey;
  const csr = forge.pki.createCertificationRequest();
  csr.publicKey = forge.pki.setRsaPublicKey(priv.n, priv.e);
  csr.setSubject([{ name: 'commonName', value: host }]);
  csr.setAttributes([
    // RFC 2985 §5.4.2 extensionRequest: RFC 5280 §4.2.1.6 dNSName (2) or iPAddress (7).
    { name: 'extensionRequest', extensions: [{ name: 'subjectAltName', altNames: [isIp ? { type: 7, ip: host } : { type: 2, value: host }] }] },
  ] as unknown as forgeNs.pki.CertificateField[]);
  csr.sign(priv, forge.md.sha256.create());
  return forge.pki.certificationRequestToPem(csr).replace(/\r\n/g, '\n');
}

/** Writes a file created with `mode` (0600 for secrets); without `force` an existing file is never touched. */
function writeFile(path: string, text: string, mode: number, force: boolean): void {
  let fd: number;
  try {
    fd = openSync(path, force ? 'w' : 'wx', mode);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw inputError(`${path} already exists; use --force to replace it`);
    throw inputError(`cannot write ${path}: ${code ?? (e as Error).message}`);
  }
  try {
    fchmodSync(fd, mode); // an existing file replaced with --force keeps its old mode otherwise
    writeSync(fd, text);
  } finally {
    closeSync(fd);
  }
}

const keygen: Command = {
  name: 'keygen',
  summary: "make the vendor's RSA key, key-encryption key, and a certificate or CSR",
  options: {
    origin: { type: 'string' },
    out: { type: 'string' },
    bits: { type: 'string' },
    days: { type: 'string' },
    csr: { type: 'boolean' },
    force: { type: 'boolean' },
  },
  help: `Usage: janus-vendor keygen --origin <https://site.example> --out <dir> [--bits 3072] [--days 365] [--csr] [--force]

Makes the vendor's keys in <dir>:
  vendor-key.pem    the RSA private key, PKCS#8 PEM (mode 0600: keep it secret)
  kek.key           the key-encryption key, 32 random bytes in base64 (mode 0600: keep it secret)
  vendor-cert.pem   a self-signed X.509 certificate for the origin's host, or with --csr:
  vendor.csr        a PKCS#10 certificate signing request (CN and subjectAltName = the host) for a CA

Options:
  --origin <url>  the vendor's origin, id_V: https://host[:port], or http on loopback
  --out <dir>     where to write (created if missing)
  --bits <n>      RSA modulus size, ${MIN_RSA_BITS}..${MAX_RSA_BITS} (default ${MIN_RSA_BITS})
  --days <n>      validity of the self-signed certificate, 1..3650 (default 365)
  --csr           write a CSR instead of a self-signed certificate
  --force         replace existing files
  -h, --help      this help

Prints the key's fingerprint (b64u SHA-256 of its SubjectPublicKeyInfo) and the files written.
`,
  async run(v, pos, io) {
    if (pos.length) throw usage(`keygen: unexpected argument ${pos[0]}`);
    const origin = required(v, 'origin', 'keygen');
    const out = required(v, 'out', 'keygen');
    const bits = intOption(v, 'bits', 'keygen', MIN_RSA_BITS);
    if (bits < MIN_RSA_BITS) throw usage(`keygen: --bits ${bits} is too small; Janus needs RSA keys of at least ${MIN_RSA_BITS} bits (128-bit security)`);
    if (bits > MAX_RSA_BITS || bits % 8 !== 0) throw usage(`keygen: --bits must be a multiple of 8 from ${MIN_RSA_BITS} to ${MAX_RSA_BITS}, got ${bits}`);
    const csr = v['csr'] === true;
    if (csr && str(v, 'days') !== undefined) throw usage('keygen: --days is for the self-signed certificate; a CA decides the validity of a --csr certificate');
    const days = intOption(v, 'days', 'keygen', 365);
    if (days < 1 || days > 3650) throw usage(`keygen: --days must be 1..3650, got ${days}`);
    let idV: string;
    try {
      idV = vendorIdentity(origin);
    } catch (e) {
      throw usage(`keygen: --origin ${origin} is not a vendor origin: ${(e as Error).message}`);
    }
    if (idV !== origin.replace(/\/$/, '')) throw usage(`keygen: --origin must be an origin (scheme, host, port) like ${idV}, got ${origin}`);
    const force = v['force'] === true;

    const dir = resolve(cwdOf(io), out);
    const files = {
      key: resolve(dir, 'vendor-key.pem'),
      kek: resolve(dir, 'kek.key'),
      cert: resolve(dir, 'vendor-cert.pem'),
      csr: resolve(dir, 'vendor.csr'),
    };
    const targets = [files.key, files.kek, csr ? files.csr : files.cert];
    if (!force) {
      const there = targets.filter((f) => existsSync(f));
      if (there.length) throw inputError(`keygen: ${there.join(', ')} already ${there.length > 1 ? 'exist' : 'exists'}; use --force to replace ${there.length > 1 ? 'them' : 'it'}`);
    }
    try {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
    } catch (e) {
      throw inputError(`keygen: cannot create ${dir}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }

    const { spki, pkcs8 } = await generateVendorKeyPair(bits);
    const keyPem = derToPem(pkcs8, 'PRIVATE KEY');
    const kekText = b64.encode(randomBytes(32)) + '\n';
    const public_ = csr ? certificateSigningRequest(pkcs8, idV) : selfSignedCertificate({ now: Date.now(), spki, pkcs8, origin: idV, days });

    writeFile(files.key, keyPem, 0o600, force);
    writeFile(files.kek, kekText, 0o600, force);
    writeFile(csr ? files.csr : files.cert, public_, 0o644, force);

    const fp = spkiFingerprint(spki);
    io.out(
      [
        `wrote ${files.key}  (RSA-${bits} private key, mode 0600: keep it secret)`,
        `wrote ${files.kek}  (key-encryption key, mode 0600: keep it secret)`,
        csr
          ? `wrote ${files.csr}  (certificate signing request for ${hostOf(idV).host}: send it to your CA)`
          : `wrote ${files.cert}  (self-signed certificate for ${hostOf(idV).host}, ${days} days)`,
        `origin:      ${idV}`,
        `fingerprint: ${fp}`,
        '',
      ].join('\n'),
    );
    const stale = csr ? files.cert : files.csr;
    if (force && existsSync(stale)) io.err(`janus-vendor: note: ${stale} belongs to an earlier key; remove or replace it\n`);
    return EXIT.ok;
  },
};

// ---------------------------------------------------------------------------------------------
// The serve configuration (docs/CLI.md)

export interface ServeConfig {
  origin: string;
  listen: { host: string; port: number };
  keys: { privateKey?: string; certificate?: string; kek?: string };
  database: string;
  window?: number;
  receipt?: ReceiptPolicy;
  name?: string;
  subscription?: JsonObject;
  terms?: JsonObject;
  validDays?: number | null;
  routes: ProxyRoute[];
  upstream: string;
  upstreamTimeoutSeconds: number;
  limits: Partial<VendorLimits>;
  rateLimits: Partial<RateLimits>;
  trustProxy?: TrustProxy;
  caseSensitivePaths?: boolean;
}

class ConfigError extends Error {}

type Obj = Record<string, unknown>;
const isObj = (x: unknown): x is Obj => typeof x === 'object' && x !== null && !Array.isArray(x);
const show = (x: unknown) => (x === undefined ? 'nothing' : JSON.stringify(x));

function only(o: Obj, allowed: readonly string[], where: string): void {
  for (const k of Object.keys(o)) {
    if (!allowed.includes(k)) throw new ConfigError(`unknown field "${where}${k}" (known: ${allowed.join(', ')})`);
  }
}

function cfgString(o: Obj, key: string, where: string, opt: true): string | undefined;
function cfgString(o: Obj, key: string, where: string, opt?: false): string;
function cfgString(o: Obj, key: string, where: string, opt = false): string | undefined {
  const x = o[key];
  if (x === undefined && opt) return undefined;
  if (typeof x !== 'string' || x === '') throw new ConfigError(`"${where}${key}" must be a non-empty string, got ${show(x)}`);
  return x;
}

function cfgInt(o: Obj, key: string, where: string, min: number, max: number): number | undefined {
  const x = o[key];
  if (x === undefined) return undefined;
  if (typeof x !== 'number' || !Number.isInteger(x) || x < min || x > max) throw new ConfigError(`"${where}${key}" must be a whole number from ${min} to ${max}, got ${show(x)}`);
  return x;
}

function cfgObject(o: Obj, key: string, where: string): Obj | undefined {
  const x = o[key];
  if (x === undefined) return undefined;
  if (!isObj(x)) throw new ConfigError(`"${where}${key}" must be an object, got ${show(x)}`);
  return x;
}

const CONFIG_FIELDS = [
  'origin',
  'listen',
  'keys',
  'database',
  'window',
  'receipt',
  'name',
  'subscription',
  'terms',
  'validDays',
  'routes',
  'upstream',
  'upstreamTimeoutSeconds',
  'limits',
  'rateLimits',
  'trustProxy',
  'caseSensitivePaths',
] as const;

/**
 * A store location (open-store.ts) as the config keeps it: a PostgreSQL URL as given, a SQLite path
 * resolved against `baseDir`. A JanusError (bad_input) names what is wrong, never a URL's password.
 */
export function storeLocation(location: string, baseDir: string): string {
  const where = parseStoreLocation(location);
  if (where.kind === 'postgres') return where.url;
  return where.path === ':memory:' || isAbsolute(where.path) ? where.path : resolve(baseDir, where.path);
}

/**
 * Checks a parsed config file; relative paths resolve against `baseDir`. `database`, when given
 * (the command line's --database, already resolved), stands for the config's. Throws ConfigError
 * naming the field.
 */
export function validateServeConfig(raw: unknown, baseDir: string, database?: string): ServeConfig {
  if (!isObj(raw)) throw new ConfigError('the config must be a JSON object');
  only(raw, CONFIG_FIELDS, '');
  const path = (p: string) => (p === ':memory:' || isAbsolute(p) ? p : resolve(baseDir, p));

  const origin = cfgString(raw, 'origin', '');
  let idV: string;
  try {
    idV = vendorIdentity(origin);
  } catch (e) {
    throw new ConfigError(`"origin" is not a vendor origin: ${(e as Error).message}`);
  }
  if (idV !== origin.replace(/\/$/, '')) throw new ConfigError(`"origin" must be an origin (scheme, host, port) like ${idV}, got ${show(origin)}`);

  const listenRaw = cfgObject(raw, 'listen', '') ?? {};
  only(listenRaw, ['host', 'port'], 'listen.');
  const listen = { host: cfgString(listenRaw, 'host', 'listen.', true) ?? '127.0.0.1', port: cfgInt(listenRaw, 'port', 'listen.', 0, 65535) ?? 8443 };

  const keysRaw = cfgObject(raw, 'keys', '') ?? {};
  only(keysRaw, ['privateKey', 'certificate', 'kek'], 'keys.');
  const keys: ServeConfig['keys'] = {};
  for (const k of ['privateKey', 'certificate', 'kek'] as const) {
    const p = cfgString(keysRaw, k, 'keys.', true);
    if (p !== undefined) keys[k] = path(p);
  }

  let location = database;
  if (location === undefined) {
    try {
      location = storeLocation(cfgString(raw, 'database', ''), baseDir);
    } catch (e) {
      if (e instanceof JanusError) throw new ConfigError(`"database": ${e.message}`);
      throw e;
    }
  }
  const window = cfgInt(raw, 'window', '', 0, MAX_WINDOW);
  const receipt = raw['receipt'];
  if (receipt !== undefined && receipt !== 'none' && receipt !== 'offered' && receipt !== 'required') {
    throw new ConfigError(`"receipt" must be "none", "offered" or "required", got ${show(receipt)}`);
  }
  const name = cfgString(raw, 'name', '', true);
  const subscription = cfgObject(raw, 'subscription', '') as JsonObject | undefined;
  const terms = cfgObject(raw, 'terms', '') as JsonObject | undefined;
  const validDays = raw['validDays'] === null ? null : cfgInt(raw, 'validDays', '', 1, 36_500);

  const routesRaw = raw['routes'] ?? [];
  if (!Array.isArray(routesRaw)) throw new ConfigError(`"routes" must be an array, got ${show(routesRaw)}`);
  const routes: ProxyRoute[] = routesRaw.map((r: unknown, i) => {
    const where = `routes[${i}].`;
    if (!isObj(r)) throw new ConfigError(`"routes[${i}]" must be an object like {"path": "/api/x", "level": "sddp"}, got ${show(r)}`);
    only(r, ['path', 'methods', 'level'], where);
    const p = cfgString(r, 'path', where);
    if (!p.startsWith('/') || p.startsWith('//')) throw new ConfigError(`"${where}path" must start with one /, got ${show(p)}`);
    const level = r['level'];
    if (typeof level !== 'string' || !(LEVELS as readonly string[]).includes(level)) {
      throw new ConfigError(`"${where}level" must be one of ${LEVELS.map((l) => `"${l}"`).join(', ')}, got ${show(level)}`);
    }
    const methods = r['methods'];
    if (methods !== undefined && (!Array.isArray(methods) || methods.length === 0 || !methods.every((m) => typeof m === 'string' && /^[A-Za-z]+$/.test(m)))) {
      throw new ConfigError(`"${where}methods" must be a non-empty array of HTTP methods like ["GET", "POST"], got ${show(methods)}`);
    }
    return { path: p, level: level as Level, ...(methods ? { methods: (methods as string[]).map((m) => m.toUpperCase()) } : {}) };
  });

  const upstream = cfgString(raw, 'upstream', '');
  try {
    parseUpstream(upstream);
  } catch (e) {
    throw new ConfigError(`"upstream": ${(e as Error).message}`);
  }
  const upstreamTimeoutSeconds = cfgInt(raw, 'upstreamTimeoutSeconds', '', 1, 3600) ?? 30;

  const limitsRaw = cfgObject(raw, 'limits', '') ?? {};
  const limitKeys = ['maxBodyBytes', 'maxHeaderBytes', 'unverifiedBodyBytes'] as const;
  only(limitsRaw, limitKeys, 'limits.');
  const limits: Partial<VendorLimits> = {};
  for (const k of limitKeys) {
    const n = cfgInt(limitsRaw, k, 'limits.', 1, 1 << 30);
    if (n !== undefined) limits[k] = n;
  }
  const rateRaw = cfgObject(raw, 'rateLimits', '') ?? {};
  const rateKeys = ['skepPerAddressPerMinute', 'skepPerAliasPerMinute', 'rotatePerAliasPerMinute', 'requestsPerClientPerSlot'] as const;
  only(rateRaw, rateKeys, 'rateLimits.');
  const rateLimits: Partial<RateLimits> = {};
  for (const k of rateKeys) {
    const n = cfgInt(rateRaw, k, 'rateLimits.', 1, 1_000_000);
    if (n !== undefined) rateLimits[k] = n;
  }
  const trustRaw = cfgObject(raw, 'trustProxy', '');
  let trustProxy: TrustProxy | undefined;
  if (trustRaw) {
    only(trustRaw, ['header', 'hops', 'from'], 'trustProxy.');
    const header = cfgString(trustRaw, 'header', 'trustProxy.', true);
    if (header !== undefined && !/^[A-Za-z0-9-]+$/.test(header)) throw new ConfigError(`"trustProxy.header" must be a header name like "X-Forwarded-For", got ${show(header)}`);
    const hops = cfgInt(trustRaw, 'hops', 'trustProxy.', 1, 10);
    const from = trustRaw['from'];
    if (from !== undefined && (!Array.isArray(from) || from.length === 0 || !from.every((a) => typeof a === 'string' && /^[0-9A-Fa-f:.[\]]{2,47}$/.test(a)))) {
      throw new ConfigError(`"trustProxy.from" must be a non-empty array of IP addresses like ["127.0.0.1"], got ${show(from)}`);
    }
    trustProxy = { ...(header ? { header } : {}), ...(hops !== undefined ? { hops } : {}), ...(from ? { from: from as string[] } : {}) };
  }
  const caseSensitivePaths = raw['caseSensitivePaths'];
  if (caseSensitivePaths !== undefined && typeof caseSensitivePaths !== 'boolean') throw new ConfigError(`"caseSensitivePaths" must be true or false, got ${show(caseSensitivePaths)}`);

  return {
    origin: idV,
    listen,
    keys,
    database: location,
    ...(window !== undefined ? { window } : {}),
    ...(receipt !== undefined ? { receipt } : {}),
    ...(name !== undefined ? { name } : {}),
    ...(subscription ? { subscription } : {}),
    ...(terms ? { terms } : {}),
    ...(validDays !== undefined ? { validDays } : {}),
    routes,
    upstream,
    upstreamTimeoutSeconds,
    limits,
    rateLimits,
    ...(trustProxy ? { trustProxy } : {}),
    ...(caseSensitivePaths !== undefined ? { caseSensitivePaths } : {}),
  };
}

/** Reads and checks a config file; any problem is an input error (exit 3) naming the file and field. */
export function readServeConfig(file: string, database?: string): ServeConfig {
  const text = readText(file, 'config file');
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw inputError(`the config file ${file} is not valid JSON: ${(e as Error).message}`);
  }
  try {
    return validateServeConfig(raw, dirname(file), database);
  } catch (e) {
    if (e instanceof ConfigError) throw inputError(`config ${file}: ${e.message}`);
    throw e;
  }
}

/** The VendorConfig a ServeConfig stands for, with its keys loaded (files, else the environment). */
export function vendorConfigOf(c: ServeConfig, env: NodeJS.ProcessEnv): VendorConfig {
  const keys = loadKeyMaterial(c.keys, env);
  const { terms, validDays } = c;
  return {
    origin: c.origin,
    keys,
    ...(c.window !== undefined ? { window: c.window } : {}),
    ...(c.receipt ? { receipt: c.receipt } : {}),
    ...(c.name ? { name: c.name } : {}),
    ...(c.subscription ? { subscription: c.subscription } : {}),
    ...(terms || validDays
      ? { policy: (_data: JsonObject, now: number) => ({ validFrom: now, validUntil: validDays ? now + validDays * 86_400 : null, terms: terms ?? {} }) }
      : {}),
    limits: c.limits,
    rateLimits: c.rateLimits,
    ...(c.trustProxy ? { trustProxy: c.trustProxy } : {}),
    ...(c.caseSensitivePaths !== undefined ? { caseSensitivePaths: c.caseSensitivePaths } : {}),
  };
}

// ---------------------------------------------------------------------------------------------
// serve

/**
 * Secrets kept in the database's folder travel with every copy of it: the KEK there makes the
 * "a copy of the database alone yields no client key" promise void, and the private key there
 * signs receipts for whoever copies it. Each such file is one warning line.
 */
export function keyPlacementWarnings(cfg: Pick<ServeConfig, 'database' | 'keys'>): string[] {
  const where = parseStoreLocation(cfg.database);
  // A PostgreSQL database has no folder here that a copy of the keys could travel with.
  if (where.kind === 'postgres' || where.path === ':memory:') return [];
  const dataDir = dirname(where.path);
  const inside = (p: string) => {
    const r = relative(dataDir, p);
    return r !== '' && !r.startsWith('..') && !isAbsolute(r);
  };
  const out: string[] = [];
  if (cfg.keys.kek && inside(cfg.keys.kek)) {
    out.push(`the key-encryption key ${cfg.keys.kek} is in the database's folder ${dataDir}: a copy of that folder yields every client key. Keep it elsewhere (JANUS_KEK from a secrets manager, or a file outside ${dataDir})`);
  }
  if (cfg.keys.privateKey && inside(cfg.keys.privateKey)) {
    out.push(`the vendor's private key ${cfg.keys.privateKey} is in the database's folder ${dataDir}: a copy of that folder can sign receipts. Keep it elsewhere (JANUS_PRIVATE_KEY from a secrets manager, or a file outside ${dataDir})`);
  }
  return out;
}

/** `--database <path|url>`: the store location, a relative path resolved against the working folder. */
function databaseOption(v: Values, cmd: string, io: Io): string | undefined {
  const x = str(v, 'database');
  if (x === undefined) return undefined;
  try {
    return storeLocation(x, cwdOf(io));
  } catch (e) {
    if (e instanceof JanusError) throw inputError(`${cmd}: --database: ${e.message}`);
    throw e;
  }
}

/**
 * Opens the store at `location`. Its errors are shown with the location's password masked, and
 * without the password anywhere in the message (a driver may quote its connection settings).
 */
async function openDatabase(location: string): Promise<Store> {
  try {
    return await openStore(location);
  } catch (e) {
    throw inputError(`cannot open the database ${displayStoreLocation(location)}: ${withoutPassword((e as Error).message, location)}`);
  }
}

function withoutPassword(text: string, location: string): string {
  if (parseStoreLocation(location).kind !== 'postgres') return text;
  const u = new URL(location.trim());
  const decode = (p: string) => {
    try {
      return decodeURIComponent(p);
    } catch {
      return p;
    }
  };
  const given = [u.password, decode(u.password), ...[...u.searchParams].filter(([k]) => k.toLowerCase() === 'password').map(([, p]) => p)];
  for (const p of new Set(given)) if (p !== '') text = text.split(p).join('***');
  return text;
}

/**
 * Resolves on SIGINT, SIGTERM or `signal`. Installed before the listening line is printed: a signal
 * with no listener would kill the process outright, without closing the database.
 */
function stopSignal(signal: AbortSignal | undefined): { stopped: Promise<string>; dispose(): void } {
  let dispose = () => {};
  const stopped = new Promise<string>((res) => {
    const done = (why: string) => {
      dispose();
      res(why);
    };
    const onInt = () => done('SIGINT');
    const onTerm = () => done('SIGTERM');
    const onAbort = () => done('stop requested');
    dispose = () => {
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      signal?.removeEventListener('abort', onAbort);
    };
    process.on('SIGINT', onInt);
    process.on('SIGTERM', onTerm);
    if (signal?.aborted) done('stop requested');
    else signal?.addEventListener('abort', onAbort, { once: true });
  });
  return { stopped, dispose };
}

const serve: Command = {
  name: 'serve',
  summary: "run a vendor as a reverse proxy in front of the site's own server",
  options: { config: { type: 'string' }, database: { type: 'string' } },
  help: `Usage: janus-vendor serve --config <file.json> [--database <path | postgres://...>]

Runs a Janus vendor as a reverse proxy in front of the site's own server (the "upstream"), so a site
adopts Janus without code changes. The vendor answers /.well-known/janus and /.janus/*; a request to
a protected route (sddp, eddp, eddp+receipts) is verified and decrypted, forwarded to the upstream
with the headers Janus-Client-Alias, Janus-Client (b64u JSON of the client, never its key) and
Janus-Client-Level, and the upstream's answer is sealed for the client. Every other request goes to
the upstream as is, with Janus-Client-Alias when a slot credential identifies a client. Headers only
the proxy may set (Janus-Client*, X-Forwarded-*, Forwarded, X-Real-IP, in any case, "_" for "-")
are always removed from what arrives. Protected paths are matched in canonical form (case, escapes,
dot segments and a trailing slash do not matter); an unlisted method on them is 405, an ambiguous
spelling 400.

The config file format is in docs/CLI.md. Keys come from the files in "keys", or from the
environment: JANUS_PRIVATE_KEY (PEM), JANUS_CERTIFICATE (PEM), JANUS_KEK (base64).
Stops on SIGINT or SIGTERM.

Options:
  --config <file>      the JSON config file (relative paths in it resolve against its folder)
  --database <where>   the store, instead of the config's "database": a SQLite file, or a
                       postgres:// URL for several instances on one database
  -h, --help           this help
`,
  async run(v, pos, io) {
    if (pos.length) throw usage(`serve: unexpected argument ${pos[0]}`);
    const file = resolve(cwdOf(io), required(v, 'config', 'serve'));
    const cfg = readServeConfig(file, databaseOption(v, 'serve', io));
    for (const w of keyPlacementWarnings(cfg)) io.err(`janus-vendor: warning: ${w}\n`);
    let config: VendorConfig;
    try {
      config = vendorConfigOf(cfg, io.env ?? process.env);
      resolveConfig(config); // key problems surface here, before the database is created
    } catch (e) {
      if (e instanceof JanusError) throw inputError(`config ${file}: ${e.message}`);
      throw e;
    }
    const store = await openDatabase(cfg.database);
    let proxy: ReturnType<typeof createProxy>;
    try {
      proxy = createProxy({
        config,
        store,
        routes: cfg.routes,
        upstream: cfg.upstream,
        timeoutMs: cfg.upstreamTimeoutSeconds * 1000,
        log: (line) => io.err(line + '\n'),
      });
    } catch (e) {
      await store.close();
      if (e instanceof JanusError) throw inputError(`config ${file}: ${e.message}`);
      throw e;
    }
    const { vendor, server } = proxy;
    const previous = useCryptoProvider(nodeCryptoProvider);
    const stop = stopSignal(io.signal);
    try {
      try {
        await new Promise<void>((res, rej) => {
          server.once('error', rej);
          server.listen(cfg.listen.port, cfg.listen.host, () => {
            server.off('error', rej);
            res();
          });
        });
      } catch (e) {
        throw inputError(`cannot listen on ${cfg.listen.host}:${cfg.listen.port}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      }
      server.on('error', (e) => io.err(`janus-vendor: server error: ${e.message}\n`));
      const addr = server.address() as AddressInfo;
      const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
      const url = `http://${host}:${addr.port}`;
      io.out(`janus-vendor: vendor ${vendor.config.idV} listening on ${url}, upstream ${cfg.upstream}\n`);
      io.out(`janus-vendor: key fingerprint ${vendor.config.fingerprint}, ${cfg.routes.length} route(s), database ${displayStoreLocation(cfg.database)}\n`);
      if (vendor.config.idV.startsWith('https:')) io.out(`janus-vendor: this serves plain HTTP; terminate TLS for ${vendor.config.idV} in front of it\n`);
      const why = await stop.stopped;
      io.out(`janus-vendor: ${why}, stopping\n`);
      await new Promise<void>((res) => {
        server.close(() => res());
        server.closeAllConnections();
      });
      return EXIT.ok;
    } finally {
      stop.dispose();
      if (server.listening) server.close();
      await vendor.close();
      useCryptoProvider(previous);
    }
  },
};

// ---------------------------------------------------------------------------------------------
// inspect

const inspect: Command = {
  name: 'inspect',
  summary: 'show a client record without its key, or count the clients',
  options: { config: { type: 'string' }, database: { type: 'string' }, count: { type: 'boolean' } },
  help: `Usage: janus-vendor inspect --config <file.json> [--database <path | postgres://...>] <alias>
       janus-vendor inspect --config <file.json> [--database <path | postgres://...>] --count

Prints the client record of <alias> as JSON: generation, subscription data, validity, receipt
chain, receipt, timestamps. Never the client's key. With --count, prints the number of clients.
The database is the config's "database" (or --database); the keys are not needed.

Exit codes: 0 found, 1 no client with that alias, 2 usage, 3 config or database problem.

Options:
  --config <file>      the serve config file
  --database <where>   the store, instead of the config's "database": a SQLite file or a postgres:// URL
  --count              print the number of registered clients
  -h, --help           this help
`,
  async run(v, pos, io) {
    const file = resolve(cwdOf(io), required(v, 'config', 'inspect'));
    const count = v['count'] === true;
    if (count && pos.length) throw usage('inspect: give either an alias or --count, not both');
    if (!count && pos.length !== 1) throw usage(pos.length ? `inspect: one alias at a time, got ${pos.length}` : 'inspect: which alias? (or --count)');
    const cfg = readServeConfig(file, databaseOption(v, 'inspect', io));
    const where = parseStoreLocation(cfg.database);
    // Opening a SQLite file creates it; a PostgreSQL database is never created here.
    if (where.kind === 'sqlite' && where.path !== ':memory:' && !existsSync(where.path)) throw inputError(`no database at ${where.path} (has the vendor run yet?)`);
    const store = await openDatabase(cfg.database);
    try {
      if (count) {
        io.out(`${await store.countClients()}\n`);
        return EXIT.ok;
      }
      const alias = pos[0]!;
      const row = await store.getClient(alias);
      if (!row) throw negative(`no client ${alias}`);
      io.out(JSON.stringify(publicView(row), null, 2) + '\n');
      return EXIT.ok;
    } finally {
      await store.close();
    }
  },
};

// ---------------------------------------------------------------------------------------------
// verify-receipt

function readStdin(): Promise<string> {
  return new Promise((res, rej) => {
    const chunks: Buffer[] = [];
    process.stdin.on('data', (c: Buffer) => chunks.push(c));
    process.stdin.on('end', () => res(Buffer.concat(chunks).toString('utf8')));
    process.stdin.on('error', rej);
  });
}

/** The vendor's key from a certificate (PEM), a PUBLIC KEY (PEM) or a b64u SPKI in a file. */
function vendorKeyFrom(text: string): { key: VendorPublicKey; cert: CertificateInfo | null } {
  if (text.includes('-----BEGIN CERTIFICATE-----')) {
    const pem = text.slice(text.indexOf('-----BEGIN CERTIFICATE-----'));
    const end = pem.indexOf('-----END CERTIFICATE-----');
    const first = end < 0 ? pem : pem.slice(0, end + '-----END CERTIFICATE-----'.length);
    return { key: parseVendorPublicKey({ cert: first }), cert: certificateInfo(first) };
  }
  if (text.includes('-----BEGIN PUBLIC KEY-----')) return { key: parseVendorPublicKey({ spki: b64u.encode(pemToDer(text, 'PUBLIC KEY')) }), cert: null };
  return { key: parseVendorPublicKey({ spki: text.trim() }), cert: null };
}

function hostMatches(vendor: string, cert: CertificateInfo): boolean {
  let host: string;
  try {
    host = new URL(vendor).hostname.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  } catch {
    return false;
  }
  const names = cert.altNames.length ? cert.altNames : [/CN=([^,]+)/.exec(cert.subject)?.[1] ?? ''];
  return names.some((n) => {
    const name = n.toLowerCase();
    if (name === host) return true;
    // RFC 6125 §6.4.3: a wildcard stands for exactly one left-most label.
    return name.startsWith('*.') && host.endsWith(name.slice(1)) && !host.slice(0, -name.length + 1).includes('.');
  });
}

function parseWordOption(s: string): { i: number; w: Uint8Array } {
  const m = /^(\d{1,6}):([A-Za-z0-9_-]{43})$/.exec(s);
  if (!m) throw usage(`verify-receipt: --word must be <i>:<b64u of the 32-byte word w_i>, got ${s}`);
  return { i: Number(m[1]), w: b64u.decode(m[2]!) };
}

const verifyReceiptCmd: Command = {
  name: 'verify-receipt',
  summary: 'check a receipt and say in plain words what it proves (paper §5)',
  options: { cert: { type: 'string' }, word: { type: 'string' }, json: { type: 'boolean' } },
  help: `Usage: janus-vendor verify-receipt --cert <vendor-cert.pem | spki file> [--word <i>:<w_i>] [--json] <receipt.json | ->

The third party of the paper's §5: checks the vendor's signature on a receipt (docs/PROTOCOL.md §12)
and prints what it proves: the vendor origin, the client alias and key generation, when it was
issued, the subscription's validity and terms, and the PayWord chain the vendor agreed to.

  <receipt.json>  the receipt object {"alg","payload","sig","fingerprint"} (or an object with a
                  "receipt" member holding it); "-" reads standard input
  --cert <file>   the vendor's key: an X.509 certificate (PEM), a PUBLIC KEY (PEM), or a file
                  holding the b64u SubjectPublicKeyInfo (the discovery document's key.spki)
  --word <i>:<w>  also check a PayWord word: does SHA256^i(w) equal the receipt's w0? If so, whoever
                  shows w proves that i deliveries were acknowledged
  --json          print a machine-readable result
  -h, --help      this help

Exit codes: 0 valid (and the word, if given, checks), 1 invalid (the reason is printed),
2 usage, 3 unreadable file or unusable key.
`,
  async run(v, pos, io) {
    const certFile = required(v, 'cert', 'verify-receipt');
    if (pos.length !== 1) throw usage(pos.length ? 'verify-receipt: one receipt at a time' : 'verify-receipt: which receipt? give a file, or - for standard input');
    const word = str(v, 'word') !== undefined ? parseWordOption(str(v, 'word')!) : null;
    const json = v['json'] === true;

    const certPath = resolve(cwdOf(io), certFile);
    let vendorKey: ReturnType<typeof vendorKeyFrom>;
    try {
      vendorKey = vendorKeyFrom(readText(certPath, 'vendor certificate or key'));
    } catch (e) {
      if (e instanceof JanusError) throw inputError(`${certPath} holds no usable vendor key: ${e.message}`);
      throw e;
    }

    const source = pos[0]!;
    const text = source === '-' ? await (io.stdin ?? readStdin)() : readText(resolve(cwdOf(io), source), 'receipt');
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch (e) {
      throw inputError(`the receipt ${source === '-' ? '(standard input)' : source} is not JSON: ${(e as Error).message}`);
    }
    if (isObj(raw) && raw['alg'] === undefined && isObj(raw['receipt'])) raw = raw['receipt'];

    const fail = (reason: string): number => {
      if (json) io.out(JSON.stringify({ valid: false, reason }, null, 2) + '\n');
      io.err(`janus-vendor: the receipt is NOT valid: ${reason}\n`);
      return EXIT.negative;
    };
    let p: ReceiptPayload;
    try {
      p = await verifyReceipt(parseReceipt(raw), vendorKey.key.spki);
    } catch (e) {
      if (e instanceof JanusError) return fail(e.message);
      throw e;
    }

    const cert = vendorKey.cert;
    const certResult = cert
      ? {
          subject: cert.subject,
          altNames: cert.altNames,
          notBefore: cert.notBefore.toISOString(),
          notAfter: cert.notAfter.toISOString(),
          namesVendor: hostMatches(p.vendor, cert),
          validAtIssue: cert.notBefore.getTime() <= p.issued_at * 1000 && p.issued_at * 1000 <= cert.notAfter.getTime(),
        }
      : null;
    let wordResult: { i: number; valid: boolean; reason?: string } | null = null;
    if (word) {
      if (!p.payword) wordResult = { i: word.i, valid: false, reason: 'the receipt commits to no PayWord chain' };
      else if (word.i > p.payword.n) wordResult = { i: word.i, valid: false, reason: `the chain has only ${p.payword.n} words` };
      else if (!verifyWord(b64u.decode(p.payword.w0), word.i, word.w)) wordResult = { i: word.i, valid: false, reason: `SHA256^${word.i}(w) is not the receipt's w0` };
      else wordResult = { i: word.i, valid: true };
    }

    if (json) {
      io.out(
        JSON.stringify(
          {
            valid: true,
            fingerprint: vendorKey.key.fingerprint,
            vendor: p.vendor,
            alias: p.alias,
            gen: p.gen,
            issued_at: p.issued_at,
            valid_from: p.valid_from,
            valid_until: p.valid_until,
            terms: p.terms,
            nonce: p.nonce,
            request_sha256: p.request_sha256,
            payword: p.payword,
            certificate: certResult,
            word: wordResult,
          },
          null,
          2,
        ) + '\n',
      );
    } else {
      const lines = [
        `VALID: signed by the vendor key ${vendorKey.key.fingerprint} (RSA-${vendorKey.key.modulusBits}, RSA-PSS-SHA256)`,
        `  vendor origin:  ${p.vendor}`,
        `  client alias:   ${p.alias} (key generation ${p.gen})`,
        `  issued at:      ${iso(p.issued_at)}`,
        `  valid from:     ${iso(p.valid_from)}`,
        `  valid until:    ${p.valid_until === null ? 'no end (until cancelled)' : iso(p.valid_until)}`,
        `  terms:          ${Object.keys(p.terms).length ? JSON.stringify(p.terms) : 'none stated'}`,
        `  registration:   nonce ${p.nonce}, SHA-256 of the subscription request ${p.request_sha256}`,
      ];
      if (p.payword) {
        lines.push(
          `  PayWord chain:  ${p.payword.sub}, length ${p.payword.n}, root w0 = ${p.payword.w0}`,
          `                  the vendor agreed to this chain: holding w_i with SHA256^i(w_i) = w0 proves i acknowledged`,
          `                  deliveries (at most ${p.payword.n}); the vendor cannot claim more, nor substitute another chain`,
        );
      } else lines.push('  PayWord chain:  none (the receipt covers the subscription only)');
      if (certResult) {
        lines.push(
          `certificate:      ${certResult.subject}${certResult.altNames.length ? ` (names: ${certResult.altNames.join(', ')})` : ''}`,
          `                  valid ${certResult.notBefore} to ${certResult.notAfter}`,
        );
        if (!certResult.namesVendor) lines.push(`  WARNING: the certificate does not name the host of ${p.vendor}: it does not tie this key to that vendor`);
        if (!certResult.validAtIssue) lines.push('  WARNING: the receipt was issued outside the certificate\'s validity');
        lines.push("  note: the certificate's own signature and issuer are not checked here");
      }
      lines.push(
        `What it proves: the holder of this key (the vendor ${p.vendor}) registered ${p.alias} with exactly the`,
        'subscription data whose SHA-256 is shown, on these terms; the client can show this to anyone.',
      );
      if (wordResult) {
        lines.push(
          wordResult.valid
            ? `word w_${wordResult.i}: VALID, SHA256^${wordResult.i}(w) = w0: it proves ${wordResult.i} acknowledged deliver${wordResult.i === 1 ? 'y' : 'ies'} of chain ${p.payword!.sub}`
            : `word w_${wordResult.i}: NOT valid: ${wordResult.reason}`,
        );
      }
      io.out(lines.join('\n') + '\n');
    }
    if (wordResult && !wordResult.valid) {
      io.err(`janus-vendor: the word does not prove ${wordResult.i} deliveries: ${wordResult.reason}\n`);
      return EXIT.negative;
    }
    return EXIT.ok;
  },
};

// ---------------------------------------------------------------------------------------------
// main

const COMMANDS: readonly Command[] = [keygen, serve, inspect, verifyReceiptCmd];

export const HELP = `Usage: janus-vendor <command> [options]

The Janus vendor (docs/CLI.md, docs/PROTOCOL.md).

Commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(16)}${c.summary}`).join('\n')}

Run "janus-vendor <command> --help" for a command's options.

Exit codes: 0 ok, 1 the answer is negative (e.g. a receipt that does not verify),
2 usage error, 3 input or IO error (missing file, unreadable key, bad config).
`;

function report(e: unknown, io: Io): number {
  if (e instanceof CliError) {
    io.err(`janus-vendor: ${e.message}\n`);
    return e.exitCode;
  }
  if (e instanceof JanusError) {
    io.err(`janus-vendor: ${e.message}\n`);
    return EXIT.input;
  }
  io.err(`janus-vendor: ${e instanceof Error ? e.message : String(e)}\n`);
  return EXIT.input;
}

/** Runs one command; returns its exit code. Never throws. */
export async function main(argv: readonly string[], io: Io = processIo): Promise<number> {
  try {
    const [name, ...rest] = argv;
    if (name === undefined) {
      io.err(HELP);
      return EXIT.usage;
    }
    if (name === '--help' || name === '-h' || name === 'help') {
      const sub = rest[0] !== undefined ? COMMANDS.find((c) => c.name === rest[0]) : undefined;
      if (rest[0] !== undefined && !sub) throw usage(`unknown command "${rest[0]}" (commands: ${COMMANDS.map((c) => c.name).join(', ')})`);
      io.out(sub ? sub.help : HELP);
      return EXIT.ok;
    }
    const cmd = COMMANDS.find((c) => c.name === name);
    if (!cmd) {
      throw usage(
        name.startsWith('-')
          ? `unknown option ${name}; a command comes first (janus-vendor --help lists them)`
          : `unknown command "${name}" (commands: ${COMMANDS.map((c) => c.name).join(', ')})`,
      );
    }
    const { values, positionals } = parse(cmd, rest);
    if (values['help'] === true) {
      io.out(cmd.help);
      return EXIT.ok;
    }
    return await cmd.run(values, positionals, io);
  } catch (e) {
    return report(e, io);
  }
}
