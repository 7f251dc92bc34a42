import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { RedisClient } from './redis-client.js';
import { withScripts, type ScriptCommands } from './scripts.js';

/**
 * Holds calls to the bank under BANK131_MAX_RPS across every worker process: a sliding one-second
 * window in Redis, taken by a script on Redis time (scripts/take-token.lua), so no second ever
 * holds more than the limit, not even the first.
 */
export class BankRateLimiter {
  private readonly redis: RedisClient & ScriptCommands;

  constructor(
    redis: RedisClient,
    private readonly key: string,
    private readonly maxRps: number,
  ) {
    this.redis = withScripts(redis);
  }

  async acquire(): Promise<void> {
    for (;;) {
      const wait = await this.redis.b131TakeToken(this.key, String(this.maxRps), randomUUID());
      if (wait <= 0) return;
      await sleep(wait);
    }
  }
}
