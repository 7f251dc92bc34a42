import type { BankVerdict } from './bank-verdict.js';
import type { PayoutState } from './state-machine.js';

/**
 * What the bank's word about a payout's session does, in every state: the one place that decides
 * it (docs/architecture.md, "The bank's word"). Pure; src/pipeline/apply-bank-session.ts does what
 * the table says (takes the step, enqueues the job, calls the bank). A step is always taken from
 * its own from-states (src/payouts/steps.ts), never only from the state read, so a duplicate, late
 * or out-of-order report changes nothing.
 */

/** The bank's word as the table reads it: a verdict (src/payouts/bank-verdict.ts), with the two distinctions the lifecycle makes inside one. */
export const BANK_WORDS = [
  'paid',
  'returned',
  'session_cancelled',
  'unpaid',
  'awaiting_confirm',
  'payout_in_progress',
  'session_in_progress',
  'created',
  'unknown',
] as const;
export type BankWord = (typeof BANK_WORDS)[number];

/** The codes with which the bank ends a session because it was cancelled: ours landed (or nobody's in particular did). */
const CANCEL_CODES = new Set(['session_cancelled_by_partner', 'session_cancelled']);

export function bankWordOf(verdict: BankVerdict): BankWord {
  switch (verdict.kind) {
    case 'unpaid':
      return CANCEL_CODES.has(verdict.code) ? 'session_cancelled' : 'unpaid';
    case 'in_progress':
      // a payout in progress after our confirm is the confirm landing; before it, the start
      return verdict.payoutStatus === 'in_progress' ? 'payout_in_progress' : 'session_in_progress';
    default:
      return verdict.kind;
  }
}

/**
 * Who brings the word. A webhook, or session/status asked by a job resolving an unknown outcome (or
 * by a check a webhook asked for), only moves states: the payout's own jobs may still be running.
 * Only the reconciler's check of a payout found due (it sat quietly past RECONCILE_AFTER_MS, so its
 * job is presumed lost) may also re-drive a job: that is the only difference the source makes.
 */
export type SessionSource = 'webhook' | 'status' | 'found_due';

/** The steps the bank's word may take (their inputs are read from the session it reported). */
export type BankStep =
  'succeed' | 'fail' | 'markCancelled' | 'awaitConfirmation' | 'markStarted' | 'markConfirmed' | 'markReturned' | 'updateReturn';
export type RedrivenJob = 'start' | 'confirm' | 'cancel';

export type BankAction =
  /**
   * Take the step; `alarm`: logged as an error, since money moved that we never confirmed. `then`:
   * a second step right after (a payout paid and already returned is recorded as both, in order).
   */
  | { act: 'step'; step: BankStep; alarm?: 'paid_unconfirmed'; then?: 'markReturned' }
  /** Found due: enqueue the job again unless it is still to run (`first`: take this step before). Otherwise: `in_hand`. */
  | { act: 'redrive'; job: RedrivenJob; first?: 'reportAgain' }
  /** The order ended before the bank asked for our confirm: release the session (best effort, moves no money). */
  | { act: 'cancel_stray_session' }
  /** Nothing to do: the word is behind the payout, the bank is not done, or the payout ended as the bank says. */
  | { act: 'nothing'; outcome: 'nothing_to_do' | 'waiting_for_bank' | 'already_final' }
  /** The bank contradicts a final record: changes nothing, logged as an error for an operator. */
  | { act: 'operator' }
  /** The bank has not decided (status `error`, a status we do not know): ask again later, never fail for it. */
  | { act: 'not_final' };
/** What the table's answer comes to for one report: a re-drive not found due leaves the job in hand. */
export type BankDecision = BankAction | { act: 'in_hand'; job: RedrivenJob };

const take = (step: BankStep): BankAction => ({ act: 'step', step });
const SUCCEED_THEN_RETURN: BankAction = { act: 'step', step: 'succeed', then: 'markReturned' };
const PAID_UNCONFIRMED_THEN_RETURN: BankAction = { act: 'step', step: 'succeed', alarm: 'paid_unconfirmed', then: 'markReturned' };
const redrive = (job: RedrivenJob, first?: 'reportAgain'): BankAction => ({ act: 'redrive', job, ...(first ? { first } : {}) });
const PAID_UNCONFIRMED: BankAction = { act: 'step', step: 'succeed', alarm: 'paid_unconfirmed' };
const NOTHING: BankAction = { act: 'nothing', outcome: 'nothing_to_do' };
const WAIT: BankAction = { act: 'nothing', outcome: 'waiting_for_bank' };
const ENDED: BankAction = { act: 'nothing', outcome: 'already_final' };
const STRAY: BankAction = { act: 'cancel_stray_session' };
const OPERATOR: BankAction = { act: 'operator' };
const ASK_AGAIN: BankAction = { act: 'not_final' };
/**
 * No session is recorded yet, or ever will be (a payout rejected before the bank), so no word of the
 * bank's can be about these (applyBankSession checks the session first).
 */
const NO_SESSION = { awaiting_card: NOTHING, queued: NOTHING, awaiting_review: NOTHING, rejected: NOTHING };

/** Read: when the bank says `word` of a payout in `state`, do this. */
export const BANK_WORD_TABLE: Record<BankWord, Record<PayoutState, BankAction>> = {
  paid: {
    ...NO_SESSION,
    session_created: PAID_UNCONFIRMED,
    awaiting_funds: PAID_UNCONFIRMED,
    started: PAID_UNCONFIRMED,
    awaiting_confirmation: PAID_UNCONFIRMED,
    confirming: take('succeed'),
    cancelling: PAID_UNCONFIRMED,
    confirmed: take('succeed'),
    // reporting it unpaid could make upstream pay twice; saying it is paid now would contradict what upstream was told
    succeeded: ENDED,
    failed: OPERATOR,
    cancelled: OPERATOR,
    expired: OPERATOR,
    // a late report of the payment, after its return was recorded
    returned: ENDED,
  },
  returned: {
    ...NO_SESSION,
    // the payment's own report was lost or overtaken: both are recorded, the payment first
    session_created: PAID_UNCONFIRMED_THEN_RETURN,
    awaiting_funds: PAID_UNCONFIRMED_THEN_RETURN,
    started: PAID_UNCONFIRMED_THEN_RETURN,
    awaiting_confirmation: PAID_UNCONFIRMED_THEN_RETURN,
    confirming: SUCCEED_THEN_RETURN,
    cancelling: PAID_UNCONFIRMED_THEN_RETURN,
    confirmed: SUCCEED_THEN_RETURN,
    succeeded: take('markReturned'),
    failed: OPERATOR,
    cancelled: OPERATOR,
    expired: OPERATOR,
    // taken only when the bank's sum differs from the one recorded (src/pipeline/apply-bank-session.ts)
    returned: take('updateReturn'),
  },
  session_cancelled: {
    ...NO_SESSION,
    session_created: take('fail'),
    awaiting_funds: take('fail'),
    started: take('fail'),
    awaiting_confirmation: take('fail'),
    confirming: take('fail'),
    cancelling: take('markCancelled'),
    confirmed: take('fail'),
    succeeded: ENDED,
    failed: ENDED,
    cancelled: ENDED,
    expired: ENDED,
    returned: ENDED,
  },
  unpaid: {
    ...NO_SESSION,
    session_created: take('fail'),
    awaiting_funds: take('fail'),
    started: take('fail'),
    awaiting_confirmation: take('fail'),
    // cancelling: the bank ended the session its own way (declined, timed out) before our cancel landed
    confirming: take('fail'),
    cancelling: take('fail'),
    confirmed: take('fail'),
    succeeded: ENDED,
    failed: ENDED,
    cancelled: ENDED,
    expired: ENDED,
    returned: ENDED,
  },
  awaiting_confirm: {
    ...NO_SESSION,
    // the webhook may overtake the answer to start/payout
    session_created: take('awaitConfirmation'),
    awaiting_funds: take('awaitConfirmation'),
    started: take('awaitConfirmation'),
    // our decision, or its call to the bank, is due; decided afresh on what the bank says now
    awaiting_confirmation: redrive('confirm', 'reportAgain'),
    confirming: redrive('confirm'),
    cancelling: redrive('cancel'),
    confirmed: NOTHING,
    succeeded: NOTHING,
    failed: STRAY,
    cancelled: STRAY,
    expired: STRAY,
    returned: NOTHING,
  },
  payout_in_progress: {
    ...NO_SESSION,
    session_created: take('markStarted'),
    awaiting_funds: take('markStarted'),
    started: WAIT,
    awaiting_confirmation: WAIT,
    confirming: take('markConfirmed'),
    cancelling: redrive('cancel'),
    confirmed: WAIT,
    succeeded: NOTHING,
    failed: NOTHING,
    cancelled: NOTHING,
    expired: NOTHING,
    returned: NOTHING,
  },
  session_in_progress: {
    ...NO_SESSION,
    session_created: take('markStarted'),
    awaiting_funds: take('markStarted'),
    started: WAIT,
    awaiting_confirmation: WAIT,
    confirming: WAIT,
    cancelling: redrive('cancel'),
    confirmed: WAIT,
    succeeded: NOTHING,
    failed: NOTHING,
    cancelled: NOTHING,
    expired: NOTHING,
    returned: NOTHING,
  },
  created: {
    ...NO_SESSION,
    // start/payout never arrived (or never acted)
    session_created: redrive('start'),
    awaiting_funds: redrive('start'),
    started: WAIT,
    awaiting_confirmation: WAIT,
    confirming: WAIT,
    cancelling: redrive('cancel'),
    confirmed: WAIT,
    succeeded: NOTHING,
    failed: NOTHING,
    cancelled: NOTHING,
    expired: NOTHING,
    returned: NOTHING,
  },
  unknown: {
    awaiting_card: ASK_AGAIN,
    queued: ASK_AGAIN,
    awaiting_review: ASK_AGAIN,
    rejected: ASK_AGAIN,
    session_created: ASK_AGAIN,
    awaiting_funds: ASK_AGAIN,
    started: ASK_AGAIN,
    awaiting_confirmation: ASK_AGAIN,
    confirming: ASK_AGAIN,
    cancelling: ASK_AGAIN,
    confirmed: ASK_AGAIN,
    succeeded: ASK_AGAIN,
    failed: ASK_AGAIN,
    cancelled: ASK_AGAIN,
    expired: ASK_AGAIN,
    returned: ASK_AGAIN,
  },
};

/** The table's answer for one report: only a check of a payout found due re-drives a job. */
export function bankDecision(word: BankWord, state: PayoutState, source: SessionSource): BankDecision {
  const action = BANK_WORD_TABLE[word][state];
  if (action.act === 'redrive' && source !== 'found_due') return { act: 'in_hand', job: action.job };
  return action;
}
