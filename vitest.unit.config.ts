import { defineConfig } from 'vitest/config';

/**
 * The unit tests alone: pure code, no Redis, no global setup. Mutation testing
 * (stryker.config.mjs, `npm run test:mutation`) runs these; `npx vitest run -c vitest.unit.config.ts` too.
 */
export default defineConfig({
  test: {
    include: ['test/unit/**/*.test.ts'],
    testTimeout: 30_000,
    maxWorkers: 2,
  },
});
