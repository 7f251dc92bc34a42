import { describe, expect, it } from 'vitest';
import { Bank131ApiError, Bank131RequestError, Bank131TransportError } from '../../src/bank131/errors.js';
import { BankSession } from '../../src/bank131/schemas.js';
import { bankFacts, describeSession, failureOf, reportedFacts, verdictOf } from '../../src/payouts/bank-verdict.js';

const session = (s: Record<string, unknown>, payouts?: Array<Record<string, unknown>>) =>
  BankSession.parse({ id: 'ps_1', ...s, ...(payouts ? { payout_list: payouts } : {}) });

describe('verdicts the bank’s session gives', () => {
  it('a payout that succeeded is paid, whatever the session status says', () => {
    expect(verdictOf(session({ status: 'in_progress', next_action: 'confirm' }, [{ status: 'succeeded' }]))).toEqual({ kind: 'paid' });
    expect(verdictOf(session({ status: 'error' }, [{ status: 'succeeded' }]))).toEqual({ kind: 'paid' });
  });

  it('a failed payout without the bank’s code is "payout_failed", a cancelled session without one "session_cancelled"', () => {
    expect(verdictOf(session({ status: 'in_progress' }, [{ status: 'failed' }]))).toEqual({
      kind: 'unpaid',
      code: 'payout_failed',
      description: 'the bank reports the payout failed',
    });
    expect(verdictOf(session({ status: 'cancelled' }))).toEqual({
      kind: 'unpaid',
      code: 'session_cancelled',
      description: 'the bank cancelled the session',
    });
  });

  it('the payout’s own error comes before the session’s', () => {
    const s = session({ status: 'cancelled', error: { code: 'confirm_timeout', description: 'late' } }, [
      { status: 'failed', error: { code: 'insufficient_funds', description: 'poor' } },
    ]);
    expect(verdictOf(s)).toEqual({ kind: 'unpaid', code: 'insufficient_funds', description: 'poor' });
    expect(verdictOf(session({ status: 'cancelled', error: { code: 'confirm_timeout', description: 'late' } }))).toEqual({
      kind: 'unpaid',
      code: 'confirm_timeout',
      description: 'late',
    });
    // a code without words keeps the code and says what happened in ours
    expect(verdictOf(session({ status: 'cancelled', error: { code: 'confirm_timeout' } }))).toEqual({
      kind: 'unpaid',
      code: 'confirm_timeout',
      description: 'the bank cancelled the session',
    });
  });

  it('a session in progress without a payout is in progress, not waiting for a confirm', () => {
    expect(verdictOf(session({ status: 'in_progress', next_action: 'confirm' }))).toEqual({ kind: 'in_progress', payoutStatus: undefined });
    expect(verdictOf(session({ status: 'in_progress' }))).toEqual({ kind: 'in_progress', payoutStatus: undefined });
  });

  it('a payout without amount details is reported as such to the policy', () => {
    expect(reportedFacts(session({ status: 'in_progress', next_action: 'confirm' }, [{ status: 'pending' }]))).toEqual({
      sessionId: 'ps_1',
      sessionStatus: 'in_progress',
      nextAction: 'confirm',
      payouts: [{ status: 'pending', amount: undefined, currency: undefined, metadata: undefined }],
    });
  });
});

describe('facts kept on the record', () => {
  it('only what the bank gave: no payout, a payout without an id, a card without last 4', () => {
    expect(bankFacts(session({ status: 'created' }))).toStrictEqual({});
    expect(bankFacts(session({ status: 'in_progress' }, [{ status: 'pending' }]))).toStrictEqual({});
    expect(
      bankFacts(session({ status: 'in_progress' }, [{ id: 'po_1', status: 'pending', payout_details: { type: 'card' } }])),
    ).toStrictEqual({ bank_payout_id: 'po_1' });
    expect(
      bankFacts(session({ status: 'in_progress' }, [{ status: 'pending', payout_details: { type: 'card', card: { brand: 'visa' } } }])),
    ).toStrictEqual({});
    expect(
      bankFacts(session({ status: 'in_progress' }, [{ status: 'pending', payout_details: { type: 'card', card: { last4: '4242' } } }])),
    ).toStrictEqual({ card_last4: '4242' });
  });

  it('the audit line names the error code, the payout’s or else the session’s', () => {
    expect(describeSession(session({ status: 'cancelled', error: { code: 'confirm_timeout' } }))).toBe(
      'session cancelled, error confirm_timeout',
    );
    expect(
      describeSession(
        session({ status: 'cancelled', error: { code: 'confirm_timeout' } }, [{ status: 'failed', error: { code: 'insufficient_funds' } }]),
      ),
    ).toBe('session cancelled, payout failed, error insufficient_funds');
    expect(describeSession(session({ status: 'in_progress' }, [{ status: null }]))).toBe('session in_progress, payout null');
  });
});

describe('what a payout records when a call fails for good', () => {
  it('the bank’s code and words, or its message when it gave no words', () => {
    expect(failureOf(new Bank131ApiError('session/start/payout', 'card_number_does_not_exist', 'no such card', 400))).toEqual({
      code: 'card_number_does_not_exist',
      description: 'no such card',
    });
    const wordless = new Bank131ApiError('session/start/payout', 'operation_rejected', '', 400);
    expect(failureOf(wordless)).toEqual({ code: 'operation_rejected', description: wordless.message });
    expect(failureOf(wordless).description).toContain('operation_rejected');
  });

  it('any other bank error is "bank_unreachable", anything else "internal_error"', () => {
    const request = new Bank131RequestError('session/init/payout', ['amount: too small']);
    expect(failureOf(request)).toEqual({ code: 'bank_unreachable', description: request.message });
    const transport = new Bank131TransportError('session/confirm', 'not_sent', 'ECONNREFUSED');
    expect(failureOf(transport)).toEqual({ code: 'bank_unreachable', description: transport.message });
    expect(failureOf(new TypeError('x is undefined'))).toEqual({ code: 'internal_error', description: 'x is undefined' });
    expect(failureOf('a thrown string')).toEqual({ code: 'internal_error', description: 'a thrown string' });
  });
});
