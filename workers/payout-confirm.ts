import { bankFor } from '../src/pipeline/bank-for.js';
import { UnrecoverableError, type Job } from 'bullmq';
import { Bank131ApiError, isPermanent } from '../src/bank131/errors.js';
import type { BankSession } from '../src/bank131/schemas.js';
import { verdictOf } from '../src/payouts/bank-verdict.js';
import { decide } from '../src/payouts/confirmation-policy.js';
import { idempotencyKey, type KeyedAction } from '../src/payouts/idempotency-key.js';
import { ConfirmJob, bankMetadataFor, type PayoutIn, type PayoutWithSession, type WebhookJob } from '../src/payouts/schemas.js';
import { QUEUE } from '../src/queues.js';
import { applyWebhook } from './bank-webhooks.js';
import { applyBankSession } from '../src/pipeline/apply-bank-session.js';
import type { JobOutcome } from '../src/pipeline/job-outcome.js';
import type { PipelineDeps } from '../src/pipeline/pipeline-deps.js';
import { takeStep } from '../src/pipeline/take-step.js';

/**
 * payout-confirm: the confirmation policy decides, then `session/confirm` or `session/cancel`;
 * upstream's cancel (job name `cancel`) lands here too.
 *
 * The decision is a compare-and-set awaiting_confirmation → confirming | cancelling, so only one
 * run, ever, takes it. A run that finds the payout already confirming or cancelling (a retry, a
 * crash, a lost lock, the reconciler) does not know whether the call reached the bank: it asks
 * session/status. Every call carries one idempotency key per session and action, the same on
 * every try.
 */
export function confirmProcessor(deps: PipelineDeps) {
  // told apart by what they carry: a webhook's signed body is verified before a word of it counts
  return async (job: Job<ConfirmJob | WebhookJob>): Promise<JobOutcome> =>
    'body' in (job.data ?? {}) || 'signature' in (job.data ?? {})
      ? await confirmOnWebhook(deps, job as Job<WebhookJob>)
      : await confirmOrCancel(deps, ConfirmJob.parse(job.data));
}

/**
 * The bank's signed `ready_to_confirm`, put here by the web: verified and applied like any webhook
 * (workers/bank-webhooks.ts), then, in the same run, the decision it calls for, with no confirm job
 * in between (the payout records this job as its last, so the reconciler knows it is in hand). A
 * run that dies between the two is run again by BullMQ and finds the payout waiting for its
 * decision; the decision itself is a compare-and-set, so a confirm job of the reconciler's running
 * at the same time cannot make it twice.
 */
async function confirmOnWebhook(deps: PipelineDeps, job: Job<WebhookJob>): Promise<JobOutcome> {
  const applied = await applyWebhook({ ...deps, inline: { confirm: `${QUEUE.confirm}/${job.id ?? ''}` } }, job);
  if (!applied.payout) return applied.outcome;
  const decided = await confirmOrCancel(deps, { payoutId: applied.payout.id, sessionId: applied.payout.sessionId });
  return decided.outcome === 'nothing_to_do' ? applied.outcome : decided;
}

async function confirmOrCancel(deps: PipelineDeps, { payoutId, sessionId }: ConfirmJob): Promise<JobOutcome> {
  const payout = await deps.store.get(payoutId);
  if (!payout) return { outcome: 'missing' };
  if (payout.sessionId !== sessionId) {
    deps.log.warn(
      { payoutId, sessionId, recorded: payout.sessionId },
      'confirm job for a session that is not the recorded one; nothing changed',
    );
    return { outcome: 'not_our_session' };
  }
  switch (payout.state) {
    case 'awaiting_confirmation': {
      const decided = await takeDecision(deps, payout);
      if (decided === 'confirming') return sendConfirm(deps, payout);
      if (decided === 'cancelling') return sendCancel(deps, payout);
      return { outcome: 'no_longer_applies' }; // decided by another run
    }
    case 'confirming':
      return resolveThenConfirm(deps, payout);
    case 'cancelling':
      return resolveThenCancel(deps, payout);
    default:
      return { outcome: 'nothing_to_do', state: payout.state };
  }
}

/**
 * The policy's inputs are the payout record alone: the order, the card's last 4 we learned, and
 * what the bank reported in a webhook the worker verified or a session/status answer.
 */
async function takeDecision(deps: PipelineDeps, payout: PayoutIn<'awaiting_confirmation'>): Promise<'confirming' | 'cancelling' | null> {
  const { order } = payout;
  const decision = decide(
    {
      sessionId: payout.sessionId,
      amount: order.amount_details.amount,
      currency: order.amount_details.currency,
      metadata: bankMetadataFor(payout.id),
      last4: payout.givenLast4,
      recipient: order.recipient ?? payout.recipientName ?? undefined,
    },
    payout.reported ?? { sessionId: '', payouts: [] },
  );
  if (decision.action === 'confirm') {
    const r = await takeStep(deps, 'decideConfirm', payout, {
      why: 'policy: the bank waits for confirm; session, amount, currency, metadata, card and recipient match the order',
    });
    return r.ok ? 'confirming' : null;
  }
  const r = await takeStep(deps, 'decideCancel', payout, {
    code: `policy_${decision.failedCheck}_mismatch`,
    description: decision.detail,
    why: `policy: ${decision.failedCheck} check failed: ${decision.detail}`,
  });
  return r.ok ? 'cancelling' : null;
}

/** What a refused or unanswered call leaves us to do, decided by asking the bank. */
type Refusal = 'refused' | 'key_exists' | null;
const refusalOf = (err: unknown): Refusal =>
  err instanceof Bank131ApiError && err.code === 'idempotency_key_already_exists' ? 'key_exists' : isPermanent(err) ? 'refused' : null;

async function sendConfirm(deps: PipelineDeps, payout: PayoutWithSession): Promise<JobOutcome> {
  try {
    await (
      await bankFor(deps, payout)
    ).confirmSession(payout.sessionId, {
      idempotencyKey: idempotencyKey(payout.sessionId, 'confirm', payout.keyGenerations.confirm),
    });
  } catch (err) {
    const refusal = refusalOf(err);
    if (refusal) return resolveThenConfirm(deps, payout, refusal);
    throw err; // the next run finds `confirming` and asks session/status first
  }
  await takeStep(deps, 'markConfirmed', payout, { why: 'bank accepted session/confirm' });
  return { outcome: 'confirmed' };
}

async function sendCancel(deps: PipelineDeps, payout: PayoutWithSession): Promise<JobOutcome> {
  try {
    await (
      await bankFor(deps, payout)
    ).cancelSession(payout.sessionId, {
      idempotencyKey: idempotencyKey(payout.sessionId, 'cancel', payout.keyGenerations.cancel),
    });
  } catch (err) {
    const refusal = refusalOf(err);
    if (refusal) return resolveThenCancel(deps, payout, refusal);
    throw err;
  }
  await takeStep(deps, 'markCancelled', payout, { why: 'bank accepted session/cancel' });
  return { outcome: 'cancelled' };
}

/**
 * We are `confirming` but cannot know whether an earlier confirm reached the bank, or the bank
 * refused it: ask, and send again only if the bank still waits and did not refuse.
 */
async function resolveThenConfirm(deps: PipelineDeps, payout: PayoutWithSession, refusal: Refusal = null): Promise<JobOutcome> {
  const session = await (await bankFor(deps, payout)).sessionStatus(payout.sessionId);
  if (verdictOf(session).kind !== 'awaiting_confirm') return applyCurrent(deps, payout.id, session);
  if (refusal) return stillWaiting(deps, payout, 'confirm', refusal, session);
  return sendConfirm(deps, payout);
}

async function resolveThenCancel(deps: PipelineDeps, payout: PayoutWithSession, refusal: Refusal = null): Promise<JobOutcome> {
  const session = await (await bankFor(deps, payout)).sessionStatus(payout.sessionId);
  const kind = verdictOf(session).kind;
  if (kind !== 'awaiting_confirm' && kind !== 'in_progress' && kind !== 'created') return applyCurrent(deps, payout.id, session);
  if (refusal) return stillWaiting(deps, payout, 'cancel', refusal, session);
  return sendCancel(deps, payout);
}

/**
 * The bank refused our call, yet the session still waits for it. A key it remembers from a call
 * that never acted moves to the next generation, so the next try can land; a refusal is not
 * repeated at once. Either way the job ends here and the reconciler tries again after
 * RECONCILE_AFTER_MS, until the bank acts or ends the session itself (e.g. confirm_timeout).
 */
async function stillWaiting(
  deps: PipelineDeps,
  payout: PayoutWithSession,
  action: KeyedAction,
  refusal: 'refused' | 'key_exists',
  session: BankSession,
): Promise<never> {
  const why = `the bank refused session/${action} (${refusal === 'key_exists' ? 'idempotency_key_already_exists' : 'a permanent refusal'}) but the session is still ${session.status ?? 'open'}; tried again later`;
  if (refusal === 'key_exists') await deps.store.nextKeyGeneration(payout.id, action, `${why}, with a new idempotency key`);
  else await deps.store.note(payout.id, why);
  throw new UnrecoverableError(why);
}

/** The bank's answer, applied to the payout as it stands now (it may have moved meanwhile). */
async function applyCurrent(deps: PipelineDeps, payoutId: string, session: Parameters<typeof applyBankSession>[2]): Promise<JobOutcome> {
  const current = await deps.store.get(payoutId);
  if (!current) return { outcome: 'missing' };
  return applyBankSession(deps, current, session, 'status');
}
