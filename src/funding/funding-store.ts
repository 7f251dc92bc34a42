import type { RedisClient } from '../store/redis-client.js';
import { parseStoredBalance, type StoredBalance } from './wallets.js';

/**
 * What the service keeps about the partner wallet, beside the payouts (under the same prefix):
 *  - `<prefix>:funds:balance`: the last answer of the workers' poll, `{wallets, fetched_at}` JSON;
 *    every process's metrics read it, so the web and the workers show the same balance;
 *  - `<prefix>:funds:polled`: when a worker last asked the bank (ms), so that however many
 *    workers run, the bank is asked about once per BALANCE_POLL_MS.
 * (`<prefix>:funds:waiting`, the amounts waiting per payout, is the payout store's: awaitingFunds().)
 */
export class FundingStore {
  constructor(
    private readonly redis: RedisClient,
    readonly prefix: string,
  ) {}

  get balanceKey(): string {
    return `${this.prefix}:funds:balance`;
  }

  get polledKey(): string {
    return `${this.prefix}:funds:polled`;
  }

  /** The balance the last poll found; null before the first (or if the key is unreadable). */
  async balance(): Promise<StoredBalance | null> {
    return parseStoredBalance(await this.redis.get(this.balanceKey));
  }

  /** Keeps `balance` as the last one known. */
  async keepBalance(balance: StoredBalance): Promise<void> {
    await this.redis.set(this.balanceKey, JSON.stringify(balance));
  }

  /**
   * Whether this process is to ask the bank now: true when nobody did within `minGapMs`, and then
   * `now` is recorded. Two processes that read the same time both try to swap it; only the one
   * whose swap returns what it read goes ahead.
   */
  async claimPoll(now: number, minGapMs: number): Promise<boolean> {
    const read = await this.redis.get(this.polledKey);
    if (read !== null && now - Number(read) < minGapMs) return false;
    const replaced = await this.redis.set(this.polledKey, String(now), 'GET');
    return replaced === read;
  }
}
