import { z } from 'zod';

const rate = z.number().min(0).max(1);
const ms = z.number().int().min(0);

export const SANDBOX_ENDPOINTS = [
  'token',
  'token/info',
  'session/create',
  'session/start/payout',
  'session/init/payout',
  'session/confirm',
  'session/cancel',
  'session/status',
  'wallet/balance',
] as const;

/**
 * One scripted fault, consumed by the next matching request. Deterministic, unlike the rates, so a
 * test can say "the next confirm loses its answer after the money moved".
 *  - `5xx`: answer 500 internal_error without acting.
 *  - `error`: answer 400 with `code` without acting.
 *  - `timeout`: hold the connection without acting, then drop it.
 *  - `timeout_after_effect`: act (money may move), then hold the connection and drop it.
 */
export const Fault = z.object({
  endpoint: z.enum(SANDBOX_ENDPOINTS),
  kind: z.enum(['5xx', 'error', 'timeout', 'timeout_after_effect']),
  code: z.string().optional(),
  times: z.number().int().positive().default(1),
});
export type Fault = z.infer<typeof Fault>;

export const Knobs = z.object({
  /** Delay before the bank answers any API call. */
  latencyMs: ms.default(0),
  /** Share of API calls answered 500 internal_error without acting. */
  errorRate: rate.default(0),
  /** Share of API calls held unanswered without acting. */
  timeoutRate: rate.default(0),
  /** Share of money-moving calls (start, init, confirm) that act and then lose the answer. */
  timeoutAfterEffectRate: rate.default(0),
  /** How long a "timeout" holds the connection before dropping it. */
  hangMs: ms.default(30_000),
  faults: z.array(Fault).default([]),

  /** Where webhooks go; while unset they wait and are retried like failed deliveries. */
  webhookUrl: z.url().optional(),
  /** v2 (`payout_list`, `payout_details`) or v1 (`payments`, `payment_method`) names in webhooks. */
  webhookApiVersion: z.enum(['v1', 'v2']).default('v2'),
  /** From start/payout to ready_to_confirm. */
  readyDelayMs: ms.default(20),
  /** From confirm to payment_finished. */
  finishDelayMs: ms.default(20),
  /** Extra delay on every webhook delivery. */
  webhookDelayMs: ms.default(0),
  /** Share of webhooks delivered twice. */
  duplicateWebhookRate: rate.default(0),
  /** Re-deliver each session's stale ready_to_confirm after its payment_finished. */
  outOfOrderWebhooks: z.boolean().default(false),
  webhookRetryBaseMs: ms.default(100),
  webhookRetryMaxMs: ms.default(5_000),
  webhookMaxAttempts: z.number().int().positive().default(30),
  webhookTimeoutMs: ms.default(5_000),

  /** The next `remaining` ready_to_confirm webhooks report another amount and/or metadata. */
  mismatch: z
    .object({ amountDelta: z.number().int().default(0), metadata: z.string().optional(), remaining: z.number().int().min(0).default(1) })
    .optional(),
  /** A session not confirmed or cancelled this long after ready_to_confirm is cancelled (confirm_timeout). */
  confirmTimeoutMs: ms.default(10 * 60_000),
});
export type Knobs = z.infer<typeof Knobs>;
export const KnobsPatch = Knobs.partial();
export type KnobsPatch = z.input<typeof KnobsPatch>;
