import type { Job } from 'bullmq';
import { NotFinalYet, isPermanent } from '../src/bank131/errors.js';
import { verdictOf } from '../src/payouts/bank-verdict.js';
import { decide } from '../src/payouts/confirmation-policy.js';
import { ConfirmJob, bankMetadataFor, type PayoutIn } from '../src/payouts/schemas.js';
import { applyBankSession } from '../src/pipeline/apply-bank-session.js';
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
  return async (job: Job<ConfirmJob>): Promise<string> => {
    const { payoutId, sessionId } = ConfirmJob.parse(job.data);
    const payout = await deps.store.get(payoutId);
    if (!payout) return 'missing';
    if (payout.sessionId !== sessionId) {
      deps.log.warn({ payoutId, sessionId, recorded: payout.sessionId }, 'confirm job for a session that is not the recorded one; nothing changed');
      return 'not our session';
    }
    switch (payout.state) {
      case 'awaiting_confirmation': {
        const decided = await takeDecision(deps, payout);
        if (decided === 'confirming') return sendConfirm(deps, payout);
        if (decided === 'cancelling') return sendCancel(deps, payout);
        return 'decided elsewhere';
      }
      case 'confirming':
        return resolveThenConfirm(deps, payout);
      case 'cancelling':
        return resolveThenCancel(deps, payout);
      default:
        return `nothing to do (${payout.state})`;
    }
  };
}

async function takeDecision(deps: PipelineDeps, payout: PayoutIn<'awaiting_confirmation'>): Promise<'confirming' | 'cancelling' | null> {
  const reported = payout.reported ?? { sessionId: '', payouts: [] };
  const decision = decide(
    { sessionId: payout.sessionId, amount: payout.order.amount_details.amount, currency: payout.order.amount_details.currency, metadata: bankMetadataFor(payout.id) },
    reported,
  );
  if (decision.action === 'confirm') {
    const r = await takeStep(deps, 'decideConfirm', payout, { why: 'policy: the bank waits for confirm; session, amount, currency and metadata match the order' });
    return r.ok ? 'confirming' : null;
  }
  const r = await takeStep(deps, 'decideCancel', payout, {
    code: `policy_${decision.failedCheck}_mismatch`,
    description: decision.detail,
    why: `policy: ${decision.failedCheck} check failed: ${decision.detail}`,
  });
  return r.ok ? 'cancelling' : null;
}

async function sendConfirm(deps: PipelineDeps, payout: { id: string; sessionId: string }): Promise<string> {
  try {
    await deps.bank.confirmSession(payout.sessionId, { idempotencyKey: `${payout.sessionId}-confirm` });
  } catch (err) {
    if (isPermanent(err)) return resolveThenConfirm(deps, payout, true);
    throw err; // the next run finds `confirming` and asks session/status first
  }
  await takeStep(deps, 'markConfirmed', payout, { why: 'bank accepted session/confirm' });
  return 'confirmed';
}

async function sendCancel(deps: PipelineDeps, payout: { id: string; sessionId: string }): Promise<string> {
  try {
    await deps.bank.cancelSession(payout.sessionId, { idempotencyKey: `${payout.sessionId}-cancel` });
  } catch (err) {
    if (isPermanent(err)) return resolveThenCancel(deps, payout, true);
    throw err;
  }
  await takeStep(deps, 'markCancelled', payout, { why: 'bank accepted session/cancel' });
  return 'cancelled';
}

/** We are `confirming` but cannot know whether an earlier confirm reached the bank: ask. */
async function resolveThenConfirm(deps: PipelineDeps, payout: { id: string; sessionId: string }, afterRefusal = false): Promise<string> {
  const session = await deps.bank.sessionStatus(payout.sessionId);
  if (verdictOf(session).kind === 'awaiting_confirm') {
    if (afterRefusal) throw new NotFinalYet(payout.id, 'the bank refused session/confirm but still waits for it');
    return sendConfirm(deps, payout);
  }
  return applyCurrent(deps, payout.id, session);
}

async function resolveThenCancel(deps: PipelineDeps, payout: { id: string; sessionId: string }, afterRefusal = false): Promise<string> {
  const session = await deps.bank.sessionStatus(payout.sessionId);
  const kind = verdictOf(session).kind;
  if (kind === 'awaiting_confirm' || kind === 'in_progress' || kind === 'created') {
    if (afterRefusal) throw new NotFinalYet(payout.id, `the bank refused session/cancel; the session is still ${session.status ?? 'open'}`);
    return sendCancel(deps, payout);
  }
  return applyCurrent(deps, payout.id, session);
}

/** The bank's answer, applied to the payout as it stands now (it may have moved meanwhile). */
async function applyCurrent(deps: PipelineDeps, payoutId: string, session: Parameters<typeof applyBankSession>[2]): Promise<string> {
  const current = await deps.store.get(payoutId);
  if (!current) return 'missing';
  return applyBankSession(deps, current, session, 'status');
}
