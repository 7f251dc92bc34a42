import { STEPS, type StepName } from './steps.js';

/**
 * The payout's states (docs/architecture.md, "States"), and which moves between them are legal. The
 * moves are not written here: a move is legal exactly when a named step (src/payouts/steps.ts) makes
 * it, so the step table is the lifecycle's only copy. The store refuses any other move, atomically,
 * from an expected state.
 */
export const PAYOUT_STATES = [
  'awaiting_card',
  'queued',
  'awaiting_review',
  'session_created',
  'awaiting_funds',
  'started',
  'awaiting_confirmation',
  'confirming',
  'cancelling',
  'confirmed',
  'succeeded',
  'failed',
  'cancelled',
  'expired',
  'returned',
  'rejected',
] as const;
export type PayoutState = (typeof PAYOUT_STATES)[number];

/**
 * Declared, not read off the steps. Final: upstream is told, and no job of ours moves the payout
 * again. One step leaves a final state, and only on the bank's word: `markReturned`, when the card's
 * bank sends back money that was paid (`succeeded` → `returned`); the unit tests hold the steps to that.
 */
export const TERMINAL_STATES: readonly PayoutState[] = ['succeeded', 'failed', 'cancelled', 'expired', 'returned', 'rejected'];

/** What each state means, for the docs' state table (src/payouts/lifecycle-docs.ts). */
export const STATE_MEANING: Record<PayoutState, string> = {
  awaiting_card: 'accepted without a card; its single-use collection link is out',
  queued: 'accepted (or approved by a reviewer); the start job checks the approval rules, then creates the bank session',
  awaiting_review:
    'held before any bank call by an approval rule, or for being over REVIEW_ABOVE: waits for a reviewer (approve or reject) until REVIEW_TTL',
  session_created: '`session/create` answered; the session id recorded before anything is sent in it',
  awaiting_funds: '`start/payout` refused with `insufficient_wallet_balance`; tried again in the same session',
  started: '`start/payout` accepted; the bank prepares the payout',
  awaiting_confirmation: 'the bank waits for our confirm (`ready_to_confirm`, or `session/status` says so)',
  confirming: 'the policy approved; `session/confirm` is (being) sent',
  cancelling:
    'the policy refused, or upstream cancelled; `session/cancel` is (being) sent, unless the bank ends the session its own way first',
  confirmed: 'the bank accepted the confirm',
  succeeded: 'final: the bank paid',
  failed: 'final: the bank refused, declined or ended the payout unpaid, or it could never be sent',
  cancelled: 'final: cancelled by upstream or by the policy, unpaid',
  expired: 'final: no card was given before the collection link expired',
  returned: "final: the bank paid, then the card's bank sent the money back (`payment_refunded`)",
  rejected: 'final: an approval rule or a reviewer refused it, or its review expired; nothing was sent to the bank',
};

interface Move {
  step: StepName;
  from: PayoutState;
  to: PayoutState;
}
const MOVES: readonly Move[] = (Object.keys(STEPS) as StepName[]).flatMap((step) =>
  STEPS[step].from.map((from) => ({ step, from, to: STEPS[step].to })),
);

export function canMove(from: PayoutState, to: PayoutState): boolean {
  return MOVES.some((m) => m.from === from && m.to === to);
}

export function isTerminal(state: PayoutState): boolean {
  return TERMINAL_STATES.includes(state);
}

/** The states `from` can move to in one step, in lifecycle order. */
export function nextStates(from: PayoutState): PayoutState[] {
  return PAYOUT_STATES.filter((to) => canMove(from, to));
}

/** States from which `to` can be reached in one legal move. */
export function statesLeadingTo(to: PayoutState): PayoutState[] {
  return PAYOUT_STATES.filter((s) => canMove(s, to));
}

/** The steps that move a payout on from `state`, in the step table's order. */
export function stepsFrom(state: PayoutState): StepName[] {
  return MOVES.filter((m) => m.from === state).map((m) => m.step);
}

/** Upstream may cancel until the decision to confirm is taken: `cancel` ends the payout at once. */
export const CANCELLABLE_DIRECTLY: readonly PayoutState[] = STEPS.cancel.from;
/** A bank session is in flight: `requestCancel` cancels it with a call to the bank. */
export const CANCELLABLE_AT_BANK: readonly PayoutState[] = STEPS.requestCancel.from;
/** Live states in which a bank session is recorded: the bank's word that it paid applies to all of them (`succeed`). */
export const SESSION_STATES: readonly PayoutState[] = STEPS.succeed.from;
