import { describe, expect, it } from 'vitest';
import { BankSession } from '../../src/bank131/schemas.js';
import { bankFacts, describeSession, verdictOf } from '../../src/payouts/bank-verdict.js';

const session = (s: Record<string, unknown>, payout?: Record<string, unknown>) =>
  BankSession.parse({ id: 'ps_1', ...s, ...(payout ? { payout_list: [{ id: 'po_1', ...payout }] } : {}) });

describe('what the bank says about a payout (docs/bank131-protocol.md §4)', () => {
  it('paid: accepted, or a payout that succeeded', () => {
    expect(verdictOf(session({ status: 'accepted' }, { status: 'succeeded' }))).toEqual({ kind: 'paid' });
    expect(verdictOf(session({ status: 'accepted' }))).toEqual({ kind: 'paid' });
  });

  it("unpaid: a cancelled session or a failed payout, with the bank's code when it gives one", () => {
    expect(verdictOf(session({ status: 'cancelled', error: { code: 'confirm_timeout' } }, { status: 'failed' }))).toMatchObject({
      kind: 'unpaid',
      code: 'confirm_timeout',
    });
    expect(
      verdictOf(session({ status: 'in_progress' }, { status: 'failed', error: { code: 'declined_by_issuer_bank', description: 'no' } })),
    ).toEqual({
      kind: 'unpaid',
      code: 'declined_by_issuer_bank',
      description: 'no',
    });
    expect(verdictOf(session({ status: 'cancelled', error: null }))).toMatchObject({ kind: 'unpaid', code: 'session_cancelled' });
  });

  it('awaiting our confirm only when in_progress, next_action confirm and the payout pending', () => {
    const v = verdictOf(
      session(
        { status: 'in_progress', next_action: 'confirm' },
        { status: 'pending', amount_details: { amount: 100, currency: 'rub' }, metadata: 'm' },
      ),
    );
    expect(v).toEqual({
      kind: 'awaiting_confirm',
      reported: {
        sessionId: 'ps_1',
        sessionStatus: 'in_progress',
        nextAction: 'confirm',
        payouts: [{ status: 'pending', amount: 100, currency: 'rub', metadata: 'm' }],
      },
    });
    expect(verdictOf(session({ status: 'in_progress', next_action: null }, { status: 'pending' }))).toEqual({
      kind: 'in_progress',
      payoutStatus: 'pending',
    });
    expect(verdictOf(session({ status: 'in_progress', next_action: 'confirm' }, { status: 'in_progress' }))).toEqual({
      kind: 'in_progress',
      payoutStatus: 'in_progress',
    });
  });

  it('not final: status error, a status we do not know, or none at all', () => {
    expect(verdictOf(session({ status: 'error' }, { status: 'in_progress' }))).toEqual({ kind: 'unknown', status: 'error' });
    expect(verdictOf(session({ status: 'teleported' }))).toEqual({ kind: 'unknown', status: 'teleported' });
    expect(verdictOf(session({ status: null }))).toEqual({ kind: 'unknown', status: 'no status' });
    expect(verdictOf(session({ status: 'created' }))).toEqual({ kind: 'created' });
  });

  it('keeps only masked facts, and describes any session in one line', () => {
    const s = session(
      { status: 'in_progress', next_action: 'confirm' },
      { status: 'pending', payout_details: { type: 'card', card: { last4: '4242', brand: 'visa' } } },
    );
    expect(bankFacts(s)).toEqual({ bank_payout_id: 'po_1', card_last4: '4242' });
    expect(describeSession(s)).toBe('session in_progress, next_action confirm, payout pending');
    expect(describeSession(session({ status: null }))).toBe('session null');
  });
});
