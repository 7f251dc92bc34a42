import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningSandbox } from '../../src/server.js';
import { signBody } from '../../src/signature.js';
import { BankRefusal } from '../support/client.js';
import { keys } from '../support/keys.js';
import { PROJECT, clientFor, startTestSandbox } from '../support/sandbox.js';

let sandbox: RunningSandbox;

beforeAll(async () => {
  sandbox = await startTestSandbox({ readyDelayMs: 5, finishDelayMs: 5 });
});
afterAll(async () => {
  await sandbox.close();
});

describe('the sandbox refuses requests the bank would not accept as ours', () => {
  const post = (path: string, body: string, headers: Record<string, string>) =>
    fetch(`${sandbox.url}${path}`, { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers } });

  it('a request signed with another key: 401 authentication_error, nothing created', async () => {
    const before = sandbox.bank.sessionCount();
    const err = await clientFor(sandbox, { privateKey: keys.bankPrivate })
      .createSession()
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BankRefusal);
    expect(err).toMatchObject({ code: 'authentication_error', httpStatus: 401 });
    expect(sandbox.bank.sessionCount()).toBe(before);
  });

  it('missing or tampered signature, missing or unknown project: the bank error shape', async () => {
    const body = '{"metadata":"x"}';
    const good = signBody(body, keys.partnerPrivate);
    const cases: Array<[Record<string, string>, string, number, string, string]> = [
      [{ 'x-partner-project': PROJECT }, body, 401, 'authentication_error', 'X-PARTNER-SIGN is missing'],
      [
        { 'x-partner-project': PROJECT, 'x-partner-sign': good },
        '{"metadata":"y"}',
        401,
        'authentication_error',
        'X-PARTNER-SIGN is invalid',
      ],
      [
        { 'x-partner-project': PROJECT, 'x-partner-sign': 'broken_signature' },
        body,
        401,
        'authentication_error',
        'X-PARTNER-SIGN is invalid',
      ],
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
