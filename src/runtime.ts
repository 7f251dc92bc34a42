import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { Bank131Client, type Bank131ClientOptions } from './bank131/client.js';
import type { Config } from './config.js';
import { createQueues, DEFAULT_RETRY, type Queues, type RetryPolicy } from './queues.js';
import { PayoutStore } from './store/payout-store.js';
import { BankRateLimiter } from './store/rate-limiter.js';

/** The connected pieces both processes share: Redis, the payout store, the queues, the bank. */
export interface Runtime {
  redis: Redis;
  store: PayoutStore;
  queues: Queues;
  bank: Bank131Client;
  retry: RetryPolicy;
  close(): Promise<void>;
}

export interface RuntimeOptions {
  redisUrl: string;
  prefix: string;
  bank: Bank131ClientOptions;
  maxRps: number;
  retry?: RetryPolicy;
}

export function runtimeOptionsFrom(config: Config): RuntimeOptions {
  const b = config.bank;
  return {
    redisUrl: config.redisUrl,
    prefix: config.redisPrefix,
    maxRps: b.maxRps,
    bank: {
      baseUrl: b.baseUrl,
      project: b.project,
      submerchant: b.submerchant,
      privateKey: b.privateKey,
      apiVersion: b.apiVersion,
      timeoutMs: b.timeoutMs,
      connectTimeoutMs: b.connectTimeoutMs,
    },
  };
}

export function createRuntime(options: RuntimeOptions): Runtime {
  // BullMQ workers block on this connection's duplicates; they need unlimited retries per request.
  const redis = new Redis(options.redisUrl, { maxRetriesPerRequest: null });
  const limiter = new BankRateLimiter(redis, `${options.prefix}:ratelimit:bank`, options.maxRps);
  const bank = new Bank131Client({ ...options.bank, beforeSend: () => limiter.acquire() });
  const retry = options.retry ?? DEFAULT_RETRY;
  const queues = createQueues(redis, options.prefix, retry);
  return {
    redis,
    store: new PayoutStore(redis, options.prefix),
    queues,
    bank,
    retry,
    async close() {
      await queues.close();
      bank.close();
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}

/** Design §7: warn when Redis may lose or evict what it acknowledged. */
export async function checkRedisDurability(redis: Redis, log: Logger): Promise<void> {
  try {
    const [, policy] = (await redis.config('GET', 'maxmemory-policy')) as [string, string];
    const [, aof] = (await redis.config('GET', 'appendonly')) as [string, string];
    if (policy !== 'noeviction') log.warn({ policy }, 'Redis maxmemory-policy is not noeviction: queued jobs and payout records may be evicted');
    if (aof !== 'yes') log.warn('Redis appendonly is off: a Redis restart may lose acknowledged payouts');
  } catch {
    log.info('could not read Redis CONFIG (managed Redis?); make sure it runs with appendonly yes and noeviction');
  }
}
