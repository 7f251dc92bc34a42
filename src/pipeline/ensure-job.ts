import type { NotifyJob, PayoutRecord } from '../payouts/schemas.js';
import { CALLBACK_URL, eventIdOf } from '../payouts/events.js';
import { enqueueCancel, enqueueConfirm, enqueueNotify, enqueueStart, isPending, jobId, QUEUE } from '../queues.js';
import type { PipelineDeps } from './pipeline-deps.js';

/** Where the job that last drove something on is remembered (`<queue>/<job id>`). */
interface JobMemory {
  get(): Promise<string | null>;
  set(job: string): Promise<void>;
}

/** The payout's own memory: its record's `last_job`, which each step writes with its move. */
const lastJobOf = (deps: PipelineDeps, payoutId: string): JobMemory => ({
  get: () => deps.store.lastJob(payoutId),
  set: (job) => deps.store.setLastJob(payoutId, job),
});

/**
 * Makes sure a job drives this payout on: the last job it was given, and the step's usual job, are
 * checked first; when neither is still to run (lost, finished or failed for good), a new job is
 * added under a new id (BullMQ keeps a finished job's id and would drop the add). Returns whether
 * one was added. Used by the reconciler and by jobs that learn from session/status that a step is due.
 */
async function ensureJob(
  deps: PipelineDeps,
  payoutId: string,
  usual: string,
  add: (id: string) => Promise<string>,
  memory: JobMemory = lastJobOf(deps, payoutId),
): Promise<boolean> {
  const last = await memory.get();
  if ((last && (await isPending(deps.queues, last))) || (await isPending(deps.queues, usual))) return false;
  // One id per reconcile round: two checks of the same payout at once add one job, not two.
  const round = Math.floor(Date.now() / deps.timing.reconcileAfterMs);
  const added = await add(jobId.again(usual.slice(usual.indexOf('/') + 1), round));
  await memory.set(added);
  deps.log.info({ payoutId, job: added }, 'reconciler: a lost step enqueued again');
  return true;
}

export function ensureStartJob(deps: PipelineDeps, payout: PayoutRecord): Promise<boolean> {
  return ensureJob(deps, payout.id, `${QUEUE.start}/${jobId.start(payout.id)}`, (id) =>
    enqueueStart(deps.queues, payout.id, { jobId: id }),
  );
}

/** The confirm queue's decision and confirm for this payout. */
export function ensureConfirmJob(deps: PipelineDeps, payout: PayoutRecord, sessionId: string): Promise<boolean> {
  return ensureJob(deps, payout.id, `${QUEUE.confirm}/${jobId.confirm(sessionId)}`, (id) =>
    enqueueConfirm(deps.queues, payout.id, sessionId, id),
  );
}

/** The confirm queue's cancel for this payout: the policy refused, or upstream cancelled. */
export function ensureCancelJob(deps: PipelineDeps, payout: PayoutRecord, sessionId: string): Promise<boolean> {
  return ensureJob(deps, payout.id, `${QUEUE.confirm}/${jobId.cancel(sessionId)}`, (id) =>
    enqueueCancel(deps.queues, payout.id, sessionId, id),
  );
}

/**
 * The delivery of the payout's event to one destination it is still owed to: its callback_url
 * (remembered as the payout's last job, as the final step recorded it), or a webhook endpoint
 * (remembered with the event, one per endpoint), so that each destination is re-driven on its own
 * and none that already has the event is sent it again.
 */
export function ensureDeliveryJob(
  deps: PipelineDeps,
  payout: PayoutRecord,
  event: NotifyJob['event'],
  destination: string,
): Promise<boolean> {
  const usual = `${QUEUE.notify}/${jobId.delivery(payout.id, event, destination)}`;
  const add = (id: string) => enqueueNotify(deps.queues, payout.id, event, id, destination);
  if (destination === CALLBACK_URL) return ensureJob(deps, payout.id, usual, add);
  const evt = eventIdOf(payout.id, event);
  return ensureJob(deps, payout.id, usual, add, {
    get: () => deps.store.events.lastJob(evt, destination),
    set: (job) => deps.store.events.setLastJob(evt, destination, job),
  });
}
