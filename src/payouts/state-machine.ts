/**
 * The payout state machine of docs/architecture.md: which moves are legal. Pure; the store refuses any move
 * not listed here, atomically, from an expected state.
 */
export const PAYOUT_STATES = [
  'awaiting_card',
  'queued',
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
] as const;
export type PayoutState = (typeof PAYOUT_STATES)[number];

export const TERMINAL_STATES: readonly PayoutState[] = ['succeeded', 'failed', 'cancelled', 'expired'];

/** Live states in which a bank session is recorded: the bank's final word applies to all of them. */
export const SESSION_STATES = ['session_created', 'awaiting_funds', 'started', 'awaiting_confirmation', 'confirming', 'cancelling', 'confirmed'] as const;

const LEGAL: Record<PayoutState, readonly PayoutState[]> = {
  awaiting_card: ['queued', 'cancelled', 'expired'],
  // cancelled: upstream withdrew the order before any bank call mattered
  queued: ['session_created', 'failed', 'cancelled'],
  // awaiting_confirmation: the bank's webhook overtook the answer to start/payout;
  // succeeded: the bank reports money paid that we never confirmed (recorded as it is, never hidden)
  session_created: ['started', 'awaiting_funds', 'awaiting_confirmation', 'succeeded', 'failed', 'cancelled'],
  // the partner wallet was short: start/payout is retried in the same session until topped up
  awaiting_funds: ['awaiting_funds', 'started', 'awaiting_confirmation', 'succeeded', 'failed', 'cancelled'],
  started: ['awaiting_confirmation', 'cancelling', 'succeeded', 'failed'],
  // awaiting_confirmation: the bank, asked again, still waits; the decision is taken afresh on its new report
  awaiting_confirmation: ['awaiting_confirmation', 'confirming', 'cancelling', 'succeeded', 'failed'],
  // succeeded / failed: payment_finished overtook the answer to session/confirm
  confirming: ['confirmed', 'succeeded', 'failed'],
  // failed: the bank ended the session its own way (e.g. confirm_timeout) before our cancel landed
  cancelling: ['cancelled', 'succeeded', 'failed'],
  confirmed: ['succeeded', 'failed'],
  succeeded: [],
  failed: [],
  cancelled: [],
  expired: [],
};

export function canMove(from: PayoutState, to: PayoutState): boolean {
  return LEGAL[from].includes(to);
}

export function isTerminal(state: PayoutState): boolean {
  return TERMINAL_STATES.includes(state);
}

/** States from which `to` can be reached in one legal move. */
export function statesLeadingTo(to: PayoutState): PayoutState[] {
  return PAYOUT_STATES.filter((s) => canMove(s, to));
}

/** Upstream may cancel until the decision to confirm is taken. */
export const CANCELLABLE_DIRECTLY: readonly PayoutState[] = ['awaiting_card', 'queued', 'session_created', 'awaiting_funds'];
/** A bank session is in flight: cancelling it takes a call to the bank. */
export const CANCELLABLE_AT_BANK: readonly PayoutState[] = ['started', 'awaiting_confirmation'];
