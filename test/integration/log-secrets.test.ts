import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalRedis, type LocalRedis } from '../../src/local-redis.js';
import { createLogger, type Logger } from '../../src/log.js';
import { PayoutOrder } from '../../src/payouts/schemas.js';
import { createRuntime, type Runtime } from '../../src/runtime.js';
import { startWeb } from '../../src/web-process.js';
import { webSettings } from '../support/settings.js';
import { keys } from '../support/keys.js';
import { testPrefix } from '../support/redis.js';

/**
 * The real web on a Redis of its own, logging at trace into memory: when Redis refuses the write
 * while a payout is created (out of memory), the failure is logged and answered, and not one line
 * holds the order (ioredis keeps a failed script's arguments, the order JSON, on its error).
 */
const API_KEY = `log-secrets-key-${randomBytes(8).toString('hex')}`;
const tag = randomBytes(6).toString('hex');
const run = Date.now().toString(36); // payout ids may be logged: they do not hold the tag
const NAME = `Ognevskaya Evdokiya ${tag}`;
const CARD = {
  number_hash: `num-hash-${tag}`,
  expiration_date_hash: `exp-hash-${tag}`,
  security_code_hash: `cvc-hash-${tag}`,
  cardholder_name_hash: `holder-hash-${tag}`,
};
const EMAIL = `evdokiya.${tag}@example.org`;
const PHONE = '+79990001122';
const SECRETS = [NAME, 'Ognevskaya', ...Object.values(CARD), EMAIL, `evdokiya.${tag}`, PHONE, PHONE.slice(1), API_KEY];

const order = (id: string) => ({
  id,
  amount_details: { amount: 10_000, currency: 'rub' },
  recipient: { full_name: NAME },
  encrypted_card: CARD,
  metadata: 'log-secrets',
  customer: { reference: 'user-1', contacts: [{ email: EMAIL, phone: PHONE }] },
});

const lines: string[] = [];
const sink = new Writable({ write: (chunk, _enc, done) => (lines.push(chunk.toString()), done()) });
let log: Logger;
let redis: LocalRedis;
let admin: Redis;
let runtime: Runtime;
let server: FastifyInstance;
let url: string;

async function post(path: string, body: unknown): Promise<{ status: number; body: unknown }> {
  const headers = { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' };
  const res = await fetch(`${url}${path}`, { method: 'POST', headers, body: JSON.stringify(body) });
  return { status: res.status, body: await res.json() };
}

/** Redis full: every write is refused ("OOM command not allowed"), from now on. */
async function refuseWrites(): Promise<void> {
  await admin.config('SET', 'maxmemory-policy', 'noeviction');
  await admin.config('SET', 'maxmemory', '1');
}

function expectNoSecretLogged(): void {
  for (const line of lines) {
    for (const secret of SECRETS) expect(line.includes(secret), `a log line holds "${secret}": ${line.slice(0, 2_000)}`).toBe(false);
  }
}

beforeAll(async () => {
  redis = await startLocalRedis();
  admin = new Redis(redis.url, { maxRetriesPerRequest: null });
  log = createLogger({ level: 'trace' }, sink);
  runtime = createRuntime({
    redisUrl: redis.url,
    prefix: testPrefix('log-secrets'),
    role: 'web',
    log,
    // the web calls the bank only for card collection pages, which this test does not open
    bank: { baseUrl: 'http://127.0.0.1:9', project: 'p', privateKey: keys.partnerPrivate },
  });
  ({ server, url } = await startWeb(runtime, webSettings({ apiKeys: [API_KEY], widgetUrl: 'http://127.0.0.1:9' }), { logger: log }));
});
afterAll(async () => {
  await admin?.config('SET', 'maxmemory', '0').catch(() => undefined);
  await server?.close();
  await runtime?.close();
  admin?.disconnect();
  await redis?.stop();
});

describe('a Redis error while a payout is created', () => {
  it('is logged and answered, and no log line at any level holds the name, card hashes, e-mail or phone', async () => {
    // once accepted normally, so the create script is loaded and the failing call is the usual EVALSHA
    expect((await post('/v1/payouts', order(`log-ok-${run}`))).status).toBe(202);
    await refuseWrites();

    const single = await post('/v1/payouts', order(`log-oom-${run}`));
    const batch = await post('/v1/payouts/batch', { payouts: [order(`log-oom-batch-${run}`)] });
    // the status of a Redis refusal is src/http/errors.ts's to choose: a fault (500) or unavailable (503)
    for (const res of [single, batch]) {
      expect([500, 503]).toContain(res.status);
      expect(res.body).toMatchObject({ error: { code: expect.stringMatching(/^(internal_error|unavailable)$/) } });
    }

    // Which line says so, and at which level, is the error handler's and the runtime's choice
    // (src/http/errors.ts, src/runtime.ts): here, that the refusal was logged, and how errors look.
    expect(
      lines.some((l) => l.includes('OOM command not allowed')),
      'the Redis refusal was logged',
    ).toBe(true);
    for (const { err } of lines.map((l) => JSON.parse(l) as { err?: unknown })) {
      if (err === null || typeof err !== 'object') continue;
      expect(err).not.toHaveProperty('command.args');
      if ('command' in err) expect(err.command).toEqual({ name: expect.stringMatching(/^eval(sha)?$/) });
    }
    expectNoSecretLogged();
  });

  it("the create script's own error, logged as the web logs a failed request, keeps its command's name and never its arguments", async () => {
    await refuseWrites();
    // the call the web makes, and the error ioredis gives
    const refused = await runtime.store
      .createMany([PayoutOrder.parse(order(`log-direct-${run}`))], () => 'queued', Date.now())
      .then(
        () => undefined,
        (err: unknown) => err as Error & { command?: { name: string; args: unknown[] } },
      );
    expect(refused?.message).toMatch(/OOM command not allowed/);
    expect(JSON.stringify(refused!.command!.args)).toContain(NAME); // what would have been logged
    const before = lines.length;
    log.error({ err: refused }, 'request failed');
    log.error(refused);
    log.child({ reqId: 'r1' }).error({ err: refused }, 'request failed');
    const logged = lines
      .slice(before)
      .map((l) => JSON.parse(l) as { msg: string; err: { type: string; message: string; command: unknown; stack: string } });
    expect(logged).toHaveLength(3);
    for (const line of logged) {
      expect(line.err.command).toEqual({ name: expect.stringMatching(/^eval(sha)?$/) });
      expect(line.err.message).toMatch(/^OOM command not allowed/);
      expect(line.err.stack).toMatch(/\n\s+at /);
    }
    expectNoSecretLogged();
  });
});
