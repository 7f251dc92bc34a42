import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bankMetadataFor } from '../../src/payouts/schemas.js';
import { CALLBACK_SECRET, order, startPipeline, type Pipeline } from '../support/pipeline.js';
import { eventually, type CapturedRequest } from '../support/sandbox.js';

/**
 * A payout the bank paid whose money the card's bank sent back: `payment_refunded` (or a
 * session/status showing the refund) moves it from `succeeded` to `returned`, and upstream is
 * told once, whatever the bank repeats.
 */
let p: Pipeline;
beforeAll(async () => {
  // every webhook twice: a repeated payment_refunded must change nothing
  p = await startPipeline({ knobs: { duplicateWebhookRate: 1 }, timing: { reconcileAfterMs: 400, reconcileIntervalMs: 200 } });
});
afterAll(() => p?.close());

type Callback = { id: string; type: string; created_at: string; payout: { id: string; status: string; returned: unknown } };
const verified = (r: CapturedRequest) => new Webhook(CALLBACK_SECRET).verify(r.body, r.headers as Record<string, string>) as Callback;
const callbacksFor = (id: string) => p.upstream.received.map(verified).filter((c) => c.payout.id === id);

async function refund(payoutId: string, body: Record<string, unknown> = {}) {
  const sessionId = (await p.runtime.store.get(payoutId))!.sessionId!;
  const res = await fetch(`${p.sandbox.url}/sandbox/sessions/${sessionId}/refund`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  expect(res.status, await res.clone().text()).toBe(200);
}

describe('a returned payout', () => {
  it('ends returned with the bank’s amount and reason, and upstream gets payout.returned exactly once', async () => {
    const o = order({ callback_url: p.upstream.url });
    expect((await p.api('POST', '/v1/payouts', o)).status).toBe(202);
    await p.waitFor([o.id], ['succeeded']);
    await eventually(() => (callbacksFor(o.id).some((c) => c.type === 'payout.succeeded') ? true : undefined));

    await refund(o.id, { reason: 'the card account is closed' });
    await p.waitFor([o.id], ['returned']);
    const got = await p.api('GET', `/v1/payouts/${o.id}`);
    expect(got.body).toMatchObject({
      status: 'returned',
      returned: { amount: 10_000, reason: 'the card account is closed' },
      notification: { event_id: `evt_${o.id}_returned` },
    });
    expect(got.body.audit.at(-1)).toMatchObject({ from: 'succeeded', to: 'returned' });

    // the webhook came twice, and the reconciler looks again: still one callback of each
    await eventually(() => (callbacksFor(o.id).some((c) => c.type === 'payout.returned') ? true : undefined));
    await new Promise((r) => setTimeout(r, 1_500));
    expect(callbacksFor(o.id).map((c) => c.type)).toEqual(['payout.succeeded', 'payout.returned']);
    const returned = callbacksFor(o.id).find((c) => c.type === 'payout.returned')!;
    expect(returned.payout).toMatchObject({ status: 'returned', returned: { amount: 10_000, reason: 'the card account is closed' } });
    // the payout is done with once both are told
    await eventually(async () => ((await p.runtime.store.dueCount()) === 0 ? true : undefined));
    // the money the bank paid is still one movement; the return is the bank's own record
    expect(p.sandbox.bank.ledger.filter((e) => e.metadata === bankMetadataFor(o.id))).toHaveLength(1);
  });

  it('a part returned is said as such; the list and the metrics know the state', async () => {
    const o = order({ amount_details: { amount: 50_000, currency: 'rub' } });
    await p.api('POST', '/v1/payouts', o);
    await p.waitFor([o.id], ['succeeded']);
    await refund(o.id, { amount: 20_000 });
    await p.waitFor([o.id], ['returned']);
    expect((await p.api('GET', `/v1/payouts/${o.id}`)).body.returned).toMatchObject({
      amount: 20_000,
      reason: "the card's bank returned the transfer",
    });
    // more of it comes back later: the payout shows the bank's new sum and the last reason
    await refund(o.id, { amount: 10_000, reason: 'the rest of the chargeback' });
    await eventually(async () => ((await p.runtime.store.get(o.id))!.returned?.amount === 30_000 ? true : undefined));
    expect((await p.api('GET', `/v1/payouts/${o.id}`)).body).toMatchObject({
      status: 'returned',
      returned: { amount: 30_000, reason: 'the rest of the chargeback' },
    });
    const listed = await p.api('GET', '/v1/payouts?status=returned&limit=100');
    expect(listed.status).toBe(200);
    expect(listed.body.data.map((d: { id: string }) => d.id)).toContain(o.id);
    const metrics = await (await fetch(`${p.url}/metrics`)).text();
    expect(metrics).toMatch(/payouts_finished_total\{outcome="returned",tenant="default"\} [1-9]/);
  });

  it('a refund session/status shows for a payout whose payment_finished was lost: recorded paid, then returned', async () => {
    const o = order({ callback_url: p.upstream.url });
    p.sandbox.bank.setKnobs({ loseWebhooks: { types: ['payment_finished', 'payment_refunded'], remaining: 4 } });
    await p.api('POST', '/v1/payouts', o);
    // the bank paid; we never heard it
    await eventually(() => (p.sandbox.bank.ledger.some((e) => e.metadata === bankMetadataFor(o.id)) ? true : undefined));
    await p.waitFor([o.id], ['confirmed']);
    await refund(o.id, { reason: 'blocked card' });
    // the reconciler finds the payout due and asks session/status, which shows the refund
    await p.waitFor([o.id], ['returned'], 15_000);
    const moves = (await p.api('GET', `/v1/payouts/${o.id}`)).body.audit
      .filter((e: { to?: string }) => e.to)
      .map((e: { to: string }) => e.to);
    expect(moves.slice(-2)).toEqual(['succeeded', 'returned']);
    await eventually(() => {
      const types = callbacksFor(o.id).map((c) => c.type);
      return types.includes('payout.succeeded') && types.includes('payout.returned') ? true : undefined;
    });
    p.sandbox.bank.setKnobs({ loseWebhooks: null });
  });
});
