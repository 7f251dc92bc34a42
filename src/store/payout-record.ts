import { DEFAULT_TENANT } from '../tenants/identity.js';
import { PayoutRecordSchema, type PayoutRecord } from '../payouts/schemas.js';

/** The hash as a record typed by state; a hash that breaks the record's rules is a bug, said loudly. */
export function toRecord(h: Record<string, string>): PayoutRecord {
  const parsed = PayoutRecordSchema.safeParse({
    id: h.id,
    tenant: h.tenant || DEFAULT_TENANT,
    state: h.state,
    order: h.order ? JSON.parse(h.order) : undefined,
    fingerprint: h.fingerprint,
    sessionId: h.session_id || null,
    cardLast4: h.card_last4 || null,
    givenLast4: h.given_last4 || null,
    bankPayoutId: h.bank_payout_id || null,
    errorCode: h.error_code || null,
    errorText: h.error_text || null,
    startAttempts: Number(h.start_attempts ?? 0),
    reported: h.reported ? JSON.parse(h.reported) : null,
    notified: h.notified || null,
    notifiedAt: h.notified_at || null,
    fundsWaitUntil: h.funds_wait_until ? Number(h.funds_wait_until) : null,
    keyGenerations: { start: Number(h.key_gen_start ?? 0), confirm: Number(h.key_gen_confirm ?? 0), cancel: Number(h.key_gen_cancel ?? 0) },
    collect: h.collect_token ? { token: h.collect_token, expiresAt: Number(h.collect_expires_at) } : null,
    collectedCard: h.collected_card ? JSON.parse(h.collected_card) : null,
    recipientId: h.recipient_id || null,
    recipientName: h.recipient_name ? JSON.parse(h.recipient_name) : null,
    cardId: h.card_id || null,
    taxReference: h.tax_reference || null,
    customerReference: h.customer_reference || null,
    fee: h.fee_amount ? Number(h.fee_amount) : null,
    bankFinishedAt: h.bank_finished_at || null,
    finishedAt: h.finished_at || null,
    receipt: h.receipt_id ? { id: h.receipt_id, link: h.receipt_link || null } : null,
    returned: h.returned_amount
      ? { amount: Number(h.returned_amount), reason: h.returned_reason ?? '', at: h.returned_at ?? '', refundId: h.refund_id || null }
      : null,
    events: h.events ? h.events.split(',').filter(Boolean) : [],
    createdBy: h.created_by || null,
    review: h.review_rules
      ? {
          rules: h.review_rules.split(',').filter(Boolean),
          reason: h.review_reason ?? '',
          expiresAt: h.review_expires_at ? Number(h.review_expires_at) : null,
          decision: (h.review_decision as 'approved' | 'rejected' | 'expired' | undefined) || null,
          decidedBy: h.reviewed_by || null,
          decisionReason: h.review_decision_reason || null,
        }
      : null,
    createdAt: h.created_at,
    updatedAt: h.updated_at,
  });
  if (!parsed.success)
    throw new Error(
      `payout ${h.id} is stored in a shape it may not have (${h.state}): ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    );
  return parsed.data as PayoutRecord;
}
