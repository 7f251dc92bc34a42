import { Writable } from 'node:stream';
import type { FastifyBaseLogger } from 'fastify';
import { ReplyError } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { CENSOR, CENSOR_EMAIL, CENSOR_PHONE, createLogger, redactText } from '../../src/log.js';

function capture(level = 'trace') {
  const lines: string[] = [];
  const sink = new Writable({ write: (chunk, _enc, done) => (lines.push(chunk.toString()), done()) });
  return {
    log: createLogger({ level }, sink),
    lines,
    out: () => lines.join(''),
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read log lines freely
    parsed: () => lines.map((l) => JSON.parse(l) as Record<string, any>),
  };
}

// What an order carries that identifies a person or a card: no log line may hold any of it.
const NAME = 'Zhuravleva Kapitolina';
const HASHES = ['NUMHASH-7f3a', 'EXPHASH-91c2', 'CVCHASH-0b7e', 'HOLDERHASH-55d1'];
const EMAIL = 'kapa.zh@example-mail.org';
const PHONE = '+79995550123';
const ORDER = {
  id: 'order-123',
  amount_details: { amount: 10_000, currency: 'rub' },
  recipient: { full_name: NAME },
  encrypted_card: {
    number_hash: HASHES[0],
    expiration_date_hash: HASHES[1],
    security_code_hash: HASHES[2],
    cardholder_name_hash: HASHES[3],
  },
  customer: { reference: 'user123', contacts: [{ email: EMAIL, phone: PHONE }] },
};
const ORDER_JSON = JSON.stringify(ORDER);
const PERSONAL = [NAME, 'Zhuravleva', ...HASHES, EMAIL, 'kapa.zh', PHONE, PHONE.slice(1)];
function expectNoPersonalData(text: string): void {
  for (const value of PERSONAL) expect(text, `"${value}" was logged`).not.toContain(value);
}

/** ioredis's error for a failed script call: the create script's arguments hold the order as JSON. */
function scriptError(message: string, args: unknown[]): InstanceType<typeof ReplyError> & { command: { name: string; args: unknown[] } } {
  return Object.assign(new ReplyError(message), { command: { name: 'evalsha', args } });
}

describe('logs never carry card hashes, names or keys', () => {
  it('redacts them at any depth a log object nests them', () => {
    const lines: string[] = [];
    const sink = new Writable({ write: (chunk, _enc, done) => (lines.push(chunk.toString()), done()) });
    const log = createLogger({ level: 'info' }, sink);
    log.info(
      {
        order: { encrypted_card: { number_hash: 'HASH-1' }, recipient: { full_name: 'Ivanov Ivan' } },
        job: { data: { payout: { order: { encrypted_card: { number_hash: 'HASH-2' } } } } },
        session: { payout_list: [{ participant_details: { recipient: { full_name: 'Petrov Petr' } } }] },
        number_hash: 'HASH-3',
        req: { headers: { authorization: 'Bearer SECRET-KEY', 'x-partner-sign': 'SIGNATURE' } },
      },
      'payout event',
    );
    const out = lines.join('');
    for (const secret of ['HASH-1', 'HASH-2', 'HASH-3', 'Ivanov', 'SECRET-KEY', 'SIGNATURE']) expect(out).not.toContain(secret);
    expect(out).toContain('[redacted]');
    expect(out).toContain('payout event');
  });
});

describe('the web logs one line per response', () => {
  it('method, path without the query, status and time, with the request id; nothing from the query', async () => {
    const lines: string[] = [];
    const sink = new Writable({ write: (chunk, _enc, done) => (lines.push(chunk.toString()), done()) });
    const { default: Fastify, LogController } = await import('fastify');
    const { logResponses } = await import('../../src/http/access-log.js');
    const app = Fastify({
      loggerInstance: createLogger({ level: 'info' }, sink) as unknown as FastifyBaseLogger,
      logController: new LogController({ disableRequestLogging: true }),
    });
    logResponses(app);
    app.get('/v1/payouts', async () => ({ ok: true }));
    await app.inject({ method: 'GET', url: '/v1/payouts?starting_after=order-secret-42' });
    await app.close();
    const logged = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(logged).toHaveLength(1);
    expect(logged[0]).toMatchObject({
      level: 30,
      msg: 'request',
      method: 'GET',
      path: '/v1/payouts',
      status: 200,
      reqId: expect.stringMatching(/^req-/),
    });
    expect(lines.join('')).not.toContain('order-secret-42');
  });
});

describe('errors keep what says what failed, never what they sent or received', () => {
  it("an ioredis ReplyError keeps its command's name; its arguments (the order JSON the create script received) never reach the line", () => {
    const { log, out, parsed } = capture();
    const now = '2026-11-26T10:00:00.000Z';
    const args = ['f1e2d3', '5', '{t}:due', now, String(Date.parse(now)), 'order-123', 'fp', ORDER_JSON, 'queued'];
    const err = scriptError("OOM command not allowed when used memory > 'maxmemory'.", args);
    log.error({ err }, 'request failed');
    log.error(err);
    log.child({ err }).warn('bound');
    const [line] = parsed();
    expect(line!.err).toMatchObject({
      type: 'ReplyError',
      message: "OOM command not allowed when used memory > 'maxmemory'.",
      command: { name: 'evalsha' },
    });
    expect(line!.err.command).toEqual({ name: 'evalsha' });
    expect(line!.err.stack).toMatch(/^ReplyError: OOM command not allowed[^]*\n\s+at /);
    expect(parsed()[1]).toMatchObject({
      msg: "OOM command not allowed when used memory > 'maxmemory'.",
      err: { command: { name: 'evalsha' } },
    });
    expect(out()).not.toContain('"args"');
    expectNoPersonalData(out());
  });

  it('a BullMQ call that failed in Redis: packed arguments and job data dropped, nested errors (EXECABORT, Cluster) made safe the same way', () => {
    const { log, out, parsed } = capture();
    const jobData = JSON.stringify({ payoutId: 'order-123', order: ORDER });
    const addArgs = ['sha', '8', 'bull:payout-start:wait', Buffer.from('packed'), jobData, Buffer.from('opts')];
    const add = scriptError('ERR Error running script (call to f_5a1b): @user_script:80: OOM command not allowed', addArgs);
    const execAbort = Object.assign(new ReplyError('EXECABORT Transaction discarded because of previous errors.'), {
      command: { name: 'exec', args: [] },
      previousErrors: [scriptError('OOM command not allowed', ['bull:payout-start:order-123', 'data', jobData])],
    });
    const lastNodeError = scriptError('CLUSTERDOWN', [jobData]);
    const clusterDown = Object.assign(new Error('Failed to refresh slots cache.'), { name: 'ClusterAllFailedError', lastNodeError });
    log.error({ err: add, queue: 'payout-start' }, 'could not enqueue');
    log.error({ err: execAbort }, 'transaction failed');
    log.error({ err: clusterDown }, 'cluster failed');
    const [a, b, c] = parsed();
    expect(a!.err.command).toEqual({ name: 'evalsha' });
    expect(b!.err.previousErrors).toEqual([
      expect.objectContaining({ type: 'ReplyError', message: 'OOM command not allowed', command: { name: 'evalsha' } }),
    ]);
    expect(c!.err.lastNodeError).toMatchObject({ message: 'CLUSTERDOWN', command: { name: 'evalsha' } });
    expect(c!.err.lastNodeError.command).toEqual({ name: 'evalsha' });
    expect(out()).not.toContain('packed');
    expectNoPersonalData(out());
  });

  it('HTTP client errors (undici, node:http, axios-like): status and code kept, bodies, headers and request options dropped', () => {
    const { log, out, parsed } = capture();
    const responseError = Object.assign(new Error('Response status code 400: Bad Request'), {
      name: 'ResponseError',
      code: 'UND_ERR_RESPONSE',
      statusCode: 400,
      body: { error: { description: `bad recipient ${NAME}` }, echo: ORDER },
      headers: { 'set-cookie': 'sid=SESSION-COOKIE', 'x-request-id': 'bank-req-1' },
    });
    const parserError = Object.assign(new Error('Response does not match the HTTP/1.1 protocol'), {
      name: 'HTTPParserError',
      code: 'HPE_INVALID_CONSTANT',
      data: `HTTP/1.1 200 OK\r\n\r\n${ORDER_JSON}`,
    });
    const axiosLike = Object.assign(new Error('Request failed with status code 502'), {
      code: 'ERR_BAD_RESPONSE',
      status: 502,
      config: { url: 'https://upstream.example/cb', data: ORDER_JSON, headers: { 'X-Api-Token': 'TOKEN-XYZ' } },
      request: { path: '/cb', _header: `POST /cb HTTP/1.1\r\nX-Api-Token: TOKEN-XYZ\r\n` },
      response: { status: 502, data: `<html>${EMAIL}</html>`, headers: {} },
      options: { json: ORDER },
      rawHeaders: ['X-Api-Token', 'TOKEN-XYZ'],
    });
    for (const err of [responseError, parserError, axiosLike]) log.warn({ err }, 'call failed');
    const [a, b, c] = parsed();
    expect(a!.err).toMatchObject({
      type: 'Error',
      message: 'Response status code 400: Bad Request',
      code: 'UND_ERR_RESPONSE',
      statusCode: 400,
    });
    expect(Object.keys(a!.err).sort()).toEqual(['code', 'message', 'name', 'stack', 'statusCode', 'type']);
    expect(b!.err).toMatchObject({ code: 'HPE_INVALID_CONSTANT' });
    expect(b!.err).not.toHaveProperty('data');
    expect(Object.keys(c!.err).sort()).toEqual(['code', 'message', 'stack', 'status', 'type']);
    for (const secret of ['SESSION-COOKIE', 'TOKEN-XYZ', 'upstream.example']) expect(out()).not.toContain(secret);
    expectNoPersonalData(out());
  });

  it("an error whose message quotes an order: message censored, the stack keeps its frames and loses the text, the line's msg too", () => {
    const { log, out, parsed } = capture();
    const err = new Error(`Unexpected value in ${ORDER_JSON}`, {
      cause: new Error(`while saving ${JSON.stringify({ recipient: ORDER.recipient })}`),
    });
    log.error(err);
    log.error({ err });
    const [alone, keyed] = parsed();
    expect(alone).toMatchObject({ msg: CENSOR, err: { message: CENSOR } });
    expect(keyed).toMatchObject({ msg: CENSOR, err: { message: CENSOR } });
    const stack = alone!.err.stack as string;
    expect(stack.split('\n')[0]).toBe(CENSOR);
    expect(stack).toMatch(/\n\s+at .*log-redaction\.test\.ts/);
    expectNoPersonalData(out());
  });
});

describe('text is redacted by value where no key name helps', () => {
  it('e-mail addresses and phone numbers in messages, in msg, in format arguments, in error messages and stacks', () => {
    const { log, out, parsed } = capture();
    log.warn({ err: new Error(`callback for ${EMAIL} (phone ${PHONE}) refused`) }, `could not notify ${EMAIL}`);
    log.info('sent to %s and %s', EMAIL, '8 (999) 555-01-23 or 89995550123');
    log.info({ note: `call ${PHONE} or write to ${EMAIL}`, url: new URL(`https://example.com/cb?to=${EMAIL}`) });
    log.error(new Error(`no such contact ${PHONE}`));
    const [first, second, third, fourth] = parsed();
    expect(first).toMatchObject({
      msg: `could not notify ${CENSOR_EMAIL}`,
      err: { message: `callback for ${CENSOR_EMAIL} (phone ${CENSOR_PHONE}) refused` },
    });
    expect(first!.err.stack).toMatch(/^Error: callback for \[redacted email\] \(phone \[redacted phone\]\) refused\n/);
    expect(second!.msg).toBe(`sent to ${CENSOR_EMAIL} and 8 (999) 555-01-23 or ${CENSOR_PHONE}`);
    expect(third).toMatchObject({ note: `call ${CENSOR_PHONE} or write to ${CENSOR_EMAIL}` });
    expect(fourth).toMatchObject({ msg: `no such contact ${CENSOR_PHONE}` });
    expectNoPersonalData(out());
  });

  it('a string holding an order (JSON, JSON inside JSON, util.inspect) is censored whole; e-mail, phone, contacts are secret keys too', () => {
    const { log, out, parsed } = capture();
    const inspected = `{ recipient: { full_name: '${NAME}' } }`;
    log.info({
      raw: ORDER_JSON,
      wrapped: JSON.stringify({ data: ORDER_JSON }),
      inspected,
      single: `{'customer': {'reference': 'user123'}}`,
    });
    log.info({ email: EMAIL, phone: PHONE, contacts: [{ note: 'x' }], customer: { reference: 'user123', contacts: [{ email: EMAIL }] } });
    expect(parsed()[0]).toMatchObject({ raw: CENSOR, wrapped: CENSOR, inspected: CENSOR, single: CENSOR });
    expect(parsed()[1]).toMatchObject({
      email: CENSOR,
      phone: CENSOR,
      contacts: CENSOR,
      customer: { reference: 'user123', contacts: CENSOR },
    });
    expectNoPersonalData(out());
  });

  it('nothing is over-redacted: ids, job ids, times, versions, addresses, paths and numbers stay readable', () => {
    const { log, parsed } = capture();
    const readable = {
      payoutId: 'order-123',
      numericId: 'order-79991234567',
      jobId: `wh-${'0123456789abcdef'.repeat(4)}`,
      digitsJobId: `wh-${'1234567890'.repeat(6)}1234`,
      sessionId: 'ps_123',
      at: '2026-11-26T00:00:00.000Z',
      createdMs: '1732600000000',
      createdS: '1732600000',
      streamId: '1732600000000-0',
      uuid: '123e4567-e89b-12d3-a456-426614174000',
      path: '/v1/payouts/79991234567',
      redis: 'Redis error: connect ECONNREFUSED 127.0.0.1:6379',
      version: 'pino@10.4.0 node_modules/@fastify/swagger',
      why: 'recipient: full_name is required',
      fields: '["recipient","full_name"]',
      amount: 79991234567,
      at_ms: 1732600000000,
    };
    log.info(readable, 'payout moved from queued to started');
    expect(parsed()[0]).toMatchObject({ ...readable, msg: 'payout moved from queued to started' });
  });

  it('the rules, one string at a time', () => {
    expect(redactText('+79991234567')).toBe(CENSOR_PHONE);
    expect(redactText('79991234567')).toBe(CENSOR_PHONE);
    expect(redactText('phone:89991234567.')).toBe(`phone:${CENSOR_PHONE}.`);
    expect(redactText('+7 (999) 123-45-67, ok')).toBe(`${CENSOR_PHONE}, ok`);
    // country code 1 numbers have 11 digits: 10 and 13 digits starting with 1 are times, not phones
    expect(redactText('12025550123')).toBe(CENSOR_PHONE);
    expect(redactText('1732600000000')).toBe('1732600000000');
    expect(redactText('+1732600000000')).toBe(CENSOR_PHONE);
    // longer runs (card-number or snowflake sized) and decimals are no phones
    expect(redactText('1234567890123456789')).toBe('1234567890123456789');
    expect(redactText('3.14159265358979')).toBe('3.14159265358979');
    expect(redactText('write to u.ser+tag@example.co.uk now')).toBe(`write to ${CENSOR_EMAIL} now`);
    expect(redactText('{\\"number_hash\\":\\"x\\"}')).toBe(CENSOR);
    expect(redactText('"Authorization": "Bearer k"')).toBe(CENSOR);
    expect(redactText('ok')).toBe('ok');
  });
});
