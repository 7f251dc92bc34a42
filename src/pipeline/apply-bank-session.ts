import { NotFinalYet } from '../bank131/errors.js';
import type { BankSession } from '../bank131/schemas.js';
import { bankFacts, describeSession, verdictOf } from '../payouts/bank-verdict.js';
import { idempotencyKey } from '../payouts/idempotency-key.js';
import type { PayoutRecord } from '../payouts/schemas.js';
import { isTerminal } from '../payouts/state-machine.js';
import { ensureConfirmJob, ensureStartJob } from './ensure-job.js';
import type { PipelineDeps } from './pipeline-deps.js';

/** The codes with which the bank ends a session because we (or nobody in particular) cancelled it. */
const CANCEL_CODES = new Set(['session_cancelled_by_partner', 'session_cancelled']);
import { takeStep } from './take-step.js';

/**
 * Where the bank's word came from. A webhook, or session/status asked by a job resolving an
 * unknown outcome (or by a check a webhook asked for), only moves states: the payout's own jobs
 * may still be running. Only the reconciler's check of a payout that sat quietly past
 * RECONCILE_AFTER_MS (`reconcile`) also re-drives a job presumed lost.
 */
export type SessionSource = 'webhook' | 'status' | 'reconcile';

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
  const target = { id: payout.id, sessionId: session.id, createdAt: payout.createdAt, order: payout.order };
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
      if (state === 'cancelling' && CANCEL_CODES.has(verdict.code)) {
        const r = await takeStep(deps, 'markCancelled', target, { why: `${said}: session cancelled as asked` });
        return r.ok ? 'cancelled' : 'no longer applies';
      }
      // (A payout we were cancelling that the bank ended its own way, e.g. declined or timed out,
      // ends failed with the bank's code.)
      const r = await takeStep(deps, 'fail', target, { code: verdict.code, description: verdict.description, facts: bankFacts(session), why: `${said}: ended unpaid (${verdict.code})` });
      return r.ok ? 'failed' : 'no longer applies';
    }
    case 'awaiting_confirm': {
      if (state === 'session_created' || state === 'awaiting_funds' || state === 'started') {
        const r = await takeStep(deps, 'awaitConfirmation', target, { reported: verdict.reported, facts: bankFacts(session), why: `${said}: the bank waits for our confirm` });
        return r.ok ? 'awaiting confirmation' : 'no longer applies';
      }
      if (state === 'awaiting_confirmation' || state === 'confirming' || state === 'cancelling') {
        // Our decision (or its call to the bank) is due; unless the reconciler presumes it lost, the job is in hand.
        if (source !== 'reconcile') return 'decision in hand';
        // A decision taken afresh reads what the bank says now, from the record like every decision.
        if (state === 'awaiting_confirmation') {
          const r = await takeStep(deps, 'reportAgain', target, { reported: verdict.reported, why: `${said}: the bank still waits for our confirm; decided afresh` });
          if (!r.ok) return 'no longer applies';
        }
        return (await ensureConfirmJob(deps, payout, session.id)) ? 'decision re-driven' : 'decision in hand';
      }
      if (state === 'cancelled' || state === 'failed' || state === 'expired') {
        // The order ended before the bank asked: release the session now rather than let it time
        // out. Best effort: an unconfirmed session moves no money either way.
        await deps.bank
          .cancelSession(session.id, { idempotencyKey: idempotencyKey(session.id, 'cancel', payout.keyGenerations.cancel) })
          .catch((err: Error) => log.info({ err: err.message }, 'could not cancel the stray session'));
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
      if (state === 'cancelling' && source === 'reconcile') {
        return (await ensureConfirmJob(deps, payout, session.id)) ? 'cancel re-driven' : 'cancel in hand';
      }
      return `waiting for the bank (${state})`;
    }
    case 'created': {
      if ((state === 'session_created' || state === 'awaiting_funds') && source === 'reconcile') {
        return (await ensureStartJob(deps, payout)) ? 'start re-driven' : 'start in hand';
      }
      if (state === 'cancelling' && source === 'reconcile') {
        return (await ensureConfirmJob(deps, payout, session.id)) ? 'cancel re-driven' : 'cancel in hand';
      }
      return `waiting (${state})`;
    }
    case 'unknown':
      throw new NotFinalYet(payout.id, `the bank reports session status ${verdict.status}`);
  }
}
