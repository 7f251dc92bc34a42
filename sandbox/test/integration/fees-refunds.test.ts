import { afterEach, describe, expect, it } from 'vitest';
import { TEST_CARDS } from '../../src/test-cards.js';
import type { WireSession } from '../support/client.js';
import { clientFor, eventually, startPayoutRequest as payout, useSandboxWithReceiver } from '../support/sandbox.js';

// The bank's fee on a paid payout (amounts), and payouts the card's bank returns (refunds,
// payment_refunded, the wallet and the ledger).

const env = useSandboxWithReceiver();
const { webhooksFor, waitForWebhook } = env;

afterEach(() => {
  env.sandbox.bank.setKnobs({
    feePercent: 0.5,
    feeMinimumKopecks: 0,
    webhookApiVersion: undefined,
    duplicateWebhookRate: 0,
    loseWebhooks: undefined,
  });
});

interface LedgerView {
  sessions: Array<{ session_id: string; total: number; fee: number; returned: number; movements: unknown[]; returns: unknown[] }>;
  movements: number;
  amount_total: number;
  fee_total: number;
  returns: Array<{ session_id: string; payout_id: string; refund_id: string; amount: number; reason: string }>;
  returned_total: number;
  sessions_paid_more_than_once: string[];
}
const ledger = async (): Promise<LedgerView> => (await fetch(`${env.sandbox.url}/sandbox/ledger`)).json() as Promise<LedgerView>;

/** A payout of `amount` kopecks run to payment_finished; answers the finished webhook's session. */
async function paidSession(options: { amount?: number; version?: 'v1' | 'v2'; card?: string } = {}): Promise<WireSession> {
  const client = clientFor(env.sandbox, { apiVersion: options.version ?? 'v2' });
  const session = await client.createSession();
  const request = payout(session.id, options.card);
  request.amount_details.amount = options.amount ?? 10_000;
  await client.startPayout(request);
  await waitForWebhook(session.id, 'ready_to_confirm');
  await client.confirmSession(session.id);
  const [finished] = await waitForWebhook(session.id, 'payment_finished');
  return finished.session;
}

async function refund(sessionId: string, body: Record<string, unknown> = {}) {
  const res = await fetch(`${env.sandbox.url}/sandbox/sessions/${sessionId}/refund`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> & { error?: { code: string; description: string } } };
}

describe('the bank’s fee on a paid payout', () => {
  it.each(['v1', 'v2'] as const)(
    'payment_finished and session/status carry amounts: gross, net and the merchant fee (%s)',
    async (version) => {
      const finished = await paidSession({ version, amount: 12_345 });
      const paid = finished.payouts[0]!;
      // 0.5 % of 123.45 RUB is 61.725 kopecks: half up, 62
      const amounts = {
        gross: { amount: 12_345, currency: 'rub' },
        net: { amount: 12_345, currency: 'rub' },
        fee: { merchant_fee: { amount: 62, currency: 'rub' } },
      };
      expect(paid).toMatchObject({ status: 'succeeded', amounts, finished_at: expect.any(String) });
      expect(paid.finished_at).toBe(finished.finished_at);
      const status = await clientFor(env.sandbox, { apiVersion: version }).sessionStatus(finished.id);
      expect(status.payouts[0]).toMatchObject({ amounts, finished_at: paid.finished_at });
    },
  );

  it('follows the fee knobs, keeps the fee of a paid payout when they change, and never takes it from the wallet', async () => {
    const client = clientFor(env.sandbox);
    env.sandbox.bank.setKnobs({ feePercent: 1, feeMinimumKopecks: 3_000 });
    const [walletBefore] = await client.walletBalance();
    const minimum = await paidSession({ amount: 10_000 }); // 1 % is 100 kopecks, below the minimum
    const percent = await paidSession({ amount: 1_000_000 }); // 1 % is 10 000 kopecks
    const [walletAfter] = await client.walletBalance();
    expect(walletBefore!.amount_details.amount - walletAfter!.amount_details.amount).toBe(1_010_000);
    expect(minimum.payouts[0]!.amounts).toMatchObject({ fee: { merchant_fee: { amount: 3_000 } } });
    expect(percent.payouts[0]!.amounts).toMatchObject({ fee: { merchant_fee: { amount: 10_000 } } });

    env.sandbox.bank.setKnobs({ feePercent: 0 });
    expect((await client.sessionStatus(minimum.id)).payouts[0]!.amounts).toMatchObject({ fee: { merchant_fee: { amount: 3_000 } } });

    const view = await ledger();
    const mine = view.sessions.filter((s) => [minimum.id, percent.id].includes(s.session_id));
    expect(mine.map((s) => s.fee).sort((a, b) => a - b)).toEqual([3_000, 10_000]);
    expect(view.fee_total).toBe(view.sessions.reduce((sum, s) => sum + s.fee, 0));
  });

  it('a payout not (yet) paid carries no amounts; a declined one neither', async () => {
    const client = clientFor(env.sandbox);
    const session = await client.createSession();
    const started = await client.startPayout(payout(session.id));
    expect(started.payouts[0]!.amounts).toBeUndefined();
    const declined = await paidSession({ card: TEST_CARDS.declinedByIssuer });
    expect(declined.payouts[0]).toMatchObject({ status: 'failed', finished_at: expect.any(String) });
    expect(declined.payouts[0]!.amounts).toBeUndefined();
  });
});

describe('a payout returned by the card’s bank (POST /sandbox/sessions/:id/refund)', () => {
  it('sends a signed payment_refunded with the refund, shows it in session/status, credits the wallet and records the return', async () => {
    const client = clientFor(env.sandbox);
    const paid = await paidSession({ amount: 25_000 });
    const [walletBefore] = await client.walletBalance();
    const ledgerBefore = await ledger();

    const answer = await refund(paid.id, { amount: 10_000, reason: 'card account closed' });
    expect(answer.status).toBe(200);
    expect(answer.json).toMatchObject({ id: paid.id, state: 'succeeded', session: { status: 'accepted' } });

    const [refunded] = await waitForWebhook(paid.id, 'payment_refunded');
    expect(refunded.session).toMatchObject({ id: paid.id, status: 'accepted' });
    const returned = refunded.session.payouts[0]!;
    expect(returned).toMatchObject({ status: 'succeeded', amounts: { gross: { amount: 25_000 } } });
    expect(returned.refunds).toEqual([
      {
        id: expect.stringMatching(/^rf_\d+$/),
        status: 'accepted',
        created_at: expect.any(String),
        finished_at: expect.any(String),
        amount_details: { amount: 10_000, currency: 'rub' },
        reason: 'card account closed',
      },
    ]);
    const status = await client.sessionStatus(paid.id);
    expect(status.status).toBe('accepted');
    expect(status.payouts[0]).toMatchObject({ status: 'succeeded', refunds: returned.refunds });

    const [walletAfter] = await client.walletBalance();
    expect(walletAfter!.amount_details.amount - walletBefore!.amount_details.amount).toBe(10_000);

    const after = await ledger();
    expect(after.returned_total - ledgerBefore.returned_total).toBe(10_000);
    expect(after.amount_total).toBe(ledgerBefore.amount_total);
    expect(after.movements).toBe(ledgerBefore.movements);
    expect(after.returns.at(-1)).toMatchObject({
      session_id: paid.id,
      payout_id: returned.id,
      refund_id: (returned.refunds as Array<{ id: string }>)[0]!.id,
      amount: 10_000,
      reason: 'card account closed',
    });
    expect(after.sessions.find((s) => s.session_id === paid.id)).toMatchObject({ total: 25_000, returned: 10_000, movements: [{}] });

    // the rest, by default: all that is left, with the default reason; a second return is not a second payment
    const rest = await refund(paid.id);
    expect(rest.status).toBe(200);
    const [, second] = await waitForWebhook(paid.id, 'payment_refunded', 2);
    const refunds = second!.session.payouts[0]!.refunds as Array<{ amount_details: { amount: number }; reason: string }>;
    expect(refunds.map((r) => r.amount_details.amount)).toEqual([10_000, 15_000]);
    expect(refunds[1]!.reason).toBe("the card's bank returned the transfer");
    const final = await ledger();
    expect(final.sessions.find((s) => s.session_id === paid.id)).toMatchObject({ returned: 25_000 });
    expect(final.sessions_paid_more_than_once).toEqual([]);
  });

  it('refuses a payout that has not succeeded (session_wrong_state) and more than is left (refund_amount_too_large)', async () => {
    const client = clientFor(env.sandbox);
    const session = await client.createSession();
    await client.startPayout(payout(session.id));
    const early = await refund(session.id);
    expect(early.status).toBe(409);
    expect(early.json).toMatchObject({ status: 'error', error: { code: 'session_wrong_state' } });

    const declined = await paidSession({ card: TEST_CARDS.declinedByIssuer });
    expect((await refund(declined.id)).json.error).toMatchObject({ code: 'session_wrong_state' });

    const paid = await paidSession({ amount: 10_000 });
    const tooMuch = await refund(paid.id, { amount: 10_001 });
    expect(tooMuch.status).toBe(400);
    expect(tooMuch.json.error).toMatchObject({ code: 'refund_amount_too_large' });
    expect((await refund(paid.id, { amount: 6_000 })).status).toBe(200);
    expect((await refund(paid.id, { amount: 4_001 })).json.error).toMatchObject({ code: 'refund_amount_too_large' });
    expect((await refund(paid.id, { amount: 4_000 })).status).toBe(200);
    expect((await refund(paid.id)).json.error).toMatchObject({ code: 'refund_amount_too_large' });

    expect((await refund(paid.id, { amount: -1 })).json.error).toMatchObject({ code: 'invalid_request' });
    const unknown = await refund('ps_0');
    expect(unknown.status).toBe(404);
    // nothing refused was sent
    await waitForWebhook(paid.id, 'payment_refunded', 2);
    await new Promise((r) => setTimeout(r, 50));
    expect(webhooksFor(paid.id).filter((w) => w.type === 'payment_refunded')).toHaveLength(2);
    expect(webhooksFor(declined.id).filter((w) => w.type === 'payment_refunded')).toHaveLength(0);
  });

  it('payment_refunded takes the session’s spelling (or the webhookApiVersion knob’s), and the delivery knobs apply to it', async () => {
    const v1 = await paidSession({ version: 'v1' });
    await refund(v1.id);
    const [w1] = await waitForWebhook(v1.id, 'payment_refunded');
    expect(w1.session.payments).toHaveLength(1);
    expect(w1.session.payout_list).toBeUndefined();

    env.sandbox.bank.setKnobs({ webhookApiVersion: 'v2', duplicateWebhookRate: 1 });
    const v2 = await paidSession({ version: 'v1' });
    await refund(v2.id);
    const copies = await waitForWebhook(v2.id, 'payment_refunded', 2);
    expect(copies[0].session.payout_list).toHaveLength(1);
    expect(env.sandbox.webhooks.deliveries().filter((d) => d.sessionId === v2.id && d.type === 'payment_refunded')).toEqual([
      expect.objectContaining({ copy: 'original', delivered: true }),
      expect.objectContaining({ copy: 'duplicate', delivered: true }),
    ]);

    env.sandbox.bank.setKnobs({ duplicateWebhookRate: 0, loseWebhooks: { types: ['payment_refunded'], remaining: 1 } });
    const lost = await paidSession();
    await refund(lost.id);
    const record = await eventually(() =>
      env.sandbox.webhooks.deliveries().find((d) => d.sessionId === lost.id && d.type === 'payment_refunded'),
    );
    expect(record).toMatchObject({ lost: true, attempts: 0 });
    // only session/status tells of it
    expect((await clientFor(env.sandbox).sessionStatus(lost.id)).payouts[0]!.refunds).toHaveLength(1);
  });
});

describe('a declined card does not follow the recipient', () => {
  it('after a payout to a card that was declined, a payout to another card of the same recipient goes through', async () => {
    for (const declining of [TEST_CARDS.expired, TEST_CARDS.declinedNoSuchCard]) {
      const declined = await paidSession({ card: declining });
      expect(declined.payouts[0]).toMatchObject({ status: 'failed', error: { code: declining.replace('sandbox_decline_', '') } });
      const next = await paidSession({ card: TEST_CARDS.ok });
      expect(next.payouts[0]).toMatchObject({ status: 'succeeded', participant_details: declined.payouts[0]!.participant_details });
    }
  });
});
