import type { FiscalizationDetails } from '../bank131/schemas.js';
import type { PayoutOrder } from './schemas.js';

/**
 * Payouts to self-employed recipients (НПД; docs/bank131-protocol.md §3.6): what the bank is sent
 * with `session/start/payout/fiscalization`, and what its refusals mean for the recipient. Pure.
 */

/** The order's services as the bank's receipt lists them, for the recipient with this ИНН. */
export function fiscalizationDetails(order: PayoutOrder, taxReference: string): FiscalizationDetails {
  const fiscal = order.fiscalization;
  if (!fiscal) throw new Error(`payout ${order.id} has a tax reference but no fiscalization`);
  const currency = order.amount_details.currency;
  return {
    professional_income_taxpayer: {
      tax_reference: taxReference,
      services: fiscal.services.map((s) => ({ name: s.name, amount_details: { amount: s.amount, currency }, quantity: s.quantity })),
      ...(fiscal.payer_type ? { payer_type: fiscal.payer_type } : {}),
    },
  };
}

/**
 * The bank's self-employed refusals, in words upstream can act on: each ends the payout `failed`
 * with this description (the bank's own text follows it), and none is worth sending again as it is.
 */
export const TAXPAYER_OUTCOMES: Readonly<Record<string, string>> = {
  taxpayer_unknown: 'the tax reference is not registered as self-employed (НПД): pay them as an ordinary person, or check the ИНН',
  taxpayer_not_bound:
    'the recipient has not allowed Bank 131 to register their income: they bind through the self-employed widget on their collection page (or the bank’s app), then send the payout again',
  taxpayer_already_bound:
    'the recipient is bound to another partner in a way that prevents this payout: the recipient should check their НПД settings',
  taxpayer_income_exceeds_amount_limit:
    'the payout would take the recipient over the НПД yearly income limit: they cannot be paid as self-employed this year',
  npd_service_internal_error: 'the tax service did not answer in time: the payout is tried again',
};

/** The description a payout records for a bank refusal: ours first for the self-employed codes. */
export function describeRefusal(code: string, bankDescription: string): string {
  const ours = TAXPAYER_OUTCOMES[code];
  if (!ours) return bankDescription;
  return bankDescription ? `${ours} (Bank 131: ${bankDescription})` : ours;
}
