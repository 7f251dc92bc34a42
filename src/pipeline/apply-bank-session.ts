import { NotFinalYet } from '../bank131/errors.js';
import type { BankSession } from '../bank131/schemas.js';
import { bankFacts, describeSession, verdictOf } from '../payouts/bank-verdict.js';
import type { PayoutRecord } from '../payouts/schemas.js';
import { isTerminal } from '../payouts/state-machine.js';
import { ensureConfirmJob, ensureStartJob } from './ensure-job.js';
import type { PipelineDeps } from './pipeline-deps.js';
import { takeStep } from './take-step.js';

/**
 * Where the bank's word came from. A webhook arrives while our own job for the payout may still be
 * running, so it only moves states; session/status is asked by the reconciler or by a job that
 * resolves an unknown outcome, and it also re-drives a job that was lost.
 */
export type SessionSource = 'webhook' | 'status';

/**
 * Applies what the bank says about a payout's session, whatever told us (a webhook, session/status):
 * the one place that turns the bank's word into named steps (src/payouts/steps.ts). Every branch
 * moves only from the states it applies to, so a duplicate, late or out-of-order report changes
 * nothing. Throws NotFinalYet when the bank has not decided yet (a session in status `error`, a
 * status we do not know): ask again later, never fail the payout for it.
 */
export async function applyBankSession(deps: PipelineDeps, payout: PayoutRecord, session: BankSession, source: SessionSource): Promise<string> {
  const log = deps.log.child({ payoutId: payout.id, sessionId: session.id, source });
  if (payout.sessionId !== session.id) {
    log.warn({ recorded: payout.sessionId }, 'a session that is not the recorded one; nothing changed');
    return 'not our session';
  }
  const target = { id: payout.id, sessionId: session.id };
  const said = `${source === 'webhook' ? 'webhook' : 'session/status'}: ${describeSession(session)}`;
  const verdict = verdictOf(session);
  const state = payout.state;

  switch (verdict.kind) {
    case 'paid': {
      if (state === 'succeeded') return 'already succeeded';
      if (isTerminal(state)) {
        log.error({ state }, 'the bank reports a payout paid that we recorded as ended unpaid: needs an operator');
        return 'paid but recorded otherwise';
      }
      if (state !== 'confirming' && state !== 'confirmed') log.error({ state }, 'the bank reports a payout paid that we never confirmed');
      const r = await takeStep(deps, 'succeed', target, { facts: bankFacts(session), why: `${said}: paid` });
      return r.ok ? 'succeeded' : 'no longer applies';
    }
    case 'unpaid': {
      if (isTerminal(state)) return `already ${state}`;
      if (state === 'cancelling') {
        const r = await takeStep(deps, 'markCancelled', target, { why: `${said}: session cancelled as asked` });
        return r.ok ? 'cancelled' : 'no longer applies';
      }
      const r = await takeStep(deps, 'fail', target, { code: verdict.code, description: verdict.description, facts: bankFacts(session), why: `${said}: ended unpaid (${verdict.code})` });
      return r.ok ? 'failed' : 'no longer applies';
    }
    case 'awaiting_confirm': {
      if (state === 'session_created' || state === 'awaiting_funds' || state === 'started') {
        const r = await takeStep(deps, 'awaitConfirmation', target, { reported: verdict.reported, facts: bankFacts(session), why: `${said}: the bank waits for our confirm` });
        return r.ok ? 'awaiting confirmation' : 'no longer applies';
      }
      if (state === 'awaiting_confirmation' || state === 'confirming' || state === 'cancelling') {
        // Our decision (or its call to the bank) is due; from a webhook, the job is in hand already.
        if (source === 'webhook') return 'decision in hand';
        return (await ensureConfirmJob(deps, payout, session.id)) ? 'decision re-driven' : 'decision in hand';
      }
      if (state === 'cancelled' || state === 'failed' || state === 'expired') {
        // The order ended before the bank asked: release the session now rather than let it time
        // out. Best effort: an unconfirmed session moves no money either way.
        await deps.bank.cancelSession(session.id, { idempotencyKey: `${session.id}-cancel` }).catch((err: Error) => log.info({ err: err.message }, 'could not cancel the stray session'));
        return 'stray session cancelled';
      }
      return `nothing to do (${state})`;
    }
    case 'in_progress': {
      if (state === 'session_created' || state === 'awaiting_funds') {
        const r = await takeStep(deps, 'markStarted', target, { facts: bankFacts(session), why: `${said}: the payout started` });
        return r.ok ? 'started' : 'no longer applies';
      }
      if (state === 'confirming' && verdict.payoutStatus === 'in_progress') {
        const r = await takeStep(deps, 'markConfirmed', target, { why: `${said}: our confirm landed` });
        return r.ok ? 'confirmed' : 'no longer applies';
      }
      if (state === 'cancelling' && source === 'status') {
        return (await ensureConfirmJob(deps, payout, session.id)) ? 'cancel re-driven' : 'cancel in hand';
      }
      return `waiting for the bank (${state})`;
    }
    case 'created': {
      if ((state === 'session_created' || state === 'awaiting_funds') && source === 'status') {
        return (await ensureStartJob(deps, payout)) ? 'start re-driven' : 'start in hand';
      }
      if (state === 'cancelling' && source === 'status') {
        return (await ensureConfirmJob(deps, payout, session.id)) ? 'cancel re-driven' : 'cancel in hand';
      }
      return `waiting (${state})`;
    }
    case 'unknown':
      throw new NotFinalYet(payout.id, `the bank reports session status ${verdict.status}`);
  }
}
