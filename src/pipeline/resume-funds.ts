import { Job } from 'bullmq';
import { QUEUE, jobId, type Queues } from '../queues.js';
import type { PayoutStore } from '../store/payout-store.js';
import type { RedisClient } from '../store/redis-client.js';

/** Start jobs added per addBulk: one MULTI each, a bounded size however many payouts wait. */
export const RESUME_CHUNK = 1_000;

export interface ResumeDeps {
  store: Pick<PayoutStore, 'tenants' | 'listKey' | 'key'>;
  queues: Pick<Queues, 'start'>;
  redis: RedisClient;
}

/**
 * A start job, now, for every payout waiting for funds (`awaiting_funds`, every tenant), so that
 * a top-up pays them at once instead of at their next WALLET_RETRY_MS retry: `POST
 * /v1/payouts/resume` and the workers' balance poll (src/funding/balance-poll.ts) call it. The
 * payouts are read from the per-state list indexes (never a scan). The delayed retry job each one
 * waits on (its last job, recorded by its `awaitFunds` step) is promoted to run now, so a payout
 * keeps one chain of retries however often it is resumed; one whose retry job is missing gets a
 * job of its own (`start-<payout>-r<now>`), and one whose job is already queued or running is left
 * to it.
 *
 * Safe to run any number of times: a start job only points at a payout. The start worker finds a
 * payout that has sent `start/payout` before and asks `session/status` first, applies the bank's
 * word, and sends again only a session the bank never started, with the same idempotency key
 * (workers/payout-start.ts); a payout that moved on meanwhile is left as it is. Answers how many
 * payouts were given a job.
 */
export async function resumeWaitingForFunds(deps: ResumeDeps, now: number = Date.now()): Promise<number> {
  const ids = await waitingForFunds(deps);
  for (const chunk of chunksOf(ids, RESUME_CHUNK)) {
    const toAdd: string[] = [];
    const lastJobs = await lastJobsOf(deps, chunk);
    for (const [i, payoutId] of chunk.entries()) if (!(await promoted(deps, lastJobs[i] ?? null))) toAdd.push(payoutId);
    if (toAdd.length > 0)
      await deps.queues.start.addBulk(
        toAdd.map((payoutId) => ({ name: 'start', data: { payoutId }, opts: { jobId: resumeJobId(payoutId, now) } })),
      );
  }
  return ids.length;
}

/** Each payout's last job (`<queue>/<job id>`), in one round trip. */
async function lastJobsOf(deps: ResumeDeps, ids: string[]): Promise<Array<string | null>> {
  const pipeline = deps.redis.pipeline();
  for (const id of ids) pipeline.hget(deps.store.key(id), 'last_job');
  const replies = (await pipeline.exec()) ?? [];
  return replies.map(([err, value]) => {
    if (err) throw err;
    return (value as string | null) ?? null;
  });
}

/**
 * Whether the payout's own start job takes care of it now: its delayed retry, promoted to run at
 * once, or a job already waiting or running. False: it needs a job of its own.
 */
async function promoted(deps: ResumeDeps, lastJob: string | null): Promise<boolean> {
  const prefix = `${QUEUE.start}/`;
  if (!lastJob?.startsWith(prefix)) return false;
  const job = await Job.fromId(deps.queues.start, lastJob.slice(prefix.length));
  if (!job) return false;
  const state = await job.getState();
  if (state === 'delayed') {
    // it may start on its own meanwhile: then it runs now anyway
    await job.promote().catch(() => undefined);
    return true;
  }
  return state === 'waiting' || state === 'active' || state === 'prioritized' || state === 'waiting-children';
}

/** Every payout in `awaiting_funds`, over all tenants, oldest first per tenant: one pipeline of ZRANGEs. */
export async function waitingForFunds(deps: Omit<ResumeDeps, 'queues'>): Promise<string[]> {
  const tenants = await deps.store.tenants();
  const pipeline = deps.redis.pipeline();
  for (const tenant of tenants) pipeline.zrange(deps.store.listKey('awaiting_funds', tenant), '0', '-1');
  const replies = (await pipeline.exec()) ?? [];
  return replies.flatMap(([err, ids]) => {
    if (err) throw err;
    return ids as string[];
  });
}

/** The resumed start job's id: the wallet retry's form (docs/architecture.md, Queues and jobs) at the time of the resume. */
export function resumeJobId(payoutId: string, now: number): string {
  return jobId.again(jobId.start(payoutId), now);
}

/** `items` in runs of at most `size`, in order. */
export function chunksOf<T>(items: readonly T[], size: number): T[][] {
  if (!Number.isInteger(size) || size < 1) throw new RangeError(`chunk size must be a whole number of 1 or more, not ${size}`);
  const out: T[][] = [];
  for (let at = 0; at < items.length; at += size) out.push(items.slice(at, at + size));
  return out;
}
