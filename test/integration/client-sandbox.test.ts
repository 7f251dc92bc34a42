import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Bank131ApiError, Bank131RequestError, Bank131TransportError, WebhookPayloadError, WebhookSignatureError } from '../../src/bank131/errors.js';
import type { StartPayoutRequest } from '../../src/bank131/schemas.js';
import { checkSignature, signBody } from '../../src/bank131/signature.js';
import { verifyWebhook } from '../../src/bank131/webhook.js';
import { freePort } from '../../src/local-redis.js';
import type { RunningSandbox } from '../../src/sandbox/server.js';
import { TEST_CARDS } from '../../src/sandbox/test-cards.js';
import { keys } from '../support/keys.js';
import { PROJECT, clientFor, eventually, startReceiver, startTestSandbox } from '../support/sandbox.js';

let sandbox: RunningSandbox;
let receiver: Awaited<ReturnType<typeof startReceiver>>;
let answerWith: (n: number) => number = () => 200;

beforeAll(async () => {
  receiver = await startReceiver((_req, n) => answerWith(n));
  sandbox = await startTestSandbox({ webhookUrl: receiver.url, readyDelayMs: 5, finishDelayMs: 5, webhookRetryBaseMs: 10 });
});
afterAll(async () => {
  await sandbox.close();
  await receiver.close();
});
afterEach(() => {
  answerWith = () => 200;
  sandbox.bank.setKnobs({ duplicateWebhookRate: 0, outOfOrderWebhooks: false, mismatch: undefined, confirmTimeoutMs: 600_000, faults: [] });
});

const payout = (sessionId: string, numberHash: string = TEST_CARDS.ok, metadata = `order-${sessionId}`): StartPayoutRequest => ({
  session_id: sessionId,
  payout_details: { type: 'card', card: { type: 'encrypted_card', encrypted_card: { number_hash: numberHash } } },
  amount_details: { amount: 10_000, currency: 'rub' },
  participant_details: { recipient: { full_name: 'Ivanov Ivan Ivanovich' } },
  metadata,
});

/** Verified webhooks the receiver got for a session, in arrival order. */
const webhooksFor = (sessionId: string) =>
  receiver.received
    .map((r) => verifyWebhook(r.body, r.headers['x-partner-sign'] as string, keys.bankPublic))
    .filter((w) => w.session && 'id' in w.session && w.session.id === sessionId);

const waitForWebhook = (sessionId: string, type: string, count = 1) =>
  eventually(() => {
    const hits = webhooksFor(sessionId).filter((w) => w.type === type);
    return hits.length >= count ? hits : undefined;
  }, 5_000, `${count} ${type} for ${sessionId}`);

describe('Bank131Client against the sandbox bank', () => {
  it('issues a widget public token and reads a card hash', async () => {
    const client = clientFor(sandbox);
    expect(await client.issueWidgetToken()).toMatch(/^[0-9a-f]{64}$/);
    const info = await client.tokenInfo(TEST_CARDS.ok);
    expect(info.last4).toBe('4242');
    expect(info.brand).toMatch(/^(visa|mir)$/);
  });

  it('reads the wallet balance and sees it fall by exactly the amount paid', async () => {
    const client = clientFor(sandbox);
    const [before] = await client.walletBalance();
    const session = await client.createSession();
    await client.startPayout(payout(session.id));
    await waitForWebhook(session.id, 'ready_to_confirm');
    await client.confirmSession(session.id);
    await waitForWebhook(session.id, 'payment_finished');
    const [after] = await client.walletBalance();
    expect(before!.amount_details.amount - after!.amount_details.amount).toBe(10_000);
  });

  it.each(['v1', 'v2'] as const)('runs create → start → ready_to_confirm → confirm → payment_finished (%s)', async (version) => {
    sandbox.bank.setKnobs({ webhookApiVersion: version });
    const client = clientFor(sandbox, { apiVersion: version });
    const created = await client.createSession({ metadata: 'order-1' });
    expect(created).toMatchObject({ status: 'created', payouts: [] });
    expect(created.id).toMatch(/^ps_\d+$/);

    const started = await client.startPayout(payout(created.id), { idempotencyKey: `start-${created.id}` });
    expect(started.status).toBe('in_progress');
    expect(started.payouts[0]).toMatchObject({ status: 'in_progress', amount_details: { amount: 10_000, currency: 'rub' } });

    const [ready] = await waitForWebhook(created.id, 'ready_to_confirm');
    expect(ready!.type).toBe('ready_to_confirm');
    const readySession = (ready as Extract<typeof ready, { type: 'ready_to_confirm' }>).session;
    expect(readySession).toMatchObject({ status: 'in_progress', next_action: 'confirm' });
    expect(readySession.payouts[0]).toMatchObject({ status: 'pending', metadata: `order-${created.id}` });
    expect(readySession.payouts[0]!.details).toMatchObject({ type: 'card', card: { last4: '4242' } });
    expect(readySession[version === 'v2' ? 'payout_list' : 'payments']).toHaveLength(1);

    await client.confirmSession(created.id);
    const [finished] = await waitForWebhook(created.id, 'payment_finished');
    const finishedSession = (finished as Extract<typeof finished, { type: 'payment_finished' }>).session;
    expect(finishedSession.status).toBe('accepted');
    expect(finishedSession.payouts[0]!.status).toBe('succeeded');

    expect((await client.sessionStatus(created.id)).status).toBe('accepted');
    const ledger = sandbox.bank.ledgerBySession().filter((s) => s.session_id === created.id);
    expect(ledger).toEqual([expect.objectContaining({ total: 10_000, movements: [expect.objectContaining({ amount: 10_000 })] })]);
  });

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

  it('init/payout creates and starts in one call', async () => {
    const client = clientFor(sandbox);
    const { session_id: _omit, ...fields } = payout('unused');
    const session = await client.initPayout(fields);
    expect(session.status).toBe('in_progress');
    await waitForWebhook(session.id, 'ready_to_confirm');
  });

  it('cancel after ready_to_confirm moves no money and ends the session', async () => {
    const client = clientFor(sandbox);
    const session = await client.createSession();
    await client.startPayout(payout(session.id));
    await waitForWebhook(session.id, 'ready_to_confirm');
    const cancelled = await client.cancelSession(session.id);
    expect(cancelled.status).toBe('cancelled');
    const [finished] = await waitForWebhook(session.id, 'payment_finished');
    expect(finished!.session).toMatchObject({ status: 'cancelled' });
    expect(sandbox.bank.ledgerBySession().some((s) => s.session_id === session.id)).toBe(false);
    // and it cannot be confirmed afterwards
    const err = await client.confirmSession(session.id).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Bank131ApiError);
    expect(err).toMatchObject({ code: 'session_wrong_state', outcomeUnknown: true });
  });

  it('a second confirm of the same session is refused (session_wrong_state) and pays nothing twice', async () => {
    const client = clientFor(sandbox);
    const session = await client.createSession();
    await client.startPayout(payout(session.id));
    await waitForWebhook(session.id, 'ready_to_confirm');
    await client.confirmSession(session.id);
    await expect(client.confirmSession(session.id)).rejects.toMatchObject({ code: 'session_wrong_state' });
    await waitForWebhook(session.id, 'payment_finished');
    expect(sandbox.bank.ledger.filter((e) => e.session_id === session.id)).toHaveLength(1);
  });
});

describe('the sandbox refuses what the bank would refuse', () => {
  const post = (path: string, body: string, headers: Record<string, string>) =>
    fetch(`${sandbox.url}${path}`, { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers } });

  it('a request signed with another key: 401 authentication_error, nothing created', async () => {
    const before = sandbox.bank.sessionCount();
    const err = await clientFor(sandbox, { privateKey: keys.bankPrivate }).createSession().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Bank131ApiError);
    expect(err).toMatchObject({ code: 'authentication_error', httpStatus: 401, retryable: false, outcomeUnknown: false });
    expect(sandbox.bank.sessionCount()).toBe(before);
  });

  it('missing or tampered signature, missing or unknown project: the bank error shape', async () => {
    const body = '{"metadata":"x"}';
    const good = signBody(body, keys.partnerPrivate);
    const cases: Array<[Record<string, string>, string, number, string]> = [
      [{ 'x-partner-project': PROJECT }, body, 401, 'authentication_error'],
      [{ 'x-partner-project': PROJECT, 'x-partner-sign': good }, '{"metadata":"y"}', 401, 'authentication_error'],
      [{ 'x-partner-project': PROJECT, 'x-partner-sign': 'broken_signature' }, body, 401, 'authentication_error'],
      [{ 'x-partner-sign': good }, body, 401, 'identification_error'],
      [{ 'x-partner-project': 'someone-else', 'x-partner-sign': good }, body, 401, 'identification_error'],
    ];
    const before = sandbox.bank.sessionCount();
    for (const [headers, sent, status, code] of cases) {
      const res = await post('/api/v2/session/create', sent, headers);
      expect(res.status).toBe(status);
      expect(await res.json()).toEqual({ status: 'error', error: { code, description: expect.any(String) } });
    }
    expect(sandbox.bank.sessionCount()).toBe(before);
    // the same bytes, correctly signed, are accepted
    expect((await post('/api/v2/session/create', body, { 'x-partner-project': PROJECT, 'x-partner-sign': good })).status).toBe(200);
  });

  it('an invalid request names the field; the client refuses to send what the schema forbids', async () => {
    const client = clientFor(sandbox);
    await expect(client.startPayout(payout('ps_0'))).rejects.toMatchObject({ code: 'invalid_request', retryable: false });
    const session = await client.createSession();
    const bad = { ...payout(session.id), amount_details: { amount: 0, currency: 'rub' } };
    const err = await client.startPayout(bad).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Bank131RequestError);
    expect((err as Bank131RequestError).issues.join()).toContain('amount_details.amount');
    expect(sandbox.bank.sessionState(session.id)).toBe('created');
    // and the sandbox names the field when a raw body is wrong
    const raw = JSON.stringify({ session_id: session.id, amount_details: { amount: 5, currency: 'rub' } });
    const res = await post('/api/v2/session/start/payout', raw, { 'x-partner-project': PROJECT, 'x-partner-sign': signBody(raw, keys.partnerPrivate) });
    expect(res.status).toBe(400);
    expect(JSON.stringify(await res.json())).toMatch(/payout_details/);
  });
});

describe('faults surface as typed errors that say whether the bank may have acted', () => {
  it('5xx: retryable, outcome known (the bank did nothing)', async () => {
    const client = clientFor(sandbox);
    const session = await client.createSession();
    sandbox.bank.addFaults([{ endpoint: 'session/start/payout', kind: '5xx', times: 1 }]);
    const err = await client.startPayout(payout(session.id)).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'internal_error', httpStatus: 500, retryable: true, outcomeUnknown: false });
    expect(sandbox.bank.sessionState(session.id)).toBe('created');
    await client.startPayout(payout(session.id)); // and the retry goes through
  });

  it('timeout before acting: outcome unknown, and session/status shows nothing happened', async () => {
    sandbox.bank.setKnobs({ hangMs: 2_000 });
    const client = clientFor(sandbox, { timeoutMs: 300 });
    const session = await client.createSession();
    sandbox.bank.addFaults([{ endpoint: 'session/start/payout', kind: 'timeout', times: 1 }]);
    const err = await client.startPayout(payout(session.id)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Bank131TransportError);
    expect(err).toMatchObject({ delivery: 'unknown', outcomeUnknown: true, retryable: true });
    expect((await client.sessionStatus(session.id)).status).toBe('created');
  });

  it('timeout after acting: outcome unknown, and session/status shows the payout started', async () => {
    sandbox.bank.setKnobs({ hangMs: 2_000 });
    const client = clientFor(sandbox, { timeoutMs: 300 });
    const session = await client.createSession();
    sandbox.bank.addFaults([{ endpoint: 'session/start/payout', kind: 'timeout_after_effect', times: 1 }]);
    await expect(client.startPayout(payout(session.id), { idempotencyKey: `s-${session.id}` })).rejects.toMatchObject({ outcomeUnknown: true });
    const status = await client.sessionStatus(session.id);
    expect(status.status).toBe('in_progress');
    // resending blind with the same key is refused, and that refusal also says "ask status"
    const again = await client.startPayout(payout(session.id), { idempotencyKey: `s-${session.id}` }).catch((e: unknown) => e);
    expect(again).toMatchObject({ code: 'idempotency_key_already_exists', outcomeUnknown: true });
  });

  it('nothing listening: not_sent, so a retry cannot double anything', async () => {
    const port = await freePort();
    const err = await clientFor({ url: `http://127.0.0.1:${port}` }).createSession().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Bank131TransportError);
    expect(err).toMatchObject({ delivery: 'not_sent', outcomeUnknown: false, retryable: true });
  });

  it('an error code injected by a scripted fault comes back typed with the bank advice', async () => {
    sandbox.bank.addFaults([{ endpoint: 'session/create', kind: 'error', code: 'provider_timeout', times: 1 }]);
    await expect(clientFor(sandbox).createSession()).rejects.toMatchObject({ code: 'provider_timeout', advice: 'check_status' });
  });
});

describe('test cards and webhook knobs', () => {
  const startedSession = async (numberHash: string = TEST_CARDS.ok) => {
    const client = clientFor(sandbox);
    const session = await client.createSession();
    await client.startPayout(payout(session.id, numberHash));
    return { client, session };
  };

  it('a reject card is refused at start with its code; a decline card fails at the end with its code', async () => {
    const client = clientFor(sandbox);
    const s1 = await client.createSession();
    await expect(client.startPayout(payout(s1.id, TEST_CARDS.rejectNoSuchCard))).rejects.toMatchObject({
      code: 'card_number_does_not_exist',
      retryable: false,
    });
    const { session } = await startedSession(TEST_CARDS.declinedByIssuer);
    await waitForWebhook(session.id, 'ready_to_confirm');
    await client.confirmSession(session.id);
    const [finished] = await waitForWebhook(session.id, 'payment_finished');
    const p = (finished!.session as { payouts: Array<{ status: string; error?: { code: string } }> }).payouts[0]!;
    expect(p).toMatchObject({ status: 'failed', error: { code: 'declined_by_issuer_bank' } });
    expect(sandbox.bank.ledgerBySession().some((s) => s.session_id === session.id)).toBe(false);
  });

  it('mismatch cards and the mismatch knob make ready_to_confirm report other amount or metadata', async () => {
    const a = await startedSession(TEST_CARDS.mismatchAmount);
    const m = await startedSession(TEST_CARDS.mismatchMetadata);
    const [ra] = await waitForWebhook(a.session.id, 'ready_to_confirm');
    const [rm] = await waitForWebhook(m.session.id, 'ready_to_confirm');
    const first = (w: typeof ra) => (w!.session as { payouts: Array<{ amount_details?: { amount: number }; metadata?: unknown }> }).payouts[0]!;
    expect(first(ra).amount_details!.amount).toBe(10_100);
    expect(first(rm).metadata).not.toBe(`order-${m.session.id}`);

    sandbox.bank.setKnobs({ mismatch: { amountDelta: -1, metadata: 'someone-else', remaining: 1 } });
    const k = await startedSession();
    const [rk] = await waitForWebhook(k.session.id, 'ready_to_confirm');
    expect(first(rk)).toMatchObject({ amount_details: { amount: 9_999 }, metadata: 'someone-else' });
    const n = await startedSession();
    const [rn] = await waitForWebhook(n.session.id, 'ready_to_confirm');
    expect(first(rn)).toMatchObject({ amount_details: { amount: 10_000 }, metadata: `order-${n.session.id}` });
  });

  it('re-sends a webhook with backoff until the receiver answers 200', async () => {
    answerWith = (n) => (n % 3 === 0 ? 200 : 503);
    const { session } = await startedSession();
    await waitForWebhook(session.id, 'ready_to_confirm');
    const record = await eventually(() => sandbox.webhooks.deliveries().find((d) => d.sessionId === session.id && d.delivered));
    expect(record.attempts).toBeGreaterThan(1);
    expect(record.statuses.at(-1)).toBe(200);
    expect(record.statuses.slice(0, -1).every((s) => s === 503)).toBe(true);
  });

  it('duplicates deliver the same signed bytes twice; out-of-order re-sends a stale ready_to_confirm last', async () => {
    sandbox.bank.setKnobs({ duplicateWebhookRate: 1, outOfOrderWebhooks: true });
    const { client, session } = await startedSession();
    await waitForWebhook(session.id, 'ready_to_confirm', 2);
    const copies = receiver.received.filter((r) => r.body.includes(session.id) && r.body.includes('ready_to_confirm'));
    expect(copies[0]!.body.equals(copies[1]!.body)).toBe(true);
    await client.confirmSession(session.id);
    await waitForWebhook(session.id, 'ready_to_confirm', 3);
    const order = webhooksFor(session.id).map((w) => w.type);
    expect(order.at(-1)).toBe('ready_to_confirm');
    expect(order.indexOf('payment_finished')).toBeLessThan(order.lastIndexOf('ready_to_confirm'));
  });

  it('a session left unconfirmed is cancelled with confirm_timeout', async () => {
    sandbox.bank.setKnobs({ confirmTimeoutMs: 50 });
    const { session } = await startedSession();
    const [finished] = await waitForWebhook(session.id, 'payment_finished');
    expect(finished!.session).toMatchObject({ status: 'cancelled', error: { code: 'confirm_timeout' } });
  });

  it('GET /sandbox/ledger lists money per session and flags any session paid twice', async () => {
    const res = await fetch(`${sandbox.url}/sandbox/ledger`);
    const ledger = (await res.json()) as { sessions: Array<{ total: number }>; movements: number; sessions_paid_more_than_once: string[] };
    expect(ledger.movements).toBe(sandbox.bank.ledger.length);
    expect(ledger.movements).toBeGreaterThan(0);
    expect(ledger.sessions_paid_more_than_once).toEqual([]);
  });

  it('knobs are settable over HTTP and refuse bad values with the field named', async () => {
    const ok = await fetch(`${sandbox.url}/sandbox/knobs`, { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: '{"latencyMs":1}' });
    expect(((await ok.json()) as { latencyMs: number; webhookUrl: string }).latencyMs).toBe(1);
    expect(sandbox.bank.knobs.webhookUrl).toBe(receiver.url); // untouched knobs keep their values
    const bad = await fetch(`${sandbox.url}/sandbox/knobs`, { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: '{"errorRate":2}' });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(await bad.json())).toContain('errorRate');
    sandbox.bank.setKnobs({ latencyMs: 0 });
  });
});

describe('webhook verification', () => {
  const body = Buffer.from(JSON.stringify({ type: 'ready_to_confirm', session: { id: 'ps_9', status: 'in_progress', payout_list: [] } }));

  it('parses a correctly signed webhook, with unknown extra fields kept', () => {
    const withExtra = Buffer.from(JSON.stringify({ type: 'payment_finished', session: { id: 'ps_9', status: 'accepted', brand_new_field: 1 } }));
    const w = verifyWebhook(withExtra, signBody(withExtra, keys.bankPrivate), keys.bankPublic);
    expect(w).toMatchObject({ type: 'payment_finished', session: { id: 'ps_9', brand_new_field: 1, payouts: [] } });
  });

  it('refuses a missing, malformed, foreign or body-mismatched signature, carrying header and payload', () => {
    const cases: Array<[string | undefined, Buffer, string]> = [
      [undefined, body, 'missing'],
      ['broken_signature', body, 'malformed'],
      [signBody(body, keys.partnerPrivate), body, 'mismatch'],
      [signBody(body, keys.bankPrivate), Buffer.from(body.toString().replace('ps_9', 'ps_8')), 'mismatch'],
    ];
    for (const [header, payload, reason] of cases) {
      const err = (() => {
        try {
          verifyWebhook(payload, header, keys.bankPublic);
        } catch (e) {
          return e;
        }
      })();
      expect(err).toBeInstanceOf(WebhookSignatureError);
      expect(err).toMatchObject({ reason, header, payload });
    }
  });

  it('a signed body that is not JSON or not a webhook is a payload error, not a crash', () => {
    const notJson = Buffer.from('not json');
    expect(() => verifyWebhook(notJson, signBody(notJson, keys.bankPrivate), keys.bankPublic)).toThrow(WebhookPayloadError);
    const noSession = Buffer.from('{"type":"ready_to_confirm"}');
    expect(() => verifyWebhook(noSession, signBody(noSession, keys.bankPrivate), keys.bankPublic)).toThrow(/session/);
  });

  it('accepts an unknown webhook type so it can be answered 200 and logged', () => {
    const unknown = Buffer.from('{"type":"transaction_registration","session":{"id":"ps_1"}}');
    expect(verifyWebhook(unknown, signBody(unknown, keys.bankPrivate), keys.bankPublic).type).toBe('transaction_registration');
  });
});
