import type { KeyObject } from 'node:crypto';
import type { Logger } from 'pino';
import type { Bank131Client } from '../bank131/client.js';
import type { StepName } from '../payouts/steps.js';
import type { NotifyEvent } from '../payouts/events.js';
import type { Queues } from '../queues.js';
import type { TenantCache } from '../tenants/tenant-cache.js';
import type { PayoutStore } from '../store/payout-store.js';
import type { Rules } from '../rules/rules-file.js';

/** How long things may take before someone looks again (docs/operations.md, "What happens when something is lost"). */
export interface PipelineTiming {
  /** How long a payout may sit quietly in a state before the reconciler looks at it (RECONCILE_AFTER_MS). */
  reconcileAfterMs: number;
  /** How often the reconciler's sweep runs (RECONCILE_INTERVAL_MS). */
  reconcileIntervalMs: number;
  /** While the partner wallet is short: how often start/payout is tried again (WALLET_RETRY_MS). */
  walletRetryMs: number;
  /** …and for how long, before the payout fails with insufficient_wallet_balance (WALLET_WAIT_MS). */
  walletWaitMs: number;
  /** How long a card collection link stays valid before the payout expires (COLLECT_TTL). */
  collectTtlMs: number;
  /** How long a finished payout, once upstream has its callback, keeps its record (PAYOUT_RETENTION_DAYS). */
  retentionMs: number;
  /** How often finished payouts past retention are removed. */
  retentionIntervalMs: number;
}

export const DEFAULT_TIMING: PipelineTiming = {
  reconcileAfterMs: 5 * 60_000,
  reconcileIntervalMs: 30_000,
  walletRetryMs: 60_000,
  walletWaitMs: 24 * 3_600_000,
  collectTtlMs: 72 * 3_600_000,
  retentionMs: 30 * 86_400_000,
  retentionIntervalMs: 3_600_000,
};

/**
 * Test hooks at the exact lines where a process may die. A hook that throws stands for a crash
 * there: the job ends without its follow-up, as if its worker had been killed.
 */
export interface CrashPoints {
  /** After a step's state change is stored, before its follow-up job is enqueued. */
  afterStep?(step: StepName, payoutId: string): void;
  /** In the web process, after a batch is recorded, before its start jobs are enqueued. */
  afterRecord?(payoutIds: string[]): void;
}

/** What a named step needs: the store, the queues, the clock settings. Routes have it too. */
export interface StepDeps {
  store: PayoutStore;
  queues: Queues;
  log: Logger;
  timing: PipelineTiming;
  /** Whether callbacks may go to private, loopback and metadata addresses (CALLBACK_ALLOW_PRIVATE). */
  allowPrivateCallbacks?: boolean | undefined;
  crashPoints?: CrashPoints | undefined;
  /**
   * A job that does its step's follow-up itself, in the same run, instead of enqueuing it: the
   * confirm queue's `ready_to_confirm` job decides and confirms (`confirm`: that job, recorded as the
   * payout's last job), and the finish queue's `payment_finished` job sends the callback
   * (`notify`: true when delivered; false leaves it to a notify job, with its retries).
   */
  inline?: InlineFollowUps | undefined;
}

export interface InlineFollowUps {
  confirm?: string;
  notify?: (payoutId: string, event: NotifyEvent) => Promise<boolean>;
}

/** What every processor is handed: plain arguments, so tests start the real thing. */
export interface PipelineDeps extends StepDeps {
  bank: Bank131Client;
  /** Tenants' settings (callback secret, submerchant); without it every payout uses the process's own. */
  tenants?: TenantCache | undefined;
  /** The bank's key: a webhook job is believed only once its signature verifies here. */
  bankPublicKey: KeyObject;
  callbackSecret: string;
  /** A callback delivery's whole deadline: connect, headers and body (CALLBACK_TIMEOUT_MS). */
  callbackTimeoutMs?: number | undefined;
  /** The notify worker's concurrency: a callback destination may hold a fair share of it (workers/payout-notify.ts). */
  notifyConcurrency?: number | undefined;
  /** Approval rules (RULES_FILE), the amount above which a payout waits for a reviewer (REVIEW_ABOVE), and for how long (REVIEW_TTL). */
  approval?: Approval | undefined;
}

export interface Approval {
  rules: Rules | null;
  reviewAbove: number | null;
  reviewTtlMs: number;
}
