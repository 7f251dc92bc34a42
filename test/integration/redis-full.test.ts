import http from 'node:http';
import type { RunningSandbox } from 'bank131-sandbox';
import Fastify from 'fastify';
import { Redis, ReplyError } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installErrorHandling } from '../../src/http/errors.js';
import { freePort, startLocalRedis, type LocalRedis } from '../../src/local-redis.js';
import { PayoutStore } from '../../src/store/payout-store.js';
import { RETRY_AFTER_S, redisTrouble } from '../../src/store/redis-errors.js';
import { keyPath } from '../support/keys.js';
import { runEntry, type RunningEntry } from '../support/processes.js';
import { startTestSandbox } from '../support/sandbox.js';
import { eventually, sleep } from '../support/wait.js';

/**
 * Redis full (maxmemory reached, noeviction): it answers, but refuses every write. Requests must be
 * answered 503 with Retry-After (never 500), /readyz must say so, the logs must say it a few times
 * rather than thousands of times a second, and nothing accepted may be lost: once memory is freed,
 * every accepted payout finishes and is reported. Then what counts as Redis away or refusing.
 */

const API_KEY = 'key-full-0123456789abcdef';
const PREFIX = '{full}';
const PROJECT = 'full-project';
/** The outage reporter's interval (REDIS_RETRY_MAX_MS): the unit the log budget is counted in. */
const INTERVAL_MS = RETRY_AFTER_S * 1000;

interface Proc {
  running: RunningEntry;
  /** Every stdout line, parsed (pino JSON), in order. */
  lines: Array<{ time: number; level: number; msg: string } & Record<string, unknown>>;
}

function start(entry: string, env: Record<string, string>): Proc {
  const proc: Proc = { running: undefined as unknown as RunningEntry, lines: [] };
  let partial = '';
  proc.running = runEntry(entry, env, {
    keep: 256 * 1024,
    onStdout: (chunk) => {
      const parts = (partial + chunk).split('\n');
      partial = parts.pop() ?? '';
      for (const line of parts) if (line.trim()) proc.lines.push(JSON.parse(line));
    },
  });
  return proc;
}

const said = (p: Proc, text: string) => p.lines.some((l) => l.msg.includes(text));

let redis: LocalRedis;
let admin: Redis;
let sandbox: RunningSandbox;
let receiver: http.Server;
let web: Proc;
let worker: Proc;
let webUrl: string;
/** Callback event types by payout id, as upstream heard them. */
const callbacks = new Map<string, string[]>();

beforeAll(async () => {
  redis = await startLocalRedis();
  admin = new Redis(redis.url, { maxRetriesPerRequest: null });
  receiver = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      const event = JSON.parse(body) as { type: string; payout: { id: string } };
      callbacks.set(event.payout.id, [...(callbacks.get(event.payout.id) ?? []), event.type]);
      res.end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const webPort = await freePort();
  webUrl = `http://127.0.0.1:${webPort}`;
  // The bank takes a moment per step, so payouts are in every step when Redis fills up. Its own
  // bank is in the suite's Redis, not the one this test fills.
  sandbox = await startTestSandbox(
    {
      readyDelayMs: 300,
      finishDelayMs: 300,
      webhookRetryBaseMs: 50,
      webhookRetryMaxMs: 1_000,
      webhookMaxAttempts: 1_000,
      webhookUrl: `${webUrl}/webhooks/bank131`,
    },
    { project: PROJECT },
  );
  const common = {
    REDIS_URL: redis.url,
    REDIS_PREFIX: PREFIX,
    BANK131_BASE_URL: sandbox.url,
    BANK131_PROJECT: PROJECT,
    BANK131_PRIVATE_KEY_FILE: keyPath('partner-private'),
    BANK131_PUBLIC_KEY_FILE: keyPath('bank-public'),
    BANK131_MAX_RPS: '1000',
    CALLBACK_ALLOW_PRIVATE: 'true',
    RECONCILE_INTERVAL_MS: '2000',
    RECONCILE_AFTER_MS: '1000',
    SHUTDOWN_TIMEOUT_MS: '10000',
  };
  web = start('src/web-process.ts', { ...common, HOST: '127.0.0.1', PORT: String(webPort), API_KEYS: API_KEY });
  const callbackSecret = 'whsec_a3iS1HBpNNtA8EuicVqomG22FE2tSUDSW1Ltk2V+7yo=';
  worker = start('workers/worker-process.ts', {
    ...common,
    CALLBACK_SECRET: callbackSecret,
    METRICS_PORT: '0',
    JOB_LOCK_MS: '3000',
    STALLED_INTERVAL_MS: '1000',
  });
  await eventually(
    () => said(web, 'web process ready') && said(worker, 'worker process ready'),
    30_000,
    'the web and the worker to be ready',
    50,
  );
});

afterAll(async () => {
  for (const p of [web, worker]) p?.running.child.kill('SIGKILL');
  await Promise.all([web, worker].map((p) => p?.running.exit));
  admin?.disconnect();
  await sandbox?.close();
  await new Promise((resolve) => receiver?.close(resolve));
  await redis?.stop();
});

let seq = 0;
async function post(id = `full-${Date.now().toString(36)}-${++seq}`) {
  const res = await fetch(`${webUrl}/v1/payouts`, {
    method: 'POST',
    headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      id,
      amount_details: { amount: 10_000 + seq, currency: 'rub' },
      recipient: { full_name: 'Ivanov Ivan Ivanovich' },
      encrypted_card: { number_hash: 'sandbox_ok_4242' },
      callback_url: `http://127.0.0.1:${(receiver.address() as { port: number }).port}/callbacks`,
    }),
  });
  return {
    id,
    status: res.status,
    retryAfter: res.headers.get('retry-after'),
    body: (await res.json()) as { error?: { code: string; message: string } },
  };
}

const usedMemory = async () => Number(/^used_memory:(\d+)/m.exec(await admin.info('memory'))?.[1]);

/**
 * Fills Redis to maxmemory as a growing backlog would: a limit a little above what is used, then
 * filler until a write is refused. Then the limit goes a little below what is used, so that a
 * lapsing lock or two cannot let writes through now and then: full stays full.
 */
async function fill(): Promise<number> {
  await admin.config('SET', 'maxmemory', String((await usedMemory()) + 256 * 1024));
  let n = 0;
  for (;;) {
    try {
      await admin.set(`filler:${n}`, 'x'.repeat(16 * 1024));
      n += 1;
    } catch (err) {
      expect((err as Error).message).toMatch(/^OOM /);
      break;
    }
  }
  await admin.config('SET', 'maxmemory', String((await usedMemory()) - 128 * 1024));
  return n;
}

describe('Redis full (maxmemory, noeviction)', () => {
  it('refusals are 503 with Retry-After, /readyz says why, the logs stay quiet, and every accepted payout finishes once memory is freed', async () => {
    const accepted: string[] = [];
    for (let i = 0; i < 20; i++) {
      const res = await post();
      expect(res.status, JSON.stringify(res.body)).toBe(202);
      accepted.push(res.id);
    }
    const fillers = await fill();
    const fullAt = Date.now();

    // Two intervals of traffic against a full Redis: every answer a 202 (a write that fit) or a 503 with Retry-After.
    const answers: Array<Awaited<ReturnType<typeof post>>> = [];
    while (Date.now() < fullAt + 2 * INTERVAL_MS) {
      const res = await post();
      answers.push(res);
      if (res.status === 202) accepted.push(res.id);
      await sleep(100);
    }
    const refused = answers.filter((a) => a.status !== 202);
    expect(refused.length, 'a full Redis refuses payouts').toBeGreaterThan(answers.length / 2);
    for (const a of refused)
      expect(a).toMatchObject({ status: 503, retryAfter: String(RETRY_AFTER_S), body: { error: { code: 'unavailable' } } });

    const ready = await fetch(`${webUrl}/readyz`);
    expect(ready.status).toBe(503);
    const readyBody = (await ready.json()) as { error: { code: string; message: string } };
    expect(readyBody.error.code).toBe('unavailable');
    expect(readyBody.error.message).toMatch(/^not ready: Redis refuses writes: OOM command not allowed/);

    // Each process says so, and then at most a few lines per interval (the access log's one line
    // per response, asked for by ACCESS_LOG, aside).
    for (const [name, p] of [
      ['web', web],
      ['worker', worker],
    ] as const) {
      expect(
        p.lines.some((l) => l.msg.startsWith('Redis refuses commands') && l.msg.includes('OOM')),
        `${name} reports the refusal`,
      ).toBe(true);
      for (let from = fullAt; from < fullAt + 2 * INTERVAL_MS; from += INTERVAL_MS) {
        const lines = p.lines.filter((l) => l.time >= from && l.time < from + INTERVAL_MS && l.msg !== 'request');
        expect(
          lines.length,
          `${name}, ${from - fullAt} ms after Redis filled up:\n${lines.map((l) => JSON.stringify(l)).join('\n')}`,
        ).toBeLessThan(10);
      }
      expect(p.running.stderr()).toBe('');
    }

    // Nothing accepted is lost while full (reads still work)...
    const store = new PayoutStore(admin, PREFIX);
    expect((await store.getMany(accepted)).filter((r) => r === null)).toEqual([]);

    // ...and once memory is freed, every accepted payout is paid and reported.
    await admin.config('SET', 'maxmemory', '0');
    for (let n = 0; n < fillers; n += 500)
      await admin.del(...Array.from({ length: Math.min(500, fillers - n) }, (_, i) => `filler:${n + i}`));
    const freedAt = Date.now();
    const reported = () => accepted.every((id) => callbacks.get(id)?.includes('payout.succeeded'));
    await eventually(reported, 90_000, 'every accepted payout to be reported succeeded', 200);
    expect((await store.getMany(accepted)).map((r) => r?.state)).toEqual(accepted.map(() => 'succeeded'));
    for (const p of [web, worker]) {
      const over = () => p.lines.some((l) => l.time >= freedAt && l.msg.startsWith('Redis accepts commands again'));
      await eventually(over, 2 * INTERVAL_MS, 'the end of the refusal to be reported', 100);
    }
  }, 180_000);

  it("what a full Redis answers is classified as a refusal; a script's own bug is not", async () => {
    const probe = new Redis(redis.url, { maxRetriesPerRequest: 0 });
    const key = `${PREFIX}:probe`;
    const errorOf = (p: Promise<unknown>) =>
      p.then(
        () => null,
        (err: Error) => err,
      );
    try {
      const bug = await errorOf(probe.eval('return nil + 1', 0));
      expect(bug, 'a Lua runtime error').toBeInstanceOf(ReplyError);
      expect(redisTrouble(bug)).toBeNull();
      const fillers = await fill();
      try {
        const refusals = {
          command: await errorOf(probe.set(key, '1')),
          script: await errorOf(probe.eval("return redis.call('SET', KEYS[1], '1')", 1, key)),
          transaction: await errorOf(probe.multi().set(key, '1').incr(key).exec()),
        };
        for (const [how, err] of Object.entries(refusals)) {
          expect(err, how).toBeInstanceOf(Error);
          const reason = expect.stringMatching(/^OOM command not allowed when used memory > 'maxmemory'/);
          expect(redisTrouble(err), `${how}: ${err?.message}`).toEqual({ kind: 'refusing', reason });
        }
      } finally {
        await admin.config('SET', 'maxmemory', '0');
        for (let n = 0; n < fillers; n += 500)
          await admin.del(...Array.from({ length: Math.min(500, fillers - n) }, (_, i) => `filler:${n + i}`));
      }
    } finally {
      probe.disconnect();
    }
  });
});

const OOM = "OOM command not allowed when used memory > 'maxmemory'.";
const EXECABORT = 'EXECABORT Transaction discarded because of previous errors.';
const named = (name: string, message: string) => Object.assign(new Error(message), { name });
const coded = (code: string, message: string) => Object.assign(new Error(message), { code });

describe('what counts as Redis refusing or away (src/store/redis-errors.ts)', () => {
  const refusing: Array<[string, Error]> = [
    ['OOM', new ReplyError(OOM)],
    ['OOM in a script (Redis 7)', new ReplyError(`${OOM} script: d96ca626f1ea141b44a856b312fc636d99aa0c9d, on @user_script:73.`)],
    [
      'OOM in a script (Redis 6)',
      new ReplyError(`ERR Error running script (call to f_d96ca626f1ea): @user_script:73: @user_script: 73: -${OOM} `),
    ],
    ['READONLY', new ReplyError("READONLY You can't write against a read only replica.")],
    ['LOADING', new ReplyError('LOADING Redis is loading the dataset in memory')],
    ['MASTERDOWN', new ReplyError("MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.")],
    ['CLUSTERDOWN', new ReplyError('CLUSTERDOWN The cluster is down')],
    ['TRYAGAIN', new ReplyError('TRYAGAIN Multiple keys request during rehashing of slot')],
    ['BUSY', new ReplyError('BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.')],
    ['MISCONF', new ReplyError("MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk.")],
    ['NOREPLICAS', new ReplyError('NOREPLICAS Not enough good replicas to write.')],
    ['EXECABORT after an OOM', Object.assign(new ReplyError(EXECABORT), { previousErrors: [new ReplyError(OOM)] })],
    ['BullMQ wrapping one', new Error(`Failed to add repeatable job for next iteration: ${OOM}`)],
    ['an error caused by one', new Error('could not record the payout', { cause: new ReplyError(OOM) })],
  ];
  it.each(refusing)('%s: refusing', (_, err) => {
    expect(redisTrouble(err)?.kind).toBe('refusing');
    expect(redisTrouble(err)?.reason).not.toMatch(/script:|user_script|^ERR|^Failed/);
  });

  const away: Array<[string, Error]> = [
    ['connection refused', coded('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:6379')],
    ['connection reset', coded('ECONNRESET', 'read ECONNRESET')],
    ['closed', new Error('Connection is closed.')],
    ['no offline queue', new Error("Stream isn't writeable and enableOfflineQueue options is false")],
    [
      'MaxRetriesPerRequestError',
      named('MaxRetriesPerRequestError', 'Reached the max retries per request limit (which is 1). Refer to "maxRetriesPerRequest" option…'),
    ],
    ['no answer in time', new Error('Command timed out')],
    [
      'no node of a cluster',
      Object.assign(new Error('Failed to refresh slots cache.'), { lastNodeError: coded('ECONNREFUSED', 'connect ECONNREFUSED') }),
    ],
    ['a cluster not ready', new Error("Cluster isn't ready and enableOfflineQueue options is false")],
    ['BullMQ wrapping one', new Error('Failed to add repeatable job for next iteration: connect ECONNREFUSED 127.0.0.1:6379')],
  ];
  it.each(away)('%s: unreachable', (_, err) => expect(redisTrouble(err)?.kind).toBe('unreachable'));

  const ours: Array<[string, unknown]> = [
    [
      'a Lua runtime error',
      new ReplyError("ERR user_script:5: Script attempted to access nonexistent global variable 'x' script: 1a2b3c, on @user_script:5."),
    ],
    [
      'EXECABORT after a bad command',
      Object.assign(new ReplyError(EXECABORT), { previousErrors: [new ReplyError("ERR wrong number of arguments for 'hset'")] }),
    ],
    ['WRONGTYPE', new ReplyError('WRONGTYPE Operation against a key holding the wrong kind of value')],
    ['a TypeError', new TypeError("Cannot read properties of undefined (reading 'state')")],
    ['our own refusal', new Error('illegal payout transition created -> succeeded')],
    ['not an error', 'OOM command not allowed'],
  ];
  it.each(ours)('%s: a bug of ours, not Redis', (_, err) => expect(redisTrouble(err)).toBeNull());
});

describe('the error handler (src/http/errors.ts)', () => {
  it('answers Redis errors 503 with Retry-After and hands them to the outage report; a bug stays 500', async () => {
    const reported: Error[] = [];
    const app = Fastify({ logger: false });
    installErrorHandling(app, { reportRedisError: (err) => reported.push(err) });
    const errors: Record<string, Error> = {
      full: new ReplyError(`${OOM} script: d96ca626f1ea141b44a856b312fc636d99aa0c9d, on @user_script:73.`),
      away: named('MaxRetriesPerRequestError', 'Reached the max retries per request limit (which is 1).'),
      bug: new TypeError("Cannot read properties of undefined (reading 'state')"),
    };
    app.get('/:what', async (req) => {
      throw errors[(req.params as { what: string }).what];
    });
    try {
      const full = await app.inject({ method: 'GET', url: '/full' });
      expect(full.statusCode).toBe(503);
      expect(full.headers['retry-after']).toBe(String(RETRY_AFTER_S));
      expect(full.json()).toEqual({ error: { code: 'unavailable', message: expect.stringMatching(/refuses writes/) } });
      const away = await app.inject({ method: 'GET', url: '/away' });
      expect(away.statusCode).toBe(503);
      expect(away.headers['retry-after']).toBe(String(RETRY_AFTER_S));
      expect(reported).toEqual([errors.full, errors.away]);
      const bug = await app.inject({ method: 'GET', url: '/bug' });
      expect(bug.statusCode).toBe(500);
      expect(bug.headers['retry-after']).toBeUndefined();
      expect(bug.json()).toMatchObject({ error: { code: 'internal_error' } });
      expect(reported).toHaveLength(2);
    } finally {
      await app.close();
    }
  });
});
