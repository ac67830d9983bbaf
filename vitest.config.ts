import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts', 'demo/**/*.test.ts'],
    // Argon2id vectors at the real parameters take a few seconds in pure JS.
    testTimeout: 60_000,
    pool: 'forks',
  },
});
