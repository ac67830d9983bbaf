#!/usr/bin/env node
// janus-vendor: the vendor CLI (docs/CLI.md), from this checkout's TypeScript sources through tsx.
// The published package runs its compiled JavaScript instead (packages/janus-vendor/bin).
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/server/cli/index.ts');
const code = await main(process.argv.slice(2));
process.exitCode = code;
// Everything is closed by now; should a stray handle keep the loop alive, do not hang.
setTimeout(() => process.exit(code), 2000).unref();
