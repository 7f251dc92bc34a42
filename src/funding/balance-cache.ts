import type { WalletBalance } from './wallets.js';

/** One answer of the bank's `wallet/balance`, and when it came. */
export interface BalanceSnapshot {
  wallets: WalletBalance[];
  fetchedAt: Date;
}

/**
 * The web's short memory of the wallet balance (`GET /v1/balance`): an answer is reused for
 * `ttlMs` (BALANCE_CACHE_MS) after it came, requests that arrive while the bank is being asked
 * share that one call, and a failed call is not remembered, so the next request asks again.
 * No I/O of its own: `fetch` asks the bank, `now` is the clock.
 */
export class BalanceCache {
  private last: BalanceSnapshot | null = null;
  private inFlight: Promise<BalanceSnapshot> | null = null;

  constructor(
    private readonly fetch: () => Promise<WalletBalance[]>,
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  get(): Promise<BalanceSnapshot> {
    if (this.last && this.now() - this.last.fetchedAt.getTime() < this.ttlMs) return Promise.resolve(this.last);
    if (this.inFlight) return this.inFlight;
    const call = this.fetch().then(
      (wallets) => {
        this.inFlight = null;
        this.last = { wallets, fetchedAt: new Date(this.now()) };
        return this.last;
      },
      (err: unknown) => {
        this.inFlight = null;
        throw err;
      },
    );
    this.inFlight = call;
    return call;
  }
}
