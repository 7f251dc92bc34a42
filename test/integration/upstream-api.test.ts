import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startWorkers } from '../../workers/worker-process.js';
import { workerSettings } from '../support/settings.js';
import { pino } from 'pino';
import { order, startPipeline, type Pipeline } from '../support/pipeline.js';
import { PayoutOrder } from '../../src/payouts/schemas.js';
import { acceptTogether } from '../../src/pipeline/accept-payouts.js';
import { DEFAULT_TIMING } from '../../src/pipeline/pipeline-deps.js';

let p: Pipeline;
beforeAll(async () => {
  // No workers at first: payouts stay where the API put them until a test starts some.
  p = await startPipeline({ workerSets: 0 });
});
afterAll(() => p?.close());

const startWorkerSet = () => {
  const set = startWorkers(p.runtime, workerSettings({ redisPrefix: p.prefix, payoutConcurrency: 4 }), { log: pino({ level: 'silent' }) });
  p.workerSets.push(set);
  return set;
};

describe('authentication', () => {
  it('refuses a missing or unknown API key with 401', async () => {
    for (const headers of [{ authorization: '' }, { authorization: 'Bearer nope-nope-nope-nope' }, { authorization: 'Basic abc' }]) {
      const res = await p.api('GET', '/v1/payouts/x', undefined, headers);
      expect(res).toMatchObject({ status: 401, body: { error: { code: 'unauthorized' } } });
    }
  });
});

describe('POST /v1/payouts', () => {
  it('single orders sent at once are recorded together, each answered for itself', async () => {
    const orders = Array.from({ length: 20 }, () => PayoutOrder.parse(order()));
    const twin = orders[0]!;
    const other = { ...twin, metadata: 'another order under the same id' };
    const acceptOne = acceptTogether({
      store: p.runtime.store,
      queues: p.runtime.queues,
      timing: DEFAULT_TIMING,
      log: pino({ level: 'silent' }),
    });
    const spy = vi.spyOn(p.runtime.redis as unknown as { b131CreatePayouts: (...a: unknown[]) => Promise<string[]> }, 'b131CreatePayouts');
    // as requests parsed in one turn of the event loop call it
    const results = await Promise.all([...orders, twin, other].map((o) => acceptOne(o)));
    expect(spy).toHaveBeenCalledTimes(1);
    spy.mockRestore();
    results.slice(0, 20).forEach((r, i) => expect(r).toEqual({ id: orders[i]!.id, status: 'created', state: 'queued' }));
    // the same id twice at once: taken in arrival order, as one request after the other would be
    expect(results[20]).toEqual({ id: twin.id, status: 'existing', state: 'queued' });
    expect(results[21]).toEqual({ id: twin.id, status: 'conflict', state: 'queued', fields: ['metadata'] });
    for (const o of orders) expect(await p.runtime.queues.start.getJob(`start-${o.id}`)).toBeDefined();
    // and over HTTP, whatever turns the requests arrive in, each is answered for its own order
    const more = Array.from({ length: 10 }, () => order());
    const answers = await Promise.all(more.map((o) => p.api('POST', '/v1/payouts', o)));
    answers.forEach((a, i) => expect(a).toMatchObject({ status: 202, body: { id: more[i]!.id, status: 'queued' } }));
    expect(await p.api('POST', '/v1/payouts', { ...more[0]!, metadata: 'changed' })).toMatchObject({
      status: 409,
      body: { error: { code: 'conflict', fields: ['metadata'] } },
    });
  });

  it('is idempotent: the same body again returns the existing payout, once enqueued', async () => {
    const o = order();
    expect(await p.api('POST', '/v1/payouts', o)).toMatchObject({ status: 202, body: { id: o.id, status: 'queued' } });
    // key order and whitespace do not make a different body
    const reordered = JSON.stringify(Object.fromEntries(Object.entries(o).reverse()), null, 2);
    expect(await p.api('POST', '/v1/payouts', reordered)).toMatchObject({ status: 200, body: { id: o.id, status: 'queued' } });
    const jobs = (await p.runtime.queues.start.getJobs(['waiting', 'active', 'delayed', 'completed', 'failed'])).filter(
      (j) => j.data.payoutId === o.id,
    );
    expect(jobs).toHaveLength(1);
  });

  it('the same id with another body is a 409 that names what differs', async () => {
    const o = order();
    await p.api('POST', '/v1/payouts', o);
    const res = await p.api('POST', '/v1/payouts', { ...o, amount_details: { amount: 20_000, currency: 'rub' }, metadata: 'other' });
    expect(res.status).toBe(409);
    expect(res.body.error).toMatchObject({ code: 'conflict', fields: ['amount_details', 'metadata'] });
    expect(res.body.error.message).toContain('amount_details, metadata');
    expect((await p.runtime.store.get(o.id))!.order.amount_details.amount).toBe(10_000);
  });

  it('a bad body is a 400 naming each bad field, and nothing is recorded', async () => {
    const res = await p.api('POST', '/v1/payouts', {
      id: 'has space',
      amount_details: { amount: 100.5, currency: 'usd' },
      recipient: {},
      encrypted_card: {},
      ammount: 1,
    });
    expect(res.status).toBe(400);
    const fields = res.body.issues ?? res.body.error.issues;
    expect(fields.map((i: { field: string }) => i.field).sort()).toEqual(
      ['(body)', 'amount_details.amount', 'amount_details.currency', 'encrypted_card.number_hash', 'id', 'recipient'].sort(),
    );
    expect(res.body.error.message).toContain('amount_details.amount: must be a whole number of kopecks');
    expect(res.body.error.message).toMatch(/ammount/);
    expect(await p.runtime.store.get('has space')).toBeNull();
  });

  it('malformed JSON, a wrong content type and an oversized body are 4xx, never 500', async () => {
    const a = await p.api('POST', '/v1/payouts', '{"id":', {});
    expect(a.status).toBe(400);
    expect(a.body.error.code).toBe('invalid_json');
    const b = await p.api('POST', '/v1/payouts', 'id=1', { 'content-type': 'application/x-www-form-urlencoded' });
    expect(b).toMatchObject({ status: 415, body: { error: { code: 'unsupported_media_type' } } });
    const c = await p.api('POST', '/v1/payouts', JSON.stringify({ ...order(), metadata: 'x'.repeat(2 * 1024 * 1024) }));
    expect(c).toMatchObject({ status: 413, body: { error: { code: 'body_too_large' } } });
  });
});

describe('POST /v1/payouts/batch', () => {
  it('answers per item: created, existing, conflict, invalid (with the reason)', async () => {
    const existing = order();
    const conflicting = order();
    await p.api('POST', '/v1/payouts', existing);
    await p.api('POST', '/v1/payouts', conflicting);
    const fresh = order();
    const res = await p.api('POST', '/v1/payouts/batch', {
      payouts: [
        fresh,
        existing,
        { ...conflicting, metadata: 'changed' },
        { ...order(), amount_details: { amount: -1, currency: 'rub' } },
        fresh,
        'junk',
      ],
    });
    expect(res.status).toBe(200);
    expect(res.body.counts).toEqual({ created: 1, existing: 1, conflict: 1, invalid: 3 });
    const r = res.body.results;
    expect(r[0]).toMatchObject({ index: 0, id: fresh.id, status: 'created', state: 'queued' });
    expect(r[1]).toMatchObject({ id: existing.id, status: 'existing' });
    expect(r[2]).toMatchObject({ id: conflicting.id, status: 'conflict', fields: ['metadata'] });
    expect(r[3]).toMatchObject({ status: 'invalid', issues: [{ field: 'amount_details.amount', problem: 'must be greater than 0' }] });
    expect(r[4]).toMatchObject({ status: 'invalid', issues: [{ field: 'id', problem: 'repeats item 0 of this batch' }] });
    expect(r[5]).toMatchObject({ status: 'invalid', id: null });
  });

  it('refuses an empty or oversized batch with the field named', async () => {
    expect((await p.api('POST', '/v1/payouts/batch', { payouts: [] })).body.error.message).toBe('payouts: must hold at least one payout');
    const tooMany = Array.from({ length: 10_001 }, () => ({}));
    expect((await p.api('POST', '/v1/payouts/batch', { payouts: tooMany })).body.error.message).toBe(
      'payouts: must hold at most 10000 payouts',
    );
  });
});

describe('GET and cancel', () => {
  it('GET shows the record without card hashes; an unknown id is 404', async () => {
    const o = order();
    await p.api('POST', '/v1/payouts', o);
    const got = await p.api('GET', `/v1/payouts/${o.id}`);
    expect(got.body).toMatchObject({
      id: o.id,
      status: 'queued',
      amount_details: o.amount_details,
      audit: [{ from: null, to: 'queued', why: 'accepted' }],
    });
    expect(JSON.stringify(got.body)).not.toContain(o.encrypted_card.number_hash);
    expect((await p.api('GET', '/v1/payouts/nope')).status).toBe(404);
  });

  it('cancel before the bank is involved: cancelled at once, and the start job then does nothing', async () => {
    const o = order({ callback_url: p.upstream.url });
    await p.api('POST', '/v1/payouts', o);
    expect(await p.api('POST', `/v1/payouts/${o.id}/cancel`)).toMatchObject({ status: 202, body: { status: 'cancelled' } });
    expect(await p.api('POST', `/v1/payouts/${o.id}/cancel`)).toMatchObject({ status: 200, body: { status: 'cancelled' } });
    startWorkerSet();
    const other = order();
    await p.api('POST', '/v1/payouts', other);
    await p.waitFor([other.id], ['succeeded']); // the workers ran the queue, ours included
    expect((await p.runtime.store.get(o.id))!).toMatchObject({ state: 'cancelled', sessionId: null });
  });

  it('cancel while the bank prepares the payout: session/cancel, then cancelled; nothing paid', async () => {
    p.sandbox.bank.setKnobs({ readyDelayMs: 2_000 });
    try {
      if (p.workerSets.length === 0) startWorkerSet();
      const o = order();
      await p.api('POST', '/v1/payouts', o);
      await p.waitFor([o.id], ['started']);
      expect(await p.api('POST', `/v1/payouts/${o.id}/cancel`)).toMatchObject({ status: 202, body: { status: 'cancelling' } });
      await p.waitFor([o.id], ['cancelled']);
      const record = (await p.runtime.store.get(o.id))!;
      expect(p.sandbox.bank.sessionState(record.sessionId!)).toBe('cancelled');
      expect(p.sandbox.bank.ledger.some((e) => e.session_id === record.sessionId)).toBe(false);
    } finally {
      p.sandbox.bank.setKnobs({ readyDelayMs: 5 });
    }
  });

  it('cancel after confirmation is refused with 409 and the state', async () => {
    if (p.workerSets.length === 0) startWorkerSet();
    const o = order();
    await p.api('POST', '/v1/payouts', o);
    await p.waitFor([o.id], ['succeeded']);
    const res = await p.api('POST', `/v1/payouts/${o.id}/cancel`);
    expect(res).toMatchObject({ status: 409, body: { error: { code: 'not_cancellable', state: 'succeeded' } } });
  });
});

describe('health', () => {
  it('healthz and readyz answer', async () => {
    expect((await fetch(`${p.url}/healthz`)).status).toBe(200);
    expect(await (await fetch(`${p.url}/readyz`)).json()).toMatchObject({ ok: true, checks: { redis: { ok: true }, bank: { ok: true } } });
  });
});
