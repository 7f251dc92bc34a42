import type { PayoutOrder } from '../payouts/schemas.js';
import type { CreatePlan } from '../store/create-payouts.js';

/**
 * What a payout to a saved recipient (`recipient_id`) takes from them when it is accepted: their
 * name, their tax reference for a self-employed payout, their reference, and their saved card if
 * it works. The payout keeps a copy (src/store/scripts/create-payouts.lua), so a card saved or
 * found unusable later changes nothing about a payout already accepted; a failure that finds the
 * copied card unusable marks it on the recipient (src/store/scripts/transition.lua). Pure.
 */
export interface SavedRecipient {
  id: string;
  reference: string | null;
  name: Record<string, string>;
  taxReference: string | null;
  card: { id: string; last4: string; status: string; hashes: string } | null;
}

export type RecipientPlan =
  { ok: true; plan: Exclude<CreatePlan, string> } | { ok: false; issues: Array<{ field: string; problem: string }> };

/**
 * The plan for one order: with a saved recipient's working card it is queued with that card; with
 * none, it waits for a card through a collection link (`collect`), which the card page also saves
 * to the recipient. Without a recipient, only the tax reference and the link follow from the order.
 */
export function planFor(
  order: PayoutOrder,
  recipient: SavedRecipient | null | undefined,
  collect: () => { token: string; expiresAt: number },
): RecipientPlan {
  const fields: Record<string, string> = {};
  if (order.recipient_id) {
    if (!recipient) return { ok: false, issues: [{ field: 'recipient_id', problem: `no recipient ${order.recipient_id}` }] };
    fields.recipient_id = recipient.id;
    if (!order.recipient) fields.recipient_name = JSON.stringify(recipient.name);
  }
  if (order.fiscalization) {
    const given = order.fiscalization.tax_reference;
    // the recipient's binding to the bank (their collection page's self-employed step) is for their own ИНН
    if (given && recipient?.taxReference && given !== recipient.taxReference)
      return {
        ok: false,
        issues: [{ field: 'fiscalization.tax_reference', problem: `is not the tax_reference of recipient ${recipient.id}: leave it out` }],
      };
    const taxReference = given ?? recipient?.taxReference;
    if (!taxReference)
      return {
        ok: false,
        issues: [{ field: 'fiscalization.tax_reference', problem: `is required: recipient ${order.recipient_id} has no tax_reference` }],
      };
    fields.tax_reference = taxReference;
  }
  const reference = recipient?.reference ?? null;
  if (order.encrypted_card) return { ok: true, plan: { state: 'queued', fields, reference } };
  const card = recipient?.card;
  if (card && card.status === 'active') {
    // the card as the recipient saved it: its last 4 are what the policy holds the bank's word against
    Object.assign(fields, { card_id: card.id, collected_card: card.hashes, card_last4: card.last4, given_last4: card.last4 });
    return { ok: true, plan: { state: 'queued', fields, reference } };
  }
  const link = collect();
  return { ok: true, plan: { state: 'awaiting_card', dueAt: link.expiresAt, collect: link, fields, reference } };
}
