/**
 * The package's doors in step: packages/janus-vendor/package.json's `exports`, the entries its
 * build compiles, and tsconfig.json's `paths` (how tsc, tsx and the demo resolve `janus-vendor` in
 * this checkout; vitest.config.ts derives its aliases from `exports`) name the same source files;
 * and the demo imports the SDK only through those doors, as a site does.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '..');
const read = (file: string) => readFileSync(join(ROOT, file), 'utf8');
const tsconfig = (file: string) => ts.readConfigFile(join(ROOT, file), ts.sys.readFile).config as { compilerOptions: { paths?: Record<string, string[]> }; files?: string[] };

/** Each door of `exports` with the source file its built module comes from (dist/X.js <- src/X.ts). */
function doors(): Record<string, string> {
  const pkg = JSON.parse(read('packages/janus-vendor/package.json')) as { exports: Record<string, string | { types: string; default: string }> };
  const out: Record<string, string> = {};
  for (const [door, target] of Object.entries(pkg.exports)) {
    if (typeof target === 'string') continue; // ./package.json
    expect(target.types).toBe(target.default.replace(/\.js$/, '.d.ts'));
    out[`janus-vendor${door.slice(1)}`] = `src/${target.default.replace(/^\.\/dist\//, '').replace(/\.js$/, '.ts')}`;
  }
  return out;
}

/** What a file imports: every module specifier of an import, export-from or import(). */
function specifiers(text: string): string[] {
  return [...text.matchAll(/(?:\bfrom|\bimport)\s*\(?\s*'([^']+)'/g)].map((m) => m[1]!);
}

describe('the doors of janus-vendor', () => {
  it("tsconfig.json's paths and the package build's entries are the doors of `exports`", () => {
    const expected = doors();
    expect(Object.keys(expected).sort()).toEqual(['janus-vendor', 'janus-vendor/express', 'janus-vendor/hono', 'janus-vendor/node', 'janus-vendor/postgres', 'janus-vendor/proxy', 'janus-vendor/sqlite']);
    const paths = Object.fromEntries(Object.entries(tsconfig('tsconfig.json').compilerOptions.paths ?? {}).map(([k, v]) => [k, v.map((p) => p.replace(/^\.\//, ''))]));
    expect(paths).toEqual(Object.fromEntries(Object.entries(expected).map(([k, v]) => [k, [v]])));
    const built = (tsconfig('packages/janus-vendor/tsconfig.json').files ?? []).map((f) => f.replace(/^\.\.\/\.\.\//, ''));
    expect(built.sort()).toEqual([...Object.values(expected), 'src/server/cli/index.ts'].sort());
  });

  it('the demo imports the SDK through those doors only, and nothing else of the checkout', () => {
    const allowed = new Set(Object.keys(doors()));
    const pkg = JSON.parse(read('package.json')) as { dependencies: Record<string, string> };
    const outside: string[] = [];
    const files = readdirSync(join(ROOT, 'demo')).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'));
    expect(files.length).toBeGreaterThan(3);
    let viaDoors = 0;
    for (const f of files) {
      for (const s of specifiers(read(`demo/${f}`))) {
        if (allowed.has(s)) viaDoors++;
        else if (s.startsWith('./') && !s.includes('/', 2)) continue; // the demo's own modules
        else if (s.startsWith('node:')) continue;
        else if (Object.hasOwn(pkg.dependencies, s.startsWith('@') ? s.split('/').slice(0, 2).join('/') : s.split('/')[0]!)) continue;
        else outside.push(`demo/${f}: ${s}`);
      }
    }
    expect(outside).toEqual([]);
    expect(viaDoors).toBeGreaterThan(0);
  });

  it('the scan sees an import from the sources, and one from an undeclared package', () => {
    expect(specifiers("import { x } from '../src/server/core.ts';\nexport * from 'janus-vendor/hono';\nconst m = await import('./pages.ts');")).toEqual(['../src/server/core.ts', 'janus-vendor/hono', './pages.ts']);
  });
});
