import type { ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startLocalRedis, type LocalRedis } from '../../src/local-redis.js';
import { createRuntime } from '../../src/runtime.js';
import { RETRY_AFTER_S } from '../../src/store/redis-errors.js';
import { keyPath } from '../support/keys.js';
import { redisUrl, testPrefix } from '../support/redis.js';
import { runEntry } from '../support/processes.js';

/**
 * The web and worker processes as an operator runs them, told something wrong: each must exit
 * with one line on stderr that names the setting and the cause (no stack, no ioredis noise), or,
 * after start, keep its logs and its shutdown bounded while Redis is away.
 */

const ENTRY = { web: 'src/web-process.ts', worker: 'workers/worker-process.ts' } as const;
type Kind = keyof typeof ENTRY;

const SETTINGS: Record<Kind, Record<string, string>> = {
  web: {
    API_KEYS: 'key-aaaaaaaaaaaaaaaa',
    BANK131_PUBLIC_KEY_FILE: keyPath('bank-public'),
    PORT: '0',
    // the card collection pages call the bank too
    BANK131_BASE_URL: 'http://127.0.0.1:9',
    BANK131_PROJECT: 'project-1',
    BANK131_PRIVATE_KEY_FILE: keyPath('partner-private'),
  },
  worker: {
    BANK131_BASE_URL: 'http://127.0.0.1:9',
    BANK131_PROJECT: 'project-1',
    BANK131_PRIVATE_KEY_FILE: keyPath('partner-private'),
    // the worker checks the bank's signature on the webhooks it acts on
    BANK131_PUBLIC_KEY_FILE: keyPath('bank-public'),
    CALLBACK_SECRET: 'whsec_a3iS1HBpNNtA8EuicVqomG22FE2tSUDSW1Ltk2V+7yo=',
    METRICS_PORT: '0',
  },
};

interface Running {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Exit code (or signal name) and how long after `since` it came. */
  exited(timeoutMs: number, since?: number): Promise<{ code: number | string; afterMs: number }>;
}

/** `node --import tsx <entry>` with only the given settings (and PATH): one process, as in production. */
function run(kind: Kind, env: Record<string, string>): Running {
  const running = runEntry(ENTRY[kind], { ...SETTINGS[kind], ...env });
  const { child } = running;
  const exit = running.exit.then(({ code, signal }) => code ?? signal ?? 'unknown');
  return {
    child,
    stdout: running.stdout,
    stderr: running.stderr,
    async exited(timeoutMs, since = Date.now()) {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          child.kill('SIGKILL');
          reject(
            new Error(`${kind} did not exit within ${timeoutMs} ms; stderr: ${running.stderr()}; stdout: ${running.stdout().slice(-2000)}`),
          );
        }, timeoutMs);
      });
      try {
        const code = await Promise.race([exit, late]);
        return { code, afterMs: Date.now() - since };
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

async function until(what: string, check: () => boolean, timeoutMs: number, p?: Running): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}${p ? `; stderr: ${p.stderr()}; stdout: ${p.stdout().slice(-2000)}` : ''}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** The one line the process said on stderr, checked for the noise it must not make. */
function oneLine(p: Running): string {
  const lines = p.stderr().split('\n').filter(Boolean);
  expect(lines, p.stderr()).toHaveLength(1);
  expect(p.stderr()).not.toMatch(/\n\s+at |Unhandled error event|ioredis/);
  return lines[0]!;
}

const kinds: Kind[] = ['web', 'worker'];

describe('a Redis that cannot be reached at start-up', () => {
  it.each(kinds)('%s: refused: exits 69 naming REDIS_URL, within REDIS_CONNECT_TIMEOUT_MS', async (kind) => {
    const port = await freePort();
    const p = run(kind, { REDIS_URL: `redis://127.0.0.1:${port}`, REDIS_CONNECT_TIMEOUT_MS: '1000' });
    const { code } = await p.exited(10_000);
    expect(code).toBe(69);
    expect(oneLine(p)).toMatch(
      new RegExp(
        `^REDIS_URL: cannot connect to redis://127\\.0\\.0\\.1:${port}: connection refused .*gave up after 1000 ms \\(REDIS_CONNECT_TIMEOUT_MS\\)$`,
      ),
    );
  });

  it.each(kinds)('%s: unknown host: exits 69 naming REDIS_URL and the host', async (kind) => {
    const p = run(kind, { REDIS_URL: 'redis://no-such-redis.invalid:6379', REDIS_CONNECT_TIMEOUT_MS: '1000' });
    const { code } = await p.exited(10_000);
    expect(code).toBe(69);
    expect(oneLine(p)).toMatch(/^REDIS_URL: cannot connect to redis:\/\/no-such-redis\.invalid:6379: unknown host no-such-redis\.invalid/);
  });

  describe('with a password', () => {
    let redis: LocalRedis;
    beforeAll(async () => {
      redis = await startLocalRedis({ password: 'the-right-password-42' });
    });
    afterAll(async () => {
      await redis?.stop();
    });

    it.each(kinds)('%s: a wrong one exits 78 at once, naming REDIS_URL with the password masked', async (kind) => {
      const p = run(kind, { REDIS_URL: `redis://:not-the-password-17@127.0.0.1:${redis.port}`, REDIS_CONNECT_TIMEOUT_MS: '5000' });
      const { code, afterMs } = await p.exited(10_000);
      expect(code).toBe(78);
      expect(afterMs).toBeLessThan(5_000); // no point waiting out the bound: retrying cannot fix a password
      const line = oneLine(p);
      expect(line).toBe(
        `REDIS_URL: cannot connect to redis://:***@127.0.0.1:${redis.port}: authentication failed (wrong user name or password in REDIS_URL)`,
      );
      expect(p.stderr() + p.stdout()).not.toContain('not-the-password-17');
    });

    it('none at all exits 78 saying this Redis requires one', async () => {
      const p = run('worker', { REDIS_URL: `redis://127.0.0.1:${redis.port}` });
      const { code } = await p.exited(10_000);
      expect(code).toBe(78);
      expect(oneLine(p)).toMatch(
        new RegExp(
          `^REDIS_URL: cannot connect to redis://127\\.0\\.0\\.1:${redis.port}: authentication failed \\(this Redis requires a password`,
        ),
      );
    });

    it('the right one starts', async () => {
      const p = run('worker', { REDIS_URL: redis.url, REDIS_PREFIX: testPrefix('faults-auth') });
      try {
        await until('the worker to be ready', () => p.stdout().includes('worker process ready'), 10_000, p);
      } finally {
        p.child.kill('SIGTERM');
        await p.exited(10_000);
      }
      expect(p.stderr()).toBe('');
    });
  });
});

describe('a used port', () => {
  let blocker: Server;
  let port: number;
  beforeAll(async () => {
    blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    port = (blocker.address() as { port: number }).port;
  });
  afterAll(() => new Promise<void>((resolve) => blocker.close(() => resolve())));

  it('web: exits 69 naming PORT and HOST, no EADDRINUSE stack', async () => {
    const p = run('web', { REDIS_URL: redisUrl(), REDIS_PREFIX: testPrefix('faults-port'), PORT: String(port), HOST: '127.0.0.1' });
    const { code } = await p.exited(10_000);
    expect(code).toBe(69);
    expect(oneLine(p)).toBe(
      `PORT: ${port} is already in use on HOST 127.0.0.1 (another process listens there; stop it or choose another PORT)`,
    );
  });
});

describe('Redis lost after start', () => {
  let redis: LocalRedis;
  beforeAll(async () => {
    redis = await startLocalRedis();
  });
  afterAll(async () => {
    await redis?.stop();
  });

  it.each(kinds)(
    '%s: reports the outage in a line or two, answers 503 without a line per request, and SIGTERM exits within 2 s',
    async (kind) => {
      // Each process gets only its own settings (SETTINGS): the worker runs without API_KEYS, the web
      // without CALLBACK_SECRET. The worker looks at its schedules and for stalled jobs often, so
      // commands of its own wait for Redis when SIGTERM comes: what once held a stop for all of
      // SHUTDOWN_TIMEOUT_MS.
      const port = await freePort();
      const own: Record<string, string> =
        kind === 'web'
          ? { PORT: String(port), HOST: '127.0.0.1' }
          : { STALLED_INTERVAL_MS: '1000', JOB_LOCK_MS: '2000', RECONCILE_INTERVAL_MS: '500' };
      const p = run(kind, { REDIS_URL: redis.url, REDIS_PREFIX: testPrefix(`faults-${kind}`), SHUTDOWN_TIMEOUT_MS: '10000', ...own });
      try {
        await until(`the ${kind} to be ready`, () => p.stdout().includes(`${kind} process ready`), 10_000, p);
        await redis.stop({ keepData: true });
        await until('the outage to be reported', () => p.stdout().includes('Redis unreachable (REDIS_URL redis://127.0.0.1:'), 5_000, p);
        if (kind === 'web') await expectRefusals(`http://127.0.0.1:${port}`);
        // Several connections, queues and requests meet every failed attempt; the log gets one line
        // per interval. (An observation window: the absence of a flood cannot be polled for.)
        await new Promise((r) => setTimeout(r, 2_500));
        const logged = p
          .stdout()
          .split('\n')
          .filter((l) => /redis|ECONNREFUSED|request failed/i.test(l) && !/appendonly|process ready|"msg":"request"/.test(l));
        expect(logged.length, logged.join('\n')).toBeLessThanOrEqual(2);
        expect(p.stdout()).not.toMatch(/\\n\s+at /); // no stack
        const since = Date.now();
        p.child.kill('SIGTERM');
        const { code, afterMs } = await p.exited(12_000, since);
        expect(afterMs, p.stdout().slice(-2000)).toBeLessThan(2_000);
        expect(code).toBe(0);
        expect(p.stderr()).toBe('');
      } finally {
        if (p.child.exitCode === null) p.child.kill('SIGKILL');
        await redis.restart();
      }
    },
  );
});

/** Fifty requests while Redis is away: each one 503 `unavailable` with Retry-After, at once. */
async function expectRefusals(url: string): Promise<void> {
  const started = Date.now();
  const answers = await Promise.all(
    Array.from({ length: 50 }, (_, i) =>
      fetch(`${url}/v1/payouts`, {
        method: 'POST',
        headers: { authorization: `Bearer ${SETTINGS.web.API_KEYS}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          id: `away-${i}`,
          amount_details: { amount: 10_000, currency: 'rub' },
          recipient: { full_name: 'Ivan Ivanov' },
          encrypted_card: { number_hash: 'h' },
        }),
      }).then(async (res) => ({
        status: res.status,
        retryAfter: res.headers.get('retry-after'),
        body: (await res.json()) as { error?: { code: string } },
      })),
    ),
  );
  expect(Date.now() - started).toBeLessThan(2_000);
  for (const a of answers)
    expect(a).toMatchObject({ status: 503, retryAfter: String(RETRY_AFTER_S), body: { error: { code: 'unavailable' } } });
  const ready = await fetch(`${url}/readyz`);
  expect(ready.status).toBe(503);
  expect(await ready.json()).toMatchObject({
    error: { code: 'unavailable', message: 'not ready: Redis does not answer', checks: { redis: { ok: false } } },
  });
}

describe('the web runtime while Redis is away', () => {
  it('answers pingRedis false within the bound, and commands fail instead of hanging', async () => {
    const redis = await startLocalRedis();
    const runtime = createRuntime({ redisUrl: redis.url, prefix: testPrefix('faults-runtime'), role: 'web' });
    try {
      await until('the runtime to connect', () => runtime.redisHealthy(), 5_000);
      expect(await runtime.pingRedis(1_000)).toBe(true);
      await redis.stop({ keepData: true });
      await until('the runtime to see Redis gone', () => !runtime.redisHealthy(), 5_000);
      let started = Date.now();
      expect(await runtime.pingRedis(1_000)).toBe(false);
      expect(Date.now() - started).toBeLessThan(1_000);
      started = Date.now();
      await expect(runtime.store.get('nothing')).rejects.toThrow();
      await expect(runtime.queues.start.add('start', { payoutId: 'p' })).rejects.toThrow();
      expect(Date.now() - started).toBeLessThan(1_000);
      await redis.restart();
      await until('the runtime to reconnect', () => runtime.redisHealthy(), 10_000);
      expect(await runtime.pingRedis(1_000)).toBe(true);
    } finally {
      await runtime.close();
      await redis.stop();
    }
  });
});
