import { bankFor } from './bank-for.js';
import { NotFinalYet } from '../bank131/errors.js';
import type { BankSession } from '../bank131/schemas.js';
import { bankFacts, describeSession, verdictOf, type BankVerdict } from '../payouts/bank-verdict.js';
import { bankDecision, bankWordOf, type BankStep, type RedrivenJob, type SessionSource } from '../payouts/bank-word.js';
import { idempotencyKey } from '../payouts/idempotency-key.js';
import type { PayoutRecord } from '../payouts/schemas.js';
import { STEPS } from '../payouts/steps.js';
import type { TransitionResult } from '../store/payout-store.js';
import { ensureCancelJob, ensureConfirmJob, ensureStartJob } from './ensure-job.js';
import type { JobOutcome } from './job-outcome.js';
import type { PipelineDeps } from './pipeline-deps.js';
import { takeStep, targetOf, type StepTarget } from './take-step.js';

/**
 * Applies what the bank says about a payout's session, whatever told us (a webhook, session/status).
 * What to do is decided by one table, src/payouts/bank-word.ts (the bank's word × the payout's
 * state); this does it: takes the step, enqueues the job, calls the bank. Throws NotFinalYet when
 * the bank has not decided yet (a session in status `error`, a status we do not know): ask again
 * later, never fail the payout for it.
 */
export async function applyBankSession(
  deps: PipelineDeps,
  payout: PayoutRecord,
  session: BankSession,
  source: SessionSource,
): Promise<JobOutcome> {
  const log = deps.log.child({ payoutId: payout.id, sessionId: session.id, source });
  if (payout.sessionId !== session.id) {
    log.warn({ recorded: payout.sessionId }, 'a session that is not the recorded one; nothing changed');
    return { outcome: 'not_our_session' };
  }
  const target: StepTarget = { ...targetOf(payout), sessionId: session.id };
  const said = `${source === 'webhook' ? 'webhook' : 'session/status'}: ${describeSession(session)}`;
  const verdict = verdictOf(session);
  const decision = bankDecision(bankWordOf(verdict), payout.state, source);

  switch (decision.act) {
    case 'step': {
      // a repeated report of the return already recorded changes nothing
      if (decision.step === 'updateReturn' && sameReturn(payout, verdict)) return { outcome: 'already_final', state: payout.state };
      if (decision.alarm) log.error({ state: payout.state }, 'the bank reports a payout paid that we never confirmed');
      const r = await takeBankStep(deps, decision.step, target, verdict, session, said);
      if (decision.then) {
        // Whether or not this run took the first step (another may have), the second follows from its own from-state.
        const then = await takeBankStep(deps, decision.then, target, verdict, session, said);
        if (then.ok) return { outcome: STEPS[decision.then].to };
      }
      return r.ok ? { outcome: STEPS[decision.step].to } : { outcome: 'no_longer_applies' };
    }
    case 'redrive': {
      if (decision.first === 'reportAgain') {
        // A decision taken afresh reads what the bank says now, from the record like every decision.
        const why = `${said}: the bank still waits for our confirm; decided afresh`;
        const r = await takeStep(deps, 'reportAgain', target, { reported: reportedIn(verdict), why });
        if (!r.ok) return { outcome: 'no_longer_applies' };
      }
      const added = await ensure(deps, decision.job, payout, session.id);
      return { outcome: added ? `${decision.job}_redriven` : `${decision.job}_in_hand` };
    }
    case 'in_hand':
      return { outcome: `${decision.job}_in_hand` };
    case 'cancel_stray_session':
      // Best effort: an unconfirmed session moves no money either way.
      await (
        await bankFor(deps, payout)
      )
        .cancelSession(session.id, { idempotencyKey: idempotencyKey(session.id, 'cancel', payout.keyGenerations.cancel) })
        .catch((err: Error) => log.info({ err: err.message }, 'could not cancel the stray session'));
      return { outcome: 'stray_session_cancelled' };
    case 'nothing':
      return { outcome: decision.outcome, state: payout.state };
    case 'operator':
      log.error({ state: payout.state }, 'the bank reports a payout paid that we recorded as ended unpaid: needs an operator');
      return { outcome: 'paid_but_ended_unpaid' };
    case 'not_final':
      throw new NotFinalYet(payout.id, `the bank reports session status ${verdict.kind === 'unknown' ? verdict.status : verdict.kind}`);
  }
}

/** The step's input, read from the session the bank reported. */
function takeBankStep(
  deps: PipelineDeps,
  step: BankStep,
  target: StepTarget,
  verdict: BankVerdict,
  session: BankSession,
  said: string,
): Promise<TransitionResult> {
  const facts = bankFacts(session);
  switch (step) {
    case 'succeed':
      return takeStep(deps, 'succeed', target, { facts, why: `${said}: paid` });
    case 'fail': {
      const { code, description } = failureIn(verdict);
      return takeStep(deps, 'fail', target, { code, description, facts, why: `${said}: ended unpaid (${code})` });
    }
    case 'markCancelled':
      return takeStep(deps, 'markCancelled', target, { why: `${said}: session cancelled as asked` });
    case 'awaitConfirmation':
      return takeStep(deps, 'awaitConfirmation', target, {
        reported: reportedIn(verdict),
        facts,
        why: `${said}: the bank waits for our confirm`,
      });
    case 'markStarted':
      return takeStep(deps, 'markStarted', target, { facts, why: `${said}: the payout started` });
    case 'markConfirmed':
      return takeStep(deps, 'markConfirmed', target, { why: `${said}: our confirm landed` });
    case 'markReturned': {
      const returned = returnedIn(verdict);
      const why = `${said}: ${returned.amount} kopecks returned by the card's bank (${returned.reason})`;
      return takeStep(deps, 'markReturned', target, { returned, facts, why });
    }
    case 'updateReturn': {
      const returned = returnedIn(verdict);
      return takeStep(deps, 'updateReturn', target, { returned, why: `${said}: ${returned.amount} kopecks returned in all` });
    }
  }
}

function ensure(deps: PipelineDeps, job: RedrivenJob, payout: PayoutRecord, sessionId: string): Promise<boolean> {
  if (job === 'start') return ensureStartJob(deps, payout);
  return job === 'confirm' ? ensureConfirmJob(deps, payout, sessionId) : ensureCancelJob(deps, payout, sessionId);
}

// The table takes `fail` only on an unpaid word, and asks for a decision only when the bank waits for one
// (test/unit/bank-word.test.ts): anything else is a table that contradicts itself.
function failureIn(verdict: BankVerdict): { code: string; description: string } {
  if (verdict.kind !== 'unpaid') throw new Error(`the bank's word table takes fail on a ${verdict.kind} verdict`);
  return verdict;
}
/** The bank reports the return the payout records: the same sum, up to the same refund. */
function sameReturn(payout: PayoutRecord, verdict: BankVerdict): boolean {
  if (verdict.kind !== 'returned' || !payout.returned) return false;
  return verdict.returned.amount === payout.returned.amount && verdict.returned.refundId === payout.returned.refundId;
}
function returnedIn(verdict: BankVerdict) {
  if (verdict.kind !== 'returned') throw new Error(`the bank's word table takes markReturned on a ${verdict.kind} verdict`);
  return verdict.returned;
}
function reportedIn(verdict: BankVerdict) {
  if (verdict.kind !== 'awaiting_confirm') throw new Error(`the bank's word table decides afresh on a ${verdict.kind} verdict`);
  return verdict.reported;
}
