/**
 * What every `janus-vendor` command shares (docs/CLI.md): the `Io` it runs with (so that tests run
 * commands in-process), exit codes, the errors that carry them, and argument parsing.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

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

export const usage = (m: string) => new CliError(EXIT.usage, m);
export const inputError = (m: string) => new CliError(EXIT.input, m);
export const negative = (m: string) => new CliError(EXIT.negative, m);

export type OptionSpec = { type: 'string' | 'boolean'; short?: string };
export type Values = Record<string, string | boolean | undefined>;

export interface Command {
  name: string;
  summary: string;
  help: string;
  options: Record<string, OptionSpec>;
  run(values: Values, positionals: string[], io: Io): Promise<number>;
}

// An alias is 22 base64url characters, so one in 64 begins with '-': such an argument is an alias,
// not an option (no option is spelled like that). `--` works too.
const ALIAS_ARG_RE = /^-[A-Za-z0-9_-]{21}$/;

export function parse(cmd: Command, args: readonly string[]): { values: Values; positionals: string[] } {
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

export const str = (v: Values, name: string): string | undefined => {
  const x = v[name];
  return typeof x === 'string' ? x : undefined;
};

export function required(v: Values, name: string, cmd: string): string {
  const x = str(v, name);
  if (x === undefined || x === '') throw usage(`${cmd}: --${name} is required (see janus-vendor ${cmd} --help)`);
  return x;
}

export function intOption(v: Values, name: string, cmd: string, dflt: number): number {
  const x = str(v, name);
  if (x === undefined) return dflt;
  if (!/^\d+$/.test(x)) throw usage(`${cmd}: --${name} must be a whole number, got ${x}`);
  return Number(x);
}

export function cwdOf(io: Io): string {
  return io.cwd ?? process.cwd();
}

export function readText(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'it is a folder' : (code ?? (e as Error).message);
    throw inputError(`cannot read the ${what} ${path}: ${why}`);
  }
}

export const iso = (t: number) => new Date(t * 1000).toISOString();
