import { UnrecoverableError, Worker, type Processor } from 'bullmq';
import type { RedisClient } from '../src/store/redis-client.js';
import type { Runtime } from '../src/runtime.js';
import { QUEUE, jitteredBackoff, DEFAULT_RETRY, type RetryPolicy } from '../src/queues.js';
import { DEFAULT_TIMING, type PipelineDeps } from '../src/pipeline/pipeline-deps.js';
import { webhookProcessor } from './bank-webhooks.js';
import { confirmProcessor } from './payout-confirm.js';
import { notifyProcessor } from './payout-notify.js';
import { reconcileProcessor } from './payout-reconcile.js';
import { startProcessor } from './payout-start.js';
import { relayRedisTrouble } from './redis-trouble.js';
import { keepSchedules } from './schedules.js';

export interface WorkerOptions {
  connection: RedisClient;
  prefix: string;
  /** Jobs in flight per queue that calls the bank (PAYOUT_CONCURRENCY). */
  concurrency: number;
  /** Per-queue overrides of the defaults derived from `concurrency` (START_CONCURRENCY, …). */
  concurrencyByQueue?: Partial<Record<keyof typeof QUEUE, number>> | undefined;
  retry?: RetryPolicy;
  /**
   * How soon a job whose worker vanished (crash, Redis outage mid-job) is taken up again: its lock
   * lapses after `lockDurationMs` and the stalled check runs every `stalledIntervalMs`. BullMQ's
   * defaults (30 s each) when unset.
   */
  stalled?: { lockDurationMs: number; stalledIntervalMs: number };
}

export interface RunningWorkers {
  workers: Worker[];
  /** Graceful: stops taking jobs and waits for the ones in hand. */
  close(): Promise<void>;
}

/** The workers of one process on a runtime: used by `npm run worker`, the demo and the tests alike. */
export function startWorkersFor(
  runtime: Runtime,
  options: Pick<PipelineDeps, 'log' | 'bankPublicKey' | 'callbackSecret' | 'callbackTimeoutMs' | 'crashPoints' | 'allowPrivateCallbacks'> & Partial<Pick<PipelineDeps, 'timing'>> & Pick<WorkerOptions, 'concurrency' | 'concurrencyByQueue' | 'prefix' | 'stalled'>,
): RunningWorkers {
  const { log, bankPublicKey, callbackSecret, callbackTimeoutMs, crashPoints, timing, allowPrivateCallbacks, ...workerOptions } = options;
  const running = startWorkers(
    { store: runtime.store, queues: runtime.queues, bank: runtime.bank, bankPublicKey, log, callbackSecret, callbackTimeoutMs, crashPoints, allowPrivateCallbacks, timing: timing ?? DEFAULT_TIMING },
    { ...workerOptions, connection: runtime.redis, retry: runtime.retry },
  );
  for (const worker of running.workers) relayRedisTrouble(worker, runtime.reportRedisError);
  return running;
}

/** One worker per queue of docs/architecture.md, all in this process. */
export function startWorkers(deps: PipelineDeps, options: WorkerOptions): RunningWorkers {
  const backoffStrategy = jitteredBackoff(options.retry ?? DEFAULT_RETRY);
  const make = <T>(name: string, processor: Processor<T>, concurrency: number) => {
    const worker = new Worker<T>(name, processor, {
      connection: options.connection,
      prefix: options.prefix,
      concurrency,
      settings: { backoffStrategy },
      ...(options.stalled ? { lockDuration: options.stalled.lockDurationMs, stalledInterval: options.stalled.stalledIntervalMs } : {}),
    });
    worker.on('failed', (job, err) => {
      const final = err instanceof UnrecoverableError || err.name === 'UnrecoverableError' || (job && job.attemptsMade >= (job.opts.attempts ?? 1));
      deps.log[final ? 'error' : 'warn']({ queue: name, jobId: job?.id, attempt: job?.attemptsMade, err: err.message }, final ? 'job failed for good' : 'job failed; will retry');
    });
    worker.on('error', (err) => deps.log.error({ queue: name, err: err.message }, 'worker error'));
    return worker;
  };
  // The notify processor gives each destination a fair share of these (workers/payout-notify.ts).
  const notifySlots = options.concurrencyByQueue?.notify ?? Math.max(4, options.concurrency);
  const workers = [
    make(QUEUE.start, startProcessor(deps), options.concurrencyByQueue?.start ?? options.concurrency),
    make(QUEUE.confirm, confirmProcessor(deps), options.concurrencyByQueue?.confirm ?? options.concurrency),
    // Webhook routing is a few Redis calls: cheap, so more at once.
    make(QUEUE.webhooks, webhookProcessor(deps), options.concurrencyByQueue?.webhooks ?? Math.max(8, options.concurrency * 2)),
    make(QUEUE.notify, notifyProcessor({ ...deps, notifyConcurrency: notifySlots }), notifySlots),
    make(QUEUE.reconcile, reconcileProcessor(deps), options.concurrencyByQueue?.reconcile ?? Math.max(4, options.concurrency)),
  ];
  // One schedule however many worker processes run (upserting the same scheduler id is
  // idempotent), kept in place if an operator removes or changes it.
  const schedules = keepSchedules(deps, deps.timing.reconcileIntervalMs);
  return {
    workers,
    close: async () => {
      schedules.stop();
      await schedules.ready;
      await Promise.all(workers.map((w) => w.close()));
    },
  };
}
