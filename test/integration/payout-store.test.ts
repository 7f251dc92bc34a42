import { afterAll, describe, expect, it, vi } from 'vitest';
import { PayoutOrder, isMove } from '../../src/payouts/schemas.js';
import { CREATE_CHUNK, PayoutStore } from '../../src/store/payout-store.js';
import { connectRedis, deleteKeys, testPrefix } from '../support/redis.js';
import { order } from '../support/pipeline.js';

const redis = connectRedis();
const prefix = testPrefix('store');
const store = new PayoutStore(redis, prefix);
afterAll(async () => {
  await deleteKeys(redis, prefix);
  await redis.quit();
});

const make = (overrides: Record<string, unknown> = {}) => PayoutOrder.parse(order(overrides));

describe('PayoutStore', () => {
  it('creates idempotently and names the fields of a conflict', async () => {
    const o = make();
    expect(await store.createMany([o], () => 'queued', Date.now() + 60_000)).toEqual([{ id: o.id, status: 'created', state: 'queued' }]);
    expect(await store.createMany([o], () => 'queued', Date.now() + 60_000)).toEqual([{ id: o.id, status: 'existing', state: 'queued' }]);
    const changed = { ...o, recipient: { full_name: 'Petrov Petr' } };
    expect(await store.createMany([changed], () => 'queued', Date.now() + 60_000)).toEqual([
      { id: o.id, status: 'conflict', state: 'queued', fields: ['recipient'] },
    ]);
    expect(await store.audit(o.id)).toEqual([{ at: (await store.get(o.id))!.createdAt, from: null, to: 'queued', why: 'accepted' }]);
  });

  it('a batch costs one script call per chunk, not per payout', async () => {
    const orders = Array.from({ length: CREATE_CHUNK * 2 + 7 }, () => make());
    const spy = vi.spyOn(redis as unknown as { b131CreatePayouts: (...a: unknown[]) => Promise<string[]> }, 'b131CreatePayouts');
    const results = await store.createMany(orders, () => 'queued', Date.now() + 60_000);
    expect(spy).toHaveBeenCalledTimes(3);
    spy.mockRestore();
    expect(results.filter((r) => r.status === 'created')).toHaveLength(orders.length);
    expect((await store.getMany(orders.slice(0, 3).map((o) => o.id))).map((r) => r?.state)).toEqual(['queued', 'queued', 'queued']);
  });

  it('moves by compare-and-set from an expected state, appending the audit event in the same step', async () => {
    const o = make();
    await store.createMany([o], () => 'queued', Date.now() + 60_000);
    const moved = await store.transition(o.id, {
      from: ['queued'],
      to: 'session_created',
      why: 'session ps_1 created',
      dueAt: Date.now(),
      set: { session_id: 'ps_1' },
      indexSession: 'ps_1',
    });
    expect(moved).toEqual({ ok: true, from: 'queued' });
    expect(await store.payoutIdForSession('ps_1')).toBe(o.id);
    // from the wrong state: refused, nothing written
    expect(await store.transition(o.id, { from: ['queued'], to: 'failed', why: 'x', dueAt: Date.now() })).toEqual({
      ok: false,
      current: 'session_created',
    });
    const record = (await store.get(o.id))!;
    expect(record).toMatchObject({ state: 'session_created', sessionId: 'ps_1', errorCode: null });
    expect((await store.audit(o.id)).filter(isMove).map((e) => [e.from, e.to, e.why])).toEqual([
      [null, 'queued', 'accepted'],
      ['queued', 'session_created', 'session ps_1 created'],
    ]);
    expect(await store.transition('no-such-payout', { from: ['queued'], to: 'failed', why: 'x', dueAt: Date.now() })).toEqual({
      ok: false,
      current: null,
    });
  });

  it('a re-sent transition whose first reply was lost answers ok again, not conflict', async () => {
    const o = make();
    await store.createMany([o], () => 'queued', Date.now() + 60_000);
    const script = (redis as unknown as { b131Transition(...a: string[]): Promise<[string, string]> }).b131Transition.bind(redis);
    const args = (token: string) => [
      store.key(o.id),
      `${store.key(o.id)}:audit`,
      `${prefix}:session:-`,
      store.dueKey,
      'queued',
      'session_created',
      new Date().toISOString(),
      'x',
      '[]',
      '',
      o.id,
      token,
      String(Date.now()),
      '0',
      store.listKey(''),
    ];
    expect(await script(...args('token-1'))).toEqual(['ok', 'queued']);
    expect(await script(...args('token-1'))).toEqual(['ok', 'replayed']); // what ioredis's auto-resend sees
    expect(await script(...args('token-2'))).toEqual(['conflict', 'session_created']); // a different caller loses
    expect((await store.audit(o.id)).filter(isMove).filter((e) => e.to === 'session_created')).toHaveLength(1);
  });

  it('refuses a move the state machine forbids, before touching Redis', async () => {
    const o = make();
    await store.createMany([o], () => 'queued', Date.now() + 60_000);
    await expect(store.transition(o.id, { from: ['queued'], to: 'succeeded', why: 'x', dueAt: Date.now() })).rejects.toThrow(
      'illegal payout transition queued -> succeeded',
    );
    expect((await store.get(o.id))!.state).toBe('queued');
  });

  it('of many concurrent attempts at the same move, exactly one wins', async () => {
    const o = make();
    await store.createMany([o], () => 'queued', Date.now() + 60_000);
    const results = await Promise.all(
      Array.from({ length: 25 }, (_, i) =>
        store.transition(o.id, {
          from: ['queued'],
          to: 'session_created',
          why: `runner ${i}`,
          dueAt: Date.now(),
          set: { session_id: `ps_${i}` },
        }),
      ),
    );
    expect(results.filter((r) => r.ok)).toHaveLength(1);
    expect((await store.audit(o.id)).filter(isMove).filter((e) => e.to === 'session_created')).toHaveLength(1);
  });

  it('counts start attempts only for the recorded session in session_created', async () => {
    const o = make();
    await store.createMany([o], () => 'queued', Date.now() + 60_000);
    expect(await store.markStartAttempt(o.id, 'ps_x')).toBeNull();
    await store.transition(o.id, { from: ['queued'], to: 'session_created', why: 'x', dueAt: Date.now(), set: { session_id: 'ps_x' } });
    expect(await store.markStartAttempt(o.id, 'ps_other')).toBeNull();
    expect(await store.markStartAttempt(o.id, 'ps_x')).toBe(1);
    expect(await store.markStartAttempt(o.id, 'ps_x')).toBe(2);
    expect((await store.get(o.id))!.startAttempts).toBe(2);
  });

  it('notes a webhook by its session and hands back the payout as it stands, in one script', async () => {
    const o = make();
    await store.createMany([o], () => 'queued', Date.now() + 60_000);
    expect(await store.noteBySession('ps_nobody', 'webhook x')).toBeNull();
    await store.transition(o.id, {
      from: ['queued'],
      to: 'session_created',
      why: 'x',
      dueAt: Date.now(),
      set: { session_id: 'ps_nb' },
      indexSession: 'ps_nb',
    });
    const spy = vi.spyOn(redis as unknown as { b131NoteBySession: (...a: unknown[]) => Promise<string[]> }, 'b131NoteBySession');
    const seen = await store.noteBySession('ps_nb', 'webhook ready_to_confirm: in_progress');
    expect(spy).toHaveBeenCalledTimes(1);
    spy.mockRestore();
    expect(seen).toEqual(await store.get(o.id));
    expect(seen).toMatchObject({ id: o.id, state: 'session_created', sessionId: 'ps_nb' });
    expect((await store.audit(o.id)).at(-1)).toMatchObject({ state: 'session_created', why: 'webhook ready_to_confirm: in_progress' });
  });

  it('records the follow-up job with the move itself', async () => {
    const o = make();
    await store.createMany([o], () => 'queued', Date.now() + 60_000);
    await store.transition(o.id, {
      from: ['queued'],
      to: 'session_created',
      why: 'x',
      dueAt: Date.now(),
      set: { session_id: 'ps_lj' },
      lastJob: 'payout-start/start-x',
    });
    expect(await store.lastJob(o.id)).toBe('payout-start/start-x');
  });

  it('a final payout keeps no card hashes or bank facts it no longer needs, and once reported, no job bookkeeping', async () => {
    const o = make({ callback_url: 'https://upstream.example/cb' });
    await store.createMany([o], () => 'queued', Date.now() + 60_000);
    const card = JSON.stringify({ number_hash: 'h-collected' });
    await store.transition(o.id, {
      from: ['queued'],
      to: 'session_created',
      why: 'x',
      dueAt: Date.now(),
      set: { session_id: 'ps_min', collected_card: card, reported: '{"sessionId":"ps_min","payouts":[]}' },
      lastJob: 'payout-start/x',
    });
    expect(await redis.hmget(store.key(o.id), 'collected_card', 'reported')).toEqual([card, '{"sessionId":"ps_min","payouts":[]}']);
    await store.transition(o.id, { from: ['session_created'], to: 'failed', why: 'x', dueAt: Date.now(), lastJob: 'payout-notify/y' });
    expect(await redis.hmget(store.key(o.id), 'collected_card', 'reported', 'last_job')).toEqual([null, null, 'payout-notify/y']);
    await store.markNotified(o.id, 'failed');
    expect(await redis.hmget(store.key(o.id), 'last_job', 'transition_token')).toEqual([null, null]);
    expect(await store.get(o.id)).toMatchObject({ state: 'failed', collectedCard: null, reported: null, notified: 'failed' });
  });

  it('keeps every key under its hash-tagged prefix', async () => {
    const keys: string[] = [];
    let cursor = '0';
    do {
      const [next, batch] = await redis.scan(cursor, 'MATCH', `*${prefix.slice(1, -1)}*`, 'COUNT', 1000);
      cursor = next;
      keys.push(...batch);
    } while (cursor !== '0');
    expect(keys.length).toBeGreaterThan(0);
    expect(keys.every((k) => k.startsWith(`${prefix}:`))).toBe(true);
  });
});
