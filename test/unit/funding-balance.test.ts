import { describe, expect, it, vi } from 'vitest';
import { Bank131ApiError, Bank131TransportError } from '../../src/bank131/errors.js';
import type { Wallet } from '../../src/bank131/schemas.js';
import { BalanceCache } from '../../src/funding/balance-cache.js';
import { BalancePoller, type BalancePollDeps } from '../../src/funding/balance-poll.js';
import type { StoredBalance, WalletBalance } from '../../src/funding/wallets.js';

const rub = (amount: number): WalletBalance[] => [{ id: 'w1', amount, currency: 'rub' }];
const deferred = <T>() => {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
};

describe('the balance cache (GET /v1/balance)', () => {
  it('reuses an answer for ttlMs after it came, then asks again', async () => {
    let clock = 1_000;
    const fetch = vi.fn(async () => rub(fetch.mock.calls.length * 100));
    const cache = new BalanceCache(fetch, 5_000, () => clock);
    const first = await cache.get();
    expect(first).toEqual({ wallets: rub(100), fetchedAt: new Date(1_000) });
    clock = 5_999;
    expect(await cache.get()).toBe(first);
    expect(fetch).toHaveBeenCalledTimes(1);
    clock = 6_000;
    expect((await cache.get()).wallets).toEqual(rub(200));
    expect(fetch).toHaveBeenCalledTimes(2);
  });

  it('gives requests that arrive while the bank is asked the one call in flight', async () => {
    const answer = deferred<WalletBalance[]>();
    const fetch = vi.fn(() => answer.promise);
    const cache = new BalanceCache(fetch, 5_000, () => 0);
    const asked = [cache.get(), cache.get(), cache.get()];
    answer.resolve(rub(7));
    const got = await Promise.all(asked);
    expect(fetch).toHaveBeenCalledTimes(1);
    expect(got.every((g) => g === got[0])).toBe(true);
  });

  it('does not remember a failure: every request waiting for it fails, the next one asks again', async () => {
    const answer = deferred<WalletBalance[]>();
    const fetch = vi.fn(() => answer.promise);
    const cache = new BalanceCache(fetch, 5_000, () => 0);
    const asked = [cache.get(), cache.get()];
    answer.reject(new Error('bank down'));
    for (const a of asked) await expect(a).rejects.toThrow('bank down');
    fetch.mockImplementation(async () => rub(1));
    expect((await cache.get()).wallets).toEqual(rub(1));
    expect(fetch).toHaveBeenCalledTimes(2);
  });

  it('with ttlMs 0, asks the bank for every request that does not find a call in flight', async () => {
    const fetch = vi.fn(async () => rub(1));
    const cache = new BalanceCache(fetch, 0, () => 0);
    await cache.get();
    await cache.get();
    expect(fetch).toHaveBeenCalledTimes(2);
  });
});

/** A poller on fakes: the bank answers `answers` in turn; the kept balance and the poll claim live in memory. */
function pollerOn(answers: Array<number | Error>, options: { kept?: StoredBalance | null; claim?: boolean; resumed?: number } = {}) {
  let kept: StoredBalance | null = options.kept ?? null;
  const bank = {
    walletBalance: vi.fn(async (): Promise<Wallet[]> => {
      const next = answers.shift();
      if (next instanceof Error) throw next;
      return [{ id: 'w1', amount_details: { amount: next ?? 0, currency: 'rub' } }];
    }),
  };
  const deps = {
    bank,
    funding: {
      claimPoll: vi.fn(async () => options.claim ?? true),
      balance: vi.fn(async () => kept),
      keepBalance: vi.fn(async (b: StoredBalance) => void (kept = b)),
    },
    resume: vi.fn(async () => options.resumed ?? 3),
    log: { info: vi.fn(), warn: vi.fn() },
    now: () => Date.parse('2026-11-26T10:00:00Z'),
  } satisfies BalancePollDeps;
  return { poller: new BalancePoller(deps as unknown as BalancePollDeps, 60_000), deps, kept: () => kept };
}

describe('the balance poll (BALANCE_POLL_MS)', () => {
  it('asks the bank only when it claims the tick, claiming for 90% of the interval', async () => {
    const { poller, deps } = pollerOn([100], { claim: false });
    expect(await poller.tick()).toEqual({ polled: false });
    expect(deps.bank.walletBalance).not.toHaveBeenCalled();
    expect(deps.funding.claimPoll).toHaveBeenCalledWith(Date.parse('2026-11-26T10:00:00Z'), 54_000);
  });

  it('keeps the answer; the first one ever, or one no higher, resumes nothing', async () => {
    const { poller, deps, kept } = pollerOn([100, 100, 40]);
    expect(await poller.tick()).toMatchObject({ polled: true, toppedUp: false, resumed: 0 });
    expect(kept()).toEqual({ wallets: rub(100), fetched_at: '2026-11-26T10:00:00.000Z' });
    await poller.tick();
    await poller.tick();
    expect(kept()?.wallets).toEqual(rub(40));
    expect(deps.resume).not.toHaveBeenCalled();
  });

  it('a rise resumes the payouts waiting for funds, and says so', async () => {
    const { poller, deps, kept } = pollerOn([0, 50_000], { resumed: 3 });
    await poller.tick();
    expect(await poller.tick()).toMatchObject({ polled: true, toppedUp: true, resumed: 3 });
    expect(deps.resume).toHaveBeenCalledTimes(1);
    expect(kept()?.wallets).toEqual(rub(50_000));
    expect(deps.log.info).toHaveBeenCalledWith(expect.objectContaining({ resumed: 3 }), expect.stringContaining('topped up'));
  });

  it('a rise whose resume fails is not kept, so the next poll sees it again', async () => {
    const { poller, deps, kept } = pollerOn([50_000, 50_000], { kept: { wallets: rub(0), fetched_at: 'then' } });
    deps.resume.mockRejectedValueOnce(new Error('Connection is closed.'));
    await expect(poller.tick()).rejects.toThrow('Connection is closed');
    expect(kept()?.wallets).toEqual(rub(0));
    expect(await poller.tick()).toMatchObject({ toppedUp: true, resumed: 3 });
  });

  it('a bank failure keeps the last balance and is said once, until the bank answers again', async () => {
    const refused = new Bank131ApiError('v1/wallet/balance', 'internal_error', '', 500);
    const timeout = new Bank131TransportError('v1/wallet/balance', 'unknown', 'no answer within 30000 ms');
    const { poller, deps, kept } = pollerOn([refused, timeout, 10], { kept: { wallets: rub(5), fetched_at: 'then' } });
    expect(await poller.tick()).toEqual({ polled: true, failed: refused.message });
    expect(await poller.tick()).toEqual({ polled: true, failed: timeout.message });
    expect(kept()?.wallets).toEqual(rub(5));
    expect(deps.log.warn).toHaveBeenCalledTimes(1);
    expect(await poller.tick()).toMatchObject({ toppedUp: true });
    expect(deps.log.info).toHaveBeenCalledWith('Bank 131 tells the wallet balance again');
  });

  it('an error that is not the bank’s (Redis under the rate limit) is thrown for the caller to report', async () => {
    const { poller } = pollerOn([new Error('Connection is closed.')]);
    await expect(poller.tick()).rejects.toThrow('Connection is closed');
  });

  it('a process closing while the bank answers writes and enqueues nothing', async () => {
    const { poller, deps } = pollerOn([50_000], { kept: { wallets: rub(0), fetched_at: 'then' } });
    expect(await poller.tick(() => true)).toMatchObject({ polled: true, toppedUp: false, resumed: 0 });
    expect(deps.funding.keepBalance).not.toHaveBeenCalled();
    expect(deps.resume).not.toHaveBeenCalled();
  });
});
