import { z } from 'zod';

const rate = z.number().min(0).max(1);
const ms = z.number().int().min(0);

/**
 * An optional knob that PATCH /sandbox/knobs can also switch off: JSON has no `undefined`, so
 * `null` means "unset" there.
 */
const clearable = <S extends z.ZodType>(schema: S) => schema.nullish().transform((v) => v ?? undefined);

export const SANDBOX_ENDPOINTS = [
  'token',
  'token/info',
  'session/create',
  'session/start/payout',
  'session/init/payout',
  'session/start/payout/fiscalization',
  'session/init/payout/fiscalization',
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

/**
 * How a session in status `error` ends. The bank calls `error` not final: the result is unknown
 * until it reports `accepted` or `cancelled`, so the sandbox holds the session
 * there and then resolves it, sending `payment_finished` as for any other ending.
 *  - `resolveTo`: `succeeded` plays the payout out as a confirm would (test cards and the wallet
 *    still apply: accepted with a ledger entry, or a decline); `failed` cancels it with `code`.
 *    Left out, it is `succeeded` for an error after a confirm and `failed` for one before, since
 *    without a confirm the bank has no instruction to pay. Setting `succeeded` on an unconfirmed
 *    session models a bank that paid anyway, as one with auto-confirm switched on does.
 *  - `resolveAfterMs`: left out, the session stays in `error` until it is resolved by hand
 *    (SandboxBank.resolveSessionError, POST /sandbox/sessions/:id/resolve), which lets a test
 *    look at the `error` status for as long as it needs.
 *  - `code`: the session's `error.code` while in `error`, and the payout's when it fails.
 */
export const ErrorPlan = z.object({
  resolveTo: z.enum(['succeeded', 'failed']).optional(),
  resolveAfterMs: ms.optional(),
  code: z.string().min(1).default('internal_error'),
});
export type ErrorPlan = z.infer<typeof ErrorPlan>;

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
  /**
   * Override only. Unset, a session's webhooks use the spelling of the API version it was created
   * on (/api/v1: `payments`, `payment_method`; /api/v2: `payout_list`, `payout_details`), as the
   * bank does for a partner that talks one version. Set, every webhook uses this spelling.
   */
  webhookApiVersion: clearable(z.enum(['v1', 'v2'])),
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
  /**
   * Webhooks of these types are never delivered, as if lost on the way: the receiver sees nothing
   * and only session/status tells the truth. `remaining` counts the losses down; left out, every
   * one is lost. Lost webhooks show in GET /sandbox/webhooks with `lost: true`.
   */
  loseWebhooks: clearable(z.object({ types: z.array(z.string().min(1)).min(1), remaining: z.number().int().min(0).optional() })),
  webhookRetryBaseMs: ms.default(100),
  webhookRetryMaxMs: ms.default(5_000),
  webhookMaxAttempts: z.number().int().positive().default(30),
  webhookTimeoutMs: ms.default(5_000),

  /** The next `remaining` ready_to_confirm webhooks report another amount and/or metadata. */
  mismatch: clearable(
    z.object({ amountDelta: z.number().int().default(0), metadata: z.string().optional(), remaining: z.number().int().min(0).default(1) }),
  ),
  /**
   * The next `remaining` sessions go to status `error` instead of carrying on: `after: "start"`
   * in place of ready_to_confirm, `after: "confirm"` in place of the outcome. How they leave
   * `error` is an ErrorPlan (above). Entering `error` sends no webhook; only session/status shows it.
   */
  errorSessions: clearable(ErrorPlan.extend({ after: z.enum(['start', 'confirm']), remaining: z.number().int().min(0).default(1) })),
  /**
   * Sessions and payouts carry `null` for the optional fields they lack (sandbox/src/wire-format.ts
   * NULLABLE_*), where the sandbox otherwise leaves them out: the bank's objects mark these
   * fields optional, and a client must read both forms.
   */
  nullFields: z.boolean().default(false),
  /** Refuse every signed API call with this code, as the bank does for a wrong key or project (a deployment mistake). */
  refuseCredentials: clearable(z.enum(['identification_error', 'authentication_error', 'authorization_error'])),
  /** A session not confirmed or cancelled this long after ready_to_confirm is cancelled (confirm_timeout). */
  confirmTimeoutMs: ms.default(10 * 60_000),

  /**
   * The bank's fee on each payout, reported in its `amounts.fee.merchant_fee` once it succeeded
   * (sandbox/src/fees.ts): this percent of the amount, rounded half up to whole kopecks, and at
   * least feeMinimumKopecks. Reported only: the wallet is debited the payout's amount, as before.
   */
  feePercent: z.number().min(0).max(100).default(0.5),
  feeMinimumKopecks: z.number().int().min(0).default(0),
  /**
   * The tax service (НПД) is down: self-employed payouts (start|init/payout/fiscalization) are
   * refused at once with 500 npd_service_internal_error, nothing started; worth retrying later.
   */
  npdUnavailable: z.boolean().default(false),
});
export type Knobs = z.infer<typeof Knobs>;
export const KnobsPatch = Knobs.partial();
export type KnobsPatch = z.input<typeof KnobsPatch>;
