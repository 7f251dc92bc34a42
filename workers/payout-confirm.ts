import { UnrecoverableError, type Job } from 'bullmq';
import { Bank131ApiError } from '../src/bank131/errors.js';
import type { BankSession } from '../src/bank131/schemas.js';
import { decide } from '../src/payouts/confirmation-policy.js';
import { ConfirmJob, bankMetadataFor, type PayoutRecord } from '../src/payouts/schemas.js';
import { move, type PipelineDeps } from './deps.js';

/**
 * payout-confirm: the confirmation policy decides, then `session/confirm` or `session/cancel`.
 *
 * The decision is a compare-and-set awaiting_confirmation → confirming | cancelling, so only one
 * run, ever, takes it. A run that finds the payout already confirming or cancelling (a retry, a
 * crash, a lost lock) does not know whether the call reached the bank: it asks session/status.
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
    if (payout.state === 'awaiting_confirmation') {
      const decided = await takeDecision(deps, payout);
      if (decided === 'confirming') return sendConfirm(deps, payout, job);
      if (decided === 'cancelling') return sendCancel(deps, payout, job);
      return 'decided elsewhere';
    }
    if (payout.state === 'confirming') return resolveThenConfirm(deps, payout, job);
    if (payout.state === 'cancelling') return resolveThenCancel(deps, payout, job);
    return `nothing to do (${payout.state})`;
  };
}

async function takeDecision(deps: PipelineDeps, payout: PayoutRecord): Promise<'confirming' | 'cancelling' | null> {
  const reported = payout.reported ?? { sessionId: '', payouts: [] };
  const decision = decide(
    { sessionId: payout.sessionId, amount: payout.order.amount_details.amount, currency: payout.order.amount_details.currency, metadata: bankMetadataFor(payout.id) },
    reported,
  );
  const result =
    decision.action === 'confirm'
      ? await move(deps, payout.id, { from: ['awaiting_confirmation'], to: 'confirming', why: 'policy: session, amount, currency and metadata match the order' })
      : await move(deps, payout.id, {
          from: ['awaiting_confirmation'],
          to: 'cancelling',
          why: `policy: ${decision.failedCheck} check failed: ${decision.detail}`,
          set: { error_code: `policy_${decision.failedCheck}_mismatch`, error_text: decision.detail },
        });
  if (!result.ok) return null;
  return decision.action === 'confirm' ? 'confirming' : 'cancelling';
}

async function sendConfirm(deps: PipelineDeps, payout: PayoutRecord, job: Job<ConfirmJob>): Promise<string> {
  const sessionId = payout.sessionId!;
  try {
    await deps.bank.confirmSession(sessionId, { idempotencyKey: `${sessionId}-confirm-${job.attemptsMade}` });
  } catch (err) {
    if (err instanceof Bank131ApiError && err.advice === 'permanent') return resolveThenConfirm(deps, payout, job, true);
    throw err; // the next run finds `confirming` and asks session/status first
  }
  await move(deps, payout.id, { from: ['confirming'], to: 'confirmed', why: 'bank accepted session/confirm' });
  return 'confirmed';
}

async function sendCancel(deps: PipelineDeps, payout: PayoutRecord, job: Job<ConfirmJob>): Promise<string> {
  try {
    await deps.bank.cancelSession(payout.sessionId!);
  } catch (err) {
    if (err instanceof Bank131ApiError && err.advice === 'permanent') return resolveThenCancel(deps, payout, job, true);
    throw err;
  }
  await move(deps, payout.id, { from: ['cancelling'], to: 'cancelled', why: 'bank accepted session/cancel' });
  return 'cancelled';
}

/** We are `confirming` but cannot know whether an earlier confirm reached the bank: ask. */
async function resolveThenConfirm(deps: PipelineDeps, payout: PayoutRecord, job: Job<ConfirmJob>, afterRefusal = false): Promise<string> {
  const session = await deps.bank.sessionStatus(payout.sessionId!);
  if (session.status === 'in_progress' && session.next_action === 'confirm') {
    if (afterRefusal) throw new Error('bank refused session/confirm but still waits for it; will try again');
    return sendConfirm(deps, payout, job);
  }
  if (session.status === 'in_progress' || session.status === 'accepted') {
    await move(deps, payout.id, { from: ['confirming'], to: 'confirmed', why: `session/status shows the confirm landed (${session.status})` });
    return 'confirmed (resolved through session/status)';
  }
  if (session.status === 'cancelled') {
    await failFromStatus(deps, payout, session, 'confirming');
    throw new UnrecoverableError(`session ${session.id} was cancelled by the bank before our confirm`);
  }
  throw new Error(`session ${session.id} is ${session.status}; will ask again`);
}

async function resolveThenCancel(deps: PipelineDeps, payout: PayoutRecord, job: Job<ConfirmJob>, afterRefusal = false): Promise<string> {
  const session = await deps.bank.sessionStatus(payout.sessionId!);
  if (session.status === 'cancelled') {
    await move(deps, payout.id, { from: ['cancelling'], to: 'cancelled', why: 'session/status shows the session cancelled' });
    return 'cancelled (resolved through session/status)';
  }
  if (session.status === 'in_progress' && !afterRefusal) return sendCancel(deps, payout, job);
  throw new Error(`session ${session.id} is ${session.status} while we cancel it; will ask again`);
}

async function failFromStatus(deps: PipelineDeps, payout: PayoutRecord, session: BankSession, from: 'confirming'): Promise<void> {
  const error = session.payouts[0]?.error ?? session.error;
  await move(deps, payout.id, {
    from: [from],
    to: 'failed',
    why: `session/status shows the session cancelled (${error?.code ?? 'no code'})`,
    set: { error_code: error?.code ?? 'session_cancelled', error_text: error?.description ?? 'the bank cancelled the session' },
  });
}
