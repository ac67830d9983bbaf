#!/usr/bin/env node
// janus-vendor: the vendor CLI (docs/CLI.md), compiled JavaScript.
import { main } from '../dist/server/cli/index.js';

const code = await main(process.argv.slice(2));
process.exitCode = code;
// Everything is closed by now; should a stray handle keep the loop alive, do not hang.
setTimeout(() => process.exit(code), 2000).unref();
