import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_CARDS } from 'bank131-sandbox';
import { bankMetadataFor, isMove } from '../../src/payouts/schemas.js';
import { CALLBACK_SECRET, order, startPipeline, type Pipeline } from '../support/pipeline.js';
import { eventually, startReceiver, type CapturedRequest } from '../support/sandbox.js';

let p: Pipeline;
beforeAll(async () => {
  // Two worker sets on one Redis: exactly-once must hold across worker processes.
  p = await startPipeline({ workerSets: 2, concurrency: 16 });
});
afterAll(() => p?.close());

type Callback = { type: string; id: string; payout: { id: string; status: string; error: { code: string } | null } };

/**
 * A received callback, verified as an upstream team would: with the published Standard Webhooks
 * library (it throws on a bad signature or a stale timestamp), its webhook-id the event's id.
 */
const verified = (r: CapturedRequest): Callback => {
  const callback = new Webhook(CALLBACK_SECRET).verify(r.body, r.headers as Record<string, string>) as Callback;
  expect(r.headers['webhook-id']).toBe(callback.id);
  expect(r.headers['bank131-payouts-signature']).toBeUndefined();
  return callback;
};

/** Callbacks upstream received for a payout, each verified. */
const callbacksFor = (id: string) => p.upstream.received.map(verified).filter((c) => c.payout.id === id);

const moneyMovedFor = (id: string) => p.sandbox.bank.ledger.filter((e) => e.metadata === bankMetadataFor(id));

describe('1,000 payouts through the batch route', () => {
  it('all reach succeeded, and the bank moved money exactly once for each', async () => {
    const orders = Array.from({ length: 1_000 }, () => order());
    const res = await p.api('POST', '/v1/payouts/batch', { payouts: orders });
    expect(res.status).toBe(200);
    expect(res.body.counts).toEqual({ created: 1_000, existing: 0, conflict: 0, invalid: 0 });
    const ids = orders.map((o) => o.id);
    const states = await p.waitFor(ids, ['succeeded', 'failed', 'cancelled'], 90_000);
    expect(Object.values(states).every((s) => s === 'succeeded')).toBe(true);

    const perPayout = new Map<string, number>();
    for (const e of p.sandbox.bank.ledger) perPayout.set(String(e.metadata), (perPayout.get(String(e.metadata)) ?? 0) + 1);
    for (const id of ids) expect(perPayout.get(bankMetadataFor(id))).toBe(1);
    expect(p.sandbox.bank.ledgerBySession().filter((s) => s.movements.length > 1)).toEqual([]);
    // one bank session per payout, its id recorded
    const records = await p.runtime.store.getMany(ids);
    expect(new Set(records.map((r) => r!.sessionId)).size).toBe(1_000);
  }, 120_000);
});

describe('outcomes and callbacks', () => {
  it('a payout that succeeds is reported upstream, signed', async () => {
    const o = order({ callback_url: p.upstream.url });
    await p.api('POST', '/v1/payouts', o);
    await p.waitFor([o.id], ['succeeded']);
    const [cb] = await eventually(() => (callbacksFor(o.id).length ? callbacksFor(o.id) : undefined));
    expect(cb).toMatchObject({ type: 'payout.succeeded', id: `evt_${o.id}_succeeded`, payout: { status: 'succeeded' } });
    expect(JSON.stringify(cb)).not.toContain('sandbox_ok_4242'); // card hashes never leave
  });

  it.each([
    ['amount', TEST_CARDS.mismatchAmount],
    ['metadata', TEST_CARDS.mismatchMetadata],
  ])('ready_to_confirm with another %s: cancelled, the failed check recorded, upstream told, nothing paid', async (check, card) => {
    const o = order({ callback_url: p.upstream.url }, card);
    await p.api('POST', '/v1/payouts', o);
    await p.waitFor([o.id], ['cancelled', 'succeeded', 'failed']);
    const got = await p.api('GET', `/v1/payouts/${o.id}`);
    expect(got.body).toMatchObject({ status: 'cancelled', error: { code: `policy_${check}_mismatch` } });
    const decision = got.body.audit.find((e: { to: string }) => e.to === 'cancelling');
    expect(decision.why).toMatch(new RegExp(`^policy: ${check} check failed`));
    expect(got.body.audit.some((e: { to: string }) => e.to === 'confirming')).toBe(false);
    expect(moneyMovedFor(o.id)).toEqual([]);
    expect(p.sandbox.bank.sessionState(got.body.bank.session_id)).toBe('cancelled');
    await eventually(() => callbacksFor(o.id).some((c) => c.type === 'payout.cancelled'));
  });

  it('the mismatch knob (bank reports 1 kopeck less) is caught the same way', async () => {
    p.sandbox.bank.setKnobs({ mismatch: { amountDelta: -1, remaining: 1 } });
    const o = order();
    await p.api('POST', '/v1/payouts', o);
    await p.waitFor([o.id], ['cancelled', 'succeeded', 'failed']);
    expect((await p.runtime.store.get(o.id))!.errorCode).toBe('policy_amount_mismatch');
  });

  it('a card the bank declines ends failed with the bank code, reported upstream', async () => {
    const o = order({ callback_url: p.upstream.url }, TEST_CARDS.declinedByIssuer);
    await p.api('POST', '/v1/payouts', o);
    await p.waitFor([o.id], ['failed', 'succeeded', 'cancelled']);
    const got = await p.api('GET', `/v1/payouts/${o.id}`);
    expect(got.body).toMatchObject({ status: 'failed', error: { code: 'declined_by_issuer_bank' } });
    expect(moneyMovedFor(o.id)).toEqual([]);
    const cb = await eventually(() => callbacksFor(o.id).find((c) => c.type === 'payout.failed'));
    expect(cb.payout.error?.code).toBe('declined_by_issuer_bank');
  });

  it('a callback endpoint that fails is retried with backoff and cannot change the outcome', async () => {
    const flaky = await startReceiver((_req, n) => (n <= 3 ? 503 : 200));
    try {
      const o = order({ callback_url: flaky.url });
      await p.api('POST', '/v1/payouts', o);
      await p.waitFor([o.id], ['succeeded']);
      await eventually(() => flaky.received.length >= 4, 10_000, 'the fourth delivery');
      expect(new Set(flaky.received.map((r) => r.body.toString())).size).toBe(1); // the same event each time
      // each attempt verifies on its own, and carries the same webhook-id for the receiver to deduplicate on
      expect(new Set(flaky.received.map((r) => verified(r).id))).toEqual(new Set([`evt_${o.id}_succeeded`]));
      const audit = (await p.runtime.store.audit(o.id)).filter(isMove);
      expect(audit.at(-1)!.to).toBe('succeeded');
      // three refused, the fourth delivered and acknowledged: nothing is sent after it
      await eventually(async () => (await p.runtime.store.get(o.id))?.notified === 'succeeded', 5_000, 'the callback to be acknowledged');
      expect(flaky.received).toHaveLength(4);
    } finally {
      await flaky.close();
    }
  });

  it('a card the bank refuses at start ends failed at once, without retries', async () => {
    const o = order({}, TEST_CARDS.rejectNoSuchCard);
    await p.api('POST', '/v1/payouts', o);
    await p.waitFor([o.id], ['failed']);
    const got = await p.api('GET', `/v1/payouts/${o.id}`);
    expect(got.body.error.code).toBe('card_number_does_not_exist');
    expect(got.body.audit.map((e: { to: string }) => e.to)).toEqual(['queued', 'session_created', 'failed']);
  });
});
