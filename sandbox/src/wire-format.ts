import { createHash } from 'node:crypto';
import type { ApiVersion } from './requests.js';
import { reportedStatus } from './session-machine.js';
import type { PayoutRefund, SandboxPayout, SandboxSession } from './session-types.js';

/** Optional fields of the bank's session and payout objects; `nullFields` sends them as `null` when absent. */
export const NULLABLE_SESSION_FIELDS = ['finished_at', 'next_action', 'error'] as const;
export const NULLABLE_PAYOUT_FIELDS = ['finished_at', 'error', 'metadata', 'customer', 'participant_details', 'transaction_info'] as const;

export interface WireOptions {
  nullFields?: boolean;
  /** The sandbox's base URL, for receipt links (sandbox/src/server.ts); without it receipts carry no link. */
  baseUrl?: string | undefined;
}

/**
 * The session in v1 (`payments`, `payment_method`) or v2 (`payout_list`, `payout_details`)
 * spelling. Responses use the version of the URL asked; webhooks the session's
 * own (sandbox/src/bank.ts).
 */
export function wireSession(session: SandboxSession, version: ApiVersion, options: WireOptions = {}): Record<string, unknown> {
  const status = reportedStatus(session.state);
  const out: Record<string, unknown> = {
    id: session.id,
    status: status.session,
    created_at: session.createdAt,
    updated_at: session.updatedAt,
  };
  if (session.finishedAt) out.finished_at = session.finishedAt;
  if (status.nextAction) out.next_action = status.nextAction;
  if (session.error) out.error = session.error;
  const p = session.payout;
  const payouts: Array<Record<string, unknown>> = [];
  if (p && status.payout) {
    const payout: Record<string, unknown> = {
      id: p.id,
      status: status.payout,
      created_at: p.createdAt,
      amount_details: { amount: p.reportedAmount, currency: p.amountDetails.currency },
      [version === 'v2' ? 'payout_details' : 'payment_method']: { type: 'card', card: { type: 'encrypted_card', ...p.card } },
    };
    if (p.participantDetails !== undefined) payout.participant_details = p.participantDetails;
    if (p.reportedMetadata !== undefined) payout.metadata = p.reportedMetadata;
    if (p.customer !== undefined) payout.customer = p.customer;
    if (p.finishedAt) payout.finished_at = p.finishedAt;
    if (status.payout === 'failed' && session.error) payout.error = session.error;
    if (status.payout === 'succeeded') {
      payout.transaction_info = { rrn: createHash('sha1').update(p.id).digest('hex').slice(0, 12) };
      payout.amounts = wireAmounts(p);
    }
    if (p.fiscalization) payout.fiscalization_details = wireFiscalization(p.fiscalization, options.baseUrl);
    if (p.refunds?.length) payout.refunds = p.refunds.map(wireRefund);
    if (options.nullFields) fillNulls(payout, NULLABLE_PAYOUT_FIELDS);
    payouts.push(payout);
  }
  out[version === 'v2' ? 'payout_list' : 'payments'] = payouts;
  if (options.nullFields) fillNulls(out, NULLABLE_SESSION_FIELDS);
  return out;
}

/**
 * A paid payout's money (bank131/php-sdk Amounts, Fee): gross and net are what the recipient got,
 * the bank's fee is reported beside them and charged to the partner separately.
 */
function wireAmounts(p: SandboxPayout): Record<string, unknown> {
  const money = (amount: number) => ({ amount, currency: p.amountDetails.currency });
  return {
    gross: money(p.amountDetails.amount),
    net: money(p.amountDetails.amount),
    fee: { merchant_fee: money(p.fee ?? 0) },
  };
}

/** What the partner sent, and the receipt once the payout succeeded. */
function wireFiscalization(f: NonNullable<SandboxPayout['fiscalization']>, baseUrl: string | undefined): Record<string, unknown> {
  const taxpayer: Record<string, unknown> = { ...f.taxpayer };
  if (f.receiptId) taxpayer.receipt = { id: f.receiptId, ...(baseUrl ? { link: receiptLink(baseUrl, f.receiptId) } : {}) };
  return { professional_income_taxpayer: taxpayer };
}

export function receiptLink(baseUrl: string, receiptId: string): string {
  return `${baseUrl.replace(/\/+$/, '')}/sandbox/receipts/${encodeURIComponent(receiptId)}`;
}

function wireRefund(r: PayoutRefund): Record<string, unknown> {
  return {
    id: r.id,
    status: 'accepted',
    created_at: r.createdAt,
    finished_at: r.finishedAt,
    amount_details: { amount: r.amount, currency: r.currency },
    reason: r.reason,
  };
}

function fillNulls(target: Record<string, unknown>, fields: readonly string[]): void {
  for (const f of fields) if (target[f] === undefined) target[f] = null;
}
