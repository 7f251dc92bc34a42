import { bankFor } from './bank-for.js';
import { NotFinalYet } from '../bank131/errors.js';
import { isTerminal } from '../payouts/state-machine.js';
import { enqueueCheck, jobId } from '../queues.js';
import { applyBankSession } from './apply-bank-session.js';
import { takeStep } from './take-step.js';
import { ensureStartJob } from './ensure-job.js';
import { redriveNotifications } from './redrive-notify.js';
import type { JobOutcome } from './job-outcome.js';
import type { PipelineDeps } from './pipeline-deps.js';
import { payoutsRetired } from '../metrics.js';

/** Payouts taken per sweep; the rest wait for the next one (RECONCILE_INTERVAL_MS later). */
export const SWEEP_LIMIT = 1_000;

/**
 * The reconciler's sweep: every payout whose due time has come (it sat in a state longer than
 * RECONCILE_AFTER_MS, or its callback is not acknowledged yet) gets a check job. Taking a payout
 * pushes its due time forward in the same step, so the next sweep skips it while it is checked.
 */
export async function sweep(deps: PipelineDeps): Promise<number> {
  const now = Date.now();
  // Seen by /readyz and a metric: a sweep that stops (its schedule removed, its queue paused, no
  // worker) strands nothing at once, but nothing lost is found again until it runs.
  await deps.store.markSwept(now);
  const ids = await deps.store.takeDue(now, now + deps.timing.reconcileAfterMs, SWEEP_LIMIT);
  if (ids.length === 0) return 0;
  await deps.queues.reconcile.addBulk(
    ids.map((payoutId) => ({ name: 'check', data: { payoutId, reason: 'due' }, opts: { jobId: jobId.check(payoutId, now) } })),
  );
  deps.log.info({ due: ids.length }, 'reconciler: payouts due for a check');
  return ids.length;
}

/**
 * Retention: finished payouts whose callback upstream has, and that have not changed for
 * PAYOUT_RETENTION_DAYS, are removed (record, audit, indexes); each leaves a tombstone, so its id
 * is still answered as taken and can never be paid again.
 */
export async function retireFinished(deps: PipelineDeps, now = Date.now()): Promise<number> {
  const retired = await deps.store.retireFinished(new Date(now - deps.timing.retentionMs));
  payoutsRetired.inc(retired);
  if (retired > 0) deps.log.info({ retired, retentionDays: deps.timing.retentionMs / 86_400_000 }, 'retention: finished payouts removed');
  return retired;
}

/**
 * Drives one payout on from wherever it stands: a missing start job is enqueued again; a payout
 * with a session is checked against session/status and the answer applied (a fresh decision when
 * the bank waits for our confirm); a terminal payout's event is delivered again to each
 * destination that has not acknowledged it. It never sends a money-moving call itself: those stay
 * with the jobs, behind their compare-and-set steps.
 */
export async function checkPayout(deps: PipelineDeps, payoutId: string, reason: string): Promise<JobOutcome> {
  // Only a payout found due has sat quietly long enough for its jobs to be presumed lost.
  const due = reason === 'due';
  const payout = await deps.store.get(payoutId);
  if (!payout) {
    await deps.store.notDue(payoutId);
    return { outcome: 'missing' };
  }
  if (isTerminal(payout.state)) return redriveNotifications(deps, payout, due);
  if (payout.state === 'awaiting_card') {
    if (payout.collect && Date.now() < payout.collect.expiresAt) {
      await deps.store.setDue(payoutId, payout.collect.expiresAt);
      return { outcome: 'waiting_for_card' };
    }
    const r = await takeStep(deps, 'expire', payout, {});
    return r.ok ? { outcome: 'expired' } : { outcome: 'no_longer_applies' };
  }
  if (payout.state === 'awaiting_review') {
    // a hold nobody lifted in time is a refusal: nothing was ever sent to the bank
    const expiresAt = payout.review?.expiresAt ?? 0;
    if (Date.now() < expiresAt) {
      await deps.store.setDue(payoutId, expiresAt);
      return { outcome: 'waiting_for_review' };
    }
    const r = await takeStep(deps, 'expireReview', payout, {});
    return r.ok ? { outcome: 'rejected' } : { outcome: 'no_longer_applies' };
  }
  if (payout.state === 'queued')
    return due && (await ensureStartJob(deps, payout)) ? { outcome: 'start_redriven' } : { outcome: 'start_in_hand' };
  if (payout.sessionId === null) return { outcome: 'nothing_to_do', state: payout.state };
  try {
    const session = await (await bankFor(deps, payout)).sessionStatus(payout.sessionId);
    return await applyBankSession(deps, payout, session, due ? 'found_due' : 'status');
  } catch (err) {
    if (!(err instanceof NotFinalYet)) throw err;
    // Visible in the audit trail: why this payout has not moved, each time it is looked at.
    await deps.store.note(payoutId, `session/status: ${err.reason}; asked again in ${Math.round(deps.timing.reconcileAfterMs / 1000)} s`);
    return { outcome: 'not_final_yet' };
  }
}

/** Something (a webhook type we do not act on, a status we do not know) asks for a check now. */
export function requestCheck(deps: PipelineDeps, payoutId: string, reason: string): Promise<void> {
  return enqueueCheck(deps.queues, payoutId, reason);
}
