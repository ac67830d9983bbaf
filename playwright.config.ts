import { defineConfig } from '@playwright/test';

/**
 * End-to-end tests against Debian's Chromium (/usr/bin/chromium) with the built extension (dist/)
 * and the demo vendor started by the tests. No browser is downloaded: each test launches Chromium
 * itself through e2e/support.ts.
 */
export default defineConfig({
  testDir: 'e2e',
  testMatch: '**/*.spec.ts',
  outputDir: 'test-results/e2e',
  timeout: 120_000,
  expect: { timeout: 15_000 },
  workers: 1,
  fullyParallel: false,
  retries: 0,
  reporter: [['list'], ['json', { outputFile: 'test-results/e2e.json' }]],
});
