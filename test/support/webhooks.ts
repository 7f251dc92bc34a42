/**
 * A Bank 131 `ready_to_confirm` webhook as the bank sends it for one pending payout, for tests that
 * post webhooks themselves; `payout` and `session` override or add fields.
 */
export function readyToConfirm(
  sessionId: string,
  options: { amount?: number; metadata?: string; payout?: Record<string, unknown>; session?: Record<string, unknown> } = {},
) {
  return {
    type: 'ready_to_confirm',
    session: {
      id: sessionId,
      status: 'in_progress',
      next_action: 'confirm',
      payout_list: [
        {
          id: 'po_1',
          status: 'pending',
          amount_details: { amount: options.amount ?? 10_000, currency: 'rub' },
          metadata: options.metadata ?? 'x',
          ...options.payout,
        },
      ],
      ...options.session,
    },
  };
}
