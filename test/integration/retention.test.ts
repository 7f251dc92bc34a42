import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bankMetadataFor, PayoutOrder } from '../../src/payouts/schemas.js';
import { PayoutStore } from '../../src/store/payout-store.js';
import { payoutsRetired } from '../../src/metrics.js';
import { order, startPipeline, type Pipeline } from '../support/pipeline.js';
import { startReceiver } from '../support/sandbox.js';
import { connectRedis, deleteKeys, testPrefix } from '../support/redis.js';
import { eventually, sleep } from '../support/wait.js';

/** Every key of this prefix that names the payout (its record, audit, indexes, tombstone). */
async function keysNaming(redis: ReturnType<typeof connectRedis>, prefix: string, ...needles: string[]): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    keys.push(...batch);
  } while (cursor !== '0');
  const members: string[] = [];
  for (const k of keys.filter((k) => k.includes(':list:') && !k.endsWith(':seq'))) {
    if ((await redis.type(k)) === 'zset')
      members.push(...(await redis.zrange(k, '0', '-1')).filter((m) => needles.includes(m)).map((m) => `${k} ∋ ${m}`));
  }
  return [...keys.filter((k) => needles.some((n) => k.includes(n))), ...members].sort();
}

describe('retire-payouts, on the store', () => {
  const redis = connectRedis();
  const prefix = testPrefix('retire');
  const store = new PayoutStore(redis, prefix);
  afterAll(async () => {
    await deleteKeys(redis, prefix);
    await redis.quit();
  });
  const make = (overrides: Record<string, unknown> = {}) => PayoutOrder.parse(order(overrides));
  const finish = async (o: PayoutOrder, to: 'succeeded' | 'failed', notified: boolean) => {
    await store.createMany([o], () => 'queued', Date.now() + 60_000);
    await store.transition(o.id, {
      from: ['queued'],
      to: 'session_created',
      why: 'x',
      dueAt: Date.now(),
      set: { session_id: `ps_${o.id}` },
      indexSession: `ps_${o.id}`,
    });
    await store.transition(o.id, { from: ['session_created'], to: to === 'succeeded' ? 'started' : 'failed', why: 'x', dueAt: Date.now() });
    if (to === 'succeeded') await store.transition(o.id, { from: ['started'], to: 'succeeded', why: 'x', dueAt: Date.now() });
    if (notified) await store.markNotified(o.id, to);
  };

  it('removes a finished, reported payout past the cutoff and leaves only a tombstone that keeps its id taken', async () => {
    const done = make();
    await finish(done, 'succeeded', true);
    expect(await keysNaming(redis, prefix, done.id)).not.toEqual([]);
    expect(await store.retireFinished(new Date(Date.now() + 1_000))).toBe(1);
    expect(await store.get(done.id)).toBeNull();
    expect(await store.audit(done.id)).toEqual([]);
    expect(await store.payoutIdForSession(`ps_${done.id}`)).toBeNull();
    expect(await keysNaming(redis, prefix, done.id)).toEqual([`${prefix}:retired:${done.id}`]);
    expect(await store.retired(done.id)).toEqual({ state: 'succeeded', createdAt: expect.any(String), finishedAt: expect.any(String) });
    // sent again, the same order is the payout it was; another order under its id is a conflict
    expect(await store.createMany([done], () => 'queued', Date.now())).toEqual([{ id: done.id, status: 'existing', state: 'succeeded' }]);
    expect(await store.createMany([{ ...done, metadata: 'another order' }], () => 'queued', Date.now())).toEqual([
      { id: done.id, status: 'conflict', state: 'succeeded', fields: [] },
    ]);
    expect(await store.get(done.id)).toBeNull();
  });

  it('keeps a payout whose callback upstream has not acknowledged, one still in flight, and one created before the cutoff but ended or reported after it', async () => {
    const unreported = make({ callback_url: 'https://upstream.example/cb' });
    await finish(unreported, 'failed', false);
    const inFlight = make();
    await store.createMany([inFlight], () => 'queued', Date.now());
    // created before the cutoff, ended after it
    const endedLate = make();
    await store.createMany([endedLate], () => 'queued', Date.now());
    // ended before the cutoff, upstream told after it
    const reportedLate = make({ callback_url: 'https://upstream.example/cb' });
    await finish(reportedLate, 'succeeded', false);
    await sleep(5);
    const cutoff = new Date();
    await sleep(5); // so what follows happens after the cutoff, to the millisecond
    await store.transition(endedLate.id, {
      from: ['queued'],
      to: 'session_created',
      why: 'x',
      dueAt: Date.now(),
      set: { session_id: `ps_${endedLate.id}` },
    });
    await store.transition(endedLate.id, { from: ['session_created'], to: 'failed', why: 'x', dueAt: Date.now() });
    await store.markNotified(reportedLate.id, 'succeeded');
    // one id per script call: the pages move on past the payouts left behind
    expect(await store.retireFinished(cutoff, 1)).toBe(0);
    for (const o of [unreported, inFlight, endedLate, reportedLate]) expect(await store.get(o.id)).not.toBeNull();
    // once upstream has the outcome, before the cutoff, it goes; the others stay
    // (as mark-notified.lua records it, at a moment before the cutoff)
    await redis.hset(store.key(unreported.id), 'notified', 'failed', 'notified_at', new Date(cutoff.getTime() - 1).toISOString());
    await redis.zrem(store.dueKey, unreported.id);
    expect(await store.retireFinished(cutoff, 1)).toBe(1);
    expect(await store.get(unreported.id)).toBeNull();
    expect(await store.retired(unreported.id)).toMatchObject({ state: 'failed' });
    for (const o of [inFlight, endedLate, reportedLate]) expect(await store.get(o.id)).not.toBeNull();
    // and a later cutoff takes the two that ended or were reported late
    expect(await store.retireFinished(new Date(Date.now() + 1_000), 1)).toBe(2);
    expect(await store.get(inFlight.id)).not.toBeNull();
  });
});

describe('retention in the running service', () => {
  let p: Pipeline;
  beforeAll(async () => {
    // Retention of a millisecond: what would be 30 days, at once.
    p = await startPipeline({ timing: { retentionMs: 1 } });
  });
  afterAll(() => p?.close());

  it('is scheduled with the workers', async () => {
    expect(await p.runtime.queues.reconcile.getJobScheduler('payout-retention')).toMatchObject({ every: expect.any(Number) });
  });

  it('a retired payout is gone from Redis but answered 410 with how it ended, and sending it again pays nothing', async () => {
    const o = order({ callback_url: p.upstream.url });
    expect((await p.api('POST', '/v1/payouts', o)).status).toBe(202);
    await p.waitFor([o.id], ['succeeded']);
    // retired only once upstream acknowledged the callback
    await eventually(
      async () => (await p.runtime.store.get(o.id))?.notified === 'succeeded' || undefined,
      10_000,
      'the callback to be acknowledged',
    );
    const retiredBefore = (await payoutsRetired.get()).values[0]?.value ?? 0;
    await p.runtime.queues.reconcile.add('retention', {});
    await eventually(async () => (await p.runtime.store.retired(o.id)) ?? undefined, 10_000, 'the payout to be retired');
    expect((await payoutsRetired.get()).values[0]?.value).toBeGreaterThanOrEqual(retiredBefore + 1);
    const redis = p.runtime.redis as ReturnType<typeof connectRedis>;
    expect(await keysNaming(redis, p.prefix, o.id)).toEqual([`${p.prefix}:retired:${o.id}`]);

    const got = await p.api('GET', `/v1/payouts/${o.id}`);
    expect(got.status).toBe(410);
    expect(got.body.error).toMatchObject({ code: 'payout_retired', state: 'succeeded', finished_at: expect.any(String) });
    expect((await p.api('POST', `/v1/payouts/${o.id}/cancel`)).status).toBe(410);
    expect((await p.api('GET', '/v1/payouts/never-was')).status).toBe(404);

    const again = await p.api('POST', '/v1/payouts', o);
    expect(again).toMatchObject({ status: 200, body: { id: o.id, status: 'succeeded' } });
    const other = await p.api('POST', '/v1/payouts', { ...o, amount_details: { amount: 1, currency: 'rub' } });
    expect(other).toMatchObject({ status: 409, body: { error: { code: 'conflict' } } });
    const batch = await p.api('POST', '/v1/payouts/batch', { payouts: [o] });
    expect(batch.body.results[0]).toMatchObject({ status: 'existing', state: 'succeeded' });
    expect(await p.runtime.store.get(o.id)).toBeNull();
    expect(p.sandbox.bank.ledger.filter((e) => e.metadata === bankMetadataFor(o.id))).toHaveLength(1);
  });

  it("a retired payout's event goes with it: the event, its attempts and its place in the listing", async () => {
    const hooks = await startReceiver();
    try {
      const made = await p.api('POST', '/v1/webhook-endpoints', { url: hooks.url });
      const o = order({ callback_url: p.upstream.url });
      const evt = `evt_${o.id}_succeeded`;
      expect((await p.api('POST', '/v1/payouts', o)).status).toBe(202);
      await eventually(
        async () => (await p.api('GET', `/v1/events/${evt}`)).body.delivery?.status === 'delivered' || undefined,
        10_000,
        'the event delivered to both destinations',
      );
      const redis = p.runtime.redis as ReturnType<typeof connectRedis>;
      expect(await redis.lrange(`${p.prefix}:event:${evt}:attempts`, 0, -1)).toHaveLength(2);
      await p.runtime.queues.reconcile.add('retention', {});
      await eventually(async () => (await p.runtime.store.retired(o.id)) ?? undefined, 10_000, 'the payout to be retired');
      expect(await keysNaming(redis, p.prefix, o.id)).toEqual([`${p.prefix}:retired:${o.id}`]);
      expect(await redis.zscore(`${p.prefix}:events:default`, evt)).toBeNull();
      expect(await redis.zscore(`${p.prefix}:events:default:type:payout.succeeded`, evt)).toBeNull();
      expect((await p.api('GET', `/v1/events/${evt}`)).status).toBe(404);
      expect((await p.api('GET', `/v1/events?payout=${o.id}`)).body.data).toEqual([]);
      expect((await p.api('POST', `/v1/events/${evt}/resend`)).status).toBe(404);
      await p.api('DELETE', `/v1/webhook-endpoints/${made.body.id}`);
    } finally {
      await hooks.close();
    }
  });
});
