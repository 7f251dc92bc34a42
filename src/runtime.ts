import type { Logger } from 'pino';
import { Bank131Client, type Bank131ClientOptions } from './bank131/client.js';
import { observeBankCall } from './metrics.js';
import { within } from './process/lifecycle.js';
import { outageReporter } from './process/outage-report.js';
import { createQueues, DEFAULT_RETRY, type Queues, type RetryPolicy } from './queues.js';
import type { CommonSettings } from './settings/common.js';
import { BankAccess } from './store/bank-access.js';
import { PayoutStore } from './store/payout-store.js';
import { TenantCache } from './tenants/tenant-cache.js';
import { TenantStore } from './tenants/tenant-store.js';
import { BankRateLimiter } from './store/rate-limiter.js';
import type { RedisClient } from './store/redis-client.js';
import { connectRedis, type RedisRole } from './store/redis-connection.js';
import { pingWithin } from './store/redis-ping.js';

/**
 * The connected pieces a process works with, wired once: Redis (one connection or a Cluster), the
 * payout store, the queues, the bank client behind the shared rate limit, and the outage report
 * every Redis error goes to. Start-up (src/web-process.ts, workers/worker-process.ts) makes one.
 */

/** The connected pieces the web process uses: Redis, the payout store, the queues. */
export interface WebRuntime {
  /** A Cluster when REDIS_CLUSTER=true (RuntimeOptions.cluster), else one connection. */
  redis: RedisClient;
  store: PayoutStore;
  /** Tenants, their keys (read at each request) and their settings (read at most every few seconds). */
  tenants: { store: TenantStore; cache: TenantCache };
  queues: Queues;
  retry: RetryPolicy;
  /** Whether Bank 131 accepts our credentials, as the workers last found (part of /readyz). */
  bankAccess: BankAccess;
  /** Whether the Redis connection is up right now; no round trip, never waits. */
  redisHealthy(): boolean;
  /**
   * Whether Redis takes a write (on the node that holds our keys) within `timeoutMs` (default 1 s):
   * false while it is unreachable or refuses writes (full, a replica...). Never throws, never takes
   * longer: what a readiness probe calls. False at once while the connection is down.
   */
  pingRedis(timeoutMs?: number): Promise<boolean>;
  /**
   * Report a Redis error met elsewhere (a request, a BullMQ worker, a failed job): an outage,
   * unreachable or refusing, comes out as one line per retry interval, with this runtime's own.
   */
  reportRedisError(err: Error): void;
  close(): Promise<void>;
}

/** What the workers use as well: the bank. */
export interface Runtime extends WebRuntime {
  bank: Bank131Client;
}

export interface RuntimeOptions {
  redisUrl: string;
  /** REDIS_CLUSTER: `redisUrl` names one node of a Redis Cluster, and the client finds the others. */
  cluster?: boolean;
  prefix: string;
  /** Only the workers call the bank; a runtime without it is a WebRuntime. */
  bank?: Bank131ClientOptions;
  /** Calls per second to the bank, shared by every worker through Redis (default 50). */
  maxRps?: number;
  retry?: RetryPolicy;
  /** 'worker' by default (src/store/redis-connection.ts says what each means). */
  role?: RedisRole;
  /** Where an outage is reported: one line when it starts, one per retry interval, one when it ends. */
  log?: Logger;
}

export function createRuntime(options: RuntimeOptions & { bank: Bank131ClientOptions }): Runtime;
export function createRuntime(options: RuntimeOptions): WebRuntime;
export function createRuntime(options: RuntimeOptions): WebRuntime | Runtime {
  const redis = connectRedis(options.redisUrl, { cluster: options.cluster ?? false, role: options.role ?? 'worker' });
  const retry = options.retry ?? DEFAULT_RETRY;
  const queues = createQueues(redis, options.prefix, retry);
  const slotKey = `${options.prefix}:ping`;
  // Without listeners ioredis prints "Unhandled error event" and BullMQ a stack per queue per attempt.
  const report = outageReporter(redis, options.redisUrl, options.log, () => pingWithin(redis, 1_000, slotKey));
  for (const q of queues.all()) q.on('error', report);
  const tenantStore = new TenantStore(redis, options.prefix);
  const bankAccess = new BankAccess(redis, `${options.prefix}:bank:refused`);
  let bank: Bank131Client | undefined;
  if (options.bank) {
    const limiter = new BankRateLimiter(redis, `${options.prefix}:ratelimit:bank`, options.maxRps ?? 50);
    bank = new Bank131Client({
      ...options.bank,
      beforeSend: () => limiter.acquire(),
      onCall: (call) => {
        observeBankCall(call);
        bankAccess.observe(call);
      },
    });
  }
  const runtime: WebRuntime = {
    redis,
    store: new PayoutStore(redis, options.prefix),
    tenants: { store: tenantStore, cache: new TenantCache(tenantStore) },
    queues,
    retry,
    bankAccess,
    redisHealthy: () => redis.status === 'ready',
    pingRedis: (timeoutMs = 1_000) => pingWithin(redis, timeoutMs, slotKey),
    reportRedisError: report,
    async close() {
      report.stop();
      // A connection that is not up is dropped, never sent QUIT: ioredis leaves one caught between
      // two reconnection attempts 'reconnecting' even after disconnect(), and a worker's commands
      // then wait for a reconnection that never comes. Hence the bounds too.
      const up = redis.status === 'ready';
      if (!up) redis.disconnect();
      await within(CLOSE_STEP_MS, queues.close());
      bank?.close();
      if (up) await within(CLOSE_STEP_MS, redis.quit());
      redis.disconnect();
    },
  };
  return bank ? { ...runtime, bank } : runtime;
}

/** How long close() waits for each step that needs Redis, which may have gone meanwhile. */
const CLOSE_STEP_MS = 500;

/** What a process's settings say about its runtime. */
export function runtimeOptionsFor(
  settings: CommonSettings,
  role: RedisRole,
  log?: Logger,
): RuntimeOptions & { bank: Bank131ClientOptions } {
  const { bank } = settings;
  return {
    redisUrl: settings.redisUrl,
    cluster: settings.redisCluster,
    prefix: settings.redisPrefix,
    role,
    maxRps: bank.maxRps,
    bank: {
      baseUrl: bank.baseUrl,
      project: bank.project,
      submerchant: bank.submerchant,
      privateKey: bank.privateKey,
      apiVersion: bank.apiVersion,
      timeoutMs: bank.timeoutMs,
      connectTimeoutMs: bank.connectTimeoutMs,
    },
    ...(log ? { log } : {}),
  };
}
