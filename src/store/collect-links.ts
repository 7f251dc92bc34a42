import type { RedisClient } from './redis-client.js';

/**
 * A payout accepted without a card has a collection link: a random token (`collect:<token>` →
 * payout, written with the payout by src/store/scripts/create-payouts.lua) and, once its page is
 * first opened, the widget's public token for it.
 */
export class CollectLinks {
  constructor(
    private readonly redis: RedisClient,
    private readonly keyOf: (token: string) => string,
  ) {}

  async payoutFor(token: string): Promise<string | null> {
    return this.redis.get(this.keyOf(token));
  }

  /**
   * The widget's public token for a collection link: one per link, issued by `issue` on the first
   * page load and reused until `expiresAt` (ms), so that page loads by anyone holding the link do
   * not each cost a signed call to the bank. Two first loads at once keep the first token stored.
   */
  async widgetToken(collectToken: string, expiresAt: number, issue: () => Promise<string>): Promise<string> {
    const key = `${this.keyOf(collectToken)}:widget`;
    const kept = await this.redis.get(key);
    if (kept) return kept;
    const issued = await issue();
    const ttl = Math.max(1, expiresAt - Date.now());
    const stored = await this.redis.set(key, issued, 'PX', ttl, 'NX');
    return stored === 'OK' ? issued : ((await this.redis.get(key)) ?? issued);
  }

  /** The widget spent the link's public token (it returned card hashes): the next page load gets a new one. */
  async forgetWidgetToken(collectToken: string): Promise<void> {
    await this.redis.del(`${this.keyOf(collectToken)}:widget`);
  }
}
