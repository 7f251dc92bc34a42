import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Bank131Client } from '../../src/bank131/client.js';
import { Bank131ApiError } from '../../src/bank131/errors.js';
import { keys } from '../support/keys.js';

/**
 * The bank's SDK reads `error.code` from any answer with HTTP >= 400, whether or not the body says
 * `"status":"error"`; so does our client, or a refused key would fail a payout instead of asking
 * session/status, and an empty wallet would fail payouts instead of waiting.
 */
let answer: { status: number; body: string } = { status: 200, body: '{}' };
let server: http.Server;
let bank: Bank131Client;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(answer.status, { 'content-type': 'application/json' }).end(answer.body));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  bank = new Bank131Client({
    baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    project: 'p',
    privateKey: keys.partnerPrivate,
  });
});
afterAll(async () => {
  bank.close();
  await new Promise((resolve) => server.close(resolve));
});

const refusal = async (status: number, body: string): Promise<Bank131ApiError> => {
  answer = { status, body };
  const err = await bank.sessionStatus('ps_1').then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(Bank131ApiError);
  return err as Bank131ApiError;
};

describe('a refusal without "status":"error"', () => {
  it.each([
    [400, 'idempotency_key_already_exists', 'check_status'],
    [400, 'insufficient_wallet_balance', 'retry'],
    [401, 'authentication_error', 'misconfigured'],
    [422, 'declined_by_issuer_bank', 'permanent'],
    [500, 'internal_error', 'retry'],
  ])('HTTP %i with error.code %s is that code (advice %s)', async (status, code, advice) => {
    const err = await refusal(status, JSON.stringify({ error: { code, description: 'said the bank' } }));
    expect([err.code, err.advice, err.httpStatus, err.description]).toEqual([code, advice, status, 'said the bank']);
  });

  it('reads the code with "status":"error" too, and with a null description', async () => {
    const err = await refusal(400, JSON.stringify({ status: 'error', error: { code: 'session_wrong_state', description: null } }));
    expect([err.code, err.advice]).toEqual(['session_wrong_state', 'check_status']);
  });

  it('a body with no error code is api_exception, judged by its HTTP status', async () => {
    expect((await refusal(400, '{"message":"bad"}')).code).toBe('api_exception');
    expect((await refusal(400, '{"error":{"description":"no code"}}')).code).toBe('api_exception');
    const html = await refusal(502, '<html>bad gateway</html>');
    expect([html.code, html.advice]).toEqual(['api_exception', 'check_status']);
  });
});
