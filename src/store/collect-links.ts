import type { RedisClient } from './redis-client.js';

/** What a collection page recorded on its link (see CollectLinks.marks). */
export interface LinkMarks {
  /**
   * The recipient allowed Bank 131 to register their income through this link's self-employed
   * step: `bound` before a card was given, `rebound` after the payout failed with
   * `taxpayer_not_bound`. Null: not through this link.
   */
  selfEmployed: 'bound' | 'rebound' | null;
  /** A failed payout's page took a new card for its recipient (the card's id and last 4). */
  replaced: { cardId: string; last4: string } | null;
}

/**
 * Collection links. A payout accepted without a card has one: a random token (`collect:<token>` →
 * payout, written with the payout by src/store/scripts/create-payouts.lua). A saved recipient's
 * card links are `collect-recipient:<token>` (src/store/recipient-store.ts). The collect routes look
 * a token up in both. Beside a link's own key (`<link>` below, either of the two), its page keeps:
 *
 *   <link>:widget         the tokenization widget's public token, once the page is first opened
 *   <link>:se-widget      the self-employed widget's public token, likewise
 *   <link>:self-employed  `bound` | `rebound`: the recipient bound through this link's page (a payout
 *                         without a saved recipient has nowhere else to keep it)
 *   <link>:replaced       `<card id>|<last 4>`: the card a failed payout's page took, once
 *
 * each for the link's life (the widget tokens until spent).
 */
export class CollectLinks {
  constructor(
    private readonly redis: RedisClient,
    private readonly keyOf: (token: string) => string,
  ) {}

  /** A payout link's own key (`collect:<token>`). */
  payoutLinkKey(token: string): string {
    return this.keyOf(token);
  }

  async payoutFor(token: string): Promise<string | null> {
    return this.redis.get(this.keyOf(token));
  }

  /**
   * The tokenization widget's public token for a collection link (`link`: its key): one per link,
   * issued by `issue` on the first page load and reused until `expiresAt` (ms), so that page loads
   * by anyone holding the link do not each cost a signed call to the bank. Two first loads at once
   * keep the first token stored.
   */
  widgetToken(link: string, expiresAt: number, issue: () => Promise<string>): Promise<string> {
    return this.kept(`${link}:widget`, expiresAt, issue);
  }

  /** The widget spent the link's public token (it returned card hashes): the next page load gets a new one. */
  async forgetWidgetToken(link: string): Promise<void> {
    await this.redis.del(`${link}:widget`);
  }

  /** The self-employed widget's public token for a link, kept like the tokenization widget's. */
  selfEmployedWidgetToken(link: string, expiresAt: number, issue: () => Promise<string>): Promise<string> {
    return this.kept(`${link}:se-widget`, expiresAt, issue);
  }

  /** The self-employed widget spent its token (the recipient bound): a later page gets a new one. */
  async forgetSelfEmployedWidgetToken(link: string): Promise<void> {
    await this.redis.del(`${link}:se-widget`);
  }

  /** What the link's page recorded, in one round trip. */
  async marks(link: string): Promise<LinkMarks> {
    const [selfEmployed, replaced] = await this.redis.mget(`${link}:self-employed`, `${link}:replaced`);
    const [cardId, last4] = replaced ? replaced.split('|') : [];
    return {
      selfEmployed: selfEmployed === 'bound' || selfEmployed === 'rebound' ? selfEmployed : null,
      replaced: cardId && last4 ? { cardId, last4 } : null,
    };
  }

  /** The recipient bound through this link's page; kept until `expiresAt` (ms). */
  async markSelfEmployed(link: string, how: 'bound' | 'rebound', expiresAt: number): Promise<void> {
    await this.redis.set(`${link}:self-employed`, how, 'PX', Math.max(1, expiresAt - Date.now()));
  }

  /** Where a failed payout's page records the one card it took (src/store/recipient-store.ts replaceInvalidCard sets it). */
  replacedKey(link: string): string {
    return `${link}:replaced`;
  }

  private async kept(key: string, expiresAt: number, issue: () => Promise<string>): Promise<string> {
    const kept = await this.redis.get(key);
    if (kept) return kept;
    const issued = await issue();
    const ttl = Math.max(1, expiresAt - Date.now());
    const stored = await this.redis.set(key, issued, 'PX', ttl, 'NX');
    return stored === 'OK' ? issued : ((await this.redis.get(key)) ?? issued);
  }
}
