import { TEST_CARDS } from 'bank131-sandbox';
import { afterEach, describe, expect, it } from 'vitest';
import { Bank131ApiError, Bank131RequestError, Bank131TransportError } from '../../src/bank131/errors.js';
import { checkSignature, signBody } from '../../src/bank131/signature.js';
import { freePort } from '../../src/local-redis.js';
import { keys } from '../support/keys.js';
import { PROJECT, clientFor, startPayoutRequest as payout, startReceiver, useSandboxWithReceiver } from '../support/sandbox.js';

/**
 * Our Bank 131 client (src/bank131/client.ts) against the sandbox bank (the bank131-sandbox
 * package): what it puts on the wire, and how it reads the bank's refusals, faults and silences
 * into typed errors that say whether to retry and whether the bank may have acted. The sandbox's
 * own behaviour is tested in sandbox/test/.
 */

const env = useSandboxWithReceiver();
const { waitForWebhook } = env;

afterEach(() => {
  env.sandbox.bank.setKnobs({ faults: [], hangMs: 30_000 });
});

describe('what our client puts on the wire', () => {
  it('sends v1 spelling (payment_method) on v1 and v2 spelling (payout_details) on v2', async () => {
    const fakeBank = await startReceiver(() => 500);
    try {
      for (const version of ['v1', 'v2'] as const) {
        const client = clientFor({ url: fakeBank.url.replace('/webhooks/bank131', '') }, { apiVersion: version });
        await client.startPayout(payout('ps_1')).catch(() => undefined);
        const sent = fakeBank.received.at(-1)!;
        const body = JSON.parse(sent.body.toString());
        expect(Object.keys(body)).toContain(version === 'v1' ? 'payment_method' : 'payout_details');
        expect(Object.keys(body)).not.toContain(version === 'v1' ? 'payout_details' : 'payment_method');
        expect(sent.headers['x-partner-project']).toBe(PROJECT);
        expect(checkSignature(sent.body, sent.headers['x-partner-sign'] as string, keys.partnerPublic)).toEqual({ ok: true });
      }
      const last = fakeBank.received.at(-1)!;
      expect(last.headers['x-partner-submerchant']).toBeUndefined();
      await clientFor({ url: fakeBank.url.replace('/webhooks/bank131', '') }, { submerchant: 'sub-7' })
        .confirmSession('ps_1', { idempotencyKey: 'k-1' })
        .catch(() => undefined);
      expect(fakeBank.received.at(-1)!.headers).toMatchObject({ 'x-partner-submerchant': 'sub-7', 'x-partner-idempotency-key': 'k-1' });
      expect(fakeBank.received.at(-1)!.headers['content-type']).toBe('application/json');
    } finally {
      await fakeBank.close();
    }
  });
});

describe('faults surface as typed errors that say whether the bank may have acted', () => {
  it('a request signed with another key: 401 authentication_error, nothing created', async () => {
    const before = env.sandbox.bank.sessionCount();
    const err = await clientFor(env.sandbox, { privateKey: keys.bankPrivate })
      .createSession()
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Bank131ApiError);
    expect(err).toMatchObject({
      code: 'authentication_error',
      httpStatus: 401,
      advice: 'misconfigured',
      retryable: true,
      outcomeUnknown: false,
    });
    expect(env.sandbox.bank.sessionCount()).toBe(before);
  });

  it('5xx: retryable, outcome known (the bank did nothing)', async () => {
    const client = clientFor(env.sandbox);
    const session = await client.createSession();
    env.sandbox.bank.addFaults([{ endpoint: 'session/start/payout', kind: '5xx', times: 1 }]);
    const err = await client.startPayout(payout(session.id)).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'internal_error', httpStatus: 500, retryable: true, outcomeUnknown: false });
    expect(env.sandbox.bank.sessionState(session.id)).toBe('created');
    await client.startPayout(payout(session.id)); // and the retry goes through
  });

  it('timeout before acting: outcome unknown, and session/status shows nothing happened', async () => {
    env.sandbox.bank.setKnobs({ hangMs: 2_000 });
    const client = clientFor(env.sandbox, { timeoutMs: 300 });
    const session = await client.createSession();
    env.sandbox.bank.addFaults([{ endpoint: 'session/start/payout', kind: 'timeout', times: 1 }]);
    const err = await client.startPayout(payout(session.id)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Bank131TransportError);
    expect(err).toMatchObject({ delivery: 'unknown', outcomeUnknown: true, retryable: true });
    expect((await client.sessionStatus(session.id)).status).toBe('created');
  });

  it('timeout after acting: outcome unknown, and session/status shows the payout started', async () => {
    env.sandbox.bank.setKnobs({ hangMs: 2_000 });
    const client = clientFor(env.sandbox, { timeoutMs: 300 });
    const session = await client.createSession();
    env.sandbox.bank.addFaults([{ endpoint: 'session/start/payout', kind: 'timeout_after_effect', times: 1 }]);
    await expect(client.startPayout(payout(session.id), { idempotencyKey: `s-${session.id}` })).rejects.toMatchObject({
      outcomeUnknown: true,
    });
    const status = await client.sessionStatus(session.id);
    expect(status.status).toBe('in_progress');
    // resending blind with the same key is refused, and that refusal also says "ask status"
    const again = await client.startPayout(payout(session.id), { idempotencyKey: `s-${session.id}` }).catch((e: unknown) => e);
    expect(again).toMatchObject({ code: 'idempotency_key_already_exists', outcomeUnknown: true });
  });

  it('nothing listening: not_sent, so a retry cannot double anything', async () => {
    const port = await freePort();
    const err = await clientFor({ url: `http://127.0.0.1:${port}` })
      .createSession()
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Bank131TransportError);
    expect(err).toMatchObject({ delivery: 'not_sent', outcomeUnknown: false, retryable: true });
  });

  it('an error code injected by a scripted fault comes back typed with the bank advice', async () => {
    env.sandbox.bank.addFaults([{ endpoint: 'session/create', kind: 'error', code: 'provider_timeout', times: 1 }]);
    await expect(clientFor(env.sandbox).createSession()).rejects.toMatchObject({ code: 'provider_timeout', advice: 'check_status' });
  });

  it('a card the bank refuses at start is not worth retrying', async () => {
    const client = clientFor(env.sandbox);
    const session = await client.createSession();
    await expect(client.startPayout(payout(session.id, TEST_CARDS.rejectNoSuchCard))).rejects.toMatchObject({
      code: 'card_number_does_not_exist',
      retryable: false,
    });
  });

  it('a confirm after a cancel is session_wrong_state, which leaves the outcome to be asked', async () => {
    const client = clientFor(env.sandbox);
    const session = await client.createSession();
    await client.startPayout(payout(session.id));
    await waitForWebhook(session.id, 'ready_to_confirm');
    await client.cancelSession(session.id);
    const err = await client.confirmSession(session.id).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Bank131ApiError);
    expect(err).toMatchObject({ code: 'session_wrong_state', outcomeUnknown: true });
  });

  it('an invalid request names the field; the client refuses to send what the schema forbids', async () => {
    const post = (path: string, body: string, headers: Record<string, string>) =>
      fetch(`${env.sandbox.url}${path}`, { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers } });
    const client = clientFor(env.sandbox);
    await expect(client.startPayout(payout('ps_0'))).rejects.toMatchObject({ code: 'invalid_request', retryable: false });
    const session = await client.createSession();
    const bad = { ...payout(session.id), amount_details: { amount: 0, currency: 'rub' } };
    const err = await client.startPayout(bad).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Bank131RequestError);
    expect((err as Bank131RequestError).issues.join()).toContain('amount_details.amount');
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
