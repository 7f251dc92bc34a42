import { z } from 'zod';
import { CallbackSecret } from '../payouts/callback-signature.js';
import { COMMON_ENV, PEMS, commonSettings } from './common.js';
import { duration, intervalOrOff, port, positiveInt, readEnv, type Env } from './env.js';
import { loadRules, RulesFileError, type Rules } from '../rules/rules-file.js';

const concurrency = positiveInt.max(1000, 'must be at most 1000');

/** The worker process's variables (docs/operations.md, Settings): the common ones and its own. */
const WorkerEnv = z.object({
  ...COMMON_ENV,
  // the same rule the signer applies (src/payouts/callback-signature.ts): what starts, signs
  CALLBACK_SECRET: CallbackSecret,
  CALLBACK_TIMEOUT_MS: positiveInt.max(300_000, 'must be at most 300000').default(10_000),
  PAYOUT_CONCURRENCY: concurrency.default(16),
  START_CONCURRENCY: concurrency.optional(),
  CONFIRM_CONCURRENCY: concurrency.optional(),
  FINISH_CONCURRENCY: concurrency.optional(),
  WEBHOOK_CONCURRENCY: concurrency.optional(),
  NOTIFY_CONCURRENCY: concurrency.optional(),
  RECONCILE_CONCURRENCY: concurrency.optional(),
  JOB_LOCK_MS: positiveInt.min(1_000, 'must be at least 1000').default(30_000),
  STALLED_INTERVAL_MS: positiveInt.min(1_000, 'must be at least 1000').default(30_000),
  METRICS_PORT: port.default(9464),
  METRICS_HOST: z.string().min(1).default('127.0.0.1'),
  // how often the partner wallet's balance is asked of the bank (src/funding/balance-poll.ts); 0: never
  BALANCE_POLL_MS: intervalOrOff(1_000).default(60_000),
  // approval rules (src/rules/rules-file.ts): read and checked here, so a bad file stops the worker at start
  RULES_FILE: z
    .string()
    .optional()
    .transform((path, ctx): Rules | null => {
      if (path === undefined) return null;
      try {
        return loadRules(path);
      } catch (err) {
        if (!(err instanceof RulesFileError)) throw err;
        // one line per problem, each naming RULES_FILE and the file's line
        for (const problem of err.problems.length > 0 ? err.problems : [err.message]) ctx.addIssue({ code: 'custom', message: problem });
        return z.NEVER;
      }
    }),
  // a payout over this many kopecks waits for a reviewer before it is sent
  REVIEW_ABOVE: positiveInt.max(100_000_000_00, 'must be at most 10000000000 kopecks').optional(),
  REVIEW_TTL: duration.default(24 * 3_600_000),
});

/** What a worker process runs on: read once at start-up, handed as it is to the workers. */
export const WorkerSettings = WorkerEnv.transform((e) => ({
  ...commonSettings(e),
  callbackSecret: e.CALLBACK_SECRET,
  /** A callback delivery's whole deadline, headers and body. */
  callbackTimeoutMs: e.CALLBACK_TIMEOUT_MS,
  /** Jobs in flight per worker process, per queue that calls the bank. */
  payoutConcurrency: e.PAYOUT_CONCURRENCY,
  /** Per queue, where set; the others default from payoutConcurrency (workers/worker-process.ts). */
  concurrencyByQueue: definedOnly({
    start: e.START_CONCURRENCY,
    confirm: e.CONFIRM_CONCURRENCY,
    finish: e.FINISH_CONCURRENCY,
    webhooks: e.WEBHOOK_CONCURRENCY,
    notify: e.NOTIFY_CONCURRENCY,
    reconcile: e.RECONCILE_CONCURRENCY,
  }),
  /** BullMQ's job lock and stalled-job check. */
  stalled: { lockDurationMs: e.JOB_LOCK_MS, stalledIntervalMs: e.STALLED_INTERVAL_MS },
  /** Where the worker serves its metrics; port 0: not at all. */
  metricsPort: e.METRICS_PORT,
  metricsHost: e.METRICS_HOST,
  /**
   * How often the workers, together, ask the bank for the partner wallet's balance (kept in Redis
   * for the metrics; a rise resumes the payouts waiting for funds at once); 0: never.
   */
  balancePollMs: e.BALANCE_POLL_MS,
  /** Approval rules, the review threshold and how long a held payout waits for a reviewer (src/pipeline/screen.ts). */
  approval: { rules: e.RULES_FILE, reviewAbove: e.REVIEW_ABOVE ?? null, reviewTtlMs: e.REVIEW_TTL },
}));
export type WorkerSettings = z.output<typeof WorkerSettings>;

function definedOnly<T extends Record<string, number | undefined>>(o: T): Partial<{ [K in keyof T]: number }> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<{ [K in keyof T]: number }>;
}

/** The worker process's settings (`npm run worker`); throws a ConfigError naming every bad one. */
export function loadWorkerSettings(env: Env = process.env): WorkerSettings {
  return readEnv(WorkerSettings, env, { pems: PEMS });
}
