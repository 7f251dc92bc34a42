import { defineConfig } from 'vitest/config';

/**
 * `npm test`: two projects in one run, with one report. `service` is this repository's tests
 * (test/); `sandbox` is the bank131-sandbox workspace package's own (sandbox/vitest.config.ts, which
 * `npm test -w bank131-sandbox` runs alone). Each project has its own global setup and Redis.
 */
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'service',
          include: ['test/**/*.test.ts'],
          globalSetup: ['test/support/global-setup.ts'],
          testTimeout: 30_000,
          hookTimeout: 60_000,
        },
      },
      'sandbox',
    ],
    // Integration files start servers and workers; two cores run two files at a time well.
    maxWorkers: 2,
    // .ci/run asks for a JSON report to print its closing "N passed, N failed" line.
    reporters: process.env.TEST_REPORT_JSON ? ['default', 'json'] : ['default'],
    outputFile: process.env.TEST_REPORT_JSON ? { json: process.env.TEST_REPORT_JSON } : undefined,
  },
});
