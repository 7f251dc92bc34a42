import { createPrivateKey, createPublicKey } from 'node:crypto';
import { describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { ConfigError, exitOnConfigError } from '../../src/settings.js';
import { keyPath, pem } from '../support/keys.js';

const base = {
  BANK131_BASE_URL: 'https://demo.bank131.ru/',
  BANK131_PROJECT: 'project-1',
  BANK131_PRIVATE_KEY_FILE: keyPath('partner-private'),
  BANK131_PUBLIC_KEY_FILE: keyPath('bank-public'),
  API_KEYS: 'key-aaaaaaaaaaaaaaaa, key-bbbbbbbbbbbbbbbb',
  CALLBACK_SECRET: 'callback-secret-0123456789',
};

/** The ConfigError that loadConfig throws for `env`; fails the test when it returns instead. */
const configErrorFor = (env: Record<string, string>): ConfigError => {
  let thrown: unknown;
  try {
    loadConfig(env);
  } catch (err) {
    thrown = err;
  }
  expect(thrown, 'loadConfig should have thrown').toBeInstanceOf(ConfigError);
  return thrown as ConfigError;
};

/** Every problem reported, in any order: exactly these, no fewer, no more. */
const expectProblems = (env: Record<string, string>, expected: string[]) =>
  expect([...configErrorFor(env).problems].sort()).toEqual([...expected].sort());

describe('loadConfig', () => {
  it('reads a complete environment into one typed object with defaults', () => {
    const { bank, ...c } = loadConfig(base);
    expect(c).toEqual({
      redisUrl: 'redis://127.0.0.1:6379',
      redisPrefix: '{b131}',
      port: 3000,
      host: '127.0.0.1',
      publicUrl: 'http://127.0.0.1:3000',
      logLevel: 'info',
      apiKeys: ['key-aaaaaaaaaaaaaaaa', 'key-bbbbbbbbbbbbbbbb'],
      board: null,
      callbackSecret: 'callback-secret-0123456789',
      payoutConcurrency: 16,
      timing: { reconcileIntervalMs: 30_000, reconcileAfterMs: 300_000, walletRetryMs: 60_000, walletWaitMs: 86_400_000 },
    });
    const { privateKey, publicKey, ...rest } = bank;
    expect(rest).toEqual({
      baseUrl: 'https://demo.bank131.ru',
      project: 'project-1',
      submerchant: undefined,
      widgetUrl: 'https://widget-demo.bank131.ru',
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
