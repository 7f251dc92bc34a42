import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Integration files start servers and workers; two cores run two files at a time well.
    maxWorkers: 2,
    // .ci/run asks for a JSON report to print its closing "N passed, N failed" line.
    reporters: process.env.TEST_REPORT_JSON ? ['default', 'json'] : ['default'],
    outputFile: process.env.TEST_REPORT_JSON ? { json: process.env.TEST_REPORT_JSON } : undefined,
  },
});
