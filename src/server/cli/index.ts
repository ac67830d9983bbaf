/**
 * `janus-vendor`: the vendor's command line (docs/CLI.md), one module per command.
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
import { JanusError } from '../../errors.ts';
import { CliError, EXIT, parse, processIo, usage, type Command, type Io } from './command.ts';
import { inspect } from './inspect.ts';
import { keygen } from './keygen.ts';
import { serve } from './serve.ts';
import { verifyReceiptCmd } from './verify-receipt.ts';

export { CliError, EXIT, processIo, type Io } from './command.ts';
export { certificateSigningRequest } from './csr.ts';
export { readServeConfig, storeLocation, validateServeConfig, vendorConfigOf, type ServeConfig } from './config.ts';
export { keyPlacementWarnings } from './serve.ts';

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
