import { defineConfig } from 'vitest/config';

/**
 * The sandbox's own tests: `npm test -w bank131-sandbox` alone, or as the `sandbox` project of the
 * root's vitest.config.ts. One real Redis for all of them (test/support/global-setup.ts); each file
 * keeps to a key prefix of its own.
 */
export default defineConfig({
  test: {
    name: 'sandbox',
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    maxWorkers: 2,
  },
});
