import { describe, expect, it } from 'vitest';
import type { SandboxError } from '../../src/errors.js';
import { SandboxCreateRequest, SandboxStartRequest, parseRequest } from '../../src/requests.js';
import type { SandboxSession } from '../../src/session-types.js';
import { cardBehaviour, cardFacts } from '../../src/test-cards.js';
import { NULLABLE_PAYOUT_FIELDS, NULLABLE_SESSION_FIELDS, wireSession } from '../../src/wire-format.js';

const card = { type: 'card', card: { type: 'encrypted_card', encrypted_card: { number_hash: 'h_4242' } } };

const session = (overrides: Partial<SandboxSession> = {}): SandboxSession => ({
  id: 'ps_1',
  version: 'v1',
  state: 'awaiting_confirm',
  createdAt: '2026-01-01T00:00:00.000Z',
  updatedAt: '2026-01-01T00:00:01.000Z',
  given: {},
  payout: {
    id: 'po_2',
    behaviour: cardBehaviour('h_4242'),
    card: cardFacts('h_4242'),
    createdAt: '2026-01-01T00:00:00.500Z',
    amountDetails: { amount: 10_000, currency: 'rub' },
    metadata: 'good',
    customer: undefined,
    participantDetails: undefined,
    reportedAmount: 10_000,
    reportedMetadata: 'good',
  },
  ...overrides,
});

describe('sandbox request parsing', () => {
  it('takes the guide’s start/payout (session_id and card only) in v1 spelling', () => {
    const req = parseRequest(SandboxStartRequest, { session_id: 'ps_3230', payment_method: card }, 'v1');
    expect(req).toMatchObject({ session_id: 'ps_3230', payout_details: card });
    expect(req.amount_details).toBeUndefined();
    expect(req.participant_details).toBeUndefined();
  });

  it('takes every session/create body the guide shows', () => {
    for (const body of [{}, { metadata: 'good' }, { amount_details: { amount: 10000, currency: 'rub' }, metadata: 'good' }]) {
      expect(parseRequest(SandboxCreateRequest, body, 'v1')).toEqual(body);
    }
  });

  it('takes a recipient without a name, but still checks the amount when given', () => {
    expect(
      parseRequest(SandboxStartRequest, { session_id: 's', payout_details: card, participant_details: { recipient: {} } }, 'v2'),
    ).toBeTruthy();
    expect(() =>
      parseRequest(SandboxStartRequest, { session_id: 's', payout_details: card, amount_details: { amount: 0, currency: 'rub' } }, 'v2'),
    ).toThrow(/amount_details\.amount/);
  });

  it('names the card field in the caller’s spelling', () => {
    const refusal = (version: 'v1' | 'v2') => {
      try {
        parseRequest(SandboxStartRequest, { session_id: 's' }, version);
      } catch (e) {
        return e as SandboxError;
      }
      throw new Error('not refused');
    };
    expect(refusal('v1')).toMatchObject({ code: 'invalid_request', httpStatus: 400 });
    expect(refusal('v1').description).toMatch(/^payment_method: /);
    expect(refusal('v2').description).toMatch(/^payout_details: /);
  });
});

describe('sandbox wire format', () => {
  it('spells a session v1 or v2', () => {
    const v1 = wireSession(session(), 'v1');
    expect(v1).toMatchObject({
      id: 'ps_1',
      status: 'in_progress',
      next_action: 'confirm',
      payments: [{ id: 'po_2', status: 'pending', payment_method: { type: 'card' } }],
    });
    expect(v1).not.toHaveProperty('payout_list');
    const v2 = wireSession(session(), 'v2');
    expect(v2).toMatchObject({ payout_list: [{ payout_details: { card: { last4: '4242' } } }] });
    expect((v2.payout_list as Array<Record<string, unknown>>)[0]).not.toHaveProperty('payment_method');
  });

  it('leaves absent optional fields out, or sends them as null with nullFields', () => {
    const plain = wireSession(session(), 'v2');
    const payout = (s: Record<string, unknown>) => (s.payout_list as Array<Record<string, unknown>>)[0]!;
    for (const f of ['finished_at', 'error']) expect(plain).not.toHaveProperty(f);
    for (const f of NULLABLE_PAYOUT_FIELDS.filter((f) => f !== 'metadata')) expect(payout(plain)).not.toHaveProperty(f);

    const nulled = wireSession(session(), 'v2', { nullFields: true });
    expect(nulled).toMatchObject({ finished_at: null, error: null, next_action: 'confirm' });
    expect(payout(nulled)).toMatchObject({
      finished_at: null,
      error: null,
      customer: null,
      participant_details: null,
      transaction_info: null,
      metadata: 'good',
    });

    const created = wireSession(session({ state: 'created', payout: undefined }), 'v1', { nullFields: true });
    for (const f of NULLABLE_SESSION_FIELDS) expect(created[f]).toBeNull();
    expect(created.payments).toEqual([]);
  });

  it('reports a session in error as status error with its payout still in progress', () => {
    const wire = wireSession(session({ state: 'error', error: { code: 'internal_error', description: 'unknown' } }), 'v2');
    expect(wire).toMatchObject({ status: 'error', error: { code: 'internal_error' }, payout_list: [{ status: 'in_progress' }] });
    expect(wire).not.toHaveProperty('next_action');
    expect((wire.payout_list as Array<Record<string, unknown>>)[0]).not.toHaveProperty('error');
  });

  it('gives a paid payout its amounts; refunds and fiscalization_details when it has them; the receipt only once paid', () => {
    const taxpayer = {
      tax_reference: '500100732259',
      services: [{ name: 'Design', amount_details: { amount: 5_000, currency: 'rub' }, quantity: 2 }],
    };
    const base = session();
    const started = wireSession({ ...base, payout: { ...base.payout!, fiscalization: { taxpayer } } }, 'v2', {
      baseUrl: 'http://sbx:8131/',
    });
    const startedPayout = (started.payout_list as Array<Record<string, unknown>>)[0]!;
    expect(startedPayout).not.toHaveProperty('amounts');
    expect(startedPayout).not.toHaveProperty('refunds');
    expect(startedPayout.fiscalization_details).toEqual({ professional_income_taxpayer: taxpayer });

    const paid = session({
      state: 'succeeded',
      finishedAt: '2026-01-01T00:00:02.000Z',
      payout: {
        ...base.payout!,
        finishedAt: '2026-01-01T00:00:02.000Z',
        fee: 50,
        fiscalization: { taxpayer, receiptId: 'rcpt_1' },
        refunds: [{ id: 'rf_3', createdAt: 'c', finishedAt: 'f', amount: 2_500, currency: 'rub', reason: 'closed' }],
      },
    });
    const wire = (wireSession(paid, 'v1', { baseUrl: 'http://sbx:8131/' }).payments as Array<Record<string, unknown>>)[0]!;
    expect(wire).toMatchObject({
      status: 'succeeded',
      finished_at: '2026-01-01T00:00:02.000Z',
      amounts: {
        gross: { amount: 10_000, currency: 'rub' },
        net: { amount: 10_000, currency: 'rub' },
        fee: { merchant_fee: { amount: 50, currency: 'rub' } },
      },
      refunds: [
        {
          id: 'rf_3',
          status: 'accepted',
          created_at: 'c',
          finished_at: 'f',
          amount_details: { amount: 2_500, currency: 'rub' },
          reason: 'closed',
        },
      ],
      fiscalization_details: {
        professional_income_taxpayer: { ...taxpayer, receipt: { id: 'rcpt_1', link: 'http://sbx:8131/sandbox/receipts/rcpt_1' } },
      },
    });
    // without a base URL the receipt has no link (the SDK makes it optional)
    const unlinked = (wireSession(paid, 'v2').payout_list as Array<Record<string, unknown>>)[0]!;
    expect(unlinked.fiscalization_details).toEqual({ professional_income_taxpayer: { ...taxpayer, receipt: { id: 'rcpt_1' } } });
  });
});
