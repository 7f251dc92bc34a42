/**
 * Design §2's confirmation policy, pure: confirm a payout only when what the bank is about to pay
 * is exactly the order we accepted, in the session we recorded, and the bank is still waiting for
 * that confirm. Anything else is cancelled, and the failed check is recorded.
 */
export interface OrderFacts {
  sessionId: string | null;
  amount: number;
  currency: string;
  metadata: string;
}

export interface ReportedFacts {
  sessionId: string;
  /** The session must still wait for us: `in_progress` with `next_action` `confirm` (docs/bank131-protocol.md §4). */
  sessionStatus?: string | undefined;
  nextAction?: string | undefined;
  /** Payouts in the ready_to_confirm session; a card payout session has exactly one. */
  payouts: Array<{ status?: string | undefined; amount?: number | undefined; currency?: string | undefined; metadata?: unknown }>;
}

export type PolicyCheck = 'session' | 'session_state' | 'payout_count' | 'amount' | 'currency' | 'metadata';

export type Decision = { action: 'confirm' } | { action: 'cancel'; failedCheck: PolicyCheck; detail: string };

export function decide(order: OrderFacts, reported: ReportedFacts): Decision {
  const cancel = (failedCheck: PolicyCheck, detail: string): Decision => ({ action: 'cancel', failedCheck, detail });
  if (order.sessionId === null || reported.sessionId !== order.sessionId) {
    return cancel('session', `session ${reported.sessionId} is not the one recorded (${order.sessionId ?? 'none'})`);
  }
  if (reported.sessionStatus !== 'in_progress' || reported.nextAction !== 'confirm') {
    return cancel('session_state', `session is ${reported.sessionStatus ?? 'of no status'} with next_action ${reported.nextAction ?? 'none'}, not in_progress waiting for confirm`);
  }
  if (reported.payouts.length !== 1) return cancel('payout_count', `session holds ${reported.payouts.length} payouts, expected 1`);
  const p = reported.payouts[0]!;
  if (p.status !== 'pending') return cancel('session_state', `the payout is ${p.status ?? 'of no status'}, not pending`);
  if (p.amount !== order.amount) return cancel('amount', `bank reports ${p.amount ?? 'no amount'}, order is ${order.amount}`);
  if (p.currency?.toLowerCase() !== order.currency.toLowerCase()) {
    return cancel('currency', `bank reports ${p.currency ?? 'no currency'}, order is ${order.currency}`);
  }
  if (p.metadata !== order.metadata) {
    return cancel('metadata', `bank reports ${JSON.stringify(p.metadata ?? null)}, we sent ${JSON.stringify(order.metadata)}`);
  }
  return { action: 'confirm' };
}
