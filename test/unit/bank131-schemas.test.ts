import { describe, expect, it } from 'vitest';
import { adviceFor, Bank131ApiError, Bank131TransportError } from '../../src/bank131/errors.js';
import { BankSession, SessionResponse, fromWireNames, parseWebhook, toWireNames } from '../../src/bank131/schemas.js';

const payout = (spelling: 'payout_details' | 'payment_method') => ({
  id: 'po_1',
  status: 'pending',
  amount_details: { amount: 10000, currency: 'rub' },
  [spelling]: { type: 'card', card: { brand: 'visa', last4: '4242' } },
  metadata: 'order-1',
  some_new_field: { x: 1 },
});

describe('Bank 131 schemas', () => {
  it('normalises v1 (payments, payment_method) and v2 (payout_list, payout_details) sessions alike', () => {
    const v2 = BankSession.parse({ id: 'ps_1', status: 'in_progress', payout_list: [payout('payout_details')] });
    const v1 = BankSession.parse({ id: 'ps_1', status: 'in_progress', payments: [payout('payment_method')] });
    for (const s of [v1, v2]) {
      expect(s.payouts).toHaveLength(1);
      expect(s.payouts[0]!.details).toEqual({ type: 'card', card: { brand: 'visa', last4: '4242' } });
      expect(s.payouts[0]).toMatchObject({ metadata: 'order-1', some_new_field: { x: 1 } });
    }
  });

  it('keeps unknown fields and unknown statuses: the bank adds them without notice', () => {
    expect(SessionResponse.parse({ status: 'ok', session: { id: 'ps_1', status: 'created', fee: 5 }, trace: 'x' })).toMatchObject({
      trace: 'x',
      session: { fee: 5, payouts: [] },
    });
    expect(BankSession.parse({ id: 'ps_1', status: 'teleported' }).status).toBe('teleported');
    expect(
      BankSession.parse({ id: 'ps_1', status: 'in_progress', payout_list: [{ ...payout('payout_details'), status: 'lost' }] }).payouts[0]!
        .status,
    ).toBe('lost');
  });

  it('reads the fields the bank may null as absent', () => {
    const s = BankSession.parse({
      id: 'ps_1',
      status: 'in_progress',
      finished_at: null,
      next_action: null,
      error: null,
      payments: null,
      payout_list: [
        {
          ...payout('payout_details'),
          finished_at: null,
          error: null,
          metadata: null,
          payout_details: { type: 'card', card: { last4: null, brand: null } },
        },
      ],
    });
    expect(s).toMatchObject({ finished_at: undefined, next_action: undefined, error: undefined });
    expect(s.payouts[0]).toMatchObject({
      finished_at: undefined,
      error: undefined,
      metadata: null,
      details: { type: 'card', card: { last4: undefined } },
    });
  });

  it('renames the payout destination for v1 on the way out and back', () => {
    const canonical = { session_id: 'ps_1', payout_details: { type: 'card' } };
    expect(toWireNames(canonical, 'v2')).toEqual(canonical);
    expect(toWireNames(canonical, 'v1')).toEqual({ session_id: 'ps_1', payment_method: { type: 'card' } });
    expect(fromWireNames(toWireNames(canonical, 'v1'))).toEqual(canonical);
  });

  it('parses webhooks by type and names the bad field of a known type', () => {
    const ok = parseWebhook({
      type: 'ready_to_confirm',
      session: { id: 'ps_1', status: 'in_progress', payments: [payout('payment_method')] },
    });
    expect(ok.success && ok.data.type).toBe('ready_to_confirm');
    const bad = parseWebhook({ type: 'payment_finished', session: { status: 'accepted' } });
    expect(bad.success).toBe(false);
    expect(bad.error!.issues[0]!.path).toEqual(['session', 'id']);
    expect(parseWebhook({ type: 'payment_finished', session: { id: 'ps_1', status: null, next_action: null } }).success).toBe(true);
    expect(parseWebhook({ type: 'something_new' }).success).toBe(true);
  });
});

describe('Bank 131 error advice (docs/bank131-protocol.md §6)', () => {
  it.each([
    ['internal_error', 500, 'retry'],
    ['provider_issuer_unavailable', 400, 'retry'],
    ['insufficient_wallet_balance', 400, 'retry'],
    ['provider_timeout', 400, 'check_status'],
    ['session_wrong_state', 400, 'check_status'],
    ['idempotency_key_already_exists', 409, 'check_status'],
    ['authentication_error', 401, 'misconfigured'],
    ['authorization_error', 403, 'misconfigured'],
    ['declined_by_issuer_bank', 400, 'permanent'],
    ['card_number_does_not_exist', 400, 'permanent'],
    ['some_new_code', 400, 'permanent'],
    ['some_new_code', 502, 'check_status'],
    ['api_exception', 503, 'check_status'],
  ] as const)('%s with HTTP %i: %s', (code, status, advice) => {
    expect(adviceFor(code, status)).toBe(advice);
    const err = new Bank131ApiError('v2/session/confirm', code, 'x', status);
    expect(err.retryable).toBe(advice !== 'permanent');
    expect(err.outcomeUnknown).toBe(advice === 'check_status');
    expect(err.name).toBe('Bank131ApiError');
  });

  it('transport errors say whether the request could have reached the bank', () => {
    expect(new Bank131TransportError('e', 'not_sent', 'ECONNREFUSED')).toMatchObject({ retryable: true, outcomeUnknown: false });
    expect(new Bank131TransportError('e', 'unknown', 'timeout')).toMatchObject({ retryable: true, outcomeUnknown: true });
  });
});

describe('error codes the table does not know', () => {
  it.each(['constructor', 'toString', '__proto__', 'hasOwnProperty'])(
    '%s is judged by HTTP status, not by what objects inherit',
    (code) => {
      expect(adviceFor(code, 400)).toBe('permanent');
      expect(adviceFor(code, 503)).toBe('check_status');
    },
  );
});
