import { createHash, randomBytes } from 'node:crypto';
import * as crypto from 'node:crypto';
import net from 'node:net';
import { Writable } from 'node:stream';
import fc from 'fast-check';
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Bank131Client } from '../../src/bank131/client.js';
import { signBody } from '../../src/bank131/signature.js';
import { BOARD_PATH } from '../../src/board.js';
import { ERRORS, type ErrorCode } from '../../src/http/errors.js';
import { FORBIDDEN_KEY_PROBLEM } from '../../src/http/json-body.js';
import { createLogger } from '../../src/log.js';
import { DEFAULT_TIMING } from '../../src/pipeline/pipeline-deps.js';
import { createQueues, type Queues } from '../../src/queues.js';
import { buildServer } from '../../src/http/server.js';
import { webSettings } from '../support/settings.js';
import { tenantsOn } from '../support/tenants.js';
import { PayoutStore } from '../../src/store/payout-store.js';
import { keys } from '../support/keys.js';
import { connectRedis, deleteKeys, testPrefix } from '../support/redis.js';
import { readyToConfirm } from '../support/webhooks.js';

/**
 * Hostile input over every route: whatever is sent, the answer is a success or a 4xx
 * in our error shape that names the problem, never a 5xx or a dead process, at log level trace;
 * a 4xx changes nothing (payouts, queue jobs); no secret reaches an answer, a log line or a job.
 *
 * Property tests use fast-check with a fixed seed (HOSTILE_SEED overrides it) and a bounded
 * number of runs (HOSTILE_RUNS); a failure prints the seed and the shrunk counterexample.
 */

// timingSafeEqual, watched: the bearer keys and the board password must be compared with it, over
// digests of equal length (src/http/auth.ts, src/board.ts).
vi.mock('node:crypto', async (importOriginal) => {
  const actual = await importOriginal<typeof crypto>();
  return { ...actual, timingSafeEqual: vi.fn(actual.timingSafeEqual) };
});

const SEED = Number(process.env.HOSTILE_SEED ?? 1318);
const RUNS = Number(process.env.HOSTILE_RUNS ?? 200);
const params = { seed: SEED, numRuns: RUNS, endOnFailure: true } as const;
async function property<Ts extends [unknown, ...unknown[]]>(
  name: string,
  prop: fc.IAsyncPropertyWithHooks<Ts>,
  runs = RUNS,
): Promise<void> {
  const out = await fc.check(prop, { ...params, numRuns: runs });
  if (!out.failed) return;
  const example = fc.stringify(out.counterexample).slice(0, 2_000);
  const why = String((out.errorInstance as Error | undefined)?.message ?? out.errorInstance).slice(0, 2_000);
  throw new Error(
    `${name}: failed after ${out.numRuns} runs (seed ${SEED}, path ${out.counterexamplePath}; reproduce with HOSTILE_SEED=${SEED})\ncounterexample: ${example}\n${why}`,
  );
}

// Secrets that must never be echoed or logged: the API key, a recipient's name, card hashes, the
// board password, and every webhook signature made here.
const API_KEY = `hostile-api-key-${randomBytes(8).toString('hex')}`;
const BOARD = { user: 'ops', password: `board-pw-${randomBytes(8).toString('hex')}` };
const NAME = 'Secretname Recipientovich';
const HASH = `card-hash-${randomBytes(8).toString('hex')}`;
const signatures: string[] = [];
const secrets = () => [API_KEY, BOARD.password, NAME, 'Secretname', HASH, ...signatures];

const auth = { authorization: `Bearer ${API_KEY}` };
const logLines: string[] = [];
const sink = new Writable({ write: (chunk, _enc, done) => (logLines.push(chunk.toString()), done()) });

let app: FastifyInstance;
let redis: Redis;
let queues: Queues;
let store: PayoutStore;
let collectToken: string;
let heldId: string;
const prefix = testPrefix('hostile');

/** The bank, never called over the network: a widget token and a card's last 4 digits. */
const bank = new Bank131Client({ baseUrl: 'http://127.0.0.1:9', project: 'p', privateKey: keys.partnerPrivate });
bank.issueWidgetToken = async () => 'widget-public-token';
bank.tokenInfo = async () => ({ last4: '4242' }) as Awaited<ReturnType<Bank131Client['tokenInfo']>>;

let n = 0;
const order = (overrides: Record<string, unknown> = {}) => ({
  id: `hostile-${Date.now().toString(36)}-${++n}`,
  amount_details: { amount: 10_000, currency: 'rub' },
  recipient: { full_name: NAME },
  encrypted_card: { number_hash: HASH },
  metadata: 'm',
  ...overrides,
});

beforeAll(async () => {
  redis = connectRedis();
  queues = createQueues(redis, prefix);
  store = new PayoutStore(redis, prefix);
  app = await buildServer({
    settings: webSettings({
      apiKeys: [API_KEY, `second-${API_KEY}`],
      publicUrl: 'http://payouts.test',
      widgetUrl: 'https://widget-demo.bank131.ru',
      collectPayerName: 'Payer',
      board: { ...BOARD, readOnly: true },
      timing: DEFAULT_TIMING,
    }),
    bank,
    store,
    tenants: tenantsOn(redis, prefix),
    queues,
    redis,
    publicUrl: () => 'http://payouts.test',
    logger: createLogger({ level: 'trace' }, sink),
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  // a payout waiting for its card (a live collection link), and one queued that no test cancels
  const waiting = await send({ method: 'POST', url: '/v1/payouts', payload: order({ encrypted_card: undefined }) });
  collectToken = new URL(waiting.json().collect_url).pathname.split('/').at(-1)!;
  const held = order();
  heldId = held.id;
  expect((await send({ method: 'POST', url: '/v1/payouts', payload: held })).statusCode).toBe(202);
});
afterAll(async () => {
  await app?.close();
  await queues?.close();
  await deleteKeys(redis, prefix);
  await redis?.quit();
});

// ------------------------------------------------------------------ what every answer must be

function send(opts: InjectOptions & { auth?: boolean }): Promise<LightMyRequestResponse> {
  const { auth: withAuth = true, headers, ...rest } = opts;
  // the collection routes limit requests per address: each request comes from another one
  const remoteAddress = `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n++ & 255}`;
  return app.inject({ remoteAddress, ...rest, headers: { ...(withAuth ? auth : {}), ...headers } });
}

/** Payouts, their indexes and every queue's jobs: what a refused request must leave as it was. */
async function fingerprint(): Promise<string> {
  const [all, seq, due, held, audit] = await Promise.all([
    redis.zcard(`${prefix}:list:all`),
    redis.get(`${prefix}:list:seq`),
    redis.zrange(`${prefix}:due`, '0', '-1', 'WITHSCORES'),
    store.get(heldId),
    store.audit(heldId),
  ]);
  const jobs = await Promise.all(queues.all().map(async (q) => [q.name, await q.getJobCounts()]));
  return JSON.stringify({ all, seq, due, held: held?.state, audit: audit.length, jobs });
}

/** Never a 5xx; a 4xx is `{error:{code,message}}` from the catalogue, naming the problem; no secret. */
function expectGoodAnswer(res: LightMyRequestResponse, what: string): void {
  const context = `${what} answered ${res.statusCode}: ${res.body.slice(0, 300)}`;
  expect(res.statusCode, context).toBeLessThan(500);
  for (const secret of secrets()) expect(res.body.includes(secret), `${context} (a secret echoed)`).toBe(false);
  if (res.statusCode < 400) return;
  const body = res.json() as { error?: { code?: ErrorCode; message?: unknown; issues?: Array<{ field: string; problem: string }> } };
  expect(body.error, context).toBeDefined();
  const code = body.error!.code!;
  expect(Object.keys(ERRORS), context).toContain(code);
  expect(ERRORS[code].status, context).toBe(res.statusCode);
  expect(typeof body.error!.message === 'string' && body.error!.message.length > 0, context).toBe(true);
  // our words, not zod's, Fastify's or an excerpt of the body that V8 quotes
  expect(body.error!.message, context).not.toMatch(/Invalid input|Body is not valid JSON|(\.\.\.|") is not valid JSON|FST_/);
  if (code === 'invalid_json') expect(body.error!.message, `${context} (which problem?)`).not.toBe(ERRORS.invalid_json.message);
  if (code === 'invalid_request' && body.error!.issues) {
    for (const issue of body.error!.issues) expect(issue.field.length && issue.problem.length, context).toBeTruthy();
  }
}

/** A request answered well; if refused, it changed nothing. */
async function hostile(opts: InjectOptions & { auth?: boolean }, what = `${opts.method} ${opts.url}`): Promise<LightMyRequestResponse> {
  const before = await fingerprint();
  const res = await send(opts);
  expectGoodAnswer(res, what);
  if (res.statusCode >= 400) expect(await fingerprint(), `${what}: a ${res.statusCode} changed state`).toBe(before);
  return res;
}

// ------------------------------------------------------------------ hostile values

/** A value written into the JSON text as is (numbers JSON.stringify cannot make, deep nesting). */
class Raw {
  constructor(readonly text: string) {}
  [fc.toStringMethod]() {
    return this.text.length > 40 ? `Raw(${this.text.slice(0, 20)}… ${this.text.length} characters)` : `Raw(${this.text})`;
  }
  toJSON() {
    return `\u0000RAW${rawTexts.push(this.text) - 1}\u0000`;
  }
}
const rawTexts: string[] = [];
function jsonText(value: unknown): string {
  return JSON.stringify(value).replace(/"\\u0000RAW(\d+)\\u0000"/g, (_m, i: string) => rawTexts[Number(i)]!);
}
const deep = (depth: number, open = '[', close = ']', middle = '') => new Raw(`${open.repeat(depth)}${middle}${close.repeat(depth)}`);
const deepObject = (depth: number) => new Raw(`${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`);

/** Sets an own key, `__proto__` included (an assignment would set the prototype instead). */
function withKey<T extends object>(obj: T, key: string, value: unknown): T {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
  return obj;
}

const POLLUTION_KEYS = ['__proto__', 'constructor', 'prototype'];
const control = fc.integer({ min: 0, max: 0x1f }).map((c) => String.fromCharCode(c));
const surrogate = fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c));
const hostileString = fc.oneof(
  fc.string({
    unit: fc.oneof(
      fc.constantFrom('a', '0', ' ', '"', '\\', '%', '<', '\u2028', '\ufeff', '\u202e'),
      control,
      surrogate,
      fc.string({ unit: 'grapheme', maxLength: 1 }),
    ),
    maxLength: 40,
  }),
  fc.constantFrom(
    '',
    ' ',
    'null',
    'NaN',
    'Infinity',
    'rub\u0000',
    'RUB',
    'http://user:pw@example.com/x',
    'http://169.254.169.254/latest',
    `${'x'.repeat(5000)}`,
    'sandbox_ok_4242',
  ),
);
const hostileNumber = fc.oneof(
  fc.double(),
  fc.integer(),
  fc.constantFrom(0, -0, 0.5, 1.5, 9999.999, 100.0000001, 2 ** 53 + 2, -1, 1e308, 5e-324, 10_000_000_001),
  fc
    .constantFrom('1e400', '-1e400', '1.0', '1E4', '100000000000000000000000000000000000000', '0.1e1', '-0', '1e-400')
    .map((t) => new Raw(t)),
);
const pollution = fc
  .constantFrom(...POLLUTION_KEYS)
  .chain((key) =>
    fc.constantFrom<unknown>({ polluted: true }, { prototype: { polluted: true } }, 'x', null, []).map((value) => withKey({}, key, value)),
  );
const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  hostileString,
  hostileNumber,
  fc.constantFrom(true, false, null, [], {}),
  pollution,
  fc.constantFrom(deep(10_000), deep(10_000, '[{"a":', '}]', '1'), deepObject(10_000), deep(100)),
  fc.jsonValue({ maxDepth: 3 }),
  fc.array(hostileString, { maxLength: 3 }),
);

/** A valid order with one place made hostile: a value replaced, or a key added (pollution keys too). */
const PATHS: string[][] = [
  [],
  ['id'],
  ['amount_details'],
  ['amount_details', 'amount'],
  ['amount_details', 'currency'],
  ['recipient'],
  ['recipient', 'full_name'],
  ['encrypted_card'],
  ['encrypted_card', 'number_hash'],
  ['metadata'],
  ['callback_url'],
  ['customer'],
  ['customer', 'contacts'],
];
const hostileOrder = fc
  .record({
    path: fc.constantFrom(...PATHS),
    how: fc.constantFrom('replace', 'add'),
    key: fc.oneof(fc.constantFrom(...POLLUTION_KEYS), hostileString),
    value: hostileValue,
  })
  .map(({ path, how, key, value }) => {
    const o = order({ customer: { reference: 'r', contacts: [{ email: 'a@b.ru' }] } }) as Record<string, unknown>;
    if (path.length === 0) return how === 'add' ? withKey(o, key, value) : value;
    let at = o;
    for (const k of path.slice(0, -1)) at = at[k] as Record<string, unknown>;
    const last = path.at(-1)!;
    if (how === 'replace' || typeof at[last] !== 'object' || at[last] === null || Array.isArray(at[last])) withKey(at, last, value);
    else withKey(at[last] as object, key, value);
    return o;
  });

const json = { 'content-type': 'application/json' };

// ------------------------------------------------------------------ the properties

describe('the payout API under hostile bodies', () => {
  it('POST /v1/payouts: a hostile order is accepted or refused with the problem named, never a 5xx', async () => {
    await property(
      'POST /v1/payouts',
      fc.asyncProperty(hostileOrder, async (body) => {
        await hostile({ method: 'POST', url: '/v1/payouts', headers: json, payload: jsonText(body) });
      }),
    );
  });

  it('POST /v1/payouts/batch: one hostile item is answered on its own; the good one goes ahead', async () => {
    await property(
      'POST /v1/payouts/batch',
      fc.asyncProperty(hostileOrder, fc.boolean(), async (item, first) => {
        const good = order();
        const payouts = first ? [item, good] : [good, item];
        const before = await redis.zcard(`${prefix}:list:all`);
        const res = await hostile({ method: 'POST', url: '/v1/payouts/batch', headers: json, payload: jsonText({ payouts }) });
        // a deep or otherwise hostile item is that item's problem, never the batch's
        expect(res.statusCode, res.body.slice(0, 300)).toBe(200);
        const { results, counts } = res.json() as {
          results: Array<{ index: number; status: string; id: string | null; issues?: unknown[] }>;
          counts: { created: number };
        };
        expect(results.map((r) => r.index)).toEqual([0, 1]);
        expect(results[first ? 1 : 0]!).toMatchObject({ id: good.id, status: 'created' });
        const other = results[first ? 0 : 1]!;
        if (other.status === 'invalid') expect(other.issues!.length).toBeGreaterThan(0);
        expect(await redis.zcard(`${prefix}:list:all`)).toBe(before + counts.created);
      }),
      Math.ceil(RUNS / 2),
    );
  });

  it('raw bytes as a JSON body (truncated, invalid UTF-8, huge numbers, BOMs) on every JSON route', async () => {
    const good = jsonText(order());
    const bytes = fc.oneof(
      fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)),
      fc.nat({ max: good.length }).map((cut) => Buffer.from(good.slice(0, cut))),
      fc
        .constantFrom(
          '\ufeff{}',
          '{"payouts":[',
          '{"amount_details":{"amount":1e400}}',
          '[]',
          'null',
          '"x"',
          '1',
          '{"a":1,"a":2}',
          '{"id":"\\ud800"}',
        )
        .map((s) => Buffer.from(s)),
      fc
        .tuple(fc.nat({ max: good.length - 1 }), fc.uint8Array({ minLength: 1, maxLength: 4 }))
        .map(([at, junk]) => Buffer.concat([Buffer.from(good.slice(0, at)), Buffer.from(junk), Buffer.from(good.slice(at))])),
    );
    const url = fc.constantFrom(
      '/v1/payouts',
      '/v1/payouts/batch',
      `/collect/${collectToken}/card`,
      '/v1/widget-tokens',
      `/v1/payouts/nobody/cancel`,
    );
    await property(
      'raw JSON bodies',
      fc.asyncProperty(url, bytes, async (u, payload) => {
        await hostile({ method: 'POST', url: u, headers: json, payload });
      }),
    );
  });

  it('wrong, missing and odd content types are refused in our shape (415), never parsed some other way', async () => {
    const body = fc.constantFrom(jsonText(order()), 'a=1&b=2', '--x\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n--x--', '');
    const type = fc.oneof(
      fc.constantFrom(
        undefined,
        'text/plain',
        'application/x-www-form-urlencoded',
        'multipart/form-data; boundary=x',
        'application/xml',
        'application/json-patch+json',
        'APPLICATION/JSON',
        'application/json; charset=utf-16',
        'application/json;;',
        '*/*',
        '',
      ),
      fc.string({ unit: fc.constantFrom('a', '/', ';', '=', ' ', '+', 'json', 'application'), maxLength: 12 }),
    );
    await property(
      'content types',
      fc.asyncProperty(
        fc.constantFrom('/v1/payouts', '/v1/payouts/batch', `/collect/${collectToken}/card`),
        type,
        body,
        async (url, ct, payload) => {
          const res = await hostile({ method: 'POST', url, payload, headers: ct === undefined ? {} : { 'content-type': ct } });
          if (res.statusCode === 415) expect(res.json().error.code).toBe('unsupported_media_type');
        },
      ),
    );
  });

  it('oversized bodies are 413 body_too_large on every route that reads one', async () => {
    const big = (bytes: number) => `{"payouts":[${'"x",'.repeat(Math.ceil(bytes / 4))}"x"]}`;
    for (const [url, limit] of [
      ['/v1/payouts', 1024 * 1024],
      ['/v1/payouts/batch', 32 * 1024 * 1024],
      [`/collect/${collectToken}/card`, 16 * 1024],
      ['/webhooks/bank131', 1024 * 1024],
    ] as const) {
      const res = await hostile({ method: 'POST', url, headers: json, payload: big(limit + 10) }, `${url} oversized`);
      expect(res.statusCode, url).toBe(413);
      expect(res.json().error.code).toBe('body_too_large');
    }
  });

  it('JSON nested 10,000 deep is refused in our shape on every JSON route, and a signed one is harmless', async () => {
    for (const depth of [10_000, 100_000]) {
      for (const text of [
        deep(depth).text,
        deepObject(depth).text,
        `{"payouts":[${deep(depth).text}]}`,
        jsonText(order({ metadata: deep(depth) })),
      ]) {
        for (const url of ['/v1/payouts', '/v1/payouts/batch', `/collect/${collectToken}/card`]) {
          const res = await hostile({ method: 'POST', url, headers: json, payload: text }, `${url} nested ${depth}`);
          if (url === '/v1/payouts/batch' && text.startsWith('{"payouts"')) expect(res.json().results[0].status).toBe('invalid');
          else expect([400, 413]).toContain(res.statusCode);
        }
      }
    }
  });
});

describe('prototype-pollution keys', () => {
  it('a `__proto__` or `constructor.prototype` key refuses the body as invalid_json, naming where it was', async () => {
    for (const [body, field] of [
      [order({ recipient: withKey({ full_name: NAME }, '__proto__', { polluted: true }) }), 'recipient.__proto__'],
      [withKey(order(), '__proto__', { amount_details: { amount: 1 } }), '__proto__'],
      [
        order({ encrypted_card: withKey({ number_hash: HASH }, 'constructor', { prototype: { polluted: true } }) }),
        'encrypted_card.constructor',
      ],
    ] as const) {
      const res = await hostile({ method: 'POST', url: '/v1/payouts', headers: json, payload: jsonText(body) });
      expect(res.statusCode).toBe(400);
      expect(res.json().error).toEqual({
        code: 'invalid_json',
        message: expect.stringContaining(field),
        issues: [{ field, problem: FORBIDDEN_KEY_PROBLEM }],
      });
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('in a batch, only the item holding one is refused (invalid, with its index); the others are accepted', async () => {
    const [a, b, c] = [order(), order(), order()];
    const polluted = { ...b, recipient: withKey({ full_name: NAME }, '__proto__', { polluted: true }) };
    const res = await hostile({
      method: 'POST',
      url: '/v1/payouts/batch',
      headers: json,
      payload: jsonText({ payouts: [a, polluted, c] }),
    });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({
      counts: { created: 2, existing: 0, conflict: 0, invalid: 1 },
      results: [
        { index: 0, id: a.id, status: 'created', state: 'queued' },
        { index: 1, id: b.id, status: 'invalid', issues: [{ field: 'recipient.__proto__', problem: FORBIDDEN_KEY_PROBLEM }] },
        { index: 2, id: c.id, status: 'created', state: 'queued' },
      ],
    });
    expect(await store.get(b.id)).toBeNull();
    // outside the items it is the body's problem
    const top = await hostile({
      method: 'POST',
      url: '/v1/payouts/batch',
      headers: json,
      payload: jsonText(withKey({ payouts: [order()] }, '__proto__', {})),
    });
    expect(top.statusCode).toBe(400);
    expect(top.json().error).toMatchObject({ code: 'invalid_json', issues: [{ field: '__proto__', problem: FORBIDDEN_KEY_PROBLEM }] });
  });

  it('in query strings and card bodies too', async () => {
    const q = await hostile({ method: 'GET', url: '/v1/payouts?__proto__[x]=1&constructor[prototype][x]=1' });
    expect(q.statusCode).toBe(400);
    const card = await hostile({
      method: 'POST',
      url: `/collect/${collectToken}/card`,
      headers: json,
      payload: jsonText(withKey({ number_hash: HASH }, '__proto__', { x: 1 })),
    });
    expect(card.statusCode).toBe(400);
    expect(card.json().error.code).toBe('invalid_json');
  });
});

describe('paths, queries and headers', () => {
  const percent = (s: string) => Buffer.from(s).toString('hex').replace(/../g, '%$&');
  const segment = fc.oneof(
    hostileString.map((s) => (/\p{Surrogate}/u.test(s) ? percent(s) : encodeURIComponent(s))),
    hostileString.map(percent),
    fc.constantFrom('%', '%zz', '%00', '%c0%af', '..', '%2e%2e', 'a'.repeat(300), '%ff%fe', collectToken),
  );
  it('every route, any path parameter, any query: a good answer, never a 5xx', async () => {
    const route = fc.constantFrom(
      (s: string) => ({ method: 'GET' as const, url: `/v1/payouts/${s}` }),
      (s: string) => ({ method: 'POST' as const, url: `/v1/payouts/${s}/cancel` }),
      (s: string) => ({ method: 'GET' as const, url: `/collect/${s}` }),
      (s: string) => ({ method: 'GET' as const, url: `/collect/${s}/status` }),
      (s: string) => ({ method: 'POST' as const, url: `/collect/${s}/card`, payload: { number_hash: HASH }, headers: json }),
      (s: string) => ({ method: 'GET' as const, url: `/collect/assets/${s}` }),
      (s: string) => ({ method: 'GET' as const, url: `/v1/payouts?${s}=${s}` }),
      (s: string) => ({ method: 'GET' as const, url: `/v1/payouts?limit=${s}&status=${s}&created_gte=${s}&starting_after=${s}` }),
      (s: string) => ({ method: 'GET' as const, url: `/${s}` }),
      (s: string) => ({ method: 'GET' as const, url: `/healthz?${s}` }),
      (s: string) => ({ method: 'GET' as const, url: `/docs/${s}` }),
      (s: string) => ({ method: 'DELETE' as const, url: `/v1/payouts/${s}` }),
    );
    await property(
      'paths and queries',
      fc.asyncProperty(route, segment, async (make, s) => {
        await hostile(make(s));
      }),
    );
  });

  it('any Authorization and request-id header: 401 unauthorized in our shape, never a crash', async () => {
    const header = fc
      .oneof(
        hostileString.map((s) => `Bearer ${s}`),
        fc.constantFrom(
          '',
          'Bearer',
          'Bearer ',
          `Bearer ${API_KEY.slice(0, -1)}`,
          `Bearer ${API_KEY}x`,
          `bearer ${API_KEY}`,
          `Basic ${Buffer.from(`x:${API_KEY}`).toString('base64')}`,
          `Bearer ${API_KEY.toUpperCase()}`,
        ),
        fc.string({ unit: fc.constantFrom('a', ' ', '\t', 'é', 'Bearer'), maxLength: 30 }),
      )
      .filter((h) => h !== `Bearer ${API_KEY}` && !/[\r\n]/.test(h));
    await property(
      'Authorization',
      fc.asyncProperty(
        header,
        fc.constantFrom(
          ['GET', '/v1/payouts'],
          ['GET', `/v1/payouts/${heldId}`],
          ['POST', `/v1/payouts/${heldId}/cancel`],
          ['POST', '/v1/payouts/batch'],
          ['POST', '/v1/widget-tokens'],
          ['GET', '/v1/webhook-endpoints'],
          ['POST', '/v1/webhook-endpoints'],
          ['POST', '/v1/webhook-endpoints/we_0123456789abcdef/rotate-secret'],
          ['GET', '/v1/events'],
          ['POST', `/v1/events/evt_${heldId}_succeeded/resend`],
        ),
        hostileString,
        async (h, [method, url], requestId) => {
          const res = await hostile({
            method: method as 'GET' | 'POST',
            url,
            auth: false,
            headers: { authorization: h, 'x-request-id': requestId.replace(/[\r\n]/g, '') },
          });
          expect(res.statusCode).toBe(401);
          expect(res.json().error.code).toBe('unauthorized');
        },
      ),
    );
  });
});

// ------------------------------------------------------------------ webhooks

const webhookBody = (sessionId: string, name = NAME) =>
  JSON.stringify(readyToConfirm(sessionId, { payout: { participant_details: { recipient: { full_name: name } } } }));
const sign = (body: string | Buffer) => {
  const s = signBody(body, keys.bankPrivate);
  signatures.push(s);
  return s;
};
/** Webhook jobs on every queue that takes them (src/queues.ts webhookQueueOf): bank-webhooks, and the confirm and finish steps'. */
const webhookJobs = async () => {
  const counts = await Promise.all([queues.webhooks, queues.confirm, queues.finish].map((q) => q.getJobCounts()));
  return counts.flatMap((c) => Object.values(c)).reduce((a, b) => a + b, 0);
};

describe('Bank 131 webhooks', () => {
  it('bad, missing, truncated or foreign signatures, or one over another body: 401, nothing enqueued', async () => {
    const badSignature = fc.oneof(
      fc.constant(undefined),
      fc.constantFrom('', ' ', 'null', '====', 'a'.repeat(344), `${'A'.repeat(342)}==`),
      fc.uint8Array({ minLength: 256, maxLength: 256 }).map((b) => Buffer.from(b).toString('base64')),
      hostileString,
      fc.constant('truncated'),
      fc.constant('other-body'),
      fc.constant('partner-key'),
      fc.constant('flipped-body'),
      fc.constant('padded'),
    );
    const body = fc.oneof(
      fc.string().map((s) => webhookBody(`ps_${s}`)),
      fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
      hostileString,
    );
    await property(
      'webhook signatures',
      fc.asyncProperty(body, badSignature, async (b, kind) => {
        const raw = Buffer.from(b);
        let header: string | undefined = kind;
        if (kind === 'truncated') header = sign(raw).slice(0, -4);
        if (kind === 'other-body') header = sign(Buffer.concat([raw, Buffer.from(' ')]));
        if (kind === 'partner-key') header = signBody(raw, keys.partnerPrivate);
        if (kind === 'padded') header = `${sign(raw)}AAAA`;
        let payload = raw;
        if (kind === 'flipped-body') {
          header = sign(raw);
          payload = Buffer.concat([raw, Buffer.from('\n')]);
        }
        const jobsBefore = await webhookJobs();
        const res = await hostile({
          method: 'POST',
          url: '/webhooks/bank131',
          auth: false,
          payload,
          headers: { ...json, ...(header === undefined ? {} : { 'x-partner-sign': header.replace(/[\r\n]/g, '') }) },
        });
        expect(res.statusCode, `signature ${String(kind)}`).toBe(401);
        expect(res.json().error.code).toBe('invalid_signature');
        expect(await webhookJobs()).toBe(jobsBefore);
      }),
    );
  });

  it('correctly signed but hostile bodies (any content type, deep, not JSON, unknown sessions) are acknowledged and harmless', async () => {
    const body = fc.oneof(
      fc.string().map((s) => webhookBody(`ps_unknown_${s}`)),
      fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)),
      hostileString,
      fc.constantFrom(
        deep(10_000).text,
        `{"type":"x","session":${deepObject(10_000).text}}`,
        '{"type":"ready_to_confirm","session":{"id":"ps_x","__proto__":{"polluted":true}}}',
        '',
      ),
    );
    await property(
      'signed webhooks',
      fc.asyncProperty(body, fc.constantFrom('application/json', 'text/plain', 'application/octet-stream', undefined), async (b, ct) => {
        const raw = Buffer.from(b);
        const jobsBefore = await webhookJobs();
        const res = await hostile({
          method: 'POST',
          url: '/webhooks/bank131',
          auth: false,
          payload: raw,
          headers: { 'x-partner-sign': sign(raw), ...(ct ? { 'content-type': ct } : {}) },
        });
        expect(res.statusCode, res.body).toBe(200);
        expect(await webhookJobs()).toBeLessThanOrEqual(jobsBefore + 1);
        expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      }),
      Math.ceil(RUNS / 2),
    );
  });

  it('a replayed webhook is acknowledged and enqueued once; job data holds no recipient name', async () => {
    const raw = Buffer.from(webhookBody(`ps_replay_${randomBytes(4).toString('hex')}`));
    const header = sign(raw);
    const before = await webhookJobs();
    for (let i = 0; i < 5; i++) {
      const res = await hostile({
        method: 'POST',
        url: '/webhooks/bank131',
        auth: false,
        payload: raw,
        headers: { ...json, 'x-partner-sign': header },
      });
      expect(res.statusCode).toBe(200);
    }
    expect(await webhookJobs()).toBe(before + 1);
  });
});

// ------------------------------------------------------------------ the process at log level trace

describe('malformed HTTP over a real socket, logging at trace', () => {
  const port = () => (app.server.address() as net.AddressInfo).port;
  const raw = (request: Buffer | string) =>
    new Promise<string>((resolve, reject) => {
      const socket = net.connect(port(), '127.0.0.1', () => socket.end(request));
      let answer = '';
      socket.on('data', (c) => (answer += c.toString('latin1')));
      socket.on('end', () => resolve(answer));
      socket.on('error', (err) => ((err as NodeJS.ErrnoException).code === 'ECONNRESET' ? resolve(answer) : reject(err)));
    });

  it('garbage, bodies longer than their Content-Length, bad header bytes: answered 4xx, the process lives, raw bytes never logged', async () => {
    const order1 = jsonText(order());
    const requests: Array<Buffer | string> = [
      `GARBAGE / HTTP/1.1\r\nAuthorization: Bearer ${API_KEY}\r\n\r\n`,
      `POST /v1/payouts HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${API_KEY}\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}${order1}`,
      `POST /v1/payouts HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n{}`,
      `POST /v1/payouts HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\nzz\r\n`,
      Buffer.concat([
        Buffer.from('GET /healthz HTTP/1.1\r\nHost: x\r\nX-Bad: '),
        Buffer.from([0xc0, 0xaf, 0xff, 0x00, 0x07]),
        Buffer.from(`\r\nAuthorization: Bearer ${API_KEY}\r\n\r\n`),
      ]),
      `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Ctl: a\u0001b\r\n\r\n`,
      `GET /${'a'.repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`,
      Buffer.from(randomBytes(512)),
      '\r\n\r\n\r\n',
    ];
    const fromStart = logLines.length;
    for (const request of requests) {
      const answer = await raw(request);
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1] ?? 0);
      // a request Node could not parse is answered by src/http/errors.ts; a parsed one by the route
      if (status) {
        expect(status, answer).toBeGreaterThanOrEqual(200);
        expect(status, answer).toBeLessThan(500);
      }
      for (const secret of secrets()) expect(answer).not.toContain(secret);
      const health = await fetch(`http://127.0.0.1:${port()}/healthz`);
      expect(health.status).toBe(200);
    }
    const logged = logLines.slice(fromStart).join('');
    expect(logged).toContain('client error');
    expect(logged).toContain('"rawPacket":"[Buffer of');
    expect(logged).not.toContain('GARBAGE');
  });
});

// ------------------------------------------------------------------ keys, passwords and secrets

describe('secrets', () => {
  it('Bearer keys are compared with timingSafeEqual over equal-length digests, whatever is sent', async () => {
    const spy = vi.mocked(crypto.timingSafeEqual);
    const given = ['x', 'a'.repeat(10_000), API_KEY.slice(0, -1), `${API_KEY}x`, 'é', API_KEY];
    for (const key of given) {
      spy.mockClear();
      const res = await send({ method: 'GET', url: '/v1/payouts?limit=1', auth: false, headers: { authorization: `Bearer ${key}` } });
      expect(res.statusCode).toBe(key === API_KEY ? 200 : 401);
      expect(spy.mock.calls.length, key).toBeGreaterThan(0);
      for (const [a, b] of spy.mock.calls) {
        expect((a as Buffer).length).toBe(32);
        expect((b as Buffer).length).toBe(32);
      }
      // a wrong key is compared with every configured key: no early exit tells how close it was
      if (key !== API_KEY) expect(spy.mock.calls.length).toBe(2);
      // the digest of what was sent, never its raw bytes
      const sentDigest = createHash('sha256').update(key).digest();
      expect(spy.mock.calls.some(([a, b]) => (a as Buffer).equals(sentDigest) || (b as Buffer).equals(sentDigest))).toBe(true);
    }
  });

  it('the board password likewise; the board answers 401 in our shape to anything else', async () => {
    const spy = vi.mocked(crypto.timingSafeEqual);
    await property(
      'board Basic auth',
      fc.asyncProperty(fc.string({ maxLength: 300 }), fc.string({ maxLength: 20 }), async (password, user) => {
        fc.pre(!(user === BOARD.user && password === BOARD.password));
        spy.mockClear();
        const res = await hostile({
          method: 'GET',
          url: `${BOARD_PATH}/api/queues`,
          auth: false,
          headers: { authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` },
        });
        expect(res.statusCode).toBe(401);
        expect(res.json().error.code).toBe('unauthorized');
        expect(spy).toHaveBeenCalledTimes(1);
        const [a, b] = spy.mock.calls[0]! as [Buffer, Buffer];
        expect([a.length, b.length]).toEqual([32, 32]);
      }),
      50,
    );
    const ok = await send({
      method: 'GET',
      url: `${BOARD_PATH}/api/queues`,
      auth: false,
      headers: { authorization: `Basic ${Buffer.from(`${BOARD.user}:${BOARD.password}`).toString('base64')}` },
    });
    expect(ok.statusCode).toBe(200);
  });

  it('no API key, card hash, recipient name, password or signature in any log line (trace) or job', async () => {
    expect(logLines.length).toBeGreaterThan(1000);
    const all = logLines.join('');
    for (const secret of secrets()) expect(all.includes(secret), `a log line holds ${secret.slice(0, 12)}…`).toBe(false);
    for (const line of logLines) expect(() => JSON.parse(line), line.slice(0, 200)).not.toThrow();
    for (const q of queues.all()) {
      const jobs = await q.getJobs(['waiting', 'delayed', 'prioritized', 'active', 'completed', 'failed', 'waiting-children']);
      // A webhook job carries the bank's signed body as received and its signature (the worker
      // verifies them again), and that body may name the recipient; nothing else in any job does,
      // and the board shows only an outline of it.
      const data = JSON.stringify(
        jobs.map((j) => [j.name, 'body' in j.data ? { ...j.data, body: undefined, signature: undefined } : j.data, j.failedReason]),
      );
      for (const secret of secrets()) expect(data.includes(secret), `${q.name} job data holds ${secret.slice(0, 12)}…`).toBe(false);
      const board = await send({
        method: 'GET',
        url: `${BOARD_PATH}/api/queues?activeQueue=${q.name}&status=latest`,
        auth: false,
        headers: { authorization: `Basic ${Buffer.from(`${BOARD.user}:${BOARD.password}`).toString('base64')}` },
      });
      expect(board.statusCode).toBe(200);
      for (const secret of secrets())
        expect(board.body.includes(secret), `the board shows ${secret.slice(0, 12)}… of ${q.name}`).toBe(false);
    }
  });
});
