import net from 'node:net';
import { Validator } from '@seriousme/openapi-schema-validator';
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Bank131Client } from '../../src/bank131/client.js';
import { freePort } from '../../src/local-redis.js';
import { DEFAULT_TIMING } from '../../src/pipeline/pipeline-deps.js';
import { ERRORS } from '../../src/http/errors.js';
import { createQueues, type Queues } from '../../src/queues.js';
import { buildServer } from '../../src/http/server.js';
import { webSettings } from '../support/settings.js';
import { tenantsOn } from '../support/tenants.js';
import { PayoutStore } from '../../src/store/payout-store.js';
import { keys } from '../support/keys.js';
import { order } from '../support/pipeline.js';
import { connectRedis, deleteKeys, testPrefix } from '../support/redis.js';

/** The routes through app.inject (no port): shapes of answers, errors, the list, the API document. */
const API_KEY = 'http-api-test-key-0123456789';
const auth = { authorization: `Bearer ${API_KEY}` };
let app: FastifyInstance;
let redis: Redis;
let queues: Queues;
const prefix = testPrefix('http-api');
const settings = webSettings({
  apiKeys: [API_KEY],
  publicUrl: 'http://payouts.test',
  widgetUrl: 'https://widget-demo.bank131.ru',
  collectPayerName: 'Test Payer LLC',
  timing: DEFAULT_TIMING,
});
const publicUrl = () => 'http://payouts.test';
/** These routes never reach the bank. */
const unusedBank = new Bank131Client({ baseUrl: 'http://127.0.0.1:9', project: 'p', privateKey: keys.partnerPrivate });

beforeAll(async () => {
  redis = connectRedis();
  queues = createQueues(redis, prefix);
  app = await buildServer({
    settings,
    bank: unusedBank,
    store: new PayoutStore(redis, prefix),
    tenants: tenantsOn(redis, prefix),
    queues,
    redis,
    publicUrl,
  });
  await app.ready();
});
afterAll(async () => {
  await app?.close();
  await queues?.close();
  await deleteKeys(redis, prefix);
  await redis?.quit();
});

const post = (url: string, body: unknown, headers: Record<string, string> = auth) =>
  app.inject({ method: 'POST', url, payload: body as object, headers });
const get = (url: string, headers: Record<string, string> = auth) => app.inject({ method: 'GET', url, headers });

describe('one error shape from one catalogue', () => {
  it('every refusal is {error:{code,message}} with the catalogue status, and names each bad field in our words', async () => {
    const o = order();
    const noHash = await post('/v1/payouts', { ...o, encrypted_card: {} });
    expect(noHash.statusCode).toBe(400);
    expect(noHash.json()).toEqual({
      error: {
        code: 'invalid_request',
        message: 'encrypted_card.number_hash: is required',
        issues: [{ field: 'encrypted_card.number_hash', problem: 'is required' }],
      },
    });
    const typo = await post('/v1/payouts', { ...o, ammount: 1 });
    expect(typo.json().error.issues).toEqual([{ field: '(body)', problem: 'has unknown field ammount: check the spelling' }]);
    const wrongType = await post('/v1/payouts', { ...o, recipient: 'Ivanov' });
    expect(wrongType.json().error.issues).toEqual([{ field: 'recipient', problem: 'must be an object' }]);
    for (const r of [noHash, typo, wrongType]) expect(JSON.stringify(r.json())).not.toMatch(/Invalid input/);

    expect((await post('/v1/payouts', o, {})).json()).toEqual({ error: { code: 'unauthorized', message: ERRORS.unauthorized.message } });
    expect((await get('/v1/nothing-here')).json()).toEqual({ error: { code: 'not_found', message: 'no route GET /v1/nothing-here' } });
    expect((await app.inject({ method: 'DELETE', url: '/v1/payouts', headers: auth })).statusCode).toBe(404);
    expect((await get('/v1/payouts/no-such-payout')).json()).toEqual({ error: { code: 'not_found', message: 'no payout no-such-payout' } });
    const badId = await get('/v1/payouts/bad%20id');
    expect(badId.statusCode).toBe(400);
    expect(badId.json().error.issues[0].field).toBe('id');
  });

  it("every response carries x-request-id: the caller's own when it is a plain token, a new one otherwise", async () => {
    const mine = await get('/healthz', { 'x-request-id': 'trace-abc.123' });
    expect(mine.headers['x-request-id']).toBe('trace-abc.123');
    const made = await get('/v1/nowhere');
    expect(made.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    const bad = await get('/healthz', { 'x-request-id': 'two words<script>' });
    expect(bad.headers['x-request-id']).not.toBe('two words<script>');
  });
});

describe('HTTP that Fastify cannot route still gets our shape', () => {
  let url: URL;
  beforeAll(async () => {
    await app.listen({ host: '127.0.0.1', port: 0 });
    url = new URL(`http://127.0.0.1:${(app.server.address() as net.AddressInfo).port}`);
  });
  const raw = (request: string) =>
    new Promise<string>((resolve, reject) => {
      const socket = net.connect(Number(url.port), url.hostname, () => socket.end(request));
      let answer = '';
      socket.on('data', (c) => (answer += c.toString()));
      socket.on('end', () => resolve(answer));
      socket.on('error', reject);
    });

  it('malformed HTTP is a 400, an over-long URL a 431, both in the error shape', async () => {
    const garbage = await raw('GARBAGE / HTTP/1.1\r\n\r\n');
    expect(garbage).toMatch(/^HTTP\/1\.1 400/);
    expect(JSON.parse(garbage.split('\r\n\r\n')[1]!)).toEqual({
      error: { code: 'invalid_request', message: 'the request is not valid HTTP' },
    });
    const long = await raw(`GET /${'a'.repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`);
    expect(long).toMatch(/^HTTP\/1\.1 431/);
    expect(JSON.parse(long.split('\r\n\r\n')[1]!).error.code).toBe('headers_too_large');
  });
});

describe('GET /v1/payouts', () => {
  const ids: string[] = [];
  beforeAll(async () => {
    for (let i = 0; i < 5; i++) {
      const o = order();
      ids.push(o.id);
      expect((await post('/v1/payouts', o)).statusCode).toBe(202);
    }
    // one of them ends, so a status filter has something to tell apart
    expect((await post(`/v1/payouts/${ids[1]}/cancel`, {})).json()).toEqual({ id: ids[1], status: 'cancelled' });
  });

  it('pages newest first with limit, starting_after and has_more, reading the same payouts as GET /v1/payouts/:id', async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page = await get(`/v1/payouts?limit=2${cursor ? `&starting_after=${cursor}` : ''}`);
      expect(page.statusCode).toBe(200);
      const body = page.json() as { data: Array<{ id: string }>; has_more: boolean; next_starting_after: string | null };
      expect(body.data.length).toBeLessThanOrEqual(2);
      seen.push(...body.data.map((p) => p.id));
      cursor = body.next_starting_after;
      expect(body.has_more).toBe(cursor !== null);
    } while (cursor);
    expect(seen).toEqual([...ids].reverse());
    const one = (await get(`/v1/payouts?limit=1`)).json().data[0];
    // a read shows what a list does, and besides its audit trail and whether upstream was told
    const { audit, notification, ...withoutAudit } = (await get(`/v1/payouts/${ids[4]}`)).json();
    expect(audit).toHaveLength(1);
    expect(notification).toBeNull(); // not final yet
    expect(one).toEqual(withoutAudit);
  });

  it('filters by status and creation time', async () => {
    expect((await get('/v1/payouts?status=cancelled')).json().data.map((p: { id: string }) => p.id)).toEqual([ids[1]]);
    expect((await get('/v1/payouts?status=queued&limit=100')).json().data.map((p: { id: string }) => p.id)).toEqual([
      ids[4],
      ids[3],
      ids[2],
      ids[0],
    ]);
    const future = new Date(Date.now() + 60_000).toISOString();
    expect((await get(`/v1/payouts?created_gte=${future}`)).json()).toEqual({ data: [], has_more: false, next_starting_after: null });
    const past = new Date(Date.now() - 3_600_000).toISOString();
    expect((await get(`/v1/payouts?created_lte=${past}`)).json().data).toEqual([]);
  });

  it('names a bad query parameter', async () => {
    const bad = await get('/v1/payouts?limit=1000&status=lost');
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.issues).toEqual([
      { field: 'query.limit', problem: 'must be at most 100' },
      { field: 'query.status', problem: expect.stringMatching(/^must be one of awaiting_card, queued/) },
    ]);
    expect((await get('/v1/payouts?starting_after=nobody')).json().error).toMatchObject({
      code: 'invalid_request',
      message: 'query.starting_after: no payout nobody',
    });
  });
});

describe('the API document', () => {
  it('is a valid OpenAPI 3.1 document at /docs/json listing every route and the error catalogue; /docs is browsable', async () => {
    const doc = (await get('/docs/json', {})).json();
    expect(doc.openapi).toBe('3.1.0');
    const result = await new Validator().validate(doc);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(Object.keys(doc.paths).sort()).toEqual([
      '/collect/{token}',
      '/collect/{token}/card',
      '/collect/{token}/self-employed',
      '/collect/{token}/status',
      '/collect/{token}/widget-problem',
      '/healthz',
      '/readyz',
      '/v1/balance',
      '/v1/events',
      '/v1/events/{id}',
      '/v1/events/{id}/resend',
      '/v1/payouts',
      '/v1/payouts/batch',
      '/v1/payouts/resume',
      '/v1/payouts/{id}',
      '/v1/payouts/{id}/approve',
      '/v1/payouts/{id}/cancel',
      '/v1/payouts/{id}/reject',
      '/v1/recipients',
      '/v1/recipients/{id}',
      '/v1/recipients/{id}/card-links',
      '/v1/webhook-endpoints',
      '/v1/webhook-endpoints/{id}',
      '/v1/webhook-endpoints/{id}/rotate-secret',
      '/v1/widget-tokens',
      '/webhooks/bank131',
    ]);
    expect(Object.keys(doc.paths['/v1/payouts'].post.responses).sort()).toEqual(['200', '202', '400', '401', '409', '413', '415', '503']);
    for (const code of Object.keys(ERRORS)) expect(doc.info.description).toContain(`\`${code}\``);
    const page = await get('/docs/', {});
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toContain('text/html');
  });
});

describe('/readyz', () => {
  it('answers 503 within a second when Redis does not answer', async () => {
    const dead = new Redis(await freePort(), '127.0.0.1', { maxRetriesPerRequest: null, lazyConnect: true, retryStrategy: () => 200 });
    dead.on('error', () => undefined);
    const lonely = await buildServer({
      settings,
      bank: unusedBank,
      store: new PayoutStore(dead, prefix),
      tenants: tenantsOn(dead, prefix),
      queues,
      redis: dead,
      publicUrl,
    });
    const started = Date.now();
    const res = await lonely.inject({ method: 'GET', url: '/readyz' });
    expect(Date.now() - started).toBeLessThan(1_500);
    expect(res.statusCode).toBe(503);
    expect(res.json()).toMatchObject({
      error: { code: 'unavailable', message: 'not ready: Redis does not answer', checks: { redis: { ok: false } } },
    });
    expect((await app.inject({ method: 'GET', url: '/readyz' })).json()).toMatchObject({ ok: true, checks: { redis: { ok: true } } });
    await lonely.close();
    dead.disconnect();
  });
});

describe('a key given twice in a JSON body', () => {
  const raw = (url: string, text: string, headers: Record<string, string> = auth) =>
    app.inject({ method: 'POST', url, payload: text, headers: { ...headers, 'content-type': 'application/json' } });
  /** An order as JSON text with `amount` given twice: JSON.parse alone would take 100000. */
  const twice = (o: ReturnType<typeof order>) => JSON.stringify(o).replace('"amount":10000', '"amount":1,"amount":100000');

  it('refuses the body, 400 invalid_json naming the path; nothing is accepted', async () => {
    const { DUPLICATE_KEY_PROBLEM } = await import('../../src/http/json-body.js');
    const o = order();
    const res = await raw('/v1/payouts', twice(o));
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual({
      error: {
        code: 'invalid_json',
        message: expect.stringContaining('amount_details.amount'),
        issues: [{ field: 'amount_details.amount', problem: DUPLICATE_KEY_PROBLEM }],
      },
    });
    expect(await new PayoutStore(redis, prefix).get(o.id)).toBeNull();
  });

  it('in a batch, refuses only the item that holds it', async () => {
    const { DUPLICATE_KEY_PROBLEM } = await import('../../src/http/json-body.js');
    const [a, b, c] = [order(), order(), order()];
    const res = await raw('/v1/payouts/batch', `{"payouts":[${JSON.stringify(a)},${twice(b)},${JSON.stringify(c)}]}`);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({
      counts: { created: 2, existing: 0, conflict: 0, invalid: 1 },
      results: [
        { index: 0, id: a.id, status: 'created', state: 'queued' },
        { index: 1, id: b.id, status: 'invalid', issues: [{ field: 'amount_details.amount', problem: DUPLICATE_KEY_PROBLEM }] },
        { index: 2, id: c.id, status: 'created', state: 'queued' },
      ],
    });
    expect(await new PayoutStore(redis, prefix).get(b.id)).toBeNull();
  });

  it('leaves the Bank 131 webhook route alone: it reads its body as the bank signed it', async () => {
    const { signBody } = await import('../../src/bank131/signature.js');
    const body = `{"type":"ready_to_confirm","type":"ready_to_confirm","session":{"id":"ps_dup_${Date.now()}","status":"in_progress"}}`;
    const res = await raw('/webhooks/bank131', body, { 'x-partner-sign': signBody(body, keys.bankPrivate) });
    expect(res.statusCode).toBe(200);
  });
});
