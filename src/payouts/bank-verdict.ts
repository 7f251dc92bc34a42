import { Bank131ApiError, Bank131Error } from '../bank131/errors.js';
import type { BankPayout, BankSession } from '../bank131/schemas.js';
import type { PersonName, ReportedFacts } from './confirmation-policy.js';
import type { BankFacts, BankReturn } from './steps.js';

/**
 * What a bank session (from a webhook or session/status) says about our payout, in one word.
 * Pure. The bank may add statuses and null fields at will (docs/bank131-protocol.md §4, §6): anything this does
 * not recognise is `unknown`, which means "ask again later", never a failure. What a verdict does
 * in each state is one table, src/payouts/bank-word.ts.
 */
export type BankVerdict =
  | { kind: 'paid' }
  /** Paid, and then sent back by the card's bank: a refund the bank reports `accepted`. */
  | { kind: 'returned'; returned: BankReturn }
  | { kind: 'unpaid'; code: string; description: string }
  | { kind: 'awaiting_confirm'; reported: ReportedFacts }
  | { kind: 'in_progress'; payoutStatus: string | undefined }
  | { kind: 'created' }
  | { kind: 'unknown'; status: string };

export function verdictOf(session: BankSession): BankVerdict {
  const payout = session.payouts[0];
  const paid = payout?.status === 'succeeded' || session.status === 'accepted';
  // A refund is money coming back, so it can only follow a payout that was paid.
  const returned = paid && payout ? returnOf(payout) : null;
  if (returned) return { kind: 'returned', returned };
  if (paid) return { kind: 'paid' };
  if (payout?.status === 'failed' || session.status === 'cancelled') {
    const error = payout?.error ?? session.error;
    return {
      kind: 'unpaid',
      code: error?.code ?? (session.status === 'cancelled' ? 'session_cancelled' : 'payout_failed'),
      description:
        error?.description ?? (session.status === 'cancelled' ? 'the bank cancelled the session' : 'the bank reports the payout failed'),
    };
  }
  if (session.status === 'in_progress') {
    if (session.next_action === 'confirm' && payout?.status === 'pending')
      return { kind: 'awaiting_confirm', reported: reportedFacts(session) };
    return { kind: 'in_progress', payoutStatus: payout?.status };
  }
  if (session.status === 'created') return { kind: 'created' };
  return { kind: 'unknown', status: session.status ?? 'no status' };
}

/** The confirmation policy's input: what the bank is about to pay, as it says. */
export function reportedFacts(session: BankSession): ReportedFacts {
  return {
    sessionId: session.id,
    sessionStatus: session.status,
    nextAction: session.next_action,
    payouts: session.payouts.map((p) => ({
      status: p.status,
      amount: p.amount_details?.amount,
      currency: p.amount_details?.currency,
      metadata: p.metadata,
      ...(p.details?.card?.last4 ? { last4: p.details.card.last4 } : {}),
      ...recipientOf(p.participant_details),
    })),
  };
}

/** The recipient's name as the bank echoes it in participant_details, when it does. */
function recipientOf(details: unknown): { recipient?: PersonName } {
  const r = (details as { recipient?: Record<string, unknown> | null } | undefined)?.recipient;
  if (!r || typeof r !== 'object') return {};
  const name: PersonName = {};
  for (const key of ['full_name', 'first_name', 'last_name', 'middle_name'] as const)
    if (typeof r[key] === 'string' && r[key]) name[key] = r[key];
  return Object.keys(name).length > 0 ? { recipient: name } : {};
}

/**
 * What came back of the payout, from its accepted refunds: their sum, the last one's reason, time
 * and id. Null while none is accepted (one `in_progress`, `declined` or in `error` returned nothing).
 */
export function returnOf(payout: BankPayout): BankReturn | null {
  const accepted = (payout.refunds ?? []).filter((r) => r.status === 'accepted');
  if (accepted.length === 0) return null;
  const last = accepted[accepted.length - 1]!;
  // kopecks are whole: an amount that is not is not counted (the record keeps whole kopecks only)
  const kopecks = (n: number | undefined) => (typeof n === 'number' && Number.isInteger(n) && n > 0 ? n : 0);
  const amount = accepted.reduce((sum, r) => sum + kopecks(r.amount_details?.amount), 0);
  const said = last.reason ?? last.error?.description ?? (typeof last.metadata === 'string' ? last.metadata : undefined);
  return {
    // a refund that names no amount returned the whole payout
    amount: amount > 0 ? amount : kopecks(payout.amount_details?.amount),
    reason: said || "the card's bank returned the transfer",
    at: last.finished_at ?? last.created_at ?? new Date().toISOString(),
    refundId: last.id ?? null,
  };
}

/**
 * Facts worth keeping on the record, masked: the bank's payout id, the card's last 4, and what a
 * statement is matched by (the fee, when the bank finished it, a self-employed recipient's receipt).
 */
export function bankFacts(session: BankSession): BankFacts {
  const payout = session.payouts[0];
  const facts: BankFacts = {};
  if (!payout) return facts;
  if (payout.id) facts.bank_payout_id = payout.id;
  const last4 = payout.details?.card?.last4;
  if (last4) facts.card_last4 = last4;
  const fee = payout.amounts?.fee?.merchant_fee?.amount;
  if (typeof fee === 'number' && Number.isInteger(fee) && fee >= 0) facts.fee_amount = String(fee);
  if (payout.finished_at) facts.bank_finished_at = payout.finished_at;
  const receipt = payout.fiscalization_details?.professional_income_taxpayer?.receipt;
  if (receipt?.id) facts.receipt_id = receipt.id;
  if (receipt?.link) facts.receipt_link = receipt.link;
  return facts;
}

/** One line for the audit trail: what the bank said, whatever it was. */
export function describeSession(session: BankSession): string {
  const payout = session.payouts[0];
  const parts = [`session ${session.status ?? 'null'}`];
  if (session.next_action) parts.push(`next_action ${session.next_action}`);
  if (payout) parts.push(`payout ${payout.status ?? 'null'}`);
  const code = payout?.error?.code ?? session.error?.code;
  if (code) parts.push(`error ${code}`);
  const refunds = payout?.refunds?.length ?? 0;
  if (refunds > 0) parts.push(`${refunds} refund${refunds > 1 ? 's' : ''} (${payout!.refunds!.map((r) => r.status ?? 'null').join(', ')})`);
  return parts.join(', ');
}

/** What a payout records when a call fails for good: the bank's code where there is one. */
export function failureOf(err: unknown): { code: string; description: string } {
  if (err instanceof Bank131ApiError) return { code: err.code, description: err.description || err.message };
  if (err instanceof Bank131Error) return { code: 'bank_unreachable', description: err.message };
  return { code: 'internal_error', description: err instanceof Error ? err.message : String(err) };
}
