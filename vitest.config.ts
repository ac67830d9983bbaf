import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

/**
 * The janus-vendor package's doors on their sources (its dist/X.js is built from src/X.ts), as
 * tsconfig.json's `paths` map them for tsc and tsx: the demo imports the SDK as a site does.
 */
const pkg = JSON.parse(readFileSync(new URL('./packages/janus-vendor/package.json', import.meta.url), 'utf8')) as { exports: Record<string, string | { default: string }> };
const doors = Object.entries(pkg.exports).flatMap(([door, target]) =>
  typeof target === 'string'
    ? []
    : [
        {
          find: new RegExp(`^janus-vendor${door.slice(1).replace(/[/.]/g, '\\$&')}$`),
          replacement: fileURLToPath(new URL(`./src/${target.default.replace(/^\.\/dist\//, '').replace(/\.js$/, '.ts')}`, import.meta.url)),
        },
      ],
);

export default defineConfig({
  resolve: { alias: doors },
  plugins: [
    {
      // `import path from './x.ts?script'` is @crxjs's way to name a content script for the scripting
      // API (src/background/pagescript.ts); in unit tests it is just a file name.
      name: 'crx-script-stub',
      enforce: 'pre',
      resolveId: (id: string) => (id.endsWith('?script') ? `\0crx-script:${id}` : null),
      load: (id: string) => (id.startsWith('\0crx-script:') ? `export default ${JSON.stringify(id.slice('\0crx-script:'.length).replace(/\?script$/, ''))};` : null),
    },
  ],
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts', 'demo/**/*.test.ts'],
    // Argon2id vectors at the real parameters take a few seconds in pure JS.
    testTimeout: 60_000,
    pool: 'forks',
  },
});
