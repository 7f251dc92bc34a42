/**
 * The bank's decline codes that say the card itself cannot be paid to (docs/bank131-protocol.md,
 * error codes): it is expired, does not exist, or its binding or account is gone. A saved card
 * declined with one of these is marked invalid in the same step that fails the payout
 * (src/store/scripts/transition.lua), and its recipient needs a new card. Any other decline
 * (the issuer refused this once, a limit, a timeout) says nothing about the next payout.
 */
export const UNUSABLE_CARD_CODES: ReadonlySet<string> = new Set([
  'bank_card_expired',
  'card_number_does_not_exist',
  'binding_is_deactivated',
  'account_not_found',
]);
