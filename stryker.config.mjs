// Mutation testing of the pure modules that decide about money and trust:
// `npm run test:mutation`. Scores per file are in docs/reliability.md, "Mutation testing".
/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'vitest',
  vitest: { configFile: 'vitest.unit.config.ts' },
  mutate: [
    'src/payouts/confirmation-policy.ts',
    'src/payouts/state-machine.ts',
    'src/payouts/steps.ts',
    'src/payouts/bank-verdict.ts',
    'src/bank131/signature.ts',
    'src/bank131/webhook.ts',
    'src/payouts/callback-signature.ts',
    'src/bank131/errors.ts',
    'src/payouts/callback-url.ts',
    'src/payouts/bank-word.ts',
    'src/payouts/lifecycle-docs.ts',
    'src/pipeline/job-outcome.ts',
    'src/payouts/events.ts',
    'src/payouts/event-delivery.ts',
    'src/payouts/webhook-endpoints.ts',
    'src/pipeline/fair-slots.ts',
  ],
  // Wording is not a decision: messages and audit texts are not mutated.
  mutator: { excludedMutations: ['StringLiteral'] },
  // A mutant the compiler refuses (a `why` that returns nothing, a state that is no state) could
  // never ship: the TypeScript checker drops it before any test runs.
  checkers: ['typescript'],
  tsconfigFile: 'tsconfig.build.json',
  coverageAnalysis: 'perTest',
  concurrency: 2,
  reporters: ['clear-text', 'json', 'progress'],
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  tempDirName: '.stryker-tmp',
  thresholds: { high: 95, low: 90, break: 90 },
};
