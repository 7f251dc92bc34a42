import { setTimeout as sleep } from 'node:timers/promises';
import type { RedisClient } from './redis-client.js';
import { withScripts, type ScriptCommands } from './scripts.js';

/** The share of BANK131_MAX_RPS the slots are spaced for. */
export const RATE_HEADROOM = 0.9;

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
    // Slots are spaced for RATE_HEADROOM of the limit: a call reaches the bank a little after its
    // slot, by however long a busy process or the network holds it, and such delays bunch calls
    // together; at exactly the limit, npm run bench saw 53 to 55 in some second at the bank.
    this.intervalUs = String(Math.ceil(1_000_000 / (maxRps * RATE_HEADROOM)));
  }

  async acquire(): Promise<void> {
    const wait = await this.redis.b131TakeToken(this.key, this.intervalUs);
    if (wait > 0) await sleep(wait);
  }
}
