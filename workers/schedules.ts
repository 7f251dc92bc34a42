import type { Logger } from 'pino';
import type { Queues } from '../src/queues.js';
import type { PayoutStore } from '../src/store/payout-store.js';
import type { PipelineTiming } from '../src/pipeline/pipeline-deps.js';
import type { BalancePoller } from '../src/funding/balance-poll.js';
import { within } from '../src/process/lifecycle.js';
import { redisTrouble } from '../src/store/redis-errors.js';

/** The reconciler's job schedulers (docs/architecture.md, The reconciler). */
export function schedulesFor(timing: PipelineTiming) {
  return [
    { id: 'payout-reconcile-sweep', name: 'sweep', every: timing.reconcileIntervalMs },
    { id: 'payout-retention', name: 'retention', every: timing.retentionIntervalMs },
  ] as const;
}

export interface KeptSchedules {
  /** The first upsert of each schedule, done. */
  ready: Promise<void>;
  stop(): void;
}

/**
 * Keeps the reconciler's schedules in place. An operator can remove a job scheduler, change its
 * interval or clean away its next job on the queue board, and nothing would then find lost jobs
 * and webhooks again until a worker restarted. Every `checkEveryMs` this puts back what is missing
 * or changed (upserting one is idempotent, and it re-adds a lost next job), and says so. A paused
 * reconcile queue is the operator's to resume: it is said, not undone.
 */
export function keepSchedules(
  deps: { queues: Queues; store: PayoutStore; log: Logger; timing: PipelineTiming },
  checkEveryMs: number,
): KeptSchedules {
  const queue = deps.queues.reconcile;
  const schedules = schedulesFor(deps.timing);
  const upsert = (s: (typeof schedules)[number]) => queue.upsertJobScheduler(s.id, { every: s.every }, { name: s.name, data: {} });
  const ready = Promise.all(schedules.map(upsert)).then(
    () => undefined,
    (err: Error) => deps.log.error({ err: err.message }, 'could not schedule the reconciler'),
  );
  let lastPausedLine = 0;
  const check = async () => {
    for (const s of schedules) {
      const found = await queue.getJobScheduler(s.id);
      // an interval, a pattern, a limit or an end date set on the board would slow or end the sweep
      if (!found || Number(found.every) !== s.every || found.pattern || found.limit || found.endDate) {
        // put back first: while Redis refuses writes this fails quietly, instead of a line each time
        await upsert(s);
        deps.log.warn(
          { scheduler: s.id, found: found ? { every: found.every } : null },
          `job scheduler ${s.id} was ${found ? 'changed' : 'removed'} (on the queue board?): put back`,
        );
      }
    }
    const swept = await deps.store.lastSwept();
    if (swept !== null && Date.now() - swept > 3 * deps.timing.reconcileIntervalMs) {
      if (await queue.isPaused()) {
        if (Date.now() - lastPausedLine > 60_000) {
          lastPausedLine = Date.now();
          deps.log.warn({ queue: queue.name }, `${queue.name} is paused: lost jobs and webhooks are not looked for until it is resumed`);
        }
        return;
      }
      // the schedule is there but its next run is not (cleaned away): upserting adds it again
      await upsert(schedules[0]);
      deps.log.warn({ sweptAgoMs: Date.now() - swept }, 'the reconciler has not swept for three intervals: its schedule is set again');
    }
  };
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    check()
      .catch((err: Error) => deps.log.debug({ err: err.message }, 'could not check the reconciler schedules'))
      .finally(() => (running = false));
  }, checkEveryMs);
  timer.unref();
  return { ready, stop: () => clearInterval(timer) };
}

export interface BalancePolling {
  /** Stops the ticks; waits briefly for one in flight, which then writes and enqueues nothing. */
  stop(): Promise<void>;
}

/** How long stopping waits for a poll in flight: it only reads, so it is left to end on its own after that. */
const POLL_STOP_WAIT_MS = 1_000;

/**
 * The workers' balance poll (src/funding/balance-poll.ts), every `everyMs` (BALANCE_POLL_MS) from
 * start: the first tick at once, so the metrics have a balance soon after a deploy. Each worker
 * process ticks; the poller's claim in Redis lets one of them ask the bank per interval. Nothing
 * when `everyMs` is 0.
 */
export function pollBalanceEvery(
  poller: Pick<BalancePoller, 'tick'>,
  everyMs: number,
  log: Logger,
  /** Where a Redis error goes (the runtime's outage report): a few lines per outage, not one per tick. */
  reportRedisError?: (err: Error) => void,
): BalancePolling {
  if (everyMs <= 0) return { stop: async () => undefined };
  let stopped = false;
  let inFlight: Promise<unknown> | null = null;
  const tick = () => {
    if (stopped || inFlight) return;
    inFlight = poller
      .tick(() => stopped)
      .catch((err: Error) => {
        if (reportRedisError && redisTrouble(err)) reportRedisError(err);
        else log.warn({ err: err.message }, 'the wallet balance poll failed; it runs again at the next interval');
      })
      .finally(() => (inFlight = null));
  };
  const timer = setInterval(tick, everyMs);
  timer.unref();
  tick();
  return {
    async stop() {
      stopped = true;
      clearInterval(timer);
      if (inFlight) await within(POLL_STOP_WAIT_MS, inFlight);
    },
  };
}
