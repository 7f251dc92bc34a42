import type { Worker } from 'bullmq';
import { redisTrouble } from '../src/store/redis-errors.js';

/** How long a worker that met a refusal stops fetching jobs (see relayRedisTrouble). */
const HOLD_OFF_MS = 1_000;

/**
 * Redis errors a worker meets go to the runtime's outage report (a line per retry interval), not a
 * line each: BullMQ relays every failed reconnection of a worker's connections (a dozen per
 * attempt), and while Redis refuses writes (full, a replica) a worker's fetch of its next job
 * fails at once and is tried again at once, as are the stalled check and the lock renewals, and
 * every job in hand fails: thousands a second. A refusal also holds the worker's fetching off for
 * HOLD_OFF_MS (jobs in hand carry on), since BullMQ waits before trying again only after a lost
 * connection. Any other error, and any other failed job, still reaches the listeners the workers
 * were started with.
 */
export function relayRedisTrouble(worker: Worker, report: (err: Error) => void): void {
  const holdOff = holdingOff(worker);
  for (const [event, errorAt] of [
    ['error', 0],
    ['failed', 1],
  ] as const) {
    const others = worker.listeners(event) as Array<(...args: unknown[]) => void>;
    worker.removeAllListeners(event);
    worker.on(event, (...args: unknown[]) => {
      const err = args[errorAt] as Error;
      const trouble = redisTrouble(err);
      if (!trouble) return others.forEach((l) => l.apply(worker, args));
      report(err);
      if (trouble.kind === 'refusing') holdOff();
    });
  }
}

/** Pauses a worker's fetching (not its jobs in hand) for HOLD_OFF_MS, once at a time. */
function holdingOff(worker: Worker): () => void {
  let held = false;
  return () => {
    if (held || worker.closing) return;
    held = true;
    void worker.pause(true).catch(() => undefined);
    setTimeout(() => {
      held = false;
      if (!worker.closing) void worker.resume();
    }, HOLD_OFF_MS).unref();
  };
}
