import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bankMetadataFor } from '../../src/payouts/schemas.js';
import { CALLBACK_SECRET, order, startPipeline, type Pipeline } from '../support/pipeline.js';
import { eventually } from '../support/wait.js';

/**
 * REVIEW_ABOVE and REVIEW_TTL in one worker set: a payout over the threshold waits for a reviewer
 * before any bank call; nobody deciding in time ends it `rejected`, with one callback; the
 * reconciler is what finds it due, and what drives on an approval whose start job was lost.
 */

let p: Pipeline;
let reviewer: { secret: string; id: string };
const lost = new Set<string>();

beforeAll(async () => {
  p = await startPipeline({
    timing: { reconcileIntervalMs: 200, reconcileAfterMs: 1_500 },
    worker: { approval: { rules: null, reviewAbove: 50_000, reviewTtlMs: 2_000 } },
    // the web process "dies" after an approval is stored, before its start job is enqueued
    crashPoints: {
      afterStep: (step, id) => {
        if (step === 'approveReview' && lost.has(id)) throw new Error('crash after the approval');
      },
    },
  });
  const made = await p.runtime.tenants.store.createKey('default', 'reviewer', { review: true });
  reviewer = { secret: made.secret, id: made.key.id };
});
afterAll(async () => {
  await p?.close();
});

const moneyMovedFor = (id: string) => p.sandbox.bank.ledger.filter((e) => e.metadata === bankMetadataFor(id));
const callbacksFor = (id: string) =>
  p.upstream.received
    .map(
      (r) => new Webhook(CALLBACK_SECRET).verify(r.body, r.headers as Record<string, string>) as { type: string; payout: { id: string } },
    )
    .filter((c) => c.payout.id === id);

describe('a payout over REVIEW_ABOVE', () => {
  it('at the threshold it is paid without review', async () => {
    const o = order({ amount_details: { amount: 50_000, currency: 'rub' } });
    expect((await p.api('POST', '/v1/payouts', o)).status).toBe(202);
    await p.waitFor([o.id], ['succeeded']);
  });

  it('waits for a reviewer; unreviewed past REVIEW_TTL it ends rejected, with exactly one callback', async () => {
    const o = order({ amount_details: { amount: 50_001, currency: 'rub' }, callback_url: p.upstream.url });
    expect((await p.api('POST', '/v1/payouts', o)).status).toBe(202);
    await p.waitFor([o.id], ['awaiting_review']);
    const held = await p.api('GET', `/v1/payouts/${o.id}`);
    expect(held.body.review).toMatchObject({ rules: ['review_above'], decision: null, expires_at: expect.any(String) });
    expect(held.body.bank.session_id).toBeNull();

    await p.waitFor([o.id], ['rejected'], 15_000);
    const read = await p.api('GET', `/v1/payouts/${o.id}`);
    expect(read.body).toMatchObject({ status: 'rejected', error: { code: 'review_expired' }, review: { decision: 'expired' } });
    expect(read.body.audit.at(-1)).toMatchObject({ from: 'awaiting_review', to: 'rejected', why: 'no reviewer decided within REVIEW_TTL' });
    expect(moneyMovedFor(o.id)).toEqual([]);
    await eventually(() => callbacksFor(o.id).length > 0, 10_000, 'the rejected callback');
    // more sweeps pass; the payout is told once
    await new Promise((r) => setTimeout(r, 1_500));
    expect(callbacksFor(o.id).map((c) => c.type)).toEqual(['payout.rejected']);
    // too late to approve
    const late = await p.api('POST', `/v1/payouts/${o.id}/approve`, {}, { authorization: `Bearer ${reviewer.secret}` });
    expect(late.body.error).toMatchObject({ code: 'not_awaiting_review', state: 'rejected' });
  });

  it('upstream may cancel it while it waits', async () => {
    const o = order({ amount_details: { amount: 70_000, currency: 'rub' } });
    await p.api('POST', '/v1/payouts', o);
    await p.waitFor([o.id], ['awaiting_review']);
    expect((await p.api('POST', `/v1/payouts/${o.id}/cancel`)).body).toEqual({ id: o.id, status: 'cancelled' });
    expect(moneyMovedFor(o.id)).toEqual([]);
  });

  it('approved, it is paid once, even when the approval’s start job was lost (the reconciler drives it)', async () => {
    const o = order({ amount_details: { amount: 90_000, currency: 'rub' } });
    await p.api('POST', '/v1/payouts', o);
    await p.waitFor([o.id], ['awaiting_review']);
    lost.add(o.id);
    const approved = await p.api(
      'POST',
      `/v1/payouts/${o.id}/approve`,
      { reason: 'known payee' },
      { authorization: `Bearer ${reviewer.secret}` },
    );
    // the approval is stored; the request died before enqueueing its follow-up
    expect(approved.status).toBe(500);
    expect((await p.runtime.store.get(o.id))?.state).toBe('queued');
    await p.waitFor([o.id], ['succeeded'], 15_000);
    expect(moneyMovedFor(o.id)).toHaveLength(1);
    const record = await p.runtime.store.get(o.id);
    expect(record?.review).toMatchObject({
      rules: ['review_above'],
      decision: 'approved',
      decidedBy: reviewer.id,
      decisionReason: 'known payee',
    });
  });
});

describe('the rules counters (scripts/screen-payout.lua)', () => {
  it('count a payout once, however often its start job runs', async () => {
    const store = p.runtime.store;
    const o = order({ amount_details: { amount: 1_000, currency: 'rub' } });
    // accepted, but with no worker yet to take it: a queued record
    await store.createMany([o as never], () => 'awaiting_card', Date.now() + 60_000);
    await p.runtime.redis.hset(store.key(o.id), 'state', 'queued');
    const checks = [{ kind: 'counter' as const, key: 'rules:test:once', count: 5, sum: null, ttlMs: 60_000 }];
    expect(await store.screen(o.id, checks, false)).toEqual({ kind: 'pass', counted: true, how: 'checked' });
    expect(await store.screen(o.id, checks, false)).toEqual({ kind: 'pass', counted: false, how: 'checked' });
    expect(await p.runtime.redis.hgetall(`${store.prefix}:rules:test:once`)).toEqual({ c: '1', s: '1000' });
  });
});
