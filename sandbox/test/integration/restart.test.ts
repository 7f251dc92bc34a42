import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import type { KnobsPatch } from '../../src/knobs.js';
import type { RunningSandbox } from '../../src/server.js';
import type { WireWebhook } from '../support/client.js';
import { connectRedis, deleteKeys, testPrefix } from '../support/redis.js';
import { TEST_TAXPAYERS } from '../../src/taxpayers.js';
import {
  clientFor,
  eventually,
  fiscalPayoutRequest,
  startPayoutRequest as payout,
  signedWebhooks,
  startReceiver,
  startTestSandbox,
  type Receiver,
} from '../support/sandbox.js';

// The bank is kept in Redis: a sandbox closed (as if killed) and started again on the same prefix is the same bank.

let receiver: Receiver;
let redis: Redis;
/** Flip to make the receiver refuse deliveries (500), as if the service were down. */
let refuseWebhooks = false;
const running = new Set<RunningSandbox>();
const prefixes: string[] = [];

beforeAll(async () => {
  receiver = await startReceiver(() => (refuseWebhooks ? 500 : 200));
  redis = connectRedis();
});

afterEach(async () => {
  refuseWebhooks = false;
  await Promise.all([...running].map((s) => s.close()));
  running.clear();
});

afterAll(async () => {
  for (const prefix of prefixes) await deleteKeys(redis, prefix);
  redis.disconnect();
  await receiver.close();
});

function newPrefix(): string {
  const prefix = testPrefix('sandbox-restart');
  prefixes.push(prefix);
  return prefix;
}

/** A sandbox kept in Redis under `prefix`, sending webhooks to the receiver. */
async function sandboxOn(prefix: string, knobs: KnobsPatch = {}): Promise<RunningSandbox> {
  const sandbox = await startTestSandbox(
    { webhookUrl: receiver.url, readyDelayMs: 5, finishDelayMs: 5, webhookRetryBaseMs: 10, webhookRetryMaxMs: 50, ...knobs },
    { redisPrefix: prefix },
  );
  running.add(sandbox);
  return sandbox;
}

/** What a kill does to the process: it stops; only what is in Redis remains. */
async function kill(sandbox: RunningSandbox): Promise<void> {
  running.delete(sandbox);
  await sandbox.close();
}

function webhooksFor(sessionId: string, type?: string): WireWebhook[] {
  return signedWebhooks(receiver, sessionId).filter((w) => !type || w.type === type);
}

const waitForWebhook = (sessionId: string, type: string) =>
  eventually(() => (webhooksFor(sessionId, type).length > 0 ? webhooksFor(sessionId, type) : undefined), 5_000, `${type} for ${sessionId}`);

interface LedgerView {
  sessions: Array<{ session_id: string; total: number; movements: unknown[] }>;
  movements: number;
  amount_total: number;
  sessions_paid_more_than_once: string[];
}
const ledgerOf = async (sandbox: RunningSandbox): Promise<LedgerView> =>
  (await fetch(`${sandbox.url}/sandbox/ledger`)).json() as Promise<LedgerView>;

describe('a sandbox kept in Redis, killed and started again', () => {
  it('answers for the same sessions, takes a confirm after the restart, keeps the ledger and pays nothing twice', async () => {
    const prefix = newPrefix();
    const first = await sandboxOn(prefix);
    let client = clientFor(first);
    const [walletBefore] = await client.walletBalance();

    const paid = await client.createSession();
    await client.startPayout(payout(paid.id));
    await waitForWebhook(paid.id, 'ready_to_confirm');
    await client.confirmSession(paid.id);
    await waitForWebhook(paid.id, 'payment_finished');

    const awaiting = await client.createSession({ metadata: 'awaiting' });
    await client.startPayout(payout(awaiting.id), { idempotencyKey: `start-${awaiting.id}` });
    await waitForWebhook(awaiting.id, 'ready_to_confirm');

    const created = await client.createSession();
    const ledgerBefore = await ledgerOf(first);
    expect(ledgerBefore).toMatchObject({ movements: 1, amount_total: 10_000 });
    const statusesBefore = await Promise.all([paid.id, awaiting.id, created.id].map((id) => client.sessionStatus(id)));

    await kill(first);
    const second = await sandboxOn(prefix);
    client = clientFor(second);

    // the same sessions, answered the same way
    const statusesAfter = await Promise.all([paid.id, awaiting.id, created.id].map((id) => client.sessionStatus(id)));
    expect(statusesAfter).toEqual(statusesBefore);
    expect(statusesAfter.map((s) => s.status)).toEqual(['accepted', 'in_progress', 'created']);
    expect(statusesAfter[1]).toMatchObject({ next_action: 'confirm' });
    expect(await ledgerOf(second)).toEqual(ledgerBefore);

    // an idempotency key kept before the restart is still kept
    await expect(client.startPayout(payout(awaiting.id), { idempotencyKey: `start-${awaiting.id}` })).rejects.toMatchObject({
      code: 'idempotency_key_already_exists',
    });
    // a confirmed session cannot be confirmed again
    await expect(client.confirmSession(paid.id)).rejects.toMatchObject({ code: 'session_wrong_state' });

    // the session awaiting confirmation is confirmed and paid by the new process
    expect((await client.confirmSession(awaiting.id)).status).toBe('in_progress');
    const [finished] = await waitForWebhook(awaiting.id, 'payment_finished');
    expect(finished!.session).toMatchObject({ status: 'accepted' });

    // a new session gets an id of its own
    const fresh = await client.createSession();
    expect([paid.id, awaiting.id, created.id]).not.toContain(fresh.id);

    const ledger = await ledgerOf(second);
    expect(ledger).toMatchObject({ movements: 2, amount_total: 20_000, sessions_paid_more_than_once: [] });
    expect(ledger.sessions.map((s) => s.session_id).sort()).toEqual([paid.id, awaiting.id].sort());
    const [walletAfter] = await client.walletBalance();
    expect(walletBefore!.amount_details.amount - walletAfter!.amount_details.amount).toBe(20_000);
    expect(webhooksFor(paid.id, 'payment_finished')).toHaveLength(1);
  });

  it('takes the steps that fell due while it was down: ready_to_confirm and payment_finished', async () => {
    const prefix = newPrefix();
    const first = await sandboxOn(prefix, { readyDelayMs: 5, finishDelayMs: 300 });
    let client = clientFor(first);
    const confirmed = await client.createSession();
    await client.startPayout(payout(confirmed.id));
    await waitForWebhook(confirmed.id, 'ready_to_confirm');
    await client.confirmSession(confirmed.id);
    first.bank.setKnobs({ readyDelayMs: 300 });
    const started = await client.createSession();
    await client.startPayout(payout(started.id));
    await kill(first); // before either step was taken

    await new Promise((r) => setTimeout(r, 400)); // both fall due while no sandbox runs
    expect(webhooksFor(confirmed.id, 'payment_finished')).toHaveLength(0);
    expect(webhooksFor(started.id, 'ready_to_confirm')).toHaveLength(0);

    const second = await sandboxOn(prefix);
    client = clientFor(second);
    const [finished] = await waitForWebhook(confirmed.id, 'payment_finished');
    expect(finished!.session).toMatchObject({ status: 'accepted' });
    await waitForWebhook(started.id, 'ready_to_confirm');
    expect((await client.sessionStatus(started.id)).next_action).toBe('confirm');

    const ledger = await ledgerOf(second);
    expect(ledger).toMatchObject({ movements: 1, amount_total: 10_000, sessions_paid_more_than_once: [] });
    expect(ledger.sessions[0]?.session_id).toBe(confirmed.id);
    expect(webhooksFor(confirmed.id, 'payment_finished')).toHaveLength(1);
  });

  it('re-sends a webhook the receiver had not taken when the sandbox died, and only that one', async () => {
    const prefix = newPrefix();
    const first = await sandboxOn(prefix, { webhookRetryBaseMs: 200, webhookRetryMaxMs: 200 });
    let client = clientFor(first);
    const delivered = await client.createSession();
    await client.startPayout(payout(delivered.id));
    await waitForWebhook(delivered.id, 'ready_to_confirm');
    await client.confirmSession(delivered.id);
    await waitForWebhook(delivered.id, 'payment_finished');

    refuseWebhooks = true;
    const undelivered = await client.createSession();
    await client.startPayout(payout(undelivered.id));
    await eventually(
      () => first.webhooks.deliveries().some((d) => d.sessionId === undelivered.id && d.statuses.includes(500)),
      5_000,
      'a refused delivery',
    );
    await kill(first);
    refuseWebhooks = false;
    const countBefore = receiver.received.length;

    const second = await sandboxOn(prefix);
    client = clientFor(second);
    await eventually(() => webhooksFor(undelivered.id, 'ready_to_confirm').length > 0, 5_000, 'ready_to_confirm re-sent');
    expect(webhooksFor(undelivered.id, 'ready_to_confirm')[0]!.session).toMatchObject({ status: 'in_progress', next_action: 'confirm' });
    // nothing else is re-sent: the delivered session's webhooks were taken
    await new Promise((r) => setTimeout(r, 100));
    expect(second.webhooks.deliveries().map((d) => d.sessionId)).toEqual([undelivered.id]);
    expect(receiver.received.length - countBefore).toBe(1);
    // and the session goes on
    await client.confirmSession(undelivered.id);
    await waitForWebhook(undelivered.id, 'payment_finished');
  });

  it('two confirms of one session at once: one goes through, the other is refused, money moves once', async () => {
    const prefix = newPrefix();
    const sandbox = await sandboxOn(prefix);
    const client = clientFor(sandbox);
    const sessions = await Promise.all(Array.from({ length: 5 }, () => client.createSession()));
    for (const s of sessions) await client.startPayout(payout(s.id));
    for (const s of sessions) await waitForWebhook(s.id, 'ready_to_confirm');

    const outcomes = await Promise.all(sessions.map((s) => Promise.allSettled([client.confirmSession(s.id), client.confirmSession(s.id)])));
    for (const pair of outcomes) {
      expect(pair.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
      const refused = pair.find((o) => o.status === 'rejected');
      expect(refused?.reason).toMatchObject({ code: 'session_wrong_state' });
    }
    for (const s of sessions) await waitForWebhook(s.id, 'payment_finished');
    const ledger = await ledgerOf(sandbox);
    expect(ledger).toMatchObject({ movements: 5, amount_total: 50_000, sessions_paid_more_than_once: [] });
  });

  it('two sandboxes on one prefix (a restart overlapping the old process): confirms through both at once move money once', async () => {
    const prefix = newPrefix();
    const a = await sandboxOn(prefix);
    const b = await sandboxOn(prefix);
    const [ca, cb] = [clientFor(a), clientFor(b)];
    const sessions = await Promise.all(Array.from({ length: 5 }, () => ca.createSession()));
    for (const s of sessions) await ca.startPayout(payout(s.id));
    for (const s of sessions) await waitForWebhook(s.id, 'ready_to_confirm');
    // b never saw these sessions being made, and still answers for them
    expect((await cb.sessionStatus(sessions[0]!.id)).next_action).toBe('confirm');

    const outcomes = await Promise.all(sessions.map((s) => Promise.allSettled([ca.confirmSession(s.id), cb.confirmSession(s.id)])));
    for (const pair of outcomes) {
      expect(pair.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
      expect(pair.find((o) => o.status === 'rejected')?.reason).toMatchObject({ code: 'session_wrong_state' });
    }
    for (const s of sessions) await waitForWebhook(s.id, 'payment_finished');
    await new Promise((r) => setTimeout(r, 50));
    const ledger = await ledgerOf(b);
    expect(ledger).toMatchObject({ movements: 5, amount_total: 50_000, sessions_paid_more_than_once: [] });
    for (const s of sessions) expect(webhooksFor(s.id, 'payment_finished')).toHaveLength(1);
  });

  it('keeps returns: refunds, the money back and the ledger; re-sends an undelivered payment_refunded without hiding payment_finished', async () => {
    const prefix = newPrefix();
    const first = await sandboxOn(prefix);
    let client = clientFor(first);
    const paid = await client.createSession();
    await client.startPayout(payout(paid.id));
    await waitForWebhook(paid.id, 'ready_to_confirm');
    await client.confirmSession(paid.id);
    await waitForWebhook(paid.id, 'payment_finished');
    const refund = (sandbox: RunningSandbox, body: unknown) =>
      fetch(`${sandbox.url}/sandbox/sessions/${paid.id}/refund`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    expect((await refund(first, { amount: 4_000 })).status).toBe(200);
    await waitForWebhook(paid.id, 'payment_refunded');
    const [walletBefore] = await client.walletBalance();
    const statusBefore = await client.sessionStatus(paid.id);
    expect(statusBefore.payouts[0]!.refunds).toHaveLength(1);

    // the second return's webhook is refused until the sandbox dies
    refuseWebhooks = true;
    expect((await refund(first, { amount: 1_000 })).status).toBe(200);
    await eventually(
      () => first.webhooks.deliveries().some((d) => d.type === 'payment_refunded' && d.statuses.includes(500)),
      5_000,
      'a refused payment_refunded',
    );
    await kill(first);
    refuseWebhooks = false;

    const second = await sandboxOn(prefix);
    client = clientFor(second);
    const [again] = await eventually(() =>
      webhooksFor(paid.id, 'payment_refunded').length > 1 ? webhooksFor(paid.id, 'payment_refunded').slice(1) : undefined,
    );
    expect(again!.session.payouts[0]!.refunds).toHaveLength(2);
    expect(second.webhooks.deliveries().map((d) => `${d.sessionId} ${d.type}`)).toEqual([`${paid.id} payment_refunded`]);

    const status = await client.sessionStatus(paid.id);
    expect(status).toMatchObject({ status: 'accepted', payouts: [{ status: 'succeeded' }] });
    expect((status.payouts[0]!.refunds as Array<{ amount_details: { amount: number } }>).map((r) => r.amount_details.amount)).toEqual([
      4_000, 1_000,
    ]);
    const [walletAfter] = await client.walletBalance();
    expect(walletAfter!.amount_details.amount - walletBefore!.amount_details.amount).toBe(1_000);
    const ledger = (await (await fetch(`${second.url}/sandbox/ledger`)).json()) as LedgerView & { returned_total: number };
    expect(ledger).toMatchObject({ movements: 1, amount_total: 10_000, returned_total: 5_000, sessions_paid_more_than_once: [] });
    // and the new process goes on returning from where the old one stopped
    expect((await refund(second, { amount: 5_001 })).status).toBe(400);
    expect((await refund(second, { amount: 5_000 })).status).toBe(200);
    const ids = ((await client.sessionStatus(paid.id)).payouts[0]!.refunds as Array<{ id: string }>).map((r) => r.id);
    expect(new Set(ids).size).toBe(3);
  });

  it('a payment_finished not yet taken when a return came is still re-sent after a restart', async () => {
    const prefix = newPrefix();
    const first = await sandboxOn(prefix, { webhookRetryBaseMs: 200, webhookRetryMaxMs: 200 });
    const client = clientFor(first);
    const paid = await client.createSession();
    await client.startPayout(payout(paid.id));
    await waitForWebhook(paid.id, 'ready_to_confirm');
    refuseWebhooks = true;
    await client.confirmSession(paid.id);
    await eventually(
      () => first.webhooks.deliveries().some((d) => d.type === 'payment_finished' && d.statuses.includes(500)),
      5_000,
      'a refused payment_finished',
    );
    await fetch(`${first.url}/sandbox/sessions/${paid.id}/refund`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    await kill(first);
    refuseWebhooks = false;
    await sandboxOn(prefix);
    await waitForWebhook(paid.id, 'payment_finished');
    await waitForWebhook(paid.id, 'payment_refunded');
  });

  it('a receipt link follows the sandbox to its new address', async () => {
    const prefix = newPrefix();
    const first = await sandboxOn(prefix);
    const client = clientFor(first);
    const session = await client.createSession();
    await client.startPayoutWithFiscalization(fiscalPayoutRequest(session.id, TEST_TAXPAYERS.bound));
    await waitForWebhook(session.id, 'ready_to_confirm');
    await client.confirmSession(session.id);
    await waitForWebhook(session.id, 'payment_finished');
    await kill(first);
    const second = await sandboxOn(prefix);
    const status = await clientFor(second).sessionStatus(session.id);
    const { receipt } = (
      status.payouts[0]!.fiscalization_details as { professional_income_taxpayer: { receipt: { id: string; link: string } } }
    ).professional_income_taxpayer;
    expect(receipt.link).toBe(`${second.url}/sandbox/receipts/${receipt.id}`);
    expect((await fetch(receipt.link)).status).toBe(200);
  });

  it('on another prefix nothing is kept: a sandbox started there does not know the old sessions', async () => {
    const first = await startTestSandbox({ readyDelayMs: 5 });
    running.add(first);
    const session = await clientFor(first).createSession();
    await kill(first);
    const second = await startTestSandbox();
    running.add(second);
    await expect(clientFor(second).sessionStatus(session.id)).rejects.toMatchObject({ code: 'invalid_request' });
  });
});
