import { pathToFileURL } from 'node:url';
import { UnrecoverableError, Worker, type Processor } from 'bullmq';
import { createLogger, type Logger } from '../src/log.js';
import type { CrashPoints, PipelineDeps } from '../src/pipeline/pipeline-deps.js';
import { describeRules } from '../src/rules/rules-file.js';
import { exitOnStartupError } from '../src/process/exit.js';
import { exitOnSignals, within } from '../src/process/lifecycle.js';
import { QUEUE, jitteredBackoff } from '../src/queues.js';
import { createRuntime, runtimeOptionsFor, type Runtime } from '../src/runtime.js';
import { loadWorkerSettings, type WorkerSettings } from '../src/settings/worker.js';
import { checkRedisDurability, redisReady, waitForRedis } from '../src/store/redis-connection.js';
import { webhookProcessor } from './bank-webhooks.js';
import { finishProcessor } from './payout-finish.js';
import { serveMetrics } from './metrics-server.js';
import { confirmProcessor } from './payout-confirm.js';
import { callbackSlots, notifyProcessor } from './payout-notify.js';
import { reconcileProcessor } from './payout-reconcile.js';
import { startProcessor } from './payout-start.js';
import { relayRedisTrouble } from './redis-trouble.js';
import { keepSchedules, pollBalanceEvery } from './schedules.js';
import { BalancePoller } from '../src/funding/balance-poll.js';
import { FundingStore } from '../src/funding/funding-store.js';
import { resumeWaitingForFunds } from '../src/pipeline/resume-funds.js';
import { observeFunding } from '../src/metrics.js';

/**
 * A worker process (Procfile `worker`): one BullMQ worker per queue of docs/architecture.md, and
 * the reconciler's schedules. Run as many as you like against one Redis. `startWorkers` is the
 * same on a runtime, for the demo and the tests.
 */
async function main(): Promise<void> {
  const settings = loadWorkerSettings();
  const log = createLogger({ level: settings.logLevel, pretty: settings.logPretty, base: { process: 'worker' } });
  // Before anything else touches Redis: a wrong REDIS_URL or REDIS_CLUSTER ends here, in one line that names it.
  await waitForRedis(settings.redisUrl, settings.redisConnectTimeoutMs, { cluster: settings.redisCluster });
  const runtime = createRuntime(runtimeOptionsFor(settings, 'worker', log));
  await redisReady(runtime.redis, settings.redisUrl, settings.redisConnectTimeoutMs);
  await checkRedisDurability(runtime.redis, log);
  const workers = startWorkers(runtime, settings, { log });
  const metrics = settings.metricsPort ? await serveMetrics(runtime, settings.metricsPort, settings.metricsHost, log) : null;
  log.info(
    {
      concurrency: settings.payoutConcurrency,
      maxRps: settings.bank.maxRps,
      metrics: metrics ? `http://${settings.metricsHost}:${settings.metricsPort}/metrics` : 'off',
      balancePollMs: settings.balancePollMs || 'off',
      ...settings.timing,
      // what each tenant's payouts are held to before they reach the bank
      rules: settings.approval.rules ? describeRules(settings.approval.rules) : 'none',
      reviewAbove: settings.approval.reviewAbove ?? 'off',
      reviewTtlMs: settings.approval.reviewTtlMs,
    },
    'worker process ready',
  );
  exitOnSignals(
    async () => {
      await stopWorkers(workers, runtime, log);
      metrics?.close();
      await runtime.close();
    },
    { timeoutMs: settings.shutdownTimeoutMs, log },
  );
}

export interface RunningWorkers {
  workers: Worker[];
  /** Graceful: stops taking jobs and waits for the ones in hand. */
  close(): Promise<void>;
}

/** The workers of one process on a runtime: what `npm run worker`, the demo and the tests run. */
export function startWorkers(
  runtime: Runtime,
  settings: WorkerSettings,
  extras: { log: Logger; crashPoints?: CrashPoints },
): RunningWorkers {
  const deps: PipelineDeps = {
    store: runtime.store,
    queues: runtime.queues,
    bank: runtime.bank,
    tenants: runtime.tenants.cache,
    bankPublicKey: settings.bank.publicKey,
    log: extras.log,
    callbackSecret: settings.callbackSecret,
    callbackTimeoutMs: settings.callbackTimeoutMs,
    crashPoints: extras.crashPoints,
    allowPrivateCallbacks: settings.callbackAllowPrivate,
    timing: settings.timing,
    approval: settings.approval,
  };
  const backoffStrategy = jitteredBackoff(runtime.retry);
  const make = <T>(name: string, processor: Processor<T>, concurrency: number) => {
    const worker = new Worker<T>(name, processor, {
      connection: runtime.redis,
      prefix: settings.redisPrefix,
      concurrency,
      settings: { backoffStrategy },
      lockDuration: settings.stalled.lockDurationMs,
      stalledInterval: settings.stalled.stalledIntervalMs,
    });
    worker.on('failed', (job, err) => {
      const final =
        err instanceof UnrecoverableError || err.name === 'UnrecoverableError' || (job && job.attemptsMade >= (job.opts.attempts ?? 1));
      deps.log[final ? 'error' : 'warn'](
        { queue: name, jobId: job?.id, attempt: job?.attemptsMade, err: err.message },
        final ? 'job failed for good' : 'job failed; will retry',
      );
    });
    worker.on('error', (err) => deps.log.error({ queue: name, err: err.message }, 'worker error'));
    return worker;
  };
  // The notify processor gives each destination a fair share of these (workers/payout-notify.ts).
  const notifySlots = settings.concurrencyByQueue.notify ?? Math.max(4, settings.payoutConcurrency);
  const notifying = { ...deps, notifyConcurrency: notifySlots };
  const slots = callbackSlots(notifying);
  const workers = [
    make(QUEUE.start, startProcessor(deps), settings.concurrencyByQueue.start ?? settings.payoutConcurrency),
    make(QUEUE.confirm, confirmProcessor(deps), settings.concurrencyByQueue.confirm ?? settings.payoutConcurrency),
    make(QUEUE.finish, finishProcessor(deps, slots), settings.concurrencyByQueue.finish ?? settings.payoutConcurrency),
    // Webhook routing is a few Redis calls: cheap, so more at once.
    make(QUEUE.webhooks, webhookProcessor(deps), settings.concurrencyByQueue.webhooks ?? Math.max(8, settings.payoutConcurrency * 2)),
    make(QUEUE.notify, notifyProcessor(notifying, slots), notifySlots),
    make(QUEUE.reconcile, reconcileProcessor(deps), settings.concurrencyByQueue.reconcile ?? Math.max(4, settings.payoutConcurrency)),
  ];
  // One schedule however many worker processes run (upserting the same scheduler id is
  // idempotent), kept in place if an operator removes or changes it.
  const schedules = keepSchedules(deps, deps.timing.reconcileIntervalMs);
  // The partner wallet, asked about once per BALANCE_POLL_MS across all workers: the metrics'
  // balance, and a top-up resumes the payouts waiting for funds at once (src/funding/balance-poll.ts).
  const funding = new FundingStore(runtime.redis, runtime.store.prefix);
  observeFunding(funding);
  const balancePoll = pollBalanceEvery(
    new BalancePoller(
      { bank: deps.bank, funding, log: deps.log, resume: () => resumeWaitingForFunds({ ...deps, redis: runtime.redis }) },
      settings.balancePollMs,
    ),
    settings.balancePollMs,
    extras.log,
    runtime.reportRedisError,
  );
  for (const worker of workers) relayRedisTrouble(worker, runtime.reportRedisError);
  return {
    workers,
    close: async () => {
      schedules.stop();
      await Promise.all([schedules.ready, balancePoll.stop()]);
      await Promise.all(workers.map((w) => w.close()));
    },
  };
}

/**
 * Stops taking jobs. With Redis up, the jobs in hand are finished first; with Redis unreachable,
 * or once it goes while they finish, they are left: nothing in hand can finish without Redis, and
 * each one's lock lapses and another worker takes it up. Without Redis nothing here waits on it:
 * the connection is dropped and each close bounded, since a worker's commands wait for a
 * reconnection (docs/operations.md, The two processes: a worker stops at once while Redis is down).
 */
async function stopWorkers(workers: RunningWorkers, runtime: Runtime, log: Logger): Promise<void> {
  if (runtime.redisHealthy()) {
    log.info('finishing jobs in hand, then stopping');
    const lost = new Promise<false>((resolve) => runtime.redis.once('close', () => resolve(false)));
    if (await Promise.race([workers.close().then(() => true), lost])) return;
    log.warn('Redis went away: stopping without finishing the jobs in hand');
  } else {
    log.warn('Redis is unreachable: stopping without finishing the jobs in hand');
  }
  runtime.redis.disconnect();
  await within(STOP_WITHOUT_REDIS_MS, Promise.all(workers.workers.map((w) => w.close(true))));
}

/** The bound on closing the workers without Redis; their connections are dropped, so it is rarely reached. */
const STOP_WITHOUT_REDIS_MS = 1_000;

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) main().catch(exitOnStartupError);
