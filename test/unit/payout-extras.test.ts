import { describe, expect, it } from 'vitest';
import { BankSession } from '../../src/bank131/schemas.js';
import { adviceFor } from '../../src/bank131/errors.js';
import { bankFacts, describeSession } from '../../src/payouts/bank-verdict.js';
import { eventBody, eventsOf, parseEventId, typeOf } from '../../src/payouts/events.js';
import { TAXPAYER_OUTCOMES, describeRefusal, fiscalizationDetails } from '../../src/payouts/fiscalization.js';
import { PayoutOrder, publicView, type PayoutRecord } from '../../src/payouts/schemas.js';
import { planFor, type SavedRecipient } from '../../src/pipeline/saved-recipients.js';
import { UNUSABLE_CARD_CODES } from '../../src/recipients/unusable-card.js';
import { toRecord } from '../../src/store/payout-record.js';

const base = { id: 'o-1', amount_details: { amount: 15000, currency: 'rub' }, recipient: { full_name: 'Ivanov Ivan' } };
const issues = (body: unknown) => {
  const r = PayoutOrder.safeParse(body);
  return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
};

describe('orders to saved recipients and to self-employed people', () => {
  it('names a saved recipient instead of a name and a card, never both a recipient_id and a card', () => {
    expect(issues({ ...base, recipient: undefined, recipient_id: 'rcp_0123456789abcdef' })).toEqual([]);
    expect(issues({ ...base, recipient: undefined })).toEqual(['recipient: is required, unless recipient_id names a saved recipient']);
    expect(issues({ ...base, recipient_id: 'rcp_0123456789abcdef', encrypted_card: { number_hash: 'h' } })[0]).toMatch(
      /^encrypted_card: must not be given with recipient_id/,
    );
    expect(issues({ ...base, recipient_id: 'bob' })[0]).toMatch(/^recipient_id: must be a recipient id/);
  });

  it('takes fiscalization whose services add up to the amount, with a 12-digit tax reference', () => {
    const services = [
      { name: 'Design', amount: 5000, quantity: 2 },
      { name: 'Review', amount: 5000 },
    ];
    const parsed = PayoutOrder.parse({ ...base, fiscalization: { tax_reference: '500100732259', services } });
    expect(parsed.fiscalization?.services[1]?.quantity).toBe(1); // one, when not said
    expect(issues({ ...base, fiscalization: { tax_reference: '500100732259', services: [{ name: 'Design', amount: 100 }] } })).toEqual([
      'fiscalization.services: must add up to amount_details.amount (15000 kopecks): amount × quantity comes to 100',
    ]);
    expect(issues({ ...base, fiscalization: { tax_reference: '5001', services } })).toEqual([
      'fiscalization.tax_reference: must be 12 digits (a self-employed person’s ИНН)',
    ]);
    expect(issues({ ...base, fiscalization: { services } })).toEqual([
      'fiscalization.tax_reference: is required, unless recipient_id names a recipient that has a tax_reference',
    ]);
    expect(issues({ ...base, recipient_id: 'rcp_0123456789abcdef', fiscalization: { services } })).toEqual([]);
    expect(issues({ ...base, fiscalization: { tax_reference: '500100732259', services: [] } })[0]).toMatch(/at least one service/);
  });

  it('sends the bank the services as its receipt lists them, in the payout currency', () => {
    const order = PayoutOrder.parse({
      ...base,
      fiscalization: { tax_reference: '500100732259', services: [{ name: 'Design', amount: 7500, quantity: 2 }], payer_type: 'legal' },
    });
    expect(fiscalizationDetails(order, '500100732259')).toEqual({
      professional_income_taxpayer: {
        tax_reference: '500100732259',
        services: [{ name: 'Design', amount_details: { amount: 7500, currency: 'rub' }, quantity: 2 }],
        payer_type: 'legal',
      },
    });
  });

  it('says what each self-employed refusal means, and none is sent again as it is', () => {
    for (const code of ['taxpayer_unknown', 'taxpayer_not_bound', 'taxpayer_already_bound', 'taxpayer_income_exceeds_amount_limit'])
      expect(adviceFor(code, 400), code).toBe('permanent');
    expect(adviceFor('npd_service_internal_error', 500)).toBe('retry');
    expect(describeRefusal('taxpayer_not_bound', 'not bound')).toBe(`${TAXPAYER_OUTCOMES.taxpayer_not_bound} (Bank 131: not bound)`);
    expect(describeRefusal('declined_by_issuer_bank', 'declined')).toBe('declined');
  });
});

describe('a payout to a saved recipient takes their card when it is accepted', () => {
  const link = () => ({ token: 'tok', expiresAt: 123 });
  const recipient = (over: Partial<SavedRecipient> = {}): SavedRecipient => ({
    id: 'rcp_0123456789abcdef',
    reference: 'worker-7',
    name: { full_name: 'Petrov Petr' },
    taxReference: '500100732259',
    card: { id: 'card_1', last4: '4242', status: 'active', hashes: '{"number_hash":"h"}' },
    ...over,
  });
  const order = (over: Record<string, unknown> = {}) =>
    PayoutOrder.parse({ ...base, recipient: undefined, recipient_id: 'rcp_0123456789abcdef', ...over });

  it('a working saved card: queued with that card, its last 4 held against the bank’s word, the recipient’s name', () => {
    expect(planFor(order(), recipient(), link)).toEqual({
      ok: true,
      plan: {
        state: 'queued',
        reference: 'worker-7',
        fields: {
          recipient_id: 'rcp_0123456789abcdef',
          recipient_name: '{"full_name":"Petrov Petr"}',
          card_id: 'card_1',
          collected_card: '{"number_hash":"h"}',
          card_last4: '4242',
          given_last4: '4242',
        },
      },
    });
  });

  it('no card, or one found unusable: waits for a card through a collection link', () => {
    for (const card of [null, { id: 'card_1', last4: '4242', status: 'invalid', hashes: '{}' }]) {
      const r = planFor(order(), recipient({ card }), link);
      expect(r).toMatchObject({ ok: true, plan: { state: 'awaiting_card', collect: { token: 'tok', expiresAt: 123 }, dueAt: 123 } });
    }
  });

  it('a recipient that is not the tenant’s is refused, naming the field; so is fiscalization with no tax reference anywhere', () => {
    expect(planFor(order(), null, link)).toEqual({
      ok: false,
      issues: [{ field: 'recipient_id', problem: 'no recipient rcp_0123456789abcdef' }],
    });
    const fiscal = order({ fiscalization: { services: [{ name: 'Work', amount: 15000 }] } });
    expect(planFor(fiscal, recipient({ taxReference: null }), link)).toMatchObject({
      ok: false,
      issues: [{ field: 'fiscalization.tax_reference' }],
    });
    expect(planFor(fiscal, recipient(), link)).toMatchObject({ ok: true, plan: { fields: { tax_reference: '500100732259' } } });
    // the recipient's binding is for their own ИНН: another one named in the order is refused
    const other = order({ fiscalization: { tax_reference: '771234567891', services: [{ name: 'Work', amount: 15000 }] } });
    expect(planFor(other, recipient(), link)).toMatchObject({ ok: false, issues: [{ field: 'fiscalization.tax_reference' }] });
    expect(planFor(other, recipient({ taxReference: null }), link)).toMatchObject({
      ok: true,
      plan: { fields: { tax_reference: '771234567891' } },
    });
  });

  it('unusable means the card itself: expired, not found, unbound, no account; not a decline of this one payout', () => {
    expect([...UNUSABLE_CARD_CODES].sort()).toEqual([
      'account_not_found',
      'bank_card_expired',
      'binding_is_deactivated',
      'card_number_does_not_exist',
    ]);
    expect(UNUSABLE_CARD_CODES.has('declined_by_issuer_bank')).toBe(false);
  });
});

describe('what the bank says a payout cost and left behind', () => {
  const session = BankSession.parse({
    id: 'ps_1',
    status: 'accepted',
    payout_list: [
      {
        id: 'po_9',
        status: 'succeeded',
        finished_at: '2026-12-01T10:00:00.000000Z',
        payout_details: { type: 'card', card: { last4: '4242' } },
        amounts: { fee: { merchant_fee: { amount: 75, currency: 'rub' } } },
        fiscalization_details: {
          professional_income_taxpayer: { tax_reference: '500100732259', receipt: { id: 'rcpt_1', link: 'https://r/1' } },
        },
        refunds: [{ id: 'rf_1', status: 'in_progress' }],
      },
    ],
  });

  it('keeps the fee, the bank’s finish time and a receipt; the refunds show in the audit line', () => {
    expect(bankFacts(session)).toEqual({
      bank_payout_id: 'po_9',
      card_last4: '4242',
      fee_amount: '75',
      bank_finished_at: '2026-12-01T10:00:00.000000Z',
      receipt_id: 'rcpt_1',
      receipt_link: 'https://r/1',
    });
    expect(describeSession(session)).toBe('session accepted, payout succeeded, 1 refund (in_progress)');
    // the bank may send nulls for all of it
    expect(
      bankFacts(BankSession.parse({ id: 'ps_1', payout_list: [{ amounts: null, fiscalization_details: null, refunds: null }] })),
    ).toEqual({});
  });
});

describe('a payout’s events', () => {
  const record = (h: Record<string, string>): PayoutRecord =>
    toRecord({
      id: 'o-1',
      state: 'succeeded',
      session_id: 'ps_1',
      order: JSON.stringify({ ...base, recipient_id: 'rcp_0123456789abcdef', callback_url: 'https://up/cb' }),
      fingerprint: 'f',
      created_at: '2026-12-01T09:00:00.000Z',
      updated_at: '2026-12-01T10:00:00.000Z',
      finished_at: '2026-12-01T10:00:00.000Z',
      ...h,
    });

  it('are what its final steps recorded; a payout from before that has its state’s own', () => {
    expect(eventsOf(record({ state: 'returned', events: 'succeeded,returned' }))).toEqual(['succeeded', 'returned']);
    expect(eventsOf(record({ state: 'failed', events: 'failed,card_invalid' }))).toEqual(['failed', 'card_invalid']);
    expect(eventsOf(record({ state: 'failed' }))).toEqual(['failed']);
    expect(eventsOf(record({ state: 'started' }))).toEqual([]);
    expect(typeOf('card_invalid')).toBe('recipient.card_invalid');
    expect(typeOf('returned')).toBe('payout.returned');
    expect(parseEventId('evt_o-1_card_invalid')).toEqual({ payoutId: 'o-1', event: 'card_invalid' });
  });

  it('payout.succeeded still says succeeded when it is delivered after the money came back; payout.returned says how much and why', () => {
    const p = record({
      state: 'returned',
      events: 'succeeded,returned',
      returned_amount: '15000',
      returned_reason: 'account closed',
      returned_at: '2026-12-02T08:00:00.000Z',
    });
    const succeeded = JSON.parse(eventBody(p, 'succeeded'));
    expect(succeeded).toMatchObject({
      type: 'payout.succeeded',
      created_at: '2026-12-01T10:00:00.000Z',
      payout: { status: 'succeeded', returned: null },
    });
    const returned = JSON.parse(eventBody(p, 'returned'));
    expect(returned).toMatchObject({
      id: 'evt_o-1_returned',
      type: 'payout.returned',
      created_at: '2026-12-02T08:00:00.000Z',
      payout: { status: 'returned', returned: { amount: 15000, reason: 'account closed', at: '2026-12-02T08:00:00.000Z' } },
    });
  });

  it('recipient.card_invalid names the recipient, the card by its last 4, and why; never the card hashes', () => {
    const p = record({
      state: 'failed',
      events: 'failed,card_invalid',
      recipient_id: 'rcp_0123456789abcdef',
      card_last4: '0069',
      error_code: 'bank_card_expired',
      error_text: 'expired',
      collected_card: '{"number_hash":"secret-hash"}',
    });
    const body = eventBody(p, 'card_invalid');
    expect(JSON.parse(body)).toMatchObject({
      type: 'recipient.card_invalid',
      recipient: { id: 'rcp_0123456789abcdef', card: { last4: '0069', status: 'invalid', invalid_reason: { code: 'bank_card_expired' } } },
      payout: { id: 'o-1', status: 'failed' },
    });
    expect(body).not.toContain('secret-hash');
    expect(JSON.stringify(publicView(p))).not.toContain('secret-hash');
  });
});
