/**
 * The confirmation policy (docs/architecture.md, "The confirmation policy"), pure: confirm a payout
 * only when what the bank is about to pay is exactly the order we accepted, to the card and the
 * person we know of, in the session we recorded, and the bank is still waiting for that confirm.
 * Anything else is cancelled, and the failed check is recorded. Its inputs come from the payout
 * record alone (the order, and what a verified webhook or session/status answer reported), never
 * from a job's data.
 */
export interface OrderFacts {
  sessionId: string | null;
  amount: number;
  currency: string;
  metadata: string;
  /** The card's last 4 digits as we learned them ourselves (token/info at the collection link), if we did. */
  last4?: string | null | undefined;
  /** The recipient of the order. */
  recipient?: PersonName | undefined;
}

/** A person's name as orders and the bank's participant_details give it. */
export interface PersonName {
  full_name?: string | undefined;
  first_name?: string | undefined;
  last_name?: string | undefined;
  middle_name?: string | undefined;
}

export interface ReportedFacts {
  sessionId: string;
  /** The session must still wait for us: `in_progress` with `next_action` `confirm` (docs/bank131-protocol.md §4). */
  sessionStatus?: string | undefined;
  nextAction?: string | undefined;
  /** Payouts in the ready_to_confirm session; a card payout session has exactly one. */
  payouts: Array<{
    status?: string | undefined;
    amount?: number | undefined;
    currency?: string | undefined;
    metadata?: unknown;
    /** The card the bank is about to pay, by its last 4 digits, when it says. */
    last4?: string | undefined;
    /** The recipient the bank is about to pay, when it says. */
    recipient?: PersonName | undefined;
  }>;
}

export type PolicyCheck = 'session' | 'session_state' | 'payout_count' | 'amount' | 'currency' | 'metadata' | 'card' | 'recipient';

export type Decision = { action: 'confirm' } | { action: 'cancel'; failedCheck: PolicyCheck; detail: string };

export function decide(order: OrderFacts, reported: ReportedFacts): Decision {
  const cancel = (failedCheck: PolicyCheck, detail: string): Decision => ({ action: 'cancel', failedCheck, detail });
  if (order.sessionId === null || reported.sessionId !== order.sessionId) {
    return cancel('session', `session ${reported.sessionId} is not the one recorded (${order.sessionId ?? 'none'})`);
  }
  if (reported.sessionStatus !== 'in_progress' || reported.nextAction !== 'confirm') {
    return cancel(
      'session_state',
      `session is ${reported.sessionStatus ?? 'of no status'} with next_action ${reported.nextAction ?? 'none'}, not in_progress waiting for confirm`,
    );
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
  // Checked where both sides know: a card we did not see ourselves, or a bank that does not echo
  // the recipient, leaves the amount, the session and the metadata to decide.
  if (order.last4 && p.last4 && p.last4 !== order.last4) {
    return cancel('card', `bank reports card •••• ${p.last4}, the card given for this payout ends ${order.last4}`);
  }
  const reportedName = nameWords(p.recipient);
  const orderName = nameWords(order.recipient);
  if (reportedName.length > 0 && orderName.length > 0 && reportedName.join(' ') !== orderName.join(' ')) {
    // the names themselves stay out of the audit trail and the error upstream reads
    return cancel('recipient', 'bank reports another recipient name than the order gives');
  }
  return { action: 'confirm' };
}

/**
 * A name as a sorted list of words, so "Ivanov Ivan" in full_name and first_name Ivan with
 * last_name Ivanov compare equal; case, spacing, Unicode forms and ё/е do not matter.
 */
export function nameWords(name: PersonName | undefined): string[] {
  if (!name) return [];
  const text = name.full_name || [name.last_name, name.first_name, name.middle_name].filter(Boolean).join(' ');
  return text.normalize('NFKC').toLowerCase().replaceAll('ё', 'е').split(/\s+/).filter(Boolean).sort();
}
