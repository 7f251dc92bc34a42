import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import { TAKE_TOKEN } from './lua.js';

/**
 * Holds calls to the bank under BANK131_MAX_RPS across every worker process: one token bucket in
 * Redis (capacity one second's worth), taken by a script on Redis time.
 */
export class BankRateLimiter {
  private readonly redis: Redis & { b131TakeToken(key: string, rate: string, cap: string): Promise<number> };

  constructor(
    redis: Redis,
    private readonly key: string,
    private readonly maxRps: number,
  ) {
    if (!('b131TakeToken' in redis)) redis.defineCommand('b131TakeToken', { lua: TAKE_TOKEN, numberOfKeys: 1 });
    this.redis = redis as typeof this.redis;
  }

  async acquire(): Promise<void> {
    for (;;) {
      const wait = await this.redis.b131TakeToken(this.key, String(this.maxRps), String(this.maxRps));
      if (wait <= 0) return;
      await sleep(wait);
    }
  }
}
