import { afterEach, describe, expect, it } from 'vitest';
import { signBody } from '../../src/signature.js';
import { TEST_CARDS } from '../../src/test-cards.js';
import { BankRefusal } from '../support/client.js';
import { keys } from '../support/keys.js';
import { PROJECT, clientFor, startPayoutRequest as payout, useSandboxWithReceiver } from '../support/sandbox.js';

const env = useSandboxWithReceiver();
const { waitForWebhook } = env;

afterEach(() => {
  env.sandbox.bank.setKnobs({ mismatch: undefined, confirmTimeoutMs: 600_000, faults: [], webhookApiVersion: undefined });
});

describe('the sandbox bank, called over its API', () => {
  it('issues a widget public token and reads a card hash', async () => {
    const client = clientFor(env.sandbox);
    expect(await client.issueWidgetToken()).toMatch(/^[0-9a-f]{64}$/);
    const info = await client.tokenInfo(TEST_CARDS.ok);
    expect(info.last4).toBe('4242');
    expect(info.brand).toMatch(/^(visa|mir)$/);
  });

  it('reads the wallet balance and sees it fall by exactly the amount paid', async () => {
    const client = clientFor(env.sandbox);
    const [before] = await client.walletBalance();
    const session = await client.createSession();
    await client.startPayout(payout(session.id));
    await waitForWebhook(session.id, 'ready_to_confirm');
    await client.confirmSession(session.id);
    await waitForWebhook(session.id, 'payment_finished');
    const [after] = await client.walletBalance();
    expect(before!.amount_details.amount - after!.amount_details.amount).toBe(10_000);
  });

  // No webhookApiVersion knob: the version the session was created on picks the webhooks' spelling.
  it.each(['v1', 'v2'] as const)('runs create → start → ready_to_confirm → confirm → payment_finished (%s)', async (version) => {
    const client = clientFor(env.sandbox, { apiVersion: version });
    const created = await client.createSession({ metadata: 'order-1' });
    expect(created).toMatchObject({ status: 'created', payouts: [] });
    expect(created.id).toMatch(/^ps_\d+$/);

    const started = await client.startPayout(payout(created.id), { idempotencyKey: `start-${created.id}` });
    expect(started.status).toBe('in_progress');
    expect(started.payouts[0]).toMatchObject({ status: 'in_progress', amount_details: { amount: 10_000, currency: 'rub' } });

    const [ready] = await waitForWebhook(created.id, 'ready_to_confirm');
    expect(ready!.type).toBe('ready_to_confirm');
    const readySession = ready!.session;
    expect(readySession).toMatchObject({ status: 'in_progress', next_action: 'confirm' });
    expect(readySession.payouts[0]).toMatchObject({ status: 'pending', metadata: `order-${created.id}` });
    expect(readySession.payouts[0]!.details).toMatchObject({ type: 'card', card: { last4: '4242' } });
    expect(readySession[version === 'v2' ? 'payout_list' : 'payments']).toHaveLength(1);
    expect(readySession[version === 'v2' ? 'payments' : 'payout_list']).toBeUndefined();

    await client.confirmSession(created.id);
    const [finished] = await waitForWebhook(created.id, 'payment_finished');
    const finishedSession = finished!.session;
    expect(finishedSession.status).toBe('accepted');
    expect(finishedSession.payouts[0]!.status).toBe('succeeded');

    expect((await client.sessionStatus(created.id)).status).toBe('accepted');
    const ledger = env.sandbox.bank.ledgerBySession().filter((s) => s.session_id === created.id);
    expect(ledger).toEqual([expect.objectContaining({ total: 10_000, movements: [expect.objectContaining({ amount: 10_000 })] })]);
  });

  it('the webhookApiVersion knob, when set, overrides the session’s own version', async () => {
    env.sandbox.bank.setKnobs({ webhookApiVersion: 'v1' });
    const client = clientFor(env.sandbox, { apiVersion: 'v2' });
    const session = await client.createSession();
    await client.startPayout(payout(session.id));
    const [ready] = await waitForWebhook(session.id, 'ready_to_confirm');
    expect(ready!.session).toHaveProperty('payments');
    expect(ready!.session).not.toHaveProperty('payout_list');
    // and the answers still follow the URL asked
    expect(await client.sessionStatus(session.id)).toHaveProperty('payout_list');
  });

  it('init/payout creates and starts in one call', async () => {
    const client = clientFor(env.sandbox);
    const { session_id: _omit, ...fields } = payout('unused');
    const session = await client.initPayout(fields);
    expect(session.status).toBe('in_progress');
    await waitForWebhook(session.id, 'ready_to_confirm');
  });

  it('cancel after ready_to_confirm moves no money and ends the session', async () => {
    const client = clientFor(env.sandbox);
    const session = await client.createSession();
    await client.startPayout(payout(session.id));
    await waitForWebhook(session.id, 'ready_to_confirm');
    const cancelled = await client.cancelSession(session.id);
    expect(cancelled.status).toBe('cancelled');
    const [finished] = await waitForWebhook(session.id, 'payment_finished');
    expect(finished!.session).toMatchObject({ status: 'cancelled' });
    expect(env.sandbox.bank.ledgerBySession().some((s) => s.session_id === session.id)).toBe(false);
    // and it cannot be confirmed afterwards
    const err = await client.confirmSession(session.id).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BankRefusal);
    expect(err).toMatchObject({ code: 'session_wrong_state', httpStatus: 400 });
  });

  it('a second confirm of the same session is refused (session_wrong_state) and pays nothing twice', async () => {
    const client = clientFor(env.sandbox);
    const session = await client.createSession();
    await client.startPayout(payout(session.id));
    await waitForWebhook(session.id, 'ready_to_confirm');
    await client.confirmSession(session.id);
    await expect(client.confirmSession(session.id)).rejects.toMatchObject({ code: 'session_wrong_state' });
    await waitForWebhook(session.id, 'payment_finished');
    expect(env.sandbox.bank.ledger.filter((e) => e.session_id === session.id)).toHaveLength(1);
  });

  it('an invalid request is refused naming the field, and changes nothing', async () => {
    const post = (path: string, body: string, headers: Record<string, string>) =>
      fetch(`${env.sandbox.url}${path}`, { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers } });
    const client = clientFor(env.sandbox);
    await expect(client.startPayout(payout('ps_0'))).rejects.toMatchObject({ code: 'invalid_request', httpStatus: 400 });
    const session = await client.createSession();
    const bad = { ...payout(session.id), amount_details: { amount: 0, currency: 'rub' } };
    const err = await client.startPayout(bad).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BankRefusal);
    expect((err as BankRefusal).description).toContain('amount_details.amount');
    expect(env.sandbox.bank.sessionState(session.id)).toBe('created');
    // and the sandbox names the field when a raw body is wrong
    const raw = JSON.stringify({ session_id: session.id, amount_details: { amount: 5, currency: 'rub' } });
    const res = await post('/api/v2/session/start/payout', raw, {
      'x-partner-project': PROJECT,
      'x-partner-sign': signBody(raw, keys.partnerPrivate),
    });
    expect(res.status).toBe(400);
    expect(JSON.stringify(await res.json())).toMatch(/payout_details/);
  });
});

describe('test cards and session knobs', () => {
  const startedSession = async (numberHash: string = TEST_CARDS.ok) => {
    const client = clientFor(env.sandbox);
    const session = await client.createSession();
    await client.startPayout(payout(session.id, numberHash));
    return { client, session };
  };

  it('a reject card is refused at start with its code; a decline card fails at the end with its code', async () => {
    const client = clientFor(env.sandbox);
    const s1 = await client.createSession();
    await expect(client.startPayout(payout(s1.id, TEST_CARDS.rejectNoSuchCard))).rejects.toMatchObject({
      code: 'card_number_does_not_exist',
      httpStatus: 400,
    });
    const { session } = await startedSession(TEST_CARDS.declinedByIssuer);
    await waitForWebhook(session.id, 'ready_to_confirm');
    await client.confirmSession(session.id);
    const [finished] = await waitForWebhook(session.id, 'payment_finished');
    const p = (finished!.session as { payouts: Array<{ status: string; error?: { code: string } }> }).payouts[0]!;
    expect(p).toMatchObject({ status: 'failed', error: { code: 'declined_by_issuer_bank' } });
    expect(env.sandbox.bank.ledgerBySession().some((s) => s.session_id === session.id)).toBe(false);
  });

  it('mismatch cards and the mismatch knob make ready_to_confirm report other amount or metadata', async () => {
    const a = await startedSession(TEST_CARDS.mismatchAmount);
    const m = await startedSession(TEST_CARDS.mismatchMetadata);
    const [ra] = await waitForWebhook(a.session.id, 'ready_to_confirm');
    const [rm] = await waitForWebhook(m.session.id, 'ready_to_confirm');
    const first = (w: typeof ra) =>
      (w!.session as { payouts: Array<{ amount_details?: { amount: number }; metadata?: unknown }> }).payouts[0]!;
    expect(first(ra).amount_details!.amount).toBe(10_100);
    expect(first(rm).metadata).not.toBe(`order-${m.session.id}`);

    env.sandbox.bank.setKnobs({ mismatch: { amountDelta: -1, metadata: 'someone-else', remaining: 1 } });
    const k = await startedSession();
    const [rk] = await waitForWebhook(k.session.id, 'ready_to_confirm');
    expect(first(rk)).toMatchObject({ amount_details: { amount: 9_999 }, metadata: 'someone-else' });
    const n = await startedSession();
    const [rn] = await waitForWebhook(n.session.id, 'ready_to_confirm');
    expect(first(rn)).toMatchObject({ amount_details: { amount: 10_000 }, metadata: `order-${n.session.id}` });
  });

  it('a session left unconfirmed is cancelled with confirm_timeout, and a late confirm is refused', async () => {
    env.sandbox.bank.setKnobs({ confirmTimeoutMs: 50 });
    const { client, session } = await startedSession();
    const [finished] = await waitForWebhook(session.id, 'payment_finished');
    expect(finished!.session).toMatchObject({ status: 'cancelled', error: { code: 'confirm_timeout' } });
    expect(env.sandbox.bank.sessionState(session.id)).toBe('expired');
    await expect(client.confirmSession(session.id)).rejects.toMatchObject({ code: 'session_wrong_state' });
    expect(env.sandbox.bank.ledgerBySession().some((s) => s.session_id === session.id)).toBe(false);
  });

  it('GET /sandbox/ledger lists money per session and flags any session paid twice', async () => {
    const res = await fetch(`${env.sandbox.url}/sandbox/ledger`);
    const ledger = (await res.json()) as { sessions: Array<{ total: number }>; movements: number; sessions_paid_more_than_once: string[] };
    expect(ledger.movements).toBe(env.sandbox.bank.ledger.length);
    expect(ledger.movements).toBeGreaterThan(0);
    expect(ledger.sessions_paid_more_than_once).toEqual([]);
  });

  it('knobs are settable over HTTP and refuse bad values with the field named', async () => {
    const ok = await fetch(`${env.sandbox.url}/sandbox/knobs`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/json' },
      body: '{"latencyMs":1}',
    });
    expect(((await ok.json()) as { latencyMs: number; webhookUrl: string }).latencyMs).toBe(1);
    expect(env.sandbox.bank.knobs.webhookUrl).toBe(env.receiver.url); // untouched knobs keep their values
    const bad = await fetch(`${env.sandbox.url}/sandbox/knobs`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/json' },
      body: '{"errorRate":2}',
    });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(await bad.json())).toContain('errorRate');
    env.sandbox.bank.setKnobs({ latencyMs: 0 });
  });

  it('an optional knob set over HTTP is cleared with null', async () => {
    const patch = (body: unknown) =>
      fetch(`${env.sandbox.url}/sandbox/knobs`, {
        method: 'PATCH',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    expect((await patch({ webhookApiVersion: 'v1' })).status).toBe(200);
    expect(env.sandbox.bank.knobs.webhookApiVersion).toBe('v1');
    expect((await patch({ webhookApiVersion: null })).status).toBe(200);
    expect(env.sandbox.bank.knobs.webhookApiVersion).toBeUndefined();
    expect((await patch({ webhookApiVersion: 'v3' })).status).toBe(400);
  });
});
