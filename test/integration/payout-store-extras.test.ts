import { afterAll, describe, expect, it } from 'vitest';
import { PayoutOrder } from '../../src/payouts/schemas.js';
import { PayoutStore } from '../../src/store/payout-store.js';
import { connectRedis, deleteKeys, testPrefix } from '../support/redis.js';
import { order } from '../support/pipeline.js';

/**
 * The store's scripts for what a payout carries beyond its lifecycle: the funds waiting for a
 * top-up, the finished and lookup indexes statements read, a payout's several events (a return
 * after a success, a saved card found unusable beside a failure), and retention taking all of it.
 */
const redis = connectRedis();
const prefix = testPrefix('extras');
const store = new PayoutStore(redis, prefix);
afterAll(async () => {
  await deleteKeys(redis, prefix);
  await redis.quit();
});

const make = (overrides: Record<string, unknown> = {}) => PayoutOrder.parse(order(overrides));
const soon = () => Date.now() + 60_000;
const move = (id: string, from: string[], to: string, set: Record<string, string> = {}, extra: object = {}) =>
  store.transition(id, { from: from as never, to: to as never, why: `to ${to}`, dueAt: soon(), set, ...extra });

/** Through the session steps to `confirmed`, as the pipeline would. */
async function toConfirmed(id: string) {
  await move(id, ['queued'], 'session_created', { session_id: `ps_${id}` }, { indexSession: `ps_${id}` });
  await move(id, ['session_created'], 'started');
  await move(id, ['started'], 'awaiting_confirmation');
  await move(id, ['awaiting_confirmation'], 'confirming');
  await move(id, ['confirming'], 'confirmed');
}

describe('funds waiting for a top-up', () => {
  it('the sum follows payouts into and out of awaiting_funds, never twice for a payout waiting again', async () => {
    const before = await store.awaitingFunds();
    const a = make({ amount_details: { amount: 12_345, currency: 'rub' } });
    const b = make({ amount_details: { amount: 100, currency: 'rub' } });
    await store.createMany([a, b], () => 'queued', soon());
    for (const o of [a, b]) {
      await move(o.id, ['queued'], 'session_created', { session_id: `ps_${o.id}` }, { indexSession: `ps_${o.id}` });
      await move(o.id, ['session_created'], 'awaiting_funds');
    }
    await move(a.id, ['awaiting_funds'], 'awaiting_funds'); // waiting again: counted once
    expect(await store.awaitingFunds()).toEqual({ count: before.count + 2, amount: before.amount + 12_445 });
    // one that was waiting before amounts were kept leaves without taking anything away
    await redis.hdel(`${prefix}:funds:waiting`, b.id);
    await move(b.id, ['awaiting_funds'], 'awaiting_funds'); // and joins at its next retry
    expect((await store.awaitingFunds()).amount).toBe(before.amount + 12_445);
    await redis.hdel(`${prefix}:funds:waiting`, b.id);
    await move(a.id, ['awaiting_funds'], 'started');
    await move(b.id, ['awaiting_funds'], 'failed', { error_code: 'insufficient_wallet_balance' });
    expect(await store.awaitingFunds()).toEqual(before);
  });
});

describe('statement indexes', () => {
  it('a payout is indexed by its metadata and its person’s reference at creation, and by when it first finished', async () => {
    const tenant = 'acme';
    const o = make({ metadata: 'invoice 7, "May"', customer: { reference: 'worker-7' } });
    await store.createMany([o], () => 'queued', soon(), { tenant, keyId: 'k' });
    const id = `${tenant}~${o.id}`;
    const score = Number(await redis.hget(store.key(id), 'list_score'));
    expect(await redis.zscore(store.metadataKey(tenant, 'invoice 7, "May"'), id)).toBe(String(score));
    expect(await redis.zscore(store.referenceKey(tenant, 'worker-7'), id)).toBe(String(score));
    expect(await redis.zscore(store.metadataKey('default', 'invoice 7, "May"'), id)).toBeNull(); // another tenant's index
    await toConfirmed(id);
    const before = Date.now();
    await move(id, ['confirmed'], 'succeeded');
    const finished = Number(await redis.zscore(store.finishedKey(tenant), id));
    expect(finished).toBeGreaterThanOrEqual(before);
    const record = (await store.get(id))!;
    expect(record.finishedAt).not.toBeNull();
    expect(record.customerReference).toBe('worker-7');
    // a later return moves neither the finish time nor the index
    await move(id, ['succeeded'], 'returned', { returned_amount: '100', returned_reason: 'closed', returned_at: 'x' });
    expect(Number(await redis.zscore(store.finishedKey(tenant), id))).toBe(finished);
    expect((await store.get(id))!.finishedAt).toBe(record.finishedAt);
  });
});

describe('a payout’s several events', () => {
  it('a return after a success is a second event; the payout stays due until both are told, in either order', async () => {
    const o = make({ callback_url: 'https://up.example/cb' });
    await store.createMany([o], () => 'queued', soon());
    await toConfirmed(o.id);
    const won = await move(o.id, ['confirmed'], 'succeeded');
    expect(won).toEqual({ ok: true, from: 'confirmed', events: [{ event: 'succeeded', destinations: ['callback_url'] }] });
    const back = await move(o.id, ['succeeded'], 'returned', { returned_amount: '100', returned_reason: 'closed', returned_at: 'x' });
    // the success is still owed, so it comes back with the return for its delivery to be (re)driven
    expect(back).toEqual({
      ok: true,
      from: 'succeeded',
      events: [
        { event: 'succeeded', destinations: ['callback_url'] },
        { event: 'returned', destinations: ['callback_url'] },
      ],
    });
    expect((await store.get(o.id))!.events).toEqual(['succeeded', 'returned']);
    expect(await store.events.settle(o.id, 'returned', 'callback_url', 'delivered')).toBe(false);
    expect(await redis.zscore(store.dueKey, o.id)).not.toBeNull();
    expect(await store.events.settle(o.id, 'succeeded', 'callback_url', 'delivered')).toBe(true);
    expect(await redis.zscore(store.dueKey, o.id)).toBeNull();
    expect((await store.get(o.id))!.notified).toBe('returned');
  });

  it('a failure that finds a saved card unusable marks it on the recipient and records recipient.card_invalid, once', async () => {
    const tenant = 'default';
    const recipientKey = store.recipientKey(tenant, 'rcp_00000000000000aa');
    await redis.hset(recipientKey, { id: 'rcp_00000000000000aa', card_id: 'card_1', card_status: 'active', card_last4: '0069' });
    const fail = (id: string) =>
      move(
        id,
        ['started'],
        'failed',
        { error_code: 'bank_card_expired', error_text: 'the card has expired' },
        { invalidateCard: { tenant, recipientId: 'rcp_00000000000000aa', cardId: 'card_1' } },
      );
    const [a, b] = [make({ callback_url: 'https://up.example/cb' }), make()];
    await store.createMany([a, b], () => 'queued', soon());
    for (const o of [a, b]) {
      await move(o.id, ['queued'], 'session_created', { session_id: `ps_${o.id}` }, { indexSession: `ps_${o.id}` });
      await move(o.id, ['session_created'], 'started');
    }
    expect(await fail(a.id)).toEqual({
      ok: true,
      from: 'started',
      events: [
        { event: 'failed', destinations: ['callback_url'] },
        { event: 'card_invalid', destinations: ['callback_url'] },
      ],
    });
    expect(await redis.hgetall(recipientKey)).toMatchObject({
      card_status: 'invalid',
      card_invalid_code: 'bank_card_expired',
      card_invalid_text: 'the card has expired',
    });
    const event = await store.events.get(`evt_${a.id}_card_invalid`);
    expect(event).toMatchObject({ type: 'recipient.card_invalid', payoutId: a.id, pending: ['callback_url'] });
    // the second payout to the same card: the card is already marked, so no second event
    expect(await fail(b.id)).toEqual({ ok: true, from: 'started', events: [{ event: 'failed', destinations: [] }] });
    // a card the recipient has replaced meanwhile is left alone
    await redis.hset(recipientKey, { card_id: 'card_2', card_status: 'active' });
    const c = make();
    await store.createMany([c], () => 'queued', soon());
    await move(c.id, ['queued'], 'session_created', { session_id: `ps_${c.id}` }, { indexSession: `ps_${c.id}` });
    await move(c.id, ['session_created'], 'started');
    await fail(c.id);
    expect(await redis.hget(recipientKey, 'card_status')).toBe('active');
  });

  it('a payout that ended before events and finish times were kept keeps its old event when it is returned', async () => {
    const o = make({ callback_url: 'https://up.example/cb' });
    await store.createMany([o], () => 'queued', soon());
    await toConfirmed(o.id);
    await move(o.id, ['confirmed'], 'succeeded');
    // as an earlier version left it: its event, but no `events`, no finish time, no finished index entry
    await redis.hdel(store.key(o.id), 'events', 'finished_at');
    await redis.zrem(store.finishedKey(), o.id);
    const back = await move(o.id, ['succeeded'], 'returned', { returned_amount: '1', returned_reason: 'r', returned_at: 'x' });
    expect(back).toMatchObject({ ok: true, events: [{ event: 'succeeded' }, { event: 'returned' }] });
    const record = (await store.get(o.id))!;
    expect(record.events).toEqual(['succeeded', 'returned']);
    // a return is not when it finished
    expect(record.finishedAt).toBeNull();
    expect(await redis.zscore(store.finishedKey(), o.id)).toBeNull();
  });

  it('retention takes the payout with all its events and index entries', async () => {
    const tenant = 'retire';
    const o = make({ metadata: 'retire me', callback_url: 'https://up.example/cb' });
    await store.createMany([o], () => 'queued', soon(), { tenant, keyId: 'k' });
    const id = `${tenant}~${o.id}`;
    await toConfirmed(id);
    await move(id, ['confirmed'], 'succeeded');
    await move(id, ['succeeded'], 'returned', { returned_amount: '1', returned_reason: 'r', returned_at: 'x' });
    await store.events.settle(id, 'succeeded', '', 'delivered');
    await store.events.settle(id, 'returned', '', 'delivered');
    expect(await store.retireFinished(new Date(Date.now() + 1000))).toBeGreaterThanOrEqual(1);
    expect(await store.get(id)).toBeNull();
    for (const evt of [`evt_${id}_succeeded`, `evt_${id}_returned`]) expect(await store.events.get(evt)).toBeNull();
    expect(await redis.zscore(store.finishedKey(tenant), id)).toBeNull();
    expect(await redis.zscore(store.metadataKey(tenant, 'retire me'), id)).toBeNull();
    expect(await redis.zcard(store.events.indexKey(tenant))).toBe(0);
    expect((await store.retired(id))?.state).toBe('returned');
  });
});
