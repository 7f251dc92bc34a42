import { createHash } from 'node:crypto';
import { Queue, type BackoffStrategy, type JobsOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import type { ConfirmJob, NotifyJob, StartJob, WebhookJob } from './payouts/schemas.js';

/** Queue names are contracts (design §3): operators and dashboards know them. */
export const QUEUE = {
  start: 'payout-start',
  webhooks: 'bank-webhooks',
  confirm: 'payout-confirm',
  notify: 'payout-notify',
} as const;

/**
 * Job ids make enqueueing idempotent: BullMQ ignores an add whose id is already in the queue.
 * (BullMQ refuses ':' in custom ids, so design §3's `start:<id>` is written `start-<id>`.)
 */
export const jobId = {
  start: (payoutId: string) => `start-${payoutId}`,
  webhook: (rawBody: Buffer) => `wh-${createHash('sha256').update(rawBody).digest('hex')}`,
  confirm: (sessionId: string) => `confirm-${sessionId}`,
  notify: (payoutId: string, event: string) => `notify-${payoutId}-${event}`,
};

export interface RetryPolicy {
  /** First retry delay; doubles each attempt up to `maxDelayMs`, with full jitter on the upper half. */
  baseDelayMs: number;
  maxDelayMs: number;
  bankAttempts: number;
  notifyAttempts: number;
}

export const DEFAULT_RETRY: RetryPolicy = { baseDelayMs: 1_000, maxDelayMs: 5 * 60_000, bankAttempts: 20, notifyAttempts: 15 };

/** Exponential backoff with jitter, capped: spreads a burst of retries instead of replaying it. */
export function jitteredBackoff(policy: RetryPolicy): BackoffStrategy {
  return (attemptsMade: number) => {
    const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, attemptsMade - 1));
    return Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
  };
}

export interface Queues {
  start: Queue<StartJob>;
  webhooks: Queue<WebhookJob>;
  confirm: Queue<ConfirmJob>;
  notify: Queue<NotifyJob>;
  all(): Queue[];
  close(): Promise<void>;
}

export function jobOptions(policy: RetryPolicy): Record<keyof typeof QUEUE, JobsOptions> {
  // Completed jobs are trimmed (the payout record is the history); failed ones stay for operators.
  const bank: JobsOptions = {
    attempts: policy.bankAttempts,
    backoff: { type: 'jittered' },
    removeOnComplete: { age: 3_600, count: 20_000 },
    removeOnFail: false,
  };
  return {
    start: bank,
    confirm: bank,
    // Kept a day so a replayed webhook body is dropped at enqueue time, not only by the state check.
    webhooks: { ...bank, removeOnComplete: { age: 86_400, count: 100_000 } },
    notify: { ...bank, attempts: policy.notifyAttempts, removeOnComplete: { age: 86_400, count: 100_000 } },
  };
}

export function createQueues(connection: Redis, prefix: string, policy: RetryPolicy = DEFAULT_RETRY): Queues {
  const defaults = jobOptions(policy);
  const make = <T>(name: string, opts: JobsOptions) => new Queue<T>(name, { connection, prefix, defaultJobOptions: opts });
  const queues = {
    start: make<StartJob>(QUEUE.start, defaults.start),
    webhooks: make<WebhookJob>(QUEUE.webhooks, defaults.webhooks),
    confirm: make<ConfirmJob>(QUEUE.confirm, defaults.confirm),
    notify: make<NotifyJob>(QUEUE.notify, defaults.notify),
  };
  return {
    ...queues,
    all: () => Object.values(queues) as Queue[],
    close: async () => {
      await Promise.all(Object.values(queues).map((q) => q.close()));
    },
  };
}

/** Enqueue start jobs for many payouts in one addBulk call. */
export async function enqueueStarts(queues: Queues, payoutIds: string[]): Promise<void> {
  if (payoutIds.length === 0) return;
  await queues.start.addBulk(payoutIds.map((payoutId) => ({ name: 'start', data: { payoutId }, opts: { jobId: jobId.start(payoutId) } })));
}

export async function enqueueConfirm(queues: Queues, payoutId: string, sessionId: string): Promise<void> {
  await queues.confirm.add('confirm', { payoutId, sessionId }, { jobId: jobId.confirm(sessionId) });
}

export async function enqueueNotify(queues: Queues, payoutId: string, event: NotifyJob['event']): Promise<void> {
  await queues.notify.add('notify', { payoutId, event }, { jobId: jobId.notify(payoutId, event) });
}
