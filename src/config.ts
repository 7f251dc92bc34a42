import type { KeyObject } from 'node:crypto';
import { z } from 'zod';
import { DEFAULT_TIMING, type PipelineTiming } from './pipeline/pipeline-deps.js';
import { SettingsReader, httpUrl, logLevel, port, positiveInt, redisUrl, type Env } from './settings.js';

/** The service's settings (README, Configuration), read once at start-up. */
export interface Config {
  redisUrl: string;
  /** Hash-tagged so queue and record keys land in one Redis Cluster slot (docs/architecture.md, Redis keys). */
  redisPrefix: string;
  port: number;
  host: string;
  publicUrl: string;
  logLevel: z.infer<typeof logLevel>;
  apiKeys: string[];
  board: { user: string; password: string } | null;
  callbackSecret: string;
  payoutConcurrency: number;
  /** The reconciler and the empty-wallet wait (README "What happens when something is lost"). */
  timing: PipelineTiming;
  bank: {
    baseUrl: string;
    project: string;
    submerchant: string | undefined;
    privateKey: KeyObject;
    publicKey: KeyObject;
    widgetUrl: string;
    apiVersion: 'v1' | 'v2';
    timeoutMs: number;
    connectTimeoutMs: number;
    maxRps: number;
  };
}

const apiKeys = z
  .string()
  .transform((s) => s.split(',').map((k) => k.trim()).filter(Boolean))
  .pipe(z.array(z.string().min(16, 'each key must be at least 16 characters')).min(1, 'must list at least one key'));

const secret = z.string().min(16, 'must be at least 16 characters');
const hashTagPrefix = z.string().regex(/^\{[^{}]+\}$/, 'must be a Redis hash tag such as {b131}');

export function loadConfig(env: Env = process.env): Config {
  const r = new SettingsReader(env);
  const host = r.read('HOST', z.string().default('127.0.0.1'));
  const listenPort = r.read('PORT', port.default(3000));
  const boardUser = r.read('BOARD_USER', z.string().optional());
  const boardPassword = r.read('BOARD_PASSWORD', z.string().min(12, 'must be at least 12 characters').optional());
  if (Boolean(boardUser) !== Boolean(boardPassword)) {
    r.problems.push('BOARD_USER and BOARD_PASSWORD: give both to enable the queue board, or neither');
  }
  const config = {
    redisUrl: r.read('REDIS_URL', redisUrl.default('redis://127.0.0.1:6379')),
    redisPrefix: r.read('REDIS_PREFIX', hashTagPrefix.default('{b131}')),
    port: listenPort,
    host,
    publicUrl: r.read('PUBLIC_URL', httpUrl.default(`http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${listenPort ?? 3000}`)),
    logLevel: r.read('LOG_LEVEL', logLevel.default('info')),
    apiKeys: r.read('API_KEYS', apiKeys),
    board: boardUser && boardPassword ? { user: boardUser, password: boardPassword } : null,
    callbackSecret: r.read('CALLBACK_SECRET', secret),
    payoutConcurrency: r.read('PAYOUT_CONCURRENCY', positiveInt.max(1000, 'must be at most 1000').default(16)),
    timing: {
      reconcileIntervalMs: r.read('RECONCILE_INTERVAL_MS', positiveInt.default(DEFAULT_TIMING.reconcileIntervalMs)),
      reconcileAfterMs: r.read('RECONCILE_AFTER_MS', positiveInt.default(DEFAULT_TIMING.reconcileAfterMs)),
      walletRetryMs: r.read('WALLET_RETRY_MS', positiveInt.default(DEFAULT_TIMING.walletRetryMs)),
      walletWaitMs: r.read('WALLET_WAIT_MS', positiveInt.default(DEFAULT_TIMING.walletWaitMs)),
    },
    bank: {
      baseUrl: r.read('BANK131_BASE_URL', httpUrl),
      project: r.read('BANK131_PROJECT', z.string().min(1)),
      submerchant: r.read('BANK131_SUBMERCHANT', z.string().optional()),
      privateKey: r.pem('BANK131_PRIVATE_KEY', 'private', true),
      publicKey: r.pem('BANK131_PUBLIC_KEY', 'public', true),
      widgetUrl: r.read('BANK131_WIDGET_URL', httpUrl.default('https://widget-demo.bank131.ru')),
      apiVersion: r.read('BANK131_API_VERSION', z.enum(['v1', 'v2'], { error: 'must be v1 or v2' }).default('v2')),
      timeoutMs: r.read('BANK131_TIMEOUT_MS', positiveInt.default(30_000)),
      connectTimeoutMs: r.read('BANK131_CONNECT_TIMEOUT_MS', positiveInt.default(5_000)),
      maxRps: r.read('BANK131_MAX_RPS', positiveInt.default(50)),
    },
  };
  r.finish();
  // finish() threw if any read failed, so every field is now defined.
  return config as Config;
}
