import { afterEach, describe, expect, it } from 'vitest';
import { sendWebhook } from '../../src/server.js';
import { checkSignature } from '../../src/signature.js';
import type { DeliveryRecord } from '../../src/webhook-dispatcher.js';
import { keys } from '../support/keys.js';
import { clientFor, eventually, startPayoutRequest as payout, useSandboxWithReceiver, type CapturedRequest } from '../support/sandbox.js';

let answerWith: (n: number, req: CapturedRequest) => number = () => 200;
const env = useSandboxWithReceiver({ answer: (req, n) => answerWith(n, req) });
const { webhooksFor, waitForWebhook } = env;

afterEach(() => {
  answerWith = () => 200;
  env.sandbox.bank.setKnobs({ duplicateWebhookRate: 0, outOfOrderWebhooks: false, loseWebhooks: undefined });
});

const deliveriesFor = (sessionId: string) => env.sandbox.webhooks.deliveries().filter((d) => d.sessionId === sessionId);

const startedSession = async () => {
  const client = clientFor(env.sandbox);
  const session = await client.createSession();
  await client.startPayout(payout(session.id));
  return { client, session };
};

describe('webhook delivery', () => {
  it('re-sends a webhook with backoff until the receiver answers 200', async () => {
    answerWith = (n) => (n % 3 === 0 ? 200 : 503);
    const { session } = await startedSession();
    await waitForWebhook(session.id, 'ready_to_confirm');
    const record = await eventually(() => env.sandbox.webhooks.deliveries().find((d) => d.sessionId === session.id && d.delivered));
    expect(record.attempts).toBeGreaterThan(1);
    expect(record.statuses.at(-1)).toBe(200);
    expect(record.statuses.slice(0, -1).every((s) => s === 503)).toBe(true);
  });

  it('duplicates deliver the same signed bytes twice; out-of-order re-sends a stale ready_to_confirm last', async () => {
    env.sandbox.bank.setKnobs({ duplicateWebhookRate: 1, outOfOrderWebhooks: true });
    const { client, session } = await startedSession();
    await waitForWebhook(session.id, 'ready_to_confirm', 2);
    const copies = env.receiver.received.filter((r) => r.body.includes(session.id) && r.body.includes('ready_to_confirm'));
    expect(copies[0]!.body.equals(copies[1]!.body)).toBe(true);
    await client.confirmSession(session.id);
    await waitForWebhook(session.id, 'ready_to_confirm', 3);
    const order = webhooksFor(session.id).map((w) => w.type);
    expect(order.at(-1)).toBe('ready_to_confirm');
    expect(order.indexOf('payment_finished')).toBeLessThan(order.lastIndexOf('ready_to_confirm'));
  });
});

describe('the loseWebhooks knob', () => {
  it('loses the named type as many times as remaining says; session/status still tells the truth', async () => {
    env.sandbox.bank.setKnobs({ loseWebhooks: { types: ['ready_to_confirm'], remaining: 1 } });
    const lost = await startedSession();
    // the bank moved on even though nobody heard of it
    await eventually(
      async () => (await lost.client.sessionStatus(lost.session.id)).next_action === 'confirm',
      5_000,
      'next_action confirm',
    );
    const record = await eventually(() => deliveriesFor(lost.session.id).find((d) => d.type === 'ready_to_confirm'));
    expect(record).toMatchObject({ lost: true, delivered: false, attempts: 0, statuses: [] });
    expect(env.sandbox.bank.knobs.loseWebhooks?.remaining).toBe(0);

    // the next one gets through, and the lost one never will: it was never queued
    const kept = await startedSession();
    await waitForWebhook(kept.session.id, 'ready_to_confirm');
    expect(webhooksFor(lost.session.id)).toEqual([]);

    // only the named type is lost
    await lost.client.confirmSession(lost.session.id);
    await waitForWebhook(lost.session.id, 'payment_finished');
    expect(webhooksFor(lost.session.id).map((w) => w.type)).toEqual(['payment_finished']);
  });

  it('without remaining every one is lost until the knob is cleared (null over HTTP)', async () => {
    env.sandbox.bank.setKnobs({ loseWebhooks: { types: ['payment_finished'] } });
    const sessions = [await startedSession(), await startedSession()];
    for (const { client, session } of sessions) {
      await waitForWebhook(session.id, 'ready_to_confirm');
      await client.confirmSession(session.id);
      await eventually(async () => (await client.sessionStatus(session.id)).status === 'accepted', 5_000, 'accepted');
      expect(deliveriesFor(session.id).find((d) => d.type === 'payment_finished')).toMatchObject({ lost: true });
    }
    expect(env.sandbox.bank.knobs.loseWebhooks).toEqual({ types: ['payment_finished'] });
    const listed = (await (await fetch(`${env.sandbox.url}/sandbox/webhooks`)).json()) as DeliveryRecord[];
    expect(listed.filter((d) => d.lost && sessions.some((s) => s.session.id === d.sessionId))).toHaveLength(2);

    const cleared = await fetch(`${env.sandbox.url}/sandbox/knobs`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/json' },
      body: '{"loseWebhooks":null}',
    });
    expect(cleared.status).toBe(200);
    const { client, session } = await startedSession();
    await waitForWebhook(session.id, 'ready_to_confirm');
    await client.confirmSession(session.id);
    await waitForWebhook(session.id, 'payment_finished');
  });
});

describe('sending an arbitrary signed webhook', () => {
  it('POST /sandbox/webhooks/send signs any JSON with the bank key and answers with the first attempt', async () => {
    const body = {
      type: 'payment_finished',
      session: {
        id: 'ps_handmade',
        status: 'accepted',
        finished_at: null,
        payout_list: [{ id: 'po_1', status: 'succeeded', error: null }],
      },
    };
    const res = await fetch(`${env.sandbox.url}/sandbox/webhooks/send`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ body }),
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({
      type: 'payment_finished',
      sessionId: 'ps_handmade',
      copy: 'manual',
      attempts: 1,
      statuses: [200],
      delivered: true,
    });
    const got = env.receiver.received.filter((r) => r.body.includes('ps_handmade'));
    expect(got).toHaveLength(1);
    expect(checkSignature(got[0]!.body, got[0]!.headers['x-partner-sign'] as string, keys.bankPublic)).toEqual({ ok: true });
    expect(JSON.parse(got[0]!.body.toString())).toEqual(body);

    const missing = await fetch(`${env.sandbox.url}/sandbox/webhooks/send`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    expect(missing.status).toBe(400);
  });

  it('sendWebhook retries like a bank webhook, ignores loseWebhooks, and can send exact bytes', async () => {
    env.sandbox.bank.setKnobs({ loseWebhooks: { types: ['transaction_registration'] } });
    let refusals = 0;
    answerWith = (_n, req) => (req.body.includes('ps_transfer') && refusals++ < 2 ? 500 : 200);
    const record = sendWebhook(env.sandbox, { type: 'transaction_registration', session: { id: 'ps_transfer' } });
    await eventually(() => record.delivered, 5_000, 'delivered');
    expect(record).toMatchObject({ lost: false, attempts: 3, statuses: [500, 500, 200] });

    const bytes = Buffer.from('{"type":"ready_to_confirm","session":{"id":"ps_bytes"}} ');
    const exact = sendWebhook(env.sandbox, bytes);
    await eventually(() => exact.delivered, 5_000, 'delivered');
    const got = env.receiver.received.find((r) => r.body.includes('ps_bytes'))!;
    expect(got.body.equals(bytes)).toBe(true);
    expect(checkSignature(got.body, got.headers['x-partner-sign'] as string, keys.bankPublic)).toEqual({ ok: true });
  });
});
