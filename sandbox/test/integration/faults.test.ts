import { afterEach, describe, expect, it } from 'vitest';
import { NoAnswer } from '../support/client.js';
import { clientFor, eventually, startPayoutRequest as payout, useSandboxWithReceiver } from '../support/sandbox.js';

const env = useSandboxWithReceiver();
const { webhooksFor, waitForWebhook } = env;

afterEach(() => {
  env.sandbox.bank.setKnobs({ faults: [], errorSessions: undefined, hangMs: 30_000 });
});

const paidFor = (sessionId: string) => env.sandbox.bank.ledger.filter((e) => e.session_id === sessionId);

describe('faults: the answer a client gets, and what the bank did', () => {
  it('5xx: answered 500 internal_error, and the bank did nothing', async () => {
    const client = clientFor(env.sandbox);
    const session = await client.createSession();
    env.sandbox.bank.addFaults([{ endpoint: 'session/start/payout', kind: '5xx', times: 1 }]);
    const err = await client.startPayout(payout(session.id)).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'internal_error', httpStatus: 500 });
    expect(env.sandbox.bank.sessionState(session.id)).toBe('created');
    await client.startPayout(payout(session.id)); // and the retry goes through
  });

  it('timeout before acting: no answer, and session/status shows nothing happened', async () => {
    env.sandbox.bank.setKnobs({ hangMs: 2_000 });
    const client = clientFor(env.sandbox, { timeoutMs: 300 });
    const session = await client.createSession();
    env.sandbox.bank.addFaults([{ endpoint: 'session/start/payout', kind: 'timeout', times: 1 }]);
    const err = await client.startPayout(payout(session.id)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NoAnswer);
    expect(err).toMatchObject({ reason: 'timeout' });
    expect((await client.sessionStatus(session.id)).status).toBe('created');
  });

  it('timeout after acting: no answer, and session/status shows the payout started', async () => {
    env.sandbox.bank.setKnobs({ hangMs: 2_000 });
    const client = clientFor(env.sandbox, { timeoutMs: 300 });
    const session = await client.createSession();
    env.sandbox.bank.addFaults([{ endpoint: 'session/start/payout', kind: 'timeout_after_effect', times: 1 }]);
    await expect(client.startPayout(payout(session.id), { idempotencyKey: `s-${session.id}` })).rejects.toMatchObject({
      reason: 'timeout',
    });
    const status = await client.sessionStatus(session.id);
    expect(status.status).toBe('in_progress');
    // resending blind with the same key is refused: the partner must ask status
    const again = await client.startPayout(payout(session.id), { idempotencyKey: `s-${session.id}` }).catch((e: unknown) => e);
    expect(again).toMatchObject({ code: 'idempotency_key_already_exists', httpStatus: 409 });
  });

  it('an error code injected by a scripted fault comes back in the bank error shape', async () => {
    env.sandbox.bank.addFaults([{ endpoint: 'session/create', kind: 'error', code: 'provider_timeout', times: 1 }]);
    await expect(clientFor(env.sandbox).createSession()).rejects.toMatchObject({ code: 'provider_timeout', httpStatus: 400 });
  });
});

describe('sessions in status error (result unknown, not final)', () => {
  it('errorSessions after confirm: status error with no webhook, refuses partner calls, then resolves by hand to accepted', async () => {
    env.sandbox.bank.setKnobs({ errorSessions: { after: 'confirm', remaining: 1 } });
    const client = clientFor(env.sandbox);
    const session = await client.createSession();
    await client.startPayout(payout(session.id));
    await waitForWebhook(session.id, 'ready_to_confirm');
    await client.confirmSession(session.id);

    const errored = await eventually(
      async () => {
        const s = await client.sessionStatus(session.id);
        return s.status === 'error' ? s : undefined;
      },
      5_000,
      'session status error',
    );
    expect(errored).toMatchObject({ error: { code: 'internal_error' } });
    expect(errored.payouts[0]).toMatchObject({ status: 'in_progress' });
    expect(errored).not.toHaveProperty('finished_at');
    expect(env.sandbox.bank.knobs.errorSessions?.remaining).toBe(0);
    await expect(client.confirmSession(session.id)).rejects.toMatchObject({ code: 'session_wrong_state' });
    await expect(client.cancelSession(session.id)).rejects.toMatchObject({ code: 'session_wrong_state' });
    expect(webhooksFor(session.id).map((w) => w.type)).toEqual(['ready_to_confirm']);
    expect(paidFor(session.id)).toEqual([]);

    const res = await fetch(`${env.sandbox.url}/sandbox/sessions/${session.id}/resolve`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    expect(res.status).toBe(200);
    const [finished] = await waitForWebhook(session.id, 'payment_finished');
    expect(finished.session).toMatchObject({ status: 'accepted', payouts: [{ status: 'succeeded' }] });
    expect(finished.session).not.toHaveProperty('error');
    expect(paidFor(session.id)).toHaveLength(1);
    expect((await client.sessionStatus(session.id)).status).toBe('accepted');
  });

  it('errorSessions after start: error in place of ready_to_confirm, then resolves by itself to cancelled, moving no money', async () => {
    env.sandbox.bank.setKnobs({ errorSessions: { after: 'start', resolveAfterMs: 150, code: 'provider_error' } });
    const client = clientFor(env.sandbox);
    const session = await client.createSession();
    await client.startPayout(payout(session.id));
    await eventually(async () => (await client.sessionStatus(session.id)).status === 'error', 5_000, 'session status error');
    const [finished] = await waitForWebhook(session.id, 'payment_finished');
    expect(finished.session).toMatchObject({ status: 'cancelled', payouts: [{ status: 'failed', error: { code: 'provider_error' } }] });
    expect(webhooksFor(session.id).map((w) => w.type)).toEqual(['payment_finished']);
    expect(paidFor(session.id)).toEqual([]);

    // the knob was for one session only: the next one runs normally
    const next = await client.createSession();
    await client.startPayout(payout(next.id));
    await waitForWebhook(next.id, 'ready_to_confirm');
  });

  it('POST /sandbox/sessions/:id/error puts one started session in error, resolving as told', async () => {
    const client = clientFor(env.sandbox);
    const idle = await client.createSession();
    const refused = await fetch(`${env.sandbox.url}/sandbox/sessions/${idle.id}/error`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    expect(refused.status).toBe(400);
    expect(await refused.json()).toMatchObject({ error: { code: 'session_wrong_state' } });

    const session = await client.createSession();
    await client.startPayout(payout(session.id));
    await waitForWebhook(session.id, 'ready_to_confirm');
    const res = await fetch(`${env.sandbox.url}/sandbox/sessions/${session.id}/error`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ resolveTo: 'succeeded', resolveAfterMs: 100 }),
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ state: 'error', session: { status: 'error' } });
    expect((await client.sessionStatus(session.id)).status).toBe('error');
    // with resolveTo succeeded an unconfirmed payout is paid anyway, as the bank's auto-confirm would
    const [finished] = await waitForWebhook(session.id, 'payment_finished');
    expect(finished.session).toMatchObject({ status: 'accepted' });
    expect(paidFor(session.id)).toHaveLength(1);
  });

  it('resolving by hand to failed overrides the plan; resolving a session not in error is refused', async () => {
    env.sandbox.bank.setKnobs({ errorSessions: { after: 'confirm', resolveTo: 'succeeded' } });
    const client = clientFor(env.sandbox);
    const session = await client.createSession();
    await client.startPayout(payout(session.id));
    await waitForWebhook(session.id, 'ready_to_confirm');
    await client.confirmSession(session.id);
    await eventually(() => env.sandbox.bank.sessionState(session.id) === 'error', 5_000, 'session in error');
    await env.sandbox.bank.resolveSessionError(session.id, 'failed');
    const [finished] = await waitForWebhook(session.id, 'payment_finished');
    expect(finished.session).toMatchObject({ status: 'cancelled', payouts: [{ status: 'failed', error: { code: 'internal_error' } }] });
    expect(paidFor(session.id)).toEqual([]);
    await expect(env.sandbox.bank.resolveSessionError(session.id)).rejects.toThrow(/session_wrong_state/);
  });
});
