import { createPrivateKey, createPublicKey } from 'node:crypto';
import { describe, expect, it, vi } from 'vitest';
import { ConfigError } from '../../src/settings/env.js';
import { loadWebSettings as loadWebConfig } from '../../src/settings/web.js';
import { loadWorkerSettings as loadWorkerConfig } from '../../src/settings/worker.js';
import { exitOnStartupError as exitOnConfigError, StartupError } from '../../src/process/exit.js';
import { maskUrl } from '../../src/store/redis-errors.js';
import { keyPath, pem } from '../support/keys.js';

const base = {
  BANK131_BASE_URL: 'https://demo.bank131.ru/',
  BANK131_PROJECT: 'project-1',
  BANK131_PRIVATE_KEY_FILE: keyPath('partner-private'),
  BANK131_PUBLIC_KEY_FILE: keyPath('bank-public'),
  API_KEYS: 'key-aaaaaaaaaaaaaaaa, key-bbbbbbbbbbbbbbbb',
  CALLBACK_SECRET: 'whsec_a3iS1HBpNNtA8EuicVqomG22FE2tSUDSW1Ltk2V+7yo=',
};

/**
 * Both processes' settings from one environment, as a deployment that runs both gives them: every
 * problem either one names, once.
 */
const loadConfig = (env: Record<string, string>) => {
  const problems = new Set<string>();
  const read = <T>(load: () => T): T | null => {
    try {
      return load();
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      for (const p of err.problems) problems.add(p);
      return null;
    }
  };
  const web = read(() => loadWebConfig(env));
  const worker = read(() => loadWorkerConfig(env));
  if (!web || !worker) throw new ConfigError([...problems]);
  return { ...web, ...worker };
};

/** The ConfigError that loadConfig throws for `env`; fails the test when it returns instead. */
const configErrorFor = (env: Record<string, string>, load: (env: Record<string, string>) => unknown = loadConfig): ConfigError => {
  let thrown: unknown;
  try {
    load(env);
  } catch (err) {
    thrown = err;
  }
  expect(thrown, 'loadConfig should have thrown').toBeInstanceOf(ConfigError);
  return thrown as ConfigError;
};

/** Every problem reported, in any order: exactly these, no fewer, no more. */
const expectProblems = (env: Record<string, string>, expected: string[], load?: (env: Record<string, string>) => unknown) =>
  expect([...configErrorFor(env, load).problems].sort()).toEqual([...expected].sort());

describe('loadConfig', () => {
  it('reads a complete environment into one typed object with defaults', () => {
    const { bank, ...c } = loadConfig(base);
    expect(c).toEqual({
      redisUrl: 'redis://127.0.0.1:6379',
      redisCluster: false,
      redisPrefix: '{b131}',
      redisConnectTimeoutMs: 5_000,
      shutdownTimeoutMs: 35_000,
      metricsPort: 9464,
      metricsHost: '127.0.0.1',
      callbackTimeoutMs: 10_000,
      port: 3000,
      host: '127.0.0.1',
      admin: null,
      trustProxy: false,
      widgetUrl: 'https://widget-demo.bank131.ru',
      publicUrl: 'http://127.0.0.1:3000',
      logLevel: 'info',
      logPretty: false,
      callbackAllowPrivate: false,
      collectPayerName: null,
      collectPayerHost: null,
      accessLog: true,
      apiKeys: ['key-aaaaaaaaaaaaaaaa', 'key-bbbbbbbbbbbbbbbb'],
      apiRateLimitPerMinute: null,
      balanceCacheMs: 5_000,
      bankProbeMs: 60_000,
      balancePollMs: 60_000,
      approval: { rules: null, reviewAbove: null, reviewTtlMs: 86_400_000 },
      board: null,
      console: null,
      callbackSecret: 'whsec_a3iS1HBpNNtA8EuicVqomG22FE2tSUDSW1Ltk2V+7yo=',
      payoutConcurrency: 16,
      concurrencyByQueue: {},
      stalled: { lockDurationMs: 30_000, stalledIntervalMs: 30_000 },
      timing: {
        reconcileIntervalMs: 30_000,
        reconcileAfterMs: 300_000,
        walletRetryMs: 60_000,
        walletWaitMs: 86_400_000,
        collectTtlMs: 259_200_000,
        retentionMs: 30 * 86_400_000,
        retentionIntervalMs: 3_600_000,
      },
    });
    expect(loadConfig({ ...base, PAYOUT_RETENTION_DAYS: '7' }).timing.retentionMs).toBe(7 * 86_400_000);
    expectProblems({ ...base, PAYOUT_RETENTION_DAYS: '0' }, ['PAYOUT_RETENTION_DAYS: must be greater than 0']);
    expectProblems({ ...base, PAYOUT_RETENTION_DAYS: '1.5' }, ['PAYOUT_RETENTION_DAYS: must be a whole number']);
    const { privateKey, publicKey, ...rest } = bank;
    expect(rest).toEqual({
      baseUrl: 'https://demo.bank131.ru',
      project: 'project-1',
      submerchant: undefined,
      apiVersion: 'v2',
      timeoutMs: 30_000,
      connectTimeoutMs: 5_000,
      maxRps: 50,
    });
    expect(privateKey.type).toBe('private');
    expect(privateKey.equals(createPrivateKey(pem('partner-private')))).toBe(true);
    expect(publicKey.type).toBe('public');
    expect(publicKey.equals(createPublicKey(pem('bank-public')))).toBe(true);
  });

  it('takes PEM keys inline too, including with escaped newlines', () => {
    const { BANK131_PRIVATE_KEY_FILE: _a, BANK131_PUBLIC_KEY_FILE: _b, ...rest } = base;
    const escaped = pem('partner-private').replaceAll('\n', '\\n');
    expect(escaped).not.toContain('\n');
    const c = loadConfig({ ...rest, BANK131_PRIVATE_KEY: escaped, BANK131_PUBLIC_KEY: pem('bank-public') });
    expect(c.bank.privateKey.type).toBe('private');
    expect(c.bank.privateKey.equals(createPrivateKey(pem('partner-private')))).toBe(true);
    expect(c.bank.publicKey.type).toBe('public');
    expect(c.bank.publicKey.equals(createPublicKey(pem('bank-public')))).toBe(true);
  });

  it('names every missing setting at once', () => {
    expectProblems({}, [
      'API_KEYS: is required',
      'CALLBACK_SECRET: is required',
      'BANK131_BASE_URL: is required',
      'BANK131_PROJECT: is required',
      'BANK131_PRIVATE_KEY: is required (give the PEM inline, or a path in BANK131_PRIVATE_KEY_FILE)',
      'BANK131_PUBLIC_KEY: is required (give the PEM inline, or a path in BANK131_PUBLIC_KEY_FILE)',
    ]);
  });

  it('names the setting and the problem for bad values, one problem each', () => {
    expectProblems(
      {
        ...base,
        PORT: 'eighty',
        BANK131_BASE_URL: 'ftp://bank',
        PAYOUT_CONCURRENCY: '0',
        REDIS_URL: 'http://localhost',
        LOG_LEVEL: 'loud',
        BANK131_API_VERSION: 'v3',
        BANK131_PRIVATE_KEY_FILE: '/nonexistent/key.pem',
        BANK131_PUBLIC_KEY: 'not a pem',
        // empty counts as unset: no "both set" complaint alongside BANK131_PUBLIC_KEY
        BANK131_PUBLIC_KEY_FILE: '',
        BOARD_USER: 'ops',
        REDIS_CONNECT_TIMEOUT_MS: '0',
        METRICS_PORT: '70000',
      },
      [
        'PORT: must be a port number',
        'BANK131_BASE_URL: must be an absolute http(s) URL',
        'PAYOUT_CONCURRENCY: must be greater than 0',
        'REDIS_URL: must be a redis:// or rediss:// URL',
        'LOG_LEVEL: must be one of fatal, error, warn, info, debug, trace, silent',
        'BANK131_API_VERSION: must be v1 or v2',
        'BANK131_PRIVATE_KEY_FILE: cannot read /nonexistent/key.pem (ENOENT)',
        'BANK131_PUBLIC_KEY: not a valid PEM public key',
        'BOARD_USER and BOARD_PASSWORD: give both to enable the queue board, or neither',
        'REDIS_CONNECT_TIMEOUT_MS: must be greater than 0',
        'METRICS_PORT: must be at most 65535',
      ],
    );
  });

  it('refuses a key given both inline and as a file, and a short API key', () => {
    expectProblems({ ...base, BANK131_PUBLIC_KEY: pem('bank-public'), API_KEYS: 'short' }, [
      'BANK131_PUBLIC_KEY and BANK131_PUBLIC_KEY_FILE are both set; give only one',
      'API_KEYS: each key must be at least 16 characters',
    ]);
  });

  it('prints as one readable message, no stack needed', () => {
    const env = { ...base, BANK131_PROJECT: '' };
    expect(() => loadConfig(env)).toThrow(ConfigError);
    const err = configErrorFor(env);
    expect(err.problems).toEqual(['BANK131_PROJECT: is required']);
    expect(err.message).toBe('invalid configuration:\n  - BANK131_PROJECT: is required');

    // exitOnConfigError writes only that message (no stack) and exits with EX_CONFIG.
    const write = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    const exit = vi.spyOn(process, 'exit').mockImplementation((code) => {
      throw new Error(`exit ${String(code)}`);
    });
    try {
      expect(() => exitOnConfigError(err)).toThrow('exit 78');
      expect(write.mock.calls).toEqual([['invalid configuration:\n  - BANK131_PROJECT: is required\n']]);
      const other = new Error('not a config problem');
      expect(() => exitOnConfigError(other)).toThrow(other);
      expect(exit).toHaveBeenCalledTimes(1);
    } finally {
      write.mockRestore();
      exit.mockRestore();
    }
  });
});

/** Calling the bank: both processes do (the web for the card collection pages). */
const bankClient = {
  BANK131_BASE_URL: base.BANK131_BASE_URL,
  BANK131_PROJECT: base.BANK131_PROJECT,
  BANK131_PRIVATE_KEY_FILE: base.BANK131_PRIVATE_KEY_FILE,
};
const web = { ...bankClient, BANK131_PUBLIC_KEY_FILE: base.BANK131_PUBLIC_KEY_FILE, API_KEYS: base.API_KEYS };
const worker = { ...bankClient, BANK131_PUBLIC_KEY_FILE: base.BANK131_PUBLIC_KEY_FILE, CALLBACK_SECRET: base.CALLBACK_SECRET };
const BANK_CLIENT_MISSING = [
  'BANK131_BASE_URL: is required',
  'BANK131_PROJECT: is required',
  'BANK131_PRIVATE_KEY: is required (give the PEM inline, or a path in BANK131_PRIVATE_KEY_FILE)',
];
const SECRET_PROBLEM =
  'CALLBACK_SECRET: must be whsec_ followed by base64 of at least 24 random bytes ' +
  `(make one: node -e "console.log('whsec_'+require('crypto').randomBytes(32).toString('base64'))")`;

describe('settings per process', () => {
  it('the web reads only what it serves with: no callback secret, no worker settings', () => {
    const c = loadWebConfig(web);
    expect(c.apiKeys).toEqual(['key-aaaaaaaaaaaaaaaa', 'key-bbbbbbbbbbbbbbbb']);
    expect(c.bank.publicKey.equals(createPublicKey(pem('bank-public')))).toBe(true);
    // the card collection pages ask the bank for widget tokens and card facts
    expect(c.bank.privateKey.equals(createPrivateKey(pem('partner-private')))).toBe(true);
    // unset: the card page names the host, never this software (test/unit/collect-payer-setting.test.ts)
    expect(c.collectPayerName).toBeNull();
    expect(c.timing.collectTtlMs).toBe(72 * 3_600_000);
    expect(loadWebConfig({ ...web, COLLECT_TTL: '30m' }).timing.collectTtlMs).toBe(30 * 60_000);
    expectProblems({ ...web, COLLECT_TTL: '72' }, ['COLLECT_TTL: must be a duration such as 72h, 30m, 90s or 7d'], loadWebConfig);
    expect(c).not.toHaveProperty('callbackSecret');
    expect(c).not.toHaveProperty('metricsPort');
    // Worker-only settings, even bad ones, are not the web's business.
    expect(() => loadWebConfig({ ...web, CALLBACK_SECRET: 'short', PAYOUT_CONCURRENCY: 'x', METRICS_PORT: 'x' })).not.toThrow();
  });

  it('the worker reads only what it works with: no API keys, port or board login; the bank public key to verify webhook jobs', () => {
    const c = loadWorkerConfig(worker);
    expect(c.callbackSecret).toBe(base.CALLBACK_SECRET);
    expect(c.metricsPort).toBe(9464);
    expect(c.redisConnectTimeoutMs).toBe(5_000);
    expect(c.shutdownTimeoutMs).toBe(35_000);
    expect(c.bank.privateKey.equals(createPrivateKey(pem('partner-private')))).toBe(true);
    for (const key of ['apiKeys', 'port', 'host', 'publicUrl', 'board']) expect(c).not.toHaveProperty(key);
    // a webhook job is believed only once the worker has verified its signature itself
    expect(c.bank.publicKey.equals(createPublicKey(pem('bank-public')))).toBe(true);
    expect(c.callbackTimeoutMs).toBe(10_000);
    expect(c.metricsHost).toBe('127.0.0.1');
    expect(() => loadWorkerConfig({ ...worker, API_KEYS: 'short', PORT: 'x', BOARD_PASSWORD: 'short', PUBLIC_URL: 'nope' })).not.toThrow();
    expect(loadWorkerConfig({ ...worker, METRICS_PORT: '0' }).metricsPort).toBe(0);
  });

  it('each names only its own missing settings', () => {
    expectProblems(
      {},
      [
        'API_KEYS: is required',
        'BANK131_PUBLIC_KEY: is required (give the PEM inline, or a path in BANK131_PUBLIC_KEY_FILE)',
        ...BANK_CLIENT_MISSING,
      ],
      loadWebConfig,
    );
    expectProblems(
      {},
      [
        'CALLBACK_SECRET: is required',
        'BANK131_PUBLIC_KEY: is required (give the PEM inline, or a path in BANK131_PUBLIC_KEY_FILE)',
        'BANK131_BASE_URL: is required',
        'BANK131_PROJECT: is required',
        'BANK131_PRIVATE_KEY: is required (give the PEM inline, or a path in BANK131_PRIVATE_KEY_FILE)',
      ],
      loadWorkerConfig,
    );
  });

  it('CALLBACK_SECRET is whsec_ and the base64 of at least 24 bytes, and the message says how to make one', () => {
    const b64 = (n: number) => Buffer.alloc(n, 7).toString('base64');
    for (const good of [`whsec_${b64(24)}`, `whsec_${b64(32)}`, `whsec_${b64(64)}`]) {
      expect(loadWorkerConfig({ ...worker, CALLBACK_SECRET: good }).callbackSecret).toBe(good);
    }
    // the published verifiers accept only canonical, padded base64, so neither does the service
    const bad: Array<[string, string]> = [
      ['callback-secret-0123456789', 'it does not start with whsec_'],
      [b64(32), 'it does not start with whsec_'],
      [`whsec_${b64(23)}`, 'it decodes to 23 bytes, fewer than 24'],
      [`whsec_${b64(32)}!`, 'what follows whsec_ is not standard base64 (its = padding is missing)'],
      [`whsec_${b64(32).replace(/=+$/, '')}`, 'what follows whsec_ is not standard base64 (its = padding is missing)'],
      ['whsec_', 'nothing follows whsec_'],
      [`WHSEC_${b64(32)}`, 'it does not start with whsec_'],
      [`whsec_ ${b64(32)}`, 'what follows whsec_ is not standard base64 (it holds whitespace)'],
      [`whsec_${b64(65)}`, 'it decodes to 65 bytes, more than the 64 the Standard Webhooks specification allows'],
    ];
    for (const [secret, why] of bad)
      expectProblems({ ...worker, CALLBACK_SECRET: secret }, [`${SECRET_PROBLEM}, but ${why}`], loadWorkerConfig);
  });

  it('a short BOARD_PASSWORD is called short, not missing', () => {
    expectProblems(
      { ...web, BOARD_USER: 'ops', BOARD_PASSWORD: 'short' },
      ['BOARD_PASSWORD: must be at least 12 characters'],
      loadWebConfig,
    );
    expectProblems(
      { ...web, BOARD_PASSWORD: 'long-enough-password' },
      ['BOARD_USER and BOARD_PASSWORD: give both to enable the queue board, or neither'],
      loadWebConfig,
    );
    expect(loadWebConfig({ ...web, BOARD_USER: 'ops', BOARD_PASSWORD: 'long-enough-password' }).board).toEqual({
      user: 'ops',
      password: 'long-enough-password',
      readOnly: true,
    });
  });

  it("worker tuning: per-queue concurrency and BullMQ's lock and stalled check are settings", () => {
    const c = loadWorkerConfig({
      ...worker,
      WEBHOOK_CONCURRENCY: '64',
      START_CONCURRENCY: '4',
      JOB_LOCK_MS: '60000',
      STALLED_INTERVAL_MS: '15000',
    });
    expect(c.concurrencyByQueue).toEqual({ webhooks: 64, start: 4 });
    expect(c.stalled).toEqual({ lockDurationMs: 60_000, stalledIntervalMs: 15_000 });
    expectProblems(
      { ...worker, JOB_LOCK_MS: '10', NOTIFY_CONCURRENCY: '0' },
      ['JOB_LOCK_MS: must be at least 1000', 'NOTIFY_CONCURRENCY: must be greater than 0'],
      loadWorkerConfig,
    );
  });

  it('start-up timeouts are settings of both processes', () => {
    const env = { REDIS_CONNECT_TIMEOUT_MS: '1500', SHUTDOWN_TIMEOUT_MS: '3000' };
    expect(loadWebConfig({ ...web, ...env })).toMatchObject({ redisConnectTimeoutMs: 1500, shutdownTimeoutMs: 3000 });
    expect(loadWorkerConfig({ ...worker, ...env })).toMatchObject({ redisConnectTimeoutMs: 1500, shutdownTimeoutMs: 3000 });
    expectProblems({ ...worker, SHUTDOWN_TIMEOUT_MS: 'soon' }, ['SHUTDOWN_TIMEOUT_MS: must be a number'], loadWorkerConfig);
  });
});

describe('start-up errors', () => {
  it('print one line, no stack, and exit with their own code', () => {
    const write = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    const exit = vi.spyOn(process, 'exit').mockImplementation((code) => {
      throw new Error(`exit ${String(code)}`);
    });
    try {
      expect(() => exitOnConfigError(new StartupError('REDIS_URL: cannot connect to redis://x:6379: unknown host x', 69))).toThrow(
        'exit 69',
      );
      expect(write.mock.calls).toEqual([['REDIS_URL: cannot connect to redis://x:6379: unknown host x\n']]);
    } finally {
      write.mockRestore();
      exit.mockRestore();
    }
  });

  it('mask the password of a URL', () => {
    expect(maskUrl('redis://:hunter2@redis.internal:6379/2')).toBe('redis://:***@redis.internal:6379/2');
    expect(maskUrl('rediss://app:p%40ss@redis.internal:6380')).toBe('rediss://app:***@redis.internal:6380');
    expect(maskUrl('redis://127.0.0.1:6379')).toBe('redis://127.0.0.1:6379');
  });
});

describe('REDIS_CLUSTER', () => {
  it('is true or false, off by default, and anything else is named', () => {
    expect(loadWorkerConfig(worker).redisCluster).toBe(false);
    expect(loadWorkerConfig({ ...worker, REDIS_CLUSTER: 'true' }).redisCluster).toBe(true);
    expect(loadWebConfig({ ...web, REDIS_CLUSTER: '1' }).redisCluster).toBe(true);
    expectProblems({ ...worker, REDIS_CLUSTER: 'yes' }, ['REDIS_CLUSTER: must be true or false'], loadWorkerConfig);
  });
});

describe('where operators reach the service, and whom it believes', () => {
  it('ADMIN_PORT puts /metrics, /docs and the board apart, on ADMIN_HOST (loopback by default)', () => {
    expect(loadWebConfig({ ...web, ADMIN_PORT: '9300' }).admin).toEqual({ port: 9300, host: '127.0.0.1' });
    expect(loadWebConfig({ ...web, ADMIN_PORT: '9300', ADMIN_HOST: '0.0.0.0' }).admin).toEqual({ port: 9300, host: '0.0.0.0' });
    expect(loadWebConfig(web).admin).toBeNull();
    expectProblems({ ...web, ADMIN_PORT: 'x' }, ['ADMIN_PORT: must be a port number'], loadWebConfig);
  });

  it('TRUST_PROXY is true, false, a number of hops or a list of proxy addresses', () => {
    const trust = (v: string) => loadWebConfig({ ...web, TRUST_PROXY: v }).trustProxy;
    expect([trust('true'), trust('false'), trust('2'), trust('10.0.0.0/8, 127.0.0.1')]).toEqual([true, false, 2, '10.0.0.0/8, 127.0.0.1']);
    expect(loadWebConfig(web).trustProxy).toBe(false);
    expectProblems(
      { ...web, TRUST_PROXY: 'yes please' },
      ['TRUST_PROXY: must be true, false, a number of proxy hops, or a comma-separated list of proxy addresses (CIDR allowed)'],
      loadWebConfig,
    );
  });

  it('the queue board is read-only unless BOARD_READ_ONLY is false', () => {
    const board = { BOARD_USER: 'ops', BOARD_PASSWORD: 'long-enough-password' };
    expect(loadWebConfig({ ...web, ...board }).board?.readOnly).toBe(true);
    expect(loadWebConfig({ ...web, ...board, BOARD_READ_ONLY: 'false' }).board?.readOnly).toBe(false);
    expectProblems({ ...web, BOARD_READ_ONLY: 'maybe' }, ['BOARD_READ_ONLY: must be true or false'], loadWebConfig);
  });

  it('the worker: METRICS_HOST, and CALLBACK_TIMEOUT_MS within five minutes', () => {
    expect(loadWorkerConfig({ ...worker, METRICS_HOST: '0.0.0.0', CALLBACK_TIMEOUT_MS: '2500' })).toMatchObject({
      metricsHost: '0.0.0.0',
      callbackTimeoutMs: 2_500,
    });
    expectProblems({ ...worker, CALLBACK_TIMEOUT_MS: '0' }, ['CALLBACK_TIMEOUT_MS: must be greater than 0'], loadWorkerConfig);
    expectProblems({ ...worker, CALLBACK_TIMEOUT_MS: '300001' }, ['CALLBACK_TIMEOUT_MS: must be at most 300000'], loadWorkerConfig);
  });
});
