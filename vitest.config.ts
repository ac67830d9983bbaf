import { defineConfig } from 'vitest/config';

export default defineConfig({
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
