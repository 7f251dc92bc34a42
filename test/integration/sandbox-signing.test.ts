import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Bank131ApiError, WebhookPayloadError, WebhookSignatureError } from '../../src/bank131/errors.js';
import { checkSignature, signBody } from '../../src/bank131/signature.js';
import { verifyWebhook } from '../../src/bank131/webhook.js';
import type { RunningSandbox } from '../../src/sandbox/server.js';
import { keys } from '../support/keys.js';
import { PROJECT, clientFor, startPayoutRequest as payout, startReceiver, startTestSandbox } from '../support/sandbox.js';

let sandbox: RunningSandbox;

beforeAll(async () => {
  sandbox = await startTestSandbox({ readyDelayMs: 5, finishDelayMs: 5 });
});
afterAll(async () => {
  await sandbox.close();
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

describe('the sandbox refuses requests the bank would not accept as ours', () => {
  const post = (path: string, body: string, headers: Record<string, string>) =>
    fetch(`${sandbox.url}${path}`, { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers } });

  it('a request signed with another key: 401 authentication_error, nothing created', async () => {
    const before = sandbox.bank.sessionCount();
    const err = await clientFor(sandbox, { privateKey: keys.bankPrivate }).createSession().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Bank131ApiError);
    expect(err).toMatchObject({ code: 'authentication_error', httpStatus: 401, advice: 'misconfigured', retryable: true, outcomeUnknown: false });
    expect(sandbox.bank.sessionCount()).toBe(before);
  });

  it('missing or tampered signature, missing or unknown project: the bank error shape', async () => {
    const body = '{"metadata":"x"}';
    const good = signBody(body, keys.partnerPrivate);
    const cases: Array<[Record<string, string>, string, number, string, string]> = [
      [{ 'x-partner-project': PROJECT }, body, 401, 'authentication_error', 'X-PARTNER-SIGN is missing'],
      [{ 'x-partner-project': PROJECT, 'x-partner-sign': good }, '{"metadata":"y"}', 401, 'authentication_error', 'X-PARTNER-SIGN is invalid'],
      [{ 'x-partner-project': PROJECT, 'x-partner-sign': 'broken_signature' }, body, 401, 'authentication_error', 'X-PARTNER-SIGN is invalid'],
      [{ 'x-partner-sign': good }, body, 401, 'identification_error', 'X-PARTNER-PROJECT header is missing'],
      [{ 'x-partner-project': 'someone-else', 'x-partner-sign': good }, body, 401, 'identification_error', 'unknown project someone-else'],
    ];
    const before = sandbox.bank.sessionCount();
    for (const [headers, sent, status, code, description] of cases) {
      const res = await post('/api/v2/session/create', sent, headers);
      expect(res.status).toBe(status);
      expect(await res.json()).toEqual({ status: 'error', error: { code, description } });
    }
    expect(sandbox.bank.sessionCount()).toBe(before);
    // the same bytes, correctly signed, are accepted
    expect((await post('/api/v2/session/create', body, { 'x-partner-project': PROJECT, 'x-partner-sign': good })).status).toBe(200);
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
