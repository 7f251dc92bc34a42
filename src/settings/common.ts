import { z } from 'zod';
import { DEFAULT_TIMING } from '../pipeline/pipeline-deps.js';
import { bool, duration, httpUrl, logLevel, pem, positiveInt, redisUrl } from './env.js';

/**
 * The variables both processes read (docs/operations.md, Settings), as zod fields keyed by their names;
 * src/settings/web.ts and src/settings/worker.ts spread them into their own objects.
 */
export const COMMON_ENV = {
  REDIS_URL: redisUrl.default('redis://127.0.0.1:6379'),
  REDIS_CLUSTER: bool('false'),
  REDIS_PREFIX: z
    .string()
    .regex(/^\{[^{}]+\}$/, 'must be a Redis hash tag such as {b131}')
    .default('{b131}'),
  REDIS_CONNECT_TIMEOUT_MS: positiveInt.default(5_000),
  // longer than one bank call (BANK131_TIMEOUT_MS, 30 s), so a job in hand can finish
  SHUTDOWN_TIMEOUT_MS: positiveInt.default(35_000),
  LOG_LEVEL: logLevel.default('info'),
  LOG_PRETTY: bool('false'),
  CALLBACK_ALLOW_PRIVATE: bool('false'),
  RECONCILE_INTERVAL_MS: positiveInt.default(DEFAULT_TIMING.reconcileIntervalMs),
  RECONCILE_AFTER_MS: positiveInt.default(DEFAULT_TIMING.reconcileAfterMs),
  WALLET_RETRY_MS: positiveInt.default(DEFAULT_TIMING.walletRetryMs),
  WALLET_WAIT_MS: positiveInt.default(DEFAULT_TIMING.walletWaitMs),
  COLLECT_TTL: duration.default(DEFAULT_TIMING.collectTtlMs),
  PAYOUT_RETENTION_DAYS: positiveInt.max(3650, 'must be at most 3650').default(DEFAULT_TIMING.retentionMs / 86_400_000),
  // the bank client: the worker pays, the web asks for widget tokens and card facts
  BANK131_BASE_URL: httpUrl,
  BANK131_PROJECT: z.string().min(1),
  BANK131_SUBMERCHANT: z.string().optional(),
  BANK131_PRIVATE_KEY: pem('BANK131_PRIVATE_KEY', 'private'),
  // verifies webhooks: the web before it enqueues one, the worker again before it acts on it
  BANK131_PUBLIC_KEY: pem('BANK131_PUBLIC_KEY', 'public'),
  BANK131_API_VERSION: z.enum(['v1', 'v2'], { error: 'must be v1 or v2' }).default('v2'),
  BANK131_TIMEOUT_MS: positiveInt.default(30_000),
  BANK131_CONNECT_TIMEOUT_MS: positiveInt.default(5_000),
  BANK131_MAX_RPS: positiveInt.default(50),
};

export const PEMS = ['BANK131_PRIVATE_KEY', 'BANK131_PUBLIC_KEY'] as const;

type CommonEnv = z.output<z.ZodObject<typeof COMMON_ENV>>;

/** The common variables as the settings both processes hold. */
export function commonSettings(e: CommonEnv) {
  return {
    redisUrl: e.REDIS_URL,
    /** REDIS_URL names one node of a Redis Cluster; the client finds the rest. */
    redisCluster: e.REDIS_CLUSTER,
    /** Hash-tagged so queue and record keys land in one Redis Cluster slot (docs/architecture.md, Redis keys). */
    redisPrefix: e.REDIS_PREFIX,
    redisConnectTimeoutMs: e.REDIS_CONNECT_TIMEOUT_MS,
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    logLevel: e.LOG_LEVEL,
    logPretty: e.LOG_PRETTY,
    callbackAllowPrivate: e.CALLBACK_ALLOW_PRIVATE,
    timing: {
      reconcileIntervalMs: e.RECONCILE_INTERVAL_MS,
      reconcileAfterMs: e.RECONCILE_AFTER_MS,
      walletRetryMs: e.WALLET_RETRY_MS,
      walletWaitMs: e.WALLET_WAIT_MS,
      collectTtlMs: e.COLLECT_TTL,
      retentionMs: e.PAYOUT_RETENTION_DAYS * 86_400_000,
      retentionIntervalMs: DEFAULT_TIMING.retentionIntervalMs,
    },
    bank: {
      baseUrl: e.BANK131_BASE_URL,
      project: e.BANK131_PROJECT,
      submerchant: e.BANK131_SUBMERCHANT,
      privateKey: e.BANK131_PRIVATE_KEY,
      publicKey: e.BANK131_PUBLIC_KEY,
      apiVersion: e.BANK131_API_VERSION,
      timeoutMs: e.BANK131_TIMEOUT_MS,
      connectTimeoutMs: e.BANK131_CONNECT_TIMEOUT_MS,
      maxRps: e.BANK131_MAX_RPS,
    },
  };
}

export type CommonSettings = ReturnType<typeof commonSettings>;
export type BankSettings = CommonSettings['bank'];
