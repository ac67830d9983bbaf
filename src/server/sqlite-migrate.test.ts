// Several processes opening one new database file at once (a vendor started as a few workers,
// or `serve` and `inspect` together) must all end on the current schema, none failing with
// "table already exists".
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';

const dir = mkdtempSync(join(tmpdir(), 'janus-migrate-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const ROUNDS = 10;
const PROCESSES = 3;

// Each child opens the same ROUNDS files, all children starting round k at the same instant.
const child = (start: number) => `
import { SqliteStore } from ${JSON.stringify(new URL('./sqlite-store.ts', import.meta.url).pathname)};
const failures = [];
for (let k = 0; k < ${ROUNDS}; k++) {
  while (Date.now() < ${start} + k * 150) {}
  try { const s = new SqliteStore(${JSON.stringify(dir)} + '/db' + k + '.sqlite'); s.close?.(); }
  catch (e) { failures.push(k + ': ' + e.message); }
}
process.stdout.write(JSON.stringify(failures));
`;

function run(code: string): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { cwd: process.cwd(), stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.on('error', reject);
    p.on('close', (status) => (status === 0 ? resolve(JSON.parse(out) as string[]) : reject(new Error(`child exited ${status}`))));
  });
}

test(`${PROCESSES} processes creating the same ${ROUNDS} databases at once all succeed`, async () => {
  const start = Date.now() + 3000; // time for the children to load
  const results = await Promise.all(Array.from({ length: PROCESSES }, () => run(child(start))));
  expect(results.flat()).toEqual([]);
}, 30_000);
