import type { NotifyJob, PayoutRecord } from '../payouts/schemas.js';
import { enqueueCancel, enqueueConfirm, enqueueNotify, enqueueStart, isPending, jobId, QUEUE } from '../queues.js';
import type { PipelineDeps } from './pipeline-deps.js';

/**
 * Makes sure a job drives this payout on: the last job it was given, and the step's usual job, are
 * checked first; when neither is still to run (lost, finished or failed for good), a new job is
 * added under a new id (BullMQ keeps a finished job's id and would drop the add). Returns whether
 * one was added. Used by the reconciler and by jobs that learn from session/status that a step is due.
 */
async function ensureJob(deps: PipelineDeps, payoutId: string, usual: string, add: (id: string) => Promise<string>): Promise<boolean> {
  const last = await deps.store.lastJob(payoutId);
  if ((last && (await isPending(deps.queues, last))) || (await isPending(deps.queues, usual))) return false;
  // One id per reconcile round: two checks of the same payout at once add one job, not two.
  const round = Math.floor(Date.now() / deps.timing.reconcileAfterMs);
  const added = await add(jobId.again(usual.slice(usual.indexOf('/') + 1), round));
  await deps.store.setLastJob(payoutId, added);
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

export function ensureNotifyJob(deps: PipelineDeps, payout: PayoutRecord, event: NotifyJob['event']): Promise<boolean> {
  return ensureJob(deps, payout.id, `${QUEUE.notify}/${jobId.notify(payout.id, event)}`, (id) =>
    enqueueNotify(deps.queues, payout.id, event, id),
  );
}
