/**
 * The `serve` configuration file (docs/CLI.md): checked field by field, every error naming its
 * field; and the database it names, as `serve` and `inspect` open it.
 */
import { dirname, isAbsolute, resolve } from 'node:path';
import { JanusError } from '../../errors.ts';
import { LEVELS, MAX_WINDOW, vendorIdentity, type JsonObject, type Level, type ReceiptPolicy } from '../../protocol/index.ts';
import { loadKeyMaterial, type RateLimits, type TrustProxy, type VendorConfig, type VendorLimits } from '../config.ts';
import { displayStoreLocation, openStore, parseStoreLocation } from '../open-store.ts';
import { parseUpstream, type ProxyRoute } from '../proxy.ts';
import type { Store } from '../store.ts';
import { cwdOf, inputError, readText, str, type Io, type Values } from './command.ts';

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
export const isObj = (x: unknown): x is Obj => typeof x === 'object' && x !== null && !Array.isArray(x);
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

/** `--database <path|url>`: the store location, a relative path resolved against the working folder. */
export function databaseOption(v: Values, cmd: string, io: Io): string | undefined {
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
export async function openDatabase(location: string): Promise<Store> {
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
