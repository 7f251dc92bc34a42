import { createHash } from 'node:crypto';

/**
 * Card hashes with scripted outcomes, in the spirit of Stripe's test cards. Any other hash pays
 * out normally. The README lists these for users.
 */
export type CardBehaviour =
  | { kind: 'ok' }
  /** start/payout is refused at once with this error code. */
  | { kind: 'reject'; code: string }
  /** start, ready_to_confirm and confirm go through; payment_finished reports a failure with this code. */
  | { kind: 'decline'; code: string }
  /** ready_to_confirm reports an amount one rouble higher than the session was started with. */
  | { kind: 'mismatch_amount' }
  /** ready_to_confirm reports other metadata than the session was started with. */
  | { kind: 'mismatch_metadata' };

export const TEST_CARDS = {
  ok: 'sandbox_ok_4242',
  declinedByIssuer: 'sandbox_decline_declined_by_issuer_bank',
  expired: 'sandbox_decline_bank_card_expired',
  rejectNoSuchCard: 'sandbox_reject_card_number_does_not_exist',
  rejectForeign: 'sandbox_reject_provider_foreign_transfer_prohibited',
  mismatchAmount: 'sandbox_mismatch_amount',
  mismatchMetadata: 'sandbox_mismatch_metadata',
} as const;

export function cardBehaviour(numberHash: string): CardBehaviour {
  if (numberHash === TEST_CARDS.mismatchAmount) return { kind: 'mismatch_amount' };
  if (numberHash === TEST_CARDS.mismatchMetadata) return { kind: 'mismatch_metadata' };
  const decline = /^sandbox_decline_([a-zA-Z0-9_]+)$/.exec(numberHash);
  if (decline?.[1]) return { kind: 'decline', code: decline[1] };
  const reject = /^sandbox_reject_([a-zA-Z0-9_]+)$/.exec(numberHash);
  if (reject?.[1]) return { kind: 'reject', code: reject[1] };
  return { kind: 'ok' };
}

/** Masked card facts for a hash: its trailing 4 digits when it ends in 4, else derived from it. */
export function cardFacts(numberHash: string): { brand: string; last4: string } {
  const trailing = /(\d{4})$/.exec(numberHash)?.[1];
  const digest = createHash('sha256').update(numberHash).digest();
  const last4 = trailing ?? String(digest.readUInt32BE(0) % 10_000).padStart(4, '0');
  return { brand: (digest[4] ?? 0) % 2 === 0 ? 'visa' : 'mir', last4 };
}
