import { setTimeout as sleep } from 'node:timers/promises';
import type { RedisClient } from './redis-client.js';
import { withScripts, type ScriptCommands } from './scripts.js';

/**
 * Holds calls to the bank under BANK131_MAX_RPS across every worker process: each call takes its
 * own slot, evenly spaced on Redis time (scripts/take-token.lua), and waits for it. One round trip
 * per call, and no second ever holds more than the limit, not even the first.
 */
export class BankRateLimiter {
  private readonly redis: RedisClient & ScriptCommands;
  private readonly intervalUs: string;

  constructor(
    redis: RedisClient,
    private readonly key: string,
    maxRps: number,
  ) {
    this.redis = withScripts(redis);
    // Rounded up, so `maxRps` slots never fit in one second, even counted inclusively at both ends.
    this.intervalUs = String(Math.floor(1_000_000 / maxRps) + 1);
  }

  async acquire(): Promise<void> {
    const wait = await this.redis.b131TakeToken(this.key, this.intervalUs);
    if (wait > 0) await sleep(wait);
  }
}
