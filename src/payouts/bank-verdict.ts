import { Bank131ApiError, Bank131Error } from '../bank131/errors.js';
import type { BankSession } from '../bank131/schemas.js';
import type { PersonName, ReportedFacts } from './confirmation-policy.js';

/**
 * What a bank session (from a webhook or session/status) says about our payout, in one word.
 * Pure. The bank may add statuses and null fields at will (docs/bank131-protocol.md §4, §6): anything this does
 * not recognise is `unknown`, which means "ask again later", never a failure. What a verdict does
 * in each state is one table, src/payouts/bank-word.ts.
 */
export type BankVerdict =
  | { kind: 'paid' }
  | { kind: 'unpaid'; code: string; description: string }
  | { kind: 'awaiting_confirm'; reported: ReportedFacts }
  | { kind: 'in_progress'; payoutStatus: string | undefined }
  | { kind: 'created' }
  | { kind: 'unknown'; status: string };

export function verdictOf(session: BankSession): BankVerdict {
  const payout = session.payouts[0];
  if (payout?.status === 'succeeded' || session.status === 'accepted') return { kind: 'paid' };
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

/** Masked facts worth keeping on the record: the bank's payout id and the card's last 4. */
export function bankFacts(session: BankSession): { bank_payout_id?: string; card_last4?: string } {
  const payout = session.payouts[0];
  const facts: { bank_payout_id?: string; card_last4?: string } = {};
  if (payout?.id) facts.bank_payout_id = payout.id;
  const last4 = payout?.details?.card?.last4;
  if (last4) facts.card_last4 = last4;
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
  return parts.join(', ');
}

/** What a payout records when a call fails for good: the bank's code where there is one. */
export function failureOf(err: unknown): { code: string; description: string } {
  if (err instanceof Bank131ApiError) return { code: err.code, description: err.description || err.message };
  if (err instanceof Bank131Error) return { code: 'bank_unreachable', description: err.message };
  return { code: 'internal_error', description: err instanceof Error ? err.message : String(err) };
}
