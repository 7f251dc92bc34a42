import type { KeyObject } from 'node:crypto';
import { z } from 'zod';
import { CallbackSecret } from './payouts/callback-signature.js';
import { DEFAULT_TIMING, type PipelineTiming } from './pipeline/pipeline-deps.js';
import { SettingsReader, duration, httpUrl, logLevel, port, positiveInt, redisUrl, type Env } from './settings.js';

/**
 * The service's settings (README, Configuration), read once at start-up. Each process reads and
 * validates only what it uses: the web process (`loadWebConfig`) never calls the bank and needs no
 * partner key or callback secret; the worker (`loadWorkerConfig`) serves no API and needs no API
 * keys, bank public key, port or queue-board login.
 */

/** What both processes use. */
export interface CommonConfig {
  redisUrl: string;
  /** REDIS_URL names one node of a Redis Cluster; the client finds the rest (REDIS_CLUSTER). */
  redisCluster: boolean;
  /** Hash-tagged so queue and record keys land in one Redis Cluster slot (docs/architecture.md, Redis keys). */
  redisPrefix: string;
  /** How long start-up waits for Redis before it exits naming REDIS_URL. */
  redisConnectTimeoutMs: number;
  /** How long SIGTERM/SIGINT waits for a clean close before the process exits anyway. */
  shutdownTimeoutMs: number;
  logLevel: z.infer<typeof logLevel>;
  /** Human-readable, coloured log lines instead of JSON (for a terminal, not for log shipping). */
  logPretty: boolean;
  /** Callbacks may go to private, loopback and metadata addresses (a local setup, never production). */
  callbackAllowPrivate: boolean;
  /** The reconciler and the empty-wallet wait (README "What happens when something is lost"). */
  timing: PipelineTiming;
}

/** What calling Bank 131 takes: the worker (payouts) and the web (widget tokens, card facts). */
export interface BankClientConfig {
  baseUrl: string;
  project: string;
  submerchant: string | undefined;
  privateKey: KeyObject;
  apiVersion: 'v1' | 'v2';
  timeoutMs: number;
  connectTimeoutMs: number;
  maxRps: number;
}

export interface WebConfig extends CommonConfig {
  port: number;
  host: string;
  /**
   * ADMIN_PORT: when set, /metrics, /docs and the queue board are served on this port (on
   * ADMIN_HOST) and not on the public PORT; null keeps them on PORT.
   */
  admin: { port: number; host: string } | null;
  /** TRUST_PROXY: which proxies' X-Forwarded-For is believed (Fastify's trustProxy); false: none. */
  trustProxy: boolean | number | string;
  /** BOARD_READ_ONLY (default true): the queue board shows jobs but takes no action. */
  boardReadOnly: boolean;
  publicUrl: string;
  apiKeys: string[];
  board: { user: string; password: string } | null;
  /** Who the recipient is told pays them, on the card collection page. */
  collectPayerName: string;
  /** One log line per response (ACCESS_LOG). */
  accessLog: boolean;
  bank: BankClientConfig & {
    /** Verifies Bank 131's webhook signatures. */
    publicKey: KeyObject;
    /** Where the recipient's browser loads the tokenization widget from. */
    widgetUrl: string;
  };
}

export interface WorkerConfig extends CommonConfig {
  callbackSecret: string;
  payoutConcurrency: number;
  /** Per queue, when set (START_CONCURRENCY, CONFIRM_CONCURRENCY, WEBHOOK_CONCURRENCY, NOTIFY_CONCURRENCY, RECONCILE_CONCURRENCY). */
  concurrencyByQueue: { start?: number; confirm?: number; webhooks?: number; notify?: number; reconcile?: number };
  /** BullMQ's job lock (JOB_LOCK_MS) and stalled-job check (STALLED_INTERVAL_MS). */
  stalled: { lockDurationMs: number; stalledIntervalMs: number };
  /** Where the worker serves its metrics; 0: not at all. */
  metricsPort: number;
  /** The address the worker's metrics listen on (METRICS_HOST, 127.0.0.1 by default). */
  metricsHost: string;
  /** A callback delivery's whole deadline, headers and body (CALLBACK_TIMEOUT_MS). */
  callbackTimeoutMs: number;
  bank: BankClientConfig & {
    /** Verifies, again, the signed webhook a job carries before the worker applies it. */
    publicKey: KeyObject;
  };
}

/** Both processes' settings at once, for something that runs both in one process. */
export type Config = WebConfig & WorkerConfig;

const apiKeys = z
  .string()
  .transform((s) => s.split(',').map((k) => k.trim()).filter(Boolean))
  .pipe(z.array(z.string().min(16, 'each key must be at least 16 characters')).min(1, 'must list at least one key'));

const bool = (fallback: 'true' | 'false') =>
  z.enum(['true', 'false', '1', '0'], { error: 'must be true or false' }).default(fallback).transform((v) => v === 'true' || v === '1');

/**
 * TRUST_PROXY as Fastify's trustProxy takes it: true/false, a number of hops, or a comma-separated
 * list of addresses and CIDR ranges of the proxies in front of the web.
 */
const trustProxy = z
  .string()
  .default('false')
  .transform((v, ctx): boolean | number | string => {
    const t = v.trim();
    if (t === 'true' || t === 'false') return t === 'true';
    if (/^\d+$/.test(t)) return Number(t);
    if (/^[0-9a-fA-F.:/,\s]+$/.test(t)) return t;
    ctx.addIssue({ code: 'custom', message: 'must be true, false, a number of proxy hops, or a comma-separated list of proxy addresses (CIDR allowed)' });
    return z.NEVER;
  });

const hashTagPrefix = z.string().regex(/^\{[^{}]+\}$/, 'must be a Redis hash tag such as {b131}');


function readCommon(r: SettingsReader): Partial<CommonConfig> {
  return {
    redisUrl: r.read('REDIS_URL', redisUrl.default('redis://127.0.0.1:6379')),
    redisCluster: r.read('REDIS_CLUSTER', bool('false')),
    redisPrefix: r.read('REDIS_PREFIX', hashTagPrefix.default('{b131}')),
    redisConnectTimeoutMs: r.read('REDIS_CONNECT_TIMEOUT_MS', positiveInt.default(5_000)),
    // longer than one bank call (BANK131_TIMEOUT_MS, 30 s), so a job in hand can finish
    shutdownTimeoutMs: r.read('SHUTDOWN_TIMEOUT_MS', positiveInt.default(35_000)),
    logLevel: r.read('LOG_LEVEL', logLevel.default('info')),
    callbackAllowPrivate: r.read('CALLBACK_ALLOW_PRIVATE', bool('false')),
    logPretty: r.read('LOG_PRETTY', bool('false')),
    timing: {
      reconcileIntervalMs: r.read('RECONCILE_INTERVAL_MS', positiveInt.default(DEFAULT_TIMING.reconcileIntervalMs))!,
      reconcileAfterMs: r.read('RECONCILE_AFTER_MS', positiveInt.default(DEFAULT_TIMING.reconcileAfterMs))!,
      walletRetryMs: r.read('WALLET_RETRY_MS', positiveInt.default(DEFAULT_TIMING.walletRetryMs))!,
      walletWaitMs: r.read('WALLET_WAIT_MS', positiveInt.default(DEFAULT_TIMING.walletWaitMs))!,
      collectTtlMs: r.read('COLLECT_TTL', duration.default(DEFAULT_TIMING.collectTtlMs))!,
      retentionMs: r.read('PAYOUT_RETENTION_DAYS', positiveInt.max(3650, 'must be at most 3650').default(DEFAULT_TIMING.retentionMs / 86_400_000).transform((days) => days * 86_400_000))!,
      retentionIntervalMs: DEFAULT_TIMING.retentionIntervalMs,
    },
  };
}

function readWeb(r: SettingsReader): Omit<WebConfig, keyof CommonConfig | 'bank'> & { bank: Pick<WebConfig['bank'], 'publicKey' | 'widgetUrl'> } {
  const host = r.read('HOST', z.string().default('127.0.0.1'));
  const listenPort = r.read('PORT', port.default(3000));
  const boardUser = r.read('BOARD_USER', z.string().optional());
  const boardPassword = r.read('BOARD_PASSWORD', z.string().min(12, 'must be at least 12 characters').optional());
  // Judged on what was given, so a password that is merely too short is not also called missing.
  if (Boolean(r.env.BOARD_USER) !== Boolean(r.env.BOARD_PASSWORD)) {
    r.problems.push('BOARD_USER and BOARD_PASSWORD: give both to enable the queue board, or neither');
  }
  const adminPort = r.read('ADMIN_PORT', port.optional());
  const adminHost = r.read('ADMIN_HOST', z.string().default('127.0.0.1'));
  const web = {
    port: listenPort,
    host,
    admin: adminPort ? { port: adminPort, host: adminHost } : null,
    trustProxy: r.read('TRUST_PROXY', trustProxy),
    boardReadOnly: r.read('BOARD_READ_ONLY', bool('true')),
    publicUrl: r.read('PUBLIC_URL', httpUrl.default(`http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${listenPort ?? 3000}`)),
    apiKeys: r.read('API_KEYS', apiKeys),
    board: boardUser && boardPassword ? { user: boardUser, password: boardPassword } : null,
    accessLog: r.read('ACCESS_LOG', bool('true')),
    collectPayerName: r.read('COLLECT_PAYER_NAME', z.string().trim().min(1, 'must not be empty').max(100, 'must be at most 100 characters').default('bank131-payouts')),
    bank: {
      publicKey: r.pem('BANK131_PUBLIC_KEY', 'public', true),
      widgetUrl: r.read('BANK131_WIDGET_URL', httpUrl.default('https://widget-demo.bank131.ru')),
    },
  };
  // finish() throws if any read failed, so every field is defined by the time this is returned.
  return web as Omit<WebConfig, keyof CommonConfig | 'bank'> & { bank: Pick<WebConfig['bank'], 'publicKey' | 'widgetUrl'> };
}

function readBankClient(r: SettingsReader): BankClientConfig {
  const bank = {
    baseUrl: r.read('BANK131_BASE_URL', httpUrl),
    project: r.read('BANK131_PROJECT', z.string().min(1)),
    submerchant: r.read('BANK131_SUBMERCHANT', z.string().optional()),
    privateKey: r.pem('BANK131_PRIVATE_KEY', 'private', true),
    apiVersion: r.read('BANK131_API_VERSION', z.enum(['v1', 'v2'], { error: 'must be v1 or v2' }).default('v2')),
    timeoutMs: r.read('BANK131_TIMEOUT_MS', positiveInt.default(30_000)),
    connectTimeoutMs: r.read('BANK131_CONNECT_TIMEOUT_MS', positiveInt.default(5_000)),
    maxRps: r.read('BANK131_MAX_RPS', positiveInt.default(50)),
  };
  return bank as BankClientConfig;
}

function readWorker(r: SettingsReader): Omit<WorkerConfig, keyof CommonConfig | 'bank'> {
  const worker = {
    // the same rule the signer applies (src/payouts/callback-signature.ts): what starts, signs
    callbackSecret: r.read('CALLBACK_SECRET', CallbackSecret),
    payoutConcurrency: r.read('PAYOUT_CONCURRENCY', positiveInt.max(1000, 'must be at most 1000').default(16)),
    concurrencyByQueue: Object.fromEntries(
      (
        [
          ['start', 'START_CONCURRENCY'],
          ['confirm', 'CONFIRM_CONCURRENCY'],
          ['webhooks', 'WEBHOOK_CONCURRENCY'],
          ['notify', 'NOTIFY_CONCURRENCY'],
          ['reconcile', 'RECONCILE_CONCURRENCY'],
        ] as const
      )
        .map(([queue, name]) => [queue, r.read(name, positiveInt.max(1000, 'must be at most 1000').optional())] as const)
        .filter(([, n]) => n !== undefined),
    ),
    stalled: {
      lockDurationMs: r.read('JOB_LOCK_MS', positiveInt.min(1_000, 'must be at least 1000').default(30_000)),
      stalledIntervalMs: r.read('STALLED_INTERVAL_MS', positiveInt.min(1_000, 'must be at least 1000').default(30_000)),
    },
    metricsPort: r.read('METRICS_PORT', port.default(9464)),
    metricsHost: r.read('METRICS_HOST', z.string().min(1).default('127.0.0.1')),
    callbackTimeoutMs: r.read('CALLBACK_TIMEOUT_MS', positiveInt.max(300_000, 'must be at most 300000').default(10_000)),
  };
  return worker as Omit<WorkerConfig, keyof CommonConfig | 'bank'>;
}

/** The web process's settings (`npm start`); throws a ConfigError naming every bad one. */
export function loadWebConfig(env: Env = process.env): WebConfig {
  const r = new SettingsReader(env);
  const common = readCommon(r);
  const web = readWeb(r);
  const config = { ...common, ...web, bank: { ...readBankClient(r), ...web.bank } };
  r.finish();
  return config as WebConfig;
}

/** The worker process's settings (`npm run worker`); throws a ConfigError naming every bad one. */
export function loadWorkerConfig(env: Env = process.env): WorkerConfig {
  const r = new SettingsReader(env);
  const config = { ...readCommon(r), ...readWorker(r), bank: { ...readBankClient(r), publicKey: r.pem('BANK131_PUBLIC_KEY', 'public', true) } };
  r.finish();
  return config as WorkerConfig;
}

/** Both processes' settings, for one process that runs the web and the workers together. */
export function loadConfig(env: Env = process.env): Config {
  const r = new SettingsReader(env);
  const common = readCommon(r);
  const web = readWeb(r);
  const worker = readWorker(r);
  const config = { ...common, ...web, ...worker, bank: { ...readBankClient(r), ...web.bank } };
  r.finish();
  return config as Config;
}
