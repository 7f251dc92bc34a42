import type { Logger } from 'pino';
import type { Bank131Client } from '../bank131/client.js';
import { Bank131Error } from '../bank131/errors.js';
import type { FundingStore } from './funding-store.js';
import { toppedUp, walletsOf, type StoredBalance } from './wallets.js';

export interface BalancePollDeps {
  bank: Pick<Bank131Client, 'walletBalance'>;
  funding: Pick<FundingStore, 'claimPoll' | 'balance' | 'keepBalance'>;
  /** Gives every payout waiting for funds a start job now; how many (src/pipeline/resume-funds.ts). */
  resume: () => Promise<number>;
  log: Pick<Logger, 'info' | 'warn'>;
  now?: () => number;
}

/** What one tick did: nothing (another worker asked the bank within the interval), failed to ask, or asked. */
export type PollOutcome =
  { polled: false } | { polled: true; failed: string } | { polled: true; balance: StoredBalance; toppedUp: boolean; resumed: number };

/**
 * The workers' watch on the partner wallet (BALANCE_POLL_MS). Every worker process ticks; the
 * first to claim a tick asks the bank's `wallet/balance`, so the bank is asked about once per
 * interval however many workers run. The answer is kept in Redis (`<prefix>:funds:balance`), where
 * every process's metrics read it (`bank131_wallet_balance_kopecks`). When a wallet holds more
 * than at the poll before, the partner topped it up: every payout waiting for funds is given a
 * start job at once (`resume`: src/pipeline/resume-funds.ts, as `POST /v1/payouts/resume` does),
 * so a top-up is acted on within one interval without an operator.
 *
 * A failed call is said once when the failures begin and once when they end, not at every tick.
 */
export class BalancePoller {
  private failing = false;

  constructor(
    private readonly deps: BalancePollDeps,
    /** BALANCE_POLL_MS. A tick asks the bank when nobody did for 90% of it: ticks of several workers never land exactly apart. */
    private readonly everyMs: number,
  ) {}

  /** `stopped`: asked once the bank answers; true means the process is closing, and nothing is written or enqueued. */
  async tick(stopped: () => boolean = () => false): Promise<PollOutcome> {
    const { deps } = this;
    const now = deps.now ?? Date.now;
    if (!(await deps.funding.claimPoll(now(), Math.floor(this.everyMs * 0.9)))) return { polled: false };
    let balance: StoredBalance;
    try {
      balance = { wallets: walletsOf(await deps.bank.walletBalance()), fetched_at: new Date(now()).toISOString() };
    } catch (err) {
      // the bank's failure; anything else (Redis, under the shared rate limit) is the caller's to report
      if (!(err instanceof Bank131Error)) throw err;
      if (!this.failing)
        deps.log.warn({ err: err.message }, 'could not ask Bank 131 for the wallet balance; the metrics show the last one known');
      this.failing = true;
      return { polled: true, failed: err.message };
    }
    if (this.failing) deps.log.info('Bank 131 tells the wallet balance again');
    this.failing = false;
    if (stopped()) return { polled: true, balance, toppedUp: false, resumed: 0 };
    const before = await deps.funding.balance();
    if (!toppedUp(before?.wallets ?? null, balance.wallets)) {
      await deps.funding.keepBalance(balance);
      return { polled: true, balance, toppedUp: false, resumed: 0 };
    }
    // resumed before the new balance is kept: should this fail, the next poll still sees the rise
    const resumed = await deps.resume();
    await deps.funding.keepBalance(balance);
    deps.log.info(
      { resumed, wallets: balance.wallets, before: before?.wallets },
      resumed > 0
        ? `the partner wallet was topped up: ${resumed} payouts waiting for funds are tried again now`
        : 'the partner wallet was topped up; no payout waits for funds',
    );
    return { polled: true, balance, toppedUp: true, resumed };
  }
}
