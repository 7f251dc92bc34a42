import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bankMetadataFor } from '../../src/payouts/schemas.js';
import { payoutKeyOf } from '../../src/tenants/identity.js';
import { keyPath } from '../support/keys.js';
import { CALLBACK_SECRET, order, startPipeline, type Pipeline } from '../support/pipeline.js';
import { runEntry, type RunningEntry } from '../support/processes.js';
import { redisUrl } from '../support/redis.js';
import { PROJECT } from '../support/sandbox.js';
import { eventually } from '../support/wait.js';

/**
 * Approval rules (RULES_FILE) enforced by two real worker processes at once: each counter rule
 * lets exactly its limit through when 50 orders arrive together, never one more (the counters are
 * checked and taken in one script); a duplicate is held for a reviewer; four eyes hold. Each rule
 * lives in a tenant of its own, so one file covers them all.
 */

const RULES = `
timezone: Europe/Moscow
tenants:
  card-count:
    card_per_day: { count: 10, action: reject }
  card-sum:
    card_per_day: { sum: 70000, action: reject }
  rcp-count:
    recipient_per_day: { count: 12, action: reject }
  hour-count:
    tenant_per_hour: { count: 9, action: reject }
  hour-sum:
    tenant_per_hour: { sum: 130000, action: review }
  dup:
    duplicate: { within_minutes: 10, action: review }
  max:
    max_amount: { above: 50000, action: reject }
`;

let p: Pipeline;
const workers: RunningEntry[] = [];
const keys: Record<string, { secret: string; id: string }> = {};

beforeAll(async () => {
  // the counters of an hour and a day: not across a boundary, or the limits would split in two
  const msIntoHour = Date.now() % 3_600_000;
  if (msIntoHour > 3_540_000) await new Promise((r) => setTimeout(r, 3_600_000 - msIntoHour + 1_000));
  p = await startPipeline({ workerSets: 0 });
  const dir = mkdtempSync(join(tmpdir(), 'rules-'));
  const rulesFile = join(dir, 'rules.yaml');
  writeFileSync(rulesFile, RULES);
  const env = {
    REDIS_URL: redisUrl(),
    REDIS_PREFIX: p.prefix,
    BANK131_BASE_URL: p.sandbox.url,
    BANK131_PROJECT: PROJECT,
    BANK131_PRIVATE_KEY_FILE: keyPath('partner-private'),
    BANK131_PUBLIC_KEY_FILE: keyPath('bank-public'),
    CALLBACK_SECRET,
    CALLBACK_ALLOW_PRIVATE: 'true',
    METRICS_PORT: '0',
    BALANCE_POLL_MS: '0',
    PAYOUT_CONCURRENCY: '16',
    RULES_FILE: rulesFile,
    REVIEW_TTL: '1h',
    LOG_LEVEL: 'info',
  };
  workers.push(
    runEntry('workers/worker-process.ts', env, { keep: 4_000_000 }),
    runEntry('workers/worker-process.ts', env, { keep: 4_000_000 }),
  );
  await eventually(() => workers.every((w) => w.stdout().includes('worker process ready')), 30_000, 'both worker processes to start');
  for (const tenant of ['card-count', 'card-sum', 'rcp-count', 'hour-count', 'hour-sum', 'dup', 'max']) {
    const made = await p.runtime.tenants.store.createKey(tenant, 'upstream');
    keys[tenant] = { secret: made.secret, id: made.key.id };
  }
  const reviewer = await p.runtime.tenants.store.createKey('dup', 'reviewer', { review: true });
  keys.reviewer = { secret: reviewer.secret, id: reviewer.key.id };
}, 120_000);

afterAll(async () => {
  for (const w of workers) w.child.kill('SIGTERM');
  await Promise.all(workers.map((w) => w.exit));
  await p?.close();
});

const as = (tenant: string) => ({ authorization: `Bearer ${keys[tenant]!.secret}` });
const moneyMovedFor = (id: string) => p.sandbox.bank.ledger.filter((e) => e.metadata === bankMetadataFor(id));

/** 50 orders at once, each its own request; then waits for all to end and counts the states. */
async function fifty(tenant: string, make: (i: number) => Record<string, unknown>): Promise<Record<string, string[]>> {
  const orders = Array.from({ length: 50 }, (_, i) => order(make(i)));
  const answers = await Promise.all(orders.map((o) => p.api('POST', '/v1/payouts', o, as(tenant))));
  expect(answers.map((a) => a.status)).toEqual(orders.map(() => 202));
  const ids = orders.map((o) => payoutKeyOf(tenant, o.id));
  const states = await p.waitFor(ids, ['succeeded', 'rejected', 'awaiting_review', 'failed'], 60_000);
  const by: Record<string, string[]> = {};
  for (const [id, state] of Object.entries(states)) (by[state] ??= []).push(id);
  return by;
}

describe('approval rules under 50 concurrent orders from two worker processes', () => {
  it('card_per_day count: exactly 10 paid, 40 rejected naming the rule, no money for them', async () => {
    const by = await fifty('card-count', () => ({}));
    expect(by.succeeded).toHaveLength(10);
    expect(by.rejected).toHaveLength(40);
    const rejected = await p.runtime.store.get(by.rejected![0]!);
    expect(rejected).toMatchObject({ errorCode: 'rejected_by_rule', sessionId: null, review: { rules: ['card_per_day.count'] } });
    for (const id of by.rejected!) expect(moneyMovedFor(id)).toEqual([]);
    for (const id of by.succeeded!) expect(moneyMovedFor(id)).toHaveLength(1);
    // both processes took part
    for (const w of workers) expect(w.stdout()).toContain('payout moved');
  });

  it('card_per_day sum: 70,000 kopecks a day lets exactly 7 payouts of 10,000 through', async () => {
    const by = await fifty('card-sum', () => ({}));
    expect(by.succeeded).toHaveLength(7);
    expect(by.rejected).toHaveLength(43);
    const rejected = await p.runtime.store.get(by.rejected![0]!);
    expect(rejected?.review?.rules).toEqual(['card_per_day.sum']);
  });

  it('recipient_per_day count: 12 to one person (by their reference), over several cards', async () => {
    const by = await fifty('rcp-count', (i) => ({
      customer: { reference: 'person-1' },
      encrypted_card: { number_hash: i % 2 ? 'sandbox_ok_4242' : 'sandbox_ok_5556' },
    }));
    expect(by.succeeded).toHaveLength(12);
    expect(by.rejected).toHaveLength(38);
  });

  it('tenant_per_hour count: 9 an hour over any cards and people', async () => {
    const by = await fifty('hour-count', (i) => ({ customer: { reference: `person-${i}` } }));
    expect(by.succeeded).toHaveLength(9);
    expect(by.rejected).toHaveLength(41);
  });

  it('tenant_per_hour sum with review: 13 paid, the rest held for a reviewer, none sent to the bank', async () => {
    const by = await fifty('hour-sum', () => ({}));
    expect(by.succeeded).toHaveLength(13);
    expect(by.awaiting_review).toHaveLength(37);
    for (const id of by.awaiting_review!) expect(moneyMovedFor(id)).toEqual([]);
    const held = await p.runtime.store.get(by.awaiting_review![0]!);
    expect(held?.review).toMatchObject({ rules: ['tenant_per_hour.sum'], decision: null });
    expect(held?.review?.expiresAt).toBeGreaterThan(Date.now() + 3_000_000);
  });

  it('max_amount: over the limit rejected before any bank call, at the limit paid', async () => {
    const over = order({ amount_details: { amount: 50_001, currency: 'rub' }, callback_url: p.upstream.url });
    const at = order({ amount_details: { amount: 50_000, currency: 'rub' } });
    for (const o of [over, at]) expect((await p.api('POST', '/v1/payouts', o, as('max'))).status).toBe(202);
    const states = await p.waitFor([payoutKeyOf('max', over.id), payoutKeyOf('max', at.id)], ['succeeded', 'rejected'], 30_000);
    expect(Object.values(states)).toEqual(['rejected', 'succeeded']);
    const read = await p.api('GET', `/v1/payouts/${over.id}`, undefined, as('max'));
    expect(read.body).toMatchObject({
      status: 'rejected',
      error: { code: 'rejected_by_rule' },
      review: { rules: ['max_amount'], decision: null },
      bank: { session_id: null },
    });
    // upstream is told which rule
    await eventually(() => p.upstream.received.some((r) => r.body.includes(over.id)), 15_000, 'the rejected callback');
    const callback = p.upstream.received.find((r) => r.body.includes(over.id))!;
    const body = new Webhook(CALLBACK_SECRET).verify(callback.body, callback.headers as Record<string, string>) as {
      type: string;
      payout: { error: { description: string }; review: { rules: string[] } };
    };
    expect(body.type).toBe('payout.rejected');
    expect(body.payout.review.rules).toEqual(['max_amount']);
    expect(body.payout.error.description).toContain('max_amount');
  });
});

describe('a duplicate pair, and four eyes', () => {
  it('holds the second of two same-card same-amount payouts; a reviewer rejects it with one callback', async () => {
    const first = order({ callback_url: p.upstream.url });
    const second = order({ callback_url: p.upstream.url });
    expect((await p.api('POST', '/v1/payouts', first, as('dup'))).status).toBe(202);
    await p.waitFor([payoutKeyOf('dup', first.id)], ['succeeded'], 30_000);
    expect((await p.api('POST', '/v1/payouts', second, as('dup'))).status).toBe(202);
    await p.waitFor([payoutKeyOf('dup', second.id)], ['awaiting_review'], 30_000);
    const held = await p.api('GET', `/v1/payouts/${second.id}`, undefined, as('dup'));
    expect(held.body.review).toMatchObject({ rules: ['duplicate'], decision: null });
    expect(held.body.review.reason).toMatch(/same amount to this card/i);

    // a key without the review right may not decide; a reason is required to reject
    expect((await p.api('POST', `/v1/payouts/${second.id}/reject`, { reason: 'dup' }, as('dup'))).body.error.code).toBe(
      'review_right_required',
    );
    const noReason = await p.api('POST', `/v1/payouts/${second.id}/reject`, {}, as('reviewer'));
    expect(noReason.status).toBe(400);
    expect(noReason.body.error.issues).toEqual([{ field: 'reason', problem: expect.stringMatching(/required/i) }]);

    const rejected = await p.api('POST', `/v1/payouts/${second.id}/reject`, { reason: 'same payout sent twice upstream' }, as('reviewer'));
    expect(rejected).toEqual({ status: 200, body: { id: second.id, status: 'rejected', decided_by: keys.reviewer!.id } });
    // decided once: asking again is a conflict naming the state
    const again = await p.api('POST', `/v1/payouts/${second.id}/approve`, undefined, as('reviewer'));
    expect(again.status).toBe(409);
    expect(again.body.error).toMatchObject({ code: 'not_awaiting_review', state: 'rejected' });

    const audit = (await p.api('GET', `/v1/payouts/${second.id}`, undefined, as('dup'))).body.audit as Array<Record<string, unknown>>;
    expect(audit.at(-1)).toMatchObject({ from: 'awaiting_review', to: 'rejected', by: keys.reviewer!.id });
    expect(audit.at(-1)!.why).toContain('same payout sent twice upstream');
    expect(moneyMovedFor(payoutKeyOf('dup', second.id))).toEqual([]);
    await eventually(() => p.upstream.received.some((r) => r.body.includes(`evt_dup~${second.id}_rejected`)), 15_000, 'its callback');
    await new Promise((r) => setTimeout(r, 500));
    expect(p.upstream.received.filter((r) => r.body.includes(`"id":"${second.id}"`))).toHaveLength(1);
  });

  it('refuses a self-approval: the key that accepted a held payout cannot approve it; another reviewer can', async () => {
    // an amount of its own: the guard of the pair before still holds this card at 10,000
    const amount = { amount_details: { amount: 10_100, currency: 'rub' } };
    const first = order(amount);
    const second = order(amount);
    // the reviewer key accepts these itself
    expect((await p.api('POST', '/v1/payouts', first, as('reviewer'))).status).toBe(202);
    await p.waitFor([payoutKeyOf('dup', first.id)], ['succeeded'], 30_000);
    expect((await p.api('POST', '/v1/payouts', second, as('reviewer'))).status).toBe(202);
    await p.waitFor([payoutKeyOf('dup', second.id)], ['awaiting_review'], 30_000);

    const self = await p.api('POST', `/v1/payouts/${second.id}/approve`, {}, as('reviewer'));
    expect(self.status).toBe(403);
    expect(self.body.error.code).toBe('self_approval');
    expect((await p.runtime.store.get(payoutKeyOf('dup', second.id)))?.state).toBe('awaiting_review');

    const other = await p.runtime.tenants.store.createKey('dup', 'second reviewer', { review: true });
    const approved = await p.api(
      'POST',
      `/v1/payouts/${second.id}/approve`,
      { reason: 'checked with the payee' },
      {
        authorization: `Bearer ${other.secret}`,
      },
    );
    expect(approved.body).toEqual({ id: second.id, status: 'queued', decided_by: other.key.id });
    // approved, it is counted and paid, and never held again by the rule that held it
    await p.waitFor([payoutKeyOf('dup', second.id)], ['succeeded'], 30_000);
    expect(moneyMovedFor(payoutKeyOf('dup', second.id))).toHaveLength(1);
    const record = await p.runtime.store.get(payoutKeyOf('dup', second.id));
    expect(record?.review).toMatchObject({ decision: 'approved', decidedBy: other.key.id, decisionReason: 'checked with the payee' });
  });

  it('another tenant’s reviewer cannot see or decide the payout', async () => {
    const outsider = await p.runtime.tenants.store.createKey('card-count', 'reviewer', { review: true });
    const amount = { amount_details: { amount: 10_200, currency: 'rub' } };
    const held = order(amount);
    const first = order(amount);
    await p.api('POST', '/v1/payouts', first, as('dup'));
    await p.waitFor([payoutKeyOf('dup', first.id)], ['succeeded'], 30_000);
    await p.api('POST', '/v1/payouts', held, as('dup'));
    await p.waitFor([payoutKeyOf('dup', held.id)], ['awaiting_review'], 30_000);
    const r = await p.api('POST', `/v1/payouts/${held.id}/approve`, {}, { authorization: `Bearer ${outsider.secret}` });
    expect(r.status).toBe(404);
    expect((await p.runtime.store.get(payoutKeyOf('dup', held.id)))?.state).toBe('awaiting_review');
  });
});
