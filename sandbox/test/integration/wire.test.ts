import { afterEach, describe, expect, it } from 'vitest';
import { checkSignature, signBody } from '../../src/signature.js';
import { keys } from '../support/keys.js';
import { PROJECT, eventually, useSandboxWithReceiver } from '../support/sandbox.js';

/**
 * The bank's own requests, byte for byte as its guide writes them, sent as
 * raw signed HTTP so nothing of our client shapes them; and the raw webhooks that come back.
 */

interface WirePayout {
  [field: string]: unknown;
  status: string;
}
interface WireSession {
  [field: string]: unknown;
  id: string;
  status: string;
  payments?: WirePayout[];
  payout_list?: WirePayout[];
}
interface WireAnswer {
  status: string;
  session: WireSession;
  error?: { code: string; description: string };
}
interface WireWebhook {
  type: string;
  session: WireSession;
}

const env = useSandboxWithReceiver();

afterEach(() => {
  env.sandbox.bank.setKnobs({ nullFields: false, webhookApiVersion: undefined });
});

/** A signed POST of exactly `body`'s JSON. */
async function call(path: string, body: unknown): Promise<{ http: number; json: WireAnswer }> {
  const raw = JSON.stringify(body);
  const res = await fetch(`${env.sandbox.url}${path}`, {
    method: 'POST',
    body: raw,
    headers: { 'content-type': 'application/json', 'x-partner-project': PROJECT, 'x-partner-sign': signBody(raw, keys.partnerPrivate) },
  });
  return { http: res.status, json: (await res.json()) as WireAnswer };
}

/** Webhooks for a session as raw JSON, only those the bank's key really signed. */
const rawWebhooks = (sessionId: string): WireWebhook[] =>
  env.receiver.received
    .filter((r) => checkSignature(r.body, r.headers['x-partner-sign'] as string, keys.bankPublic).ok)
    .map((r) => JSON.parse(r.body.toString('utf8')) as WireWebhook)
    .filter((w) => w.session?.id === sessionId);

const waitForRaw = (sessionId: string, type: string) =>
  eventually(() => rawWebhooks(sessionId).find((w) => w.type === type), 5_000, `${type} for ${sessionId}`);

const guideCard = (numberHash = 'e2d5c7a1f0b3_4242') => ({
  type: 'card',
  card: { type: 'encrypted_card', encrypted_card: { number_hash: numberHash } },
});

describe('the bank guide’s v1 flow, word for word', () => {
  it('create with the amount, start with only the card, confirm: v1 webhooks carry session.payments[].payment_method', async () => {
    const created = await call('/api/v1/session/create', { amount_details: { amount: 10000, currency: 'rub' }, metadata: 'good' });
    expect(created.http).toBe(200);
    expect(created.json).toMatchObject({ status: 'ok', session: { status: 'created', payments: [] } });
    expect(created.json.session).not.toHaveProperty('payout_list');
    const id = created.json.session.id;

    const started = await call('/api/v1/session/start/payout', { session_id: id, payment_method: guideCard() });
    expect(started.http).toBe(200);
    expect(started.json.session).toMatchObject({
      status: 'in_progress',
      payments: [{ status: 'in_progress', amount_details: { amount: 10000, currency: 'rub' }, metadata: 'good' }],
    });

    const ready = await waitForRaw(id, 'ready_to_confirm');
    expect(ready.session).toMatchObject({ id, status: 'in_progress', next_action: 'confirm' });
    expect(ready.session).not.toHaveProperty('payout_list');
    const readyPayout = ready.session.payments![0]!;
    expect(readyPayout).toMatchObject({
      status: 'pending',
      amount_details: { amount: 10000, currency: 'rub' },
      metadata: 'good',
      payment_method: { type: 'card', card: { type: 'encrypted_card', last4: '4242' } },
    });
    expect(readyPayout).not.toHaveProperty('payout_details');
    // no recipient was given, so none is made up
    expect(readyPayout).not.toHaveProperty('participant_details');

    const confirmed = await call('/api/v1/session/confirm', { session_id: id });
    expect(confirmed.http).toBe(200);
    const finished = await waitForRaw(id, 'payment_finished');
    expect(finished.session).toMatchObject({
      status: 'accepted',
      finished_at: expect.any(String),
      payments: [{ status: 'succeeded', payment_method: { type: 'card' }, amount_details: { amount: 10000 } }],
    });
    expect(env.sandbox.bank.ledger.filter((e) => e.session_id === id)).toEqual([
      expect.objectContaining({ amount: 10000, currency: 'rub', metadata: 'good' }),
    ]);
  });

  it('create with {} or only metadata: start/payout must then carry the amount, or is refused naming it', async () => {
    const bare = await call('/api/v1/session/create', {});
    expect(bare.http).toBe(200);
    const refused = await call('/api/v1/session/start/payout', { session_id: bare.json.session.id, payment_method: guideCard() });
    expect(refused.http).toBe(400);
    expect(refused.json.error).toMatchObject({ code: 'invalid_request', description: expect.stringContaining('amount_details') });
    expect(env.sandbox.bank.sessionState(bare.json.session.id)).toBe('created');

    const withMetadata = await call('/api/v1/session/create', { metadata: 'good' });
    const id = withMetadata.json.session.id;
    const started = await call('/api/v1/session/start/payout', {
      session_id: id,
      payment_method: guideCard(),
      amount_details: { amount: 2500, currency: 'rub' },
    });
    expect(started.http).toBe(200);
    expect(started.json.session.payments![0]).toMatchObject({ amount_details: { amount: 2500 }, metadata: 'good' });
  });

  it('when both calls name an amount and metadata, start/payout’s win; a given recipient is echoed', async () => {
    const created = await call('/api/v1/session/create', { amount_details: { amount: 10000, currency: 'rub' }, metadata: 'from-create' });
    const id = created.json.session.id;
    const recipient = { full_name: 'Ivanov Ivan Ivanovich' };
    const started = await call('/api/v1/session/start/payout', {
      session_id: id,
      payment_method: guideCard(),
      amount_details: { amount: 7000, currency: 'rub' },
      metadata: 'from-start',
      participant_details: { recipient },
    });
    expect(started.json.session.payments![0]).toMatchObject({
      amount_details: { amount: 7000 },
      metadata: 'from-start',
      participant_details: { recipient },
    });
    await waitForRaw(id, 'ready_to_confirm');
    await call('/api/v1/session/confirm', { session_id: id });
    await waitForRaw(id, 'payment_finished');
    expect(env.sandbox.bank.ledger.filter((e) => e.session_id === id)).toEqual([
      expect.objectContaining({ amount: 7000, metadata: 'from-start' }),
    ]);
  });

  it('a v1 caller who leaves out the card hears about payment_method, not payout_details', async () => {
    const created = await call('/api/v1/session/create', { amount_details: { amount: 10000, currency: 'rub' } });
    const refused = await call('/api/v1/session/start/payout', { session_id: created.json.session.id });
    expect(refused.http).toBe(400);
    expect(refused.json.error!.description).toContain('payment_method');
    expect(refused.json.error!.description).not.toContain('payout_details');
  });
});

describe('a session keeps the API version it was created on', () => {
  it('a v2-created session gets v2 webhooks (payout_list, payout_details), even when later calls use v1 URLs', async () => {
    const created = await call('/api/v2/session/create', { amount_details: { amount: 10000, currency: 'rub' }, metadata: 'good' });
    const id = created.json.session.id;
    expect(created.json.session).toMatchObject({ payout_list: [] });
    // a v1 URL answers in v1 spelling ...
    const started = await call('/api/v1/session/start/payout', { session_id: id, payment_method: guideCard() });
    expect(started.json.session).toHaveProperty('payments');
    expect(started.json.session).not.toHaveProperty('payout_list');
    // ... but the session's webhooks stay v2
    const ready = await waitForRaw(id, 'ready_to_confirm');
    expect(ready.session).not.toHaveProperty('payments');
    expect(ready.session.payout_list![0]).toMatchObject({ status: 'pending', payout_details: { type: 'card' } });
    expect(ready.session.payout_list![0]).not.toHaveProperty('payment_method');
    await call('/api/v2/session/confirm', { session_id: id });
    const finished = await waitForRaw(id, 'payment_finished');
    expect(finished.session.payout_list![0]).toMatchObject({ status: 'succeeded', payout_details: { type: 'card' } });
  });

  it('a v1-created session gets v1 webhooks while v2 status calls answer in v2 spelling', async () => {
    const created = await call('/api/v1/session/create', { amount_details: { amount: 10000, currency: 'rub' } });
    const id = created.json.session.id;
    await call('/api/v2/session/start/payout', { session_id: id, payout_details: guideCard() });
    const ready = await waitForRaw(id, 'ready_to_confirm');
    expect(ready.session.payments![0]).toHaveProperty('payment_method');
    const status = await call('/api/v2/session/status', { session_id: id });
    expect(status.json.session.payout_list![0]).toMatchObject({ status: 'pending', payout_details: { type: 'card' } });
  });
});

describe('the nullFields knob', () => {
  it('sends null for absent optional fields in responses and webhooks; without it they are left out', async () => {
    const plain = await call('/api/v2/session/create', { amount_details: { amount: 10000, currency: 'rub' } });
    expect(plain.json.session).not.toHaveProperty('finished_at');
    expect(plain.json.session).not.toHaveProperty('next_action');
    expect(plain.json.session).not.toHaveProperty('error');

    env.sandbox.bank.setKnobs({ nullFields: true });
    const created = await call('/api/v2/session/create', { amount_details: { amount: 10000, currency: 'rub' }, metadata: 'good' });
    const id = created.json.session.id;
    expect(created.json.session).toMatchObject({ finished_at: null, next_action: null, error: null, payout_list: [] });
    await call('/api/v2/session/start/payout', { session_id: id, payout_details: guideCard() });

    const ready = await waitForRaw(id, 'ready_to_confirm');
    expect(ready.session).toMatchObject({ status: 'in_progress', next_action: 'confirm', finished_at: null, error: null });
    expect(ready.session.payout_list![0]).toMatchObject({
      status: 'pending',
      finished_at: null,
      error: null,
      customer: null,
      participant_details: null,
      transaction_info: null,
      metadata: 'good',
    });
    const status = await call('/api/v2/session/status', { session_id: id });
    expect(status.json.session).toMatchObject({ finished_at: null, error: null });

    await call('/api/v2/session/confirm', { session_id: id });
    const finished = await waitForRaw(id, 'payment_finished');
    expect(finished.session).toMatchObject({ status: 'accepted', finished_at: expect.any(String), next_action: null, error: null });
    expect(finished.session.payout_list![0]).toMatchObject({
      status: 'succeeded',
      error: null,
      transaction_info: { rrn: expect.any(String) },
    });
  });
});
