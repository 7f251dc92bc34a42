import { createHash } from 'node:crypto';
import { Queue, type BackoffStrategy, type JobsOptions } from 'bullmq';
import type { RedisClient } from './store/redis-client.js';
import type { CheckJob, ConfirmJob, NotifyJob, StartJob, WebhookJob } from './payouts/schemas.js';
import type { DeliveryJob } from './payouts/events.js';

/** Queue names are contracts (docs/architecture.md, Queues and jobs): operators and dashboards know them. */
export const QUEUE = {
  start: 'payout-start',
  webhooks: 'bank-webhooks',
  confirm: 'payout-confirm',
  finish: 'payout-finish',
  notify: 'payout-notify',
  reconcile: 'payout-reconcile',
} as const;

/**
 * Job ids make enqueueing idempotent: BullMQ ignores an add whose id is already in the queue.
 * BullMQ refuses ':' in custom ids, hence `start-<payout>` and the like (docs/architecture.md, Queues and jobs).
 */
export const jobId = {
  start: (payoutId: string) => `start-${payoutId}`,
  webhook: (rawBody: Buffer) => `wh-${createHash('sha256').update(rawBody).digest('hex')}`,
  confirm: (sessionId: string) => `confirm-${sessionId}`,
  cancel: (sessionId: string) => `cancel-${sessionId}`,
  notify: (payoutId: string, event: string) => `notify-${payoutId}-${event}`,
  /** One destination's delivery of the event: the payout's callback_url's is the notify job itself. */
  delivery: (payoutId: string, event: string, destination: string) =>
    destination === 'callback_url' ? jobId.notify(payoutId, event) : `${jobId.notify(payoutId, event)}-${destination}`,
  /** `POST /v1/events/{id}/resend`: a delivery again, at `at` (ms). */
  resend: (payoutId: string, event: string, destination: string, at: number) => `${jobId.delivery(payoutId, event, destination)}-s${at}`,
  check: (payoutId: string, at: number) => `check-${payoutId}-${at}`,
  /**
   * A job the reconciler adds again after the first was lost, finished or failed for good: a new
   * id, since BullMQ keeps a finished or failed job's id and would drop the add; `round` is the
   * reconcile round, or the time of a wallet retry.
   */
  again: (first: string, round: number) => `${first}-r${round}`,
};

/** How long a webhook body, once received, is dropped as a replay at enqueue (a step past its state does nothing after that too). */
export const WEBHOOK_REPLAY_WINDOW_MS = 86_400_000;

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
  /** Signed webhooks that feed no step of their own (`payment_refunded`, types we do not know). */
  webhooks: Queue<WebhookJob>;
  /** The confirmation step: decisions and cancels, and the signed `ready_to_confirm` that feeds them. */
  confirm: Queue<ConfirmJob | WebhookJob>;
  /** The signed `payment_finished`: the payout's last step, and its callback when it can be sent at once. */
  finish: Queue<WebhookJob>;
  notify: Queue<DeliveryJob>;
  /** The reconciler's scheduled sweep and its per-payout checks. */
  reconcile: Queue<CheckJob | Record<string, never>>;
  all(): Queue[];
  close(): Promise<void>;
}

export function jobOptions(policy: RetryPolicy): Record<keyof typeof QUEUE, JobsOptions> {
  // Completed jobs go at once (the payout record and its audit trail are the history, and the
  // reconciler re-drives from the record, not from old jobs); failed ones stay a week for operators.
  const failedKept = { age: 7 * 86_400, count: 50_000 };
  const bank: JobsOptions = {
    attempts: policy.bankAttempts,
    backoff: { type: 'jittered' },
    removeOnComplete: true,
    removeOnFail: failedKept,
  };
  return {
    start: bank,
    confirm: bank,
    finish: bank,
    // A replayed body is dropped at enqueue by a deduplication key (WEBHOOK_REPLAY_WINDOW_MS), so
    // the finished job itself need not be kept.
    webhooks: bank,
    notify: { ...bank, attempts: policy.notifyAttempts },
    // A check that fails is simply made again at the next due time: no retries to pile up.
    reconcile: { attempts: 1, removeOnComplete: true, removeOnFail: { age: 86_400, count: 10_000 } },
  };
}

/** Entries kept in each queue's event stream (BullMQ's default is 10,000). */
export const EVENTS_KEPT = 1_000;

export function createQueues(connection: RedisClient, prefix: string, policy: RetryPolicy = DEFAULT_RETRY): Queues {
  const defaults = jobOptions(policy);
  // Each queue's event stream (what QueueEvents and dashboards tail) is capped at EVENTS_KEPT
  // entries instead of BullMQ's 10,000: at several events per job it was the largest thing left
  // in Redis after the jobs themselves were removed, and nothing here reads old events.
  const make = <T>(name: string, opts: JobsOptions) =>
    new Queue<T>(name, { connection, prefix, defaultJobOptions: opts, streams: { events: { maxLen: EVENTS_KEPT } } });
  const queues = {
    start: make<StartJob>(QUEUE.start, defaults.start),
    webhooks: make<WebhookJob>(QUEUE.webhooks, defaults.webhooks),
    confirm: make<ConfirmJob | WebhookJob>(QUEUE.confirm, defaults.confirm),
    finish: make<WebhookJob>(QUEUE.finish, defaults.finish),
    notify: make<DeliveryJob>(QUEUE.notify, defaults.notify),
    reconcile: make<CheckJob | Record<string, never>>(QUEUE.reconcile, defaults.reconcile),
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
  // addBulk goes through a MULTI, and ioredis copies every script command defined on the
  // connection (BullMQ's and ours) into each one: for a single job a plain add is far cheaper.
  if (payoutIds.length === 1) {
    await enqueueStart(queues, payoutIds[0]!);
    return;
  }
  await queues.start.addBulk(payoutIds.map((payoutId) => ({ name: 'start', data: { payoutId }, opts: { jobId: jobId.start(payoutId) } })));
}

/** The follow-up jobs of src/payouts/steps.ts, by kind; each returns `<queue>/<job id>`. */
export async function enqueueStart(queues: Queues, payoutId: string, opts: { jobId?: string; delayMs?: number } = {}): Promise<string> {
  const id = opts.jobId ?? jobId.start(payoutId);
  await queues.start.add('start', { payoutId }, { jobId: id, ...(opts.delayMs ? { delay: opts.delayMs } : {}) });
  return `${QUEUE.start}/${id}`;
}

export async function enqueueConfirm(queues: Queues, payoutId: string, sessionId: string, id = jobId.confirm(sessionId)): Promise<string> {
  await queues.confirm.add('confirm', { payoutId, sessionId }, { jobId: id });
  return `${QUEUE.confirm}/${id}`;
}

/** Upstream's cancel goes on the confirm queue under its own id: it must not collide with the confirm job. */
export async function enqueueCancel(queues: Queues, payoutId: string, sessionId: string, id = jobId.cancel(sessionId)): Promise<string> {
  await queues.confirm.add('cancel', { payoutId, sessionId }, { jobId: id });
  return `${QUEUE.confirm}/${id}`;
}

/** A delivery of the payout's event to one destination: its callback_url unless `destination` names a webhook endpoint. */
export async function enqueueNotify(
  queues: Queues,
  payoutId: string,
  event: NotifyJob['event'],
  id = jobId.notify(payoutId, event),
  destination = 'callback_url',
): Promise<string> {
  await queues.notify.add('notify', { payoutId, event, ...(destination === 'callback_url' ? {} : { destination }) }, { jobId: id });
  return `${QUEUE.notify}/${id}`;
}

/** A status check of one payout, now. */
export async function enqueueCheck(queues: Queues, payoutId: string, reason: string): Promise<void> {
  await queues.reconcile.add('check', { payoutId, reason }, { jobId: jobId.check(payoutId, Date.now()) });
}

/**
 * Where a verified Bank 131 webhook goes, by its type: straight to the queue of the step it feeds
 * (one job fewer per payout than a webhook queue in between), and anything else to the webhook
 * queue, whose worker applies it or asks `session/status`.
 */
export function webhookQueueOf(queues: Queues, type: string): Queue<WebhookJob> {
  if (type === 'ready_to_confirm') return queues.confirm as Queue<WebhookJob>;
  if (type === 'payment_finished') return queues.finish;
  return queues.webhooks;
}

/** Is this job still to run (waiting, delayed or running)? A lost, finished or failed one is not. */
export async function isPending(queues: Queues, queueAndId: string): Promise<boolean> {
  const [name, id] = queueAndId.split('/') as [string, string];
  const queue = queues.all().find((q) => q.name === name);
  if (!queue || !id) return false;
  const state = await queue.getJobState(id);
  return state === 'waiting' || state === 'delayed' || state === 'active' || state === 'prioritized' || state === 'waiting-children';
}
