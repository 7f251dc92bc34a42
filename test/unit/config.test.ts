import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { ConfigError } from '../../src/settings.js';
import { keyPath, pem } from '../support/keys.js';

const base = {
  BANK131_BASE_URL: 'https://demo.bank131.ru/',
  BANK131_PROJECT: 'project-1',
  BANK131_PRIVATE_KEY_FILE: keyPath('partner-private'),
  BANK131_PUBLIC_KEY_FILE: keyPath('bank-public'),
  API_KEYS: 'key-aaaaaaaaaaaaaaaa, key-bbbbbbbbbbbbbbbb',
  CALLBACK_SECRET: 'callback-secret-0123456789',
};

const problemsOf = (env: Record<string, string>) => {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  throw new Error('expected a ConfigError');
};

describe('loadConfig', () => {
  it('reads a complete environment into one typed object with defaults', () => {
    const c = loadConfig(base);
    expect(c.bank.baseUrl).toBe('https://demo.bank131.ru');
    expect(c.apiKeys).toEqual(['key-aaaaaaaaaaaaaaaa', 'key-bbbbbbbbbbbbbbbb']);
    expect(c).toMatchObject({ port: 3000, host: '127.0.0.1', redisUrl: 'redis://127.0.0.1:6379', redisPrefix: '{b131}', board: null });
    expect(c.bank).toMatchObject({ apiVersion: 'v2', timeoutMs: 30_000, maxRps: 50, widgetUrl: 'https://widget-demo.bank131.ru' });
    expect(c.bank.privateKey.type).toBe('private');
    expect(c.bank.publicKey.type).toBe('public');
  });

  it('takes PEM keys inline too, including with escaped newlines', () => {
    const { BANK131_PRIVATE_KEY_FILE: _a, BANK131_PUBLIC_KEY_FILE: _b, ...rest } = base;
    const c = loadConfig({ ...rest, BANK131_PRIVATE_KEY: pem('partner-private').replaceAll('\n', '\\n'), BANK131_PUBLIC_KEY: pem('bank-public') });
    expect(c.bank.publicKey.asymmetricKeyType).toBe('rsa');
  });

  it('names every missing setting at once', () => {
    const problems = problemsOf({});
    for (const name of ['BANK131_BASE_URL', 'BANK131_PROJECT', 'BANK131_PRIVATE_KEY', 'BANK131_PUBLIC_KEY', 'API_KEYS', 'CALLBACK_SECRET']) {
      expect(problems.some((p) => p.startsWith(`${name}:`) && p.includes('required'))).toBe(true);
    }
  });

  it('names the setting and the problem for bad values', () => {
    const problems = problemsOf({
      ...base,
      PORT: 'eighty',
      BANK131_BASE_URL: 'ftp://bank',
      PAYOUT_CONCURRENCY: '0',
      REDIS_URL: 'http://localhost',
      LOG_LEVEL: 'loud',
      BANK131_API_VERSION: 'v3',
      BANK131_PRIVATE_KEY_FILE: '/nonexistent/key.pem',
      BANK131_PUBLIC_KEY: 'not a pem',
      BANK131_PUBLIC_KEY_FILE: '',
      BOARD_USER: 'ops',
    });
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^PORT: must be a port number/),
        expect.stringMatching(/^BANK131_BASE_URL: must be an absolute http\(s\) URL/),
        expect.stringMatching(/^PAYOUT_CONCURRENCY: must be greater than 0/),
        expect.stringMatching(/^REDIS_URL: must be a redis/),
        expect.stringMatching(/^LOG_LEVEL: must be one of/),
        expect.stringMatching(/^BANK131_API_VERSION: must be v1 or v2/),
        expect.stringMatching(/^BANK131_PRIVATE_KEY_FILE: cannot read \/nonexistent\/key.pem \(ENOENT\)/),
        expect.stringMatching(/^BANK131_PUBLIC_KEY: not a valid PEM public key/),
        expect.stringMatching(/^BOARD_USER and BOARD_PASSWORD/),
      ]),
    );
  });

  it('refuses a key given both inline and as a file, and a short API key', () => {
    const problems = problemsOf({ ...base, BANK131_PUBLIC_KEY: pem('bank-public'), API_KEYS: 'short' });
    expect(problems).toEqual(
      expect.arrayContaining([
        'BANK131_PUBLIC_KEY and BANK131_PUBLIC_KEY_FILE are both set; give only one',
        expect.stringMatching(/^API_KEYS: each key must be at least 16 characters/),
      ]),
    );
  });

  it('prints as one readable message, no stack needed', () => {
    try {
      loadConfig({ ...base, BANK131_PROJECT: '' });
    } catch (err) {
      expect((err as Error).message).toBe('invalid configuration:\n  - BANK131_PROJECT: is required');
    }
  });
});
