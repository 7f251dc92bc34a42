/**
 * The payout state machine of design §2: which moves are legal. Pure; the store refuses any move
 * not listed here, atomically, from an expected state.
 */
export const PAYOUT_STATES = [
  'awaiting_card',
  'queued',
  'session_created',
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

const LEGAL: Record<PayoutState, readonly PayoutState[]> = {
  awaiting_card: ['queued', 'cancelled', 'expired'],
  // cancelled: upstream withdrew the order before any bank call mattered
  queued: ['session_created', 'failed', 'cancelled'],
  // awaiting_confirmation / failed: the bank's webhook overtook the answer to start/payout
  session_created: ['started', 'awaiting_confirmation', 'failed', 'cancelled'],
  started: ['awaiting_confirmation', 'cancelling', 'failed'],
  awaiting_confirmation: ['confirming', 'cancelling', 'failed'],
  // succeeded / failed: payment_finished overtook the answer to session/confirm
  confirming: ['confirmed', 'succeeded', 'failed'],
  // failed: the bank ended the session its own way (e.g. confirm_timeout) before our cancel landed
  cancelling: ['cancelled', 'failed'],
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
export const CANCELLABLE_DIRECTLY: readonly PayoutState[] = ['awaiting_card', 'queued', 'session_created'];
/** A bank session is in flight: cancelling it takes a call to the bank. */
export const CANCELLABLE_AT_BANK: readonly PayoutState[] = ['started', 'awaiting_confirmation'];
