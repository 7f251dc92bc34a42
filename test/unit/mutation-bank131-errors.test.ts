import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  Bank131ApiError,
  Bank131RequestError,
  Bank131TransportError,
  NotFinalYet,
  WebhookPayloadError,
  WebhookSignatureError,
  adviceFor,
  isMisconfigured,
  isPermanent,
  type ErrorAdvice,
} from '../../src/bank131/errors.js';

/** The code table of docs/bank131-protocol.md §6, read from the document itself. */
function documentedAdvice(): Array<[string, ErrorAdvice]> {
  const doc = readFileSync(new URL('../../docs/bank131-protocol.md', import.meta.url), 'utf8');
  const section = doc.slice(doc.indexOf('## §6'), doc.indexOf('## §7'));
  const names: Record<string, ErrorAdvice> = {
    retry: 'retry',
    'check status': 'check_status',
    misconfigured: 'misconfigured',
    permanent: 'permanent',
  };
  const rows: Array<[string, ErrorAdvice]> = [];
  for (const line of section.split('\n')) {
    const m = /^\| \*\*(.+?)\*\* \| (.+?) \|/.exec(line);
    if (!m) continue;
    const advice = names[m[1]!];
    if (!advice) throw new Error(`unknown advice row ${m[1]}`);
    for (const code of m[2]!.matchAll(/`([^`]+)`/g)) rows.push([code[1]!, advice]);
  }
  return rows;
}

describe('Bank 131 error classification (docs/bank131-protocol.md §6)', () => {
  const table = documentedAdvice();

  it('the documented table is read (31 codes in four groups)', () => {
    expect(table).toHaveLength(31);
    expect(new Set(table.map(([, a]) => a))).toEqual(new Set(['retry', 'check_status', 'misconfigured', 'permanent']));
  });

  it.each(table)('%s is %s, whatever the HTTP status', (code, advice) => {
    // a listed code is judged by the table, not by the status it came with
    for (const status of [200, 400, 401, 429, 499, 500, 503]) expect(adviceFor(code, status)).toBe(advice);
  });

  it('an unlisted code is judged by HTTP status: 5xx may be a passing fault, 429 is retried, the rest refused', () => {
    expect(adviceFor('brand_new_code', 500)).toBe('check_status');
    expect(adviceFor('brand_new_code', 502)).toBe('check_status');
    expect(adviceFor('brand_new_code', 599)).toBe('check_status');
    expect(adviceFor('brand_new_code', 499)).toBe('permanent');
    expect(adviceFor('brand_new_code', 429)).toBe('retry');
    expect(adviceFor('brand_new_code', 428)).toBe('permanent');
    expect(adviceFor('brand_new_code', 430)).toBe('permanent');
    expect(adviceFor('brand_new_code', 400)).toBe('permanent');
    expect(adviceFor('brand_new_code', 200)).toBe('permanent');
  });
});

describe('what a refusal means for the caller', () => {
  const api = (code: string, httpStatus: number) => new Bank131ApiError('session/start/payout', code, 'said the bank', httpStatus);

  it('retry: retried, the outcome is known (nothing happened)', () => {
    const e = api('provider_internal_error', 200);
    expect([e.advice, e.retryable, e.outcomeUnknown, isPermanent(e), isMisconfigured(e)]).toEqual(['retry', true, false, false, false]);
    const rateLimited = api('too_many_requests', 429);
    expect([rateLimited.retryable, rateLimited.outcomeUnknown, isPermanent(rateLimited)]).toEqual([true, false, false]);
  });

  it('check_status: the bank may have acted, so ask before anything else', () => {
    const e = api('provider_timeout', 200);
    expect([e.advice, e.retryable, e.outcomeUnknown, isPermanent(e), isMisconfigured(e)]).toEqual([
      'check_status',
      true,
      true,
      false,
      false,
    ]);
    const unknown5xx = api('gateway_exploded', 502);
    expect([unknown5xx.retryable, unknown5xx.outcomeUnknown, isPermanent(unknown5xx)]).toEqual([true, true, false]);
  });

  it('permanent: not retried, nothing happened', () => {
    const e = api('card_number_does_not_exist', 200);
    expect([e.advice, e.retryable, e.outcomeUnknown, isPermanent(e), isMisconfigured(e)]).toEqual(['permanent', false, false, true, false]);
    expect(isPermanent(api('brand_new_code', 404))).toBe(true);
  });

  it('misconfigured: our credentials are refused; the payout waits, it is neither failed nor unknown', () => {
    const e = api('authentication_error', 401);
    expect([e.advice, e.retryable, e.outcomeUnknown, isPermanent(e), isMisconfigured(e)]).toEqual([
      'misconfigured',
      true,
      false,
      false,
      true,
    ]);
  });

  it('keeps what the bank said: endpoint, code, description, status and reject reasons (none unless given)', () => {
    const e = api('operation_rejected', 400);
    expect(e).toMatchObject({
      name: 'Bank131ApiError',
      endpoint: 'session/start/payout',
      code: 'operation_rejected',
      description: 'said the bank',
      httpStatus: 400,
    });
    expect(e.rejectReasons).toEqual([]);
    const reasons = [{ rule_alias: 'blacklist' }];
    expect(new Bank131ApiError('session/start/payout', 'operation_rejected', '', 400, reasons).rejectReasons).toEqual(reasons);
    expect(e).toBeInstanceOf(Error);
  });

  it('a transport fault is retried; only a request that surely never left has a known outcome', () => {
    const notSent = new Bank131TransportError('session/confirm', 'not_sent', 'ECONNREFUSED');
    const maybe = new Bank131TransportError('session/confirm', 'unknown', 'socket hang up');
    expect([notSent.retryable, notSent.outcomeUnknown, isPermanent(notSent), isMisconfigured(notSent)]).toEqual([
      true,
      false,
      false,
      false,
    ]);
    expect([maybe.retryable, maybe.outcomeUnknown, isPermanent(maybe)]).toEqual([true, true, false]);
    // the log line says which it was
    expect(notSent.message).toContain('request not sent');
    expect(notSent.message).not.toContain('outcome unknown');
    expect(maybe.message).toContain('outcome unknown');
    expect(maybe.message).not.toContain('request not sent');
    expect(notSent.name).toBe('Bank131TransportError');
  });

  it('a request we refused to send is final and nothing happened', () => {
    const e = new Bank131RequestError('session/init/payout', ['amount_details.amount: too small']);
    expect([e.retryable, e.outcomeUnknown, isPermanent(e), isMisconfigured(e)]).toEqual([false, false, true, false]);
  });

  it('anything that is not a bank error is neither permanent nor misconfigured', () => {
    for (const err of [new Error('boom'), new NotFinalYet('po-1', 'session is in status error'), 'authentication_error', null, undefined]) {
      expect(isPermanent(err)).toBe(false);
      expect(isMisconfigured(err)).toBe(false);
    }
  });
});

describe('webhook refusals say why', () => {
  it.each([
    ['missing', 'webhook has no X-PARTNER-SIGN header'],
    ['malformed', 'webhook X-PARTNER-SIGN is not a base64 RSA signature'],
    ['mismatch', 'webhook X-PARTNER-SIGN does not match the body'],
  ] as const)('%s', (reason, message) => {
    const payload = Buffer.from('{}');
    const e = new WebhookSignatureError(reason, 'abc', payload);
    expect(e).toMatchObject({ name: 'WebhookSignatureError', reason, message, header: 'abc', payload });
  });

  it('a payload error keeps the bytes received', () => {
    const payload = Buffer.from('not json');
    expect(new WebhookPayloadError('webhook body is not JSON', payload)).toMatchObject({
      name: 'WebhookPayloadError',
      payload,
      message: 'webhook body is not JSON',
    });
  });
});
