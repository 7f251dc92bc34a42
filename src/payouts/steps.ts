import type { ReportedFacts } from './confirmation-policy.js';
import type { PayoutState } from './state-machine.js';

/**
 * Every change of a payout's state, by name (docs/architecture.md): the one table of the payout's
 * lifecycle. Pure: each step owns its legal from-states, its audit reason, the fields it writes,
 * when the payout must next be looked at, and the work that must follow. What is legal
 * (src/payouts/state-machine.ts) and the docs' state and step tables (src/payouts/lifecycle-docs.ts)
 * are read from it, so a move exists exactly when a step makes it.
 * src/pipeline/take-step.ts applies a step atomically (one script also writes the due time) and then
 * enqueues its follow-up; if that enqueue is lost, the reconciler (src/pipeline/reconcile.ts) finds
 * the payout due and drives it on. No other code changes a payout's state.
 */

/** The work a step leaves for a queue. `none`: the job that took the step goes on by itself. */
export type FollowUp = 'none' | 'start' | 'retry_start' | 'confirm' | 'cancel' | 'notify';

type Fields = Partial<Record<RecordField, string>>;
export type RecordField =
  | 'session_id'
  | 'card_last4'
  | 'given_last4'
  | 'bank_payout_id'
  | 'error_code'
  | 'error_text'
  | 'reported'
  | 'funds_wait_until'
  | 'collected_card'
  | 'card_id'
  | 'fee_amount'
  | 'bank_finished_at'
  | 'receipt_id'
  | 'receipt_link'
  | 'returned_amount'
  | 'returned_reason'
  | 'returned_at'
  | 'refund_id'
  | 'review_rules'
  | 'review_reason'
  | 'review_expires_at'
  | 'review_decision'
  | 'reviewed_by'
  | 'review_decision_reason';

export interface StepDef<I> {
  from: readonly PayoutState[];
  to: PayoutState;
  why(input: I): string;
  fields(input: I): Fields;
  /** Index this bank session to the payout in the same atomic step. */
  indexSession?(input: I): string;
  followUp: FollowUp;
  /**
   * When to look again if nothing happens: after the reconcile delay, the wallet retry delay, or
   * when the step's input says (a review's expiry).
   */
  lookAgain: 'reconcile' | 'wallet_retry' | 'review_expiry';
  /** For the docs' step table (src/payouts/lifecycle-docs.ts): what drives the payout on when no job follows. */
  note?: string;
}

/** What the bank says of a payout that we keep: masked, and what a statement is matched by. */
export interface BankFacts {
  bank_payout_id?: string;
  card_last4?: string;
  /** The bank's fee for it, in kopecks (`amounts.fee.merchant_fee`). */
  fee_amount?: string;
  /** When the bank says it finished it. */
  bank_finished_at?: string;
  /** A self-employed recipient's receipt (`fiscalization_details.professional_income_taxpayer.receipt`). */
  receipt_id?: string;
  receipt_link?: string;
}
/** The card's bank sent paid money back (a refund the bank reports `accepted`). */
export interface BankReturn {
  amount: number;
  reason: string;
  at: string;
  refundId: string | null;
}
/** Why a payout is held or refused before the bank: an approval rule (src/rules/screening.ts) and its limit, in words. */
export interface RuleBreach {
  rule: string;
  detail: string;
}
export interface BankFailure {
  code: string;
  description: string;
}

const step = <I>(def: StepDef<I>): StepDef<I> => def;
const failureFields = (f: BankFailure): Fields => ({ error_code: f.code, error_text: f.description });

/** The live states in which a bank session is recorded: the bank's final word (paid, or not) applies in all of them. */
const WITH_SESSION: readonly PayoutState[] = [
  'session_created',
  'awaiting_funds',
  'started',
  'awaiting_confirmation',
  'confirming',
  'cancelling',
  'confirmed',
];

export const STEPS = {
  /** The recipient gave a card through the collection link: the payout can start. */
  receiveCard: step<{ card: object; last4: string; cardId?: string }>({
    from: ['awaiting_card'],
    to: 'queued',
    why: (i) => `card •••• ${i.last4} given through the collection link`,
    // given_last4 is what the confirmation policy holds the bank's word against; card_last4 is shown.
    // card_id: the card was also saved to the payout's recipient, whose card a decline may mark unusable.
    fields: (i) => ({
      collected_card: JSON.stringify(i.card),
      card_last4: i.last4,
      given_last4: i.last4,
      ...(i.cardId ? { card_id: i.cardId } : {}),
    }),
    followUp: 'start',
    lookAgain: 'reconcile',
  }),
  /**
   * An approval rule (RULES_FILE), or an amount over REVIEW_ABOVE, holds the payout for a reviewer
   * before anything is sent to the bank. Nothing follows by itself: a reviewer decides, or the
   * reconciler finds it due when the review expires.
   */
  holdForReview: step<{ breaches: RuleBreach[]; expiresAt: number }>({
    from: ['queued'],
    to: 'awaiting_review',
    why: (i) => `held for review: ${i.breaches.map((b) => `${b.rule} (${b.detail})`).join('; ')}`,
    fields: (i) => ({
      review_rules: i.breaches.map((b) => b.rule).join(','),
      review_reason: i.breaches.map((b) => b.detail).join('; '),
      review_expires_at: String(i.expiresAt),
    }),
    followUp: 'none',
    lookAgain: 'review_expiry',
    note: 'a reviewer approves or rejects it; the reconciler rejects it once REVIEW_TTL has passed',
  }),
  /** A reviewer (an operator, or an API key with the review right that did not create it) lets it go to the bank. */
  approveReview: step<{ by: string; reason?: string | undefined }>({
    from: ['awaiting_review'],
    to: 'queued',
    why: (i) => `approved by ${i.by}${i.reason ? `: ${i.reason}` : ''}`,
    // the start job reads the decision: an approved payout is counted by the rules, never held again
    fields: (i) => ({ review_decision: 'approved', reviewed_by: i.by, review_decision_reason: i.reason ?? '' }),
    followUp: 'start',
    lookAgain: 'reconcile',
  }),
  /** A reviewer refuses it, saying why: nothing was ever sent to the bank. */
  rejectReview: step<{ by: string; reason: string }>({
    from: ['awaiting_review'],
    to: 'rejected',
    why: (i) => `rejected by ${i.by}: ${i.reason}`,
    fields: (i) => ({
      review_decision: 'rejected',
      reviewed_by: i.by,
      review_decision_reason: i.reason,
      error_code: 'rejected_by_reviewer',
      error_text: i.reason,
    }),
    followUp: 'notify',
    lookAgain: 'reconcile',
  }),
  /** Nobody decided within REVIEW_TTL: a hold that nobody lifts is a refusal, never a payment. */
  expireReview: step<Record<string, never>>({
    from: ['awaiting_review'],
    to: 'rejected',
    why: () => 'no reviewer decided within REVIEW_TTL',
    fields: () => ({ review_decision: 'expired', error_code: 'review_expired', error_text: 'no reviewer decided in time (REVIEW_TTL)' }),
    followUp: 'notify',
    lookAgain: 'reconcile',
  }),
  /** An approval rule whose breach rejects: the payout ends before anything is sent to the bank. */
  rejectByRule: step<RuleBreach>({
    from: ['queued'],
    to: 'rejected',
    why: (i) => `rejected by approval rule ${i.rule}: ${i.detail}`,
    fields: (i) => ({ review_rules: i.rule, error_code: 'rejected_by_rule', error_text: `${i.rule}: ${i.detail}` }),
    followUp: 'notify',
    lookAgain: 'reconcile',
  }),
  /** session/create answered: the session is ours before anything is sent in it. */
  recordSession: step<{ sessionId: string }>({
    from: ['queued'],
    to: 'session_created',
    why: (i) => `bank session ${i.sessionId} created`,
    fields: (i) => ({ session_id: i.sessionId }),
    indexSession: (i) => i.sessionId,
    followUp: 'none',
    lookAgain: 'reconcile',
    note: 'the start job that created the session sends `start/payout` next',
  }),
  /** The partner wallet is short (insufficient_wallet_balance): wait for a top-up, same session. */
  awaitFunds: step<BankFailure & { waitUntil: number }>({
    from: ['session_created', 'awaiting_funds'],
    to: 'awaiting_funds',
    why: (i) => `bank refused start/payout: ${i.code}; waiting for a top-up until ${new Date(i.waitUntil).toISOString()}`,
    fields: (i) => ({ ...failureFields(i), funds_wait_until: String(i.waitUntil) }),
    followUp: 'retry_start',
    lookAgain: 'wallet_retry',
  }),
  markStarted: step<{ facts: BankFacts; why: string }>({
    from: ['session_created', 'awaiting_funds'],
    to: 'started',
    why: (i) => i.why,
    fields: (i) => ({ ...i.facts, error_code: '', error_text: '' }),
    followUp: 'none',
    lookAgain: 'reconcile',
    note: "the bank's `ready_to_confirm` comes next",
  }),
  /** The bank waits for our confirm (a verified ready_to_confirm, or session/status saying so). */
  awaitConfirmation: step<{ reported: ReportedFacts; facts: BankFacts; why: string }>({
    from: ['session_created', 'awaiting_funds', 'started'],
    to: 'awaiting_confirmation',
    why: (i) => i.why,
    fields: (i) => ({ ...i.facts, reported: JSON.stringify(i.reported), error_code: '', error_text: '' }),
    followUp: 'confirm',
    lookAgain: 'reconcile',
  }),
  /**
   * The reconciler found the bank still waiting for our confirm, its job presumed lost: what
   * session/status reports now is what the decision taken afresh reads.
   */
  reportAgain: step<{ reported: ReportedFacts; why: string }>({
    from: ['awaiting_confirmation'],
    to: 'awaiting_confirmation',
    why: (i) => i.why,
    fields: (i) => ({ reported: JSON.stringify(i.reported) }),
    followUp: 'none',
    lookAgain: 'reconcile',
    note: 'the reconciler makes sure a confirm job runs, and the policy decides afresh on what `session/status` reported',
  }),
  /** The policy approved: only the run that takes this step may call session/confirm. */
  decideConfirm: step<{ why: string }>({
    from: ['awaiting_confirmation'],
    to: 'confirming',
    why: (i) => i.why,
    fields: () => ({}),
    followUp: 'none',
    lookAgain: 'reconcile',
    note: 'the confirm job that decided sends `session/confirm`',
  }),
  /** The policy refused: the session is cancelled at the bank. */
  decideCancel: step<BankFailure & { why: string }>({
    from: ['awaiting_confirmation'],
    to: 'cancelling',
    why: (i) => i.why,
    fields: failureFields,
    followUp: 'none',
    lookAgain: 'reconcile',
    note: 'the confirm job that decided sends `session/cancel`',
  }),
  /** Upstream withdrew the order while the bank prepares the payout. */
  requestCancel: step<{ by?: string }>({
    from: ['started', 'awaiting_confirmation'],
    to: 'cancelling',
    why: () => 'cancelled by upstream',
    fields: () => ({ error_code: 'cancelled_by_upstream', error_text: 'upstream cancelled the payout' }),
    followUp: 'cancel',
    lookAgain: 'reconcile',
  }),
  /** Upstream withdrew the order before anything was started at the bank. */
  cancel: step<{ by?: string }>({
    from: ['awaiting_card', 'queued', 'awaiting_review', 'session_created', 'awaiting_funds'],
    to: 'cancelled',
    why: () => 'cancelled by upstream',
    fields: () => ({ error_code: 'cancelled_by_upstream', error_text: 'upstream cancelled the payout' }),
    followUp: 'notify',
    lookAgain: 'reconcile',
  }),
  markConfirmed: step<{ why: string }>({
    from: ['confirming'],
    to: 'confirmed',
    why: (i) => i.why,
    fields: () => ({}),
    followUp: 'none',
    lookAgain: 'reconcile',
    note: "the bank's `payment_finished` comes next",
  }),
  markCancelled: step<{ why: string }>({
    from: ['cancelling'],
    to: 'cancelled',
    why: (i) => i.why,
    fields: () => ({}),
    followUp: 'notify',
    lookAgain: 'reconcile',
  }),
  /** The bank paid. From any live state with a session: money that moved is recorded as moved, never hidden. */
  succeed: step<{ facts: BankFacts; why: string }>({
    from: WITH_SESSION,
    to: 'succeeded',
    why: (i) => i.why,
    fields: (i) => ({ ...i.facts, error_code: '', error_text: '' }),
    followUp: 'notify',
    lookAgain: 'reconcile',
  }),
  /** The bank refused, declined or ended the payout unpaid; or it could never have been sent. */
  fail: step<BankFailure & { facts?: BankFacts; why: string }>({
    from: ['queued', ...WITH_SESSION],
    to: 'failed',
    why: (i) => i.why,
    fields: (i) => ({ ...i.facts, ...failureFields(i) }),
    followUp: 'notify',
    lookAgain: 'reconcile',
  }),
  /**
   * The card's bank sent the money back after the bank paid it (`payment_refunded`, or
   * session/status showing an accepted refund). The only step out of a final state: the bank's
   * word after the fact, never ours; upstream is told `payout.returned`.
   */
  markReturned: step<{ returned: BankReturn; facts?: BankFacts; why: string }>({
    from: ['succeeded'],
    to: 'returned',
    why: (i) => i.why,
    fields: (i) => ({
      ...i.facts,
      returned_amount: String(i.returned.amount),
      returned_reason: i.returned.reason,
      returned_at: i.returned.at,
      refund_id: i.returned.refundId ?? '',
    }),
    followUp: 'notify',
    lookAgain: 'reconcile',
  }),
  /**
   * More of a returned payout came back (a second partial refund): what it records as returned is
   * the bank's new sum. Upstream was told `payout.returned` once; the payout shows the sum.
   */
  updateReturn: step<{ returned: BankReturn; why: string }>({
    from: ['returned'],
    to: 'returned',
    why: (i) => i.why,
    fields: (i) => ({
      returned_amount: String(i.returned.amount),
      returned_reason: i.returned.reason,
      returned_at: i.returned.at,
      refund_id: i.returned.refundId ?? '',
    }),
    followUp: 'none',
    lookAgain: 'reconcile',
    note: 'nothing follows: the payout shows the new sum',
  }),
  /** A payout waiting for its card past the collection deadline. */
  expire: step<Record<string, never>>({
    from: ['awaiting_card'],
    to: 'expired',
    why: () => 'no card was given before the collection link expired',
    fields: () => ({ error_code: 'collect_expired', error_text: 'the recipient gave no card in time' }),
    followUp: 'notify',
    lookAgain: 'reconcile',
  }),
};

export type StepName = keyof typeof STEPS;
export type StepInput<N extends StepName> = (typeof STEPS)[N] extends StepDef<infer I> ? I : never;
