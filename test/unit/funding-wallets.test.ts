import { describe, expect, it } from 'vitest';
import { parseStoredBalance, toppedUp, walletsOf } from '../../src/funding/wallets.js';
import { RESUME_CHUNK, chunksOf, resumeJobId } from '../../src/pipeline/resume-funds.js';
import { jobId } from '../../src/queues.js';

const rub = (id: string, amount: number) => ({ id, amount, currency: 'rub' });

describe('the wallet as the service keeps it', () => {
  it("flattens the bank's wallet/balance answer to id, amount and currency (lower case)", () => {
    expect(
      walletsOf([
        { id: 'w1', amount_details: { amount: 150_000, currency: 'RUB' } },
        { id: 'w2', amount_details: { amount: 0, currency: 'rub' } },
      ]),
    ).toEqual([rub('w1', 150_000), rub('w2', 0)]);
    expect(walletsOf([])).toEqual([]);
  });

  it('reads back what a poll kept, and nothing from a missing or damaged key', () => {
    const kept = { wallets: [rub('w1', 5)], fetched_at: '2026-11-26T10:00:00.000Z' };
    expect(parseStoredBalance(JSON.stringify(kept))).toEqual(kept);
    expect(parseStoredBalance(null)).toBeNull();
    expect(parseStoredBalance('{not json')).toBeNull();
    expect(parseStoredBalance('{"wallets":"no"}')).toBeNull();
    expect(parseStoredBalance(JSON.stringify({ wallets: [{ id: 'w1', amount: 1.5, currency: 'rub' }], fetched_at: 'x' }))).toBeNull();
  });
});

describe('a top-up', () => {
  it('is a wallet holding more than at the poll before', () => {
    expect(toppedUp([rub('w1', 100)], [rub('w1', 101)])).toBe(true);
    expect(toppedUp([rub('w1', 100), rub('w2', 5)], [rub('w1', 50), rub('w2', 6)])).toBe(true);
  });

  it('is not the same balance, nor a lower one', () => {
    expect(toppedUp([rub('w1', 100)], [rub('w1', 100)])).toBe(false);
    expect(toppedUp([rub('w1', 100)], [rub('w1', 99)])).toBe(false);
    expect(toppedUp([rub('w1', 100)], [])).toBe(false);
    expect(toppedUp([], [])).toBe(false);
  });

  it('counts a wallet not seen before when it holds anything', () => {
    expect(toppedUp([rub('w1', 100)], [rub('w1', 100), rub('w2', 1)])).toBe(true);
    expect(toppedUp([rub('w1', 100)], [rub('w1', 100), rub('w2', 0)])).toBe(false);
    // the same id in another currency is another wallet
    expect(toppedUp([rub('w1', 100)], [rub('w1', 100), { id: 'w1', amount: 1, currency: 'usd' }])).toBe(true);
  });

  it('cannot be told without an earlier answer', () => {
    expect(toppedUp(null, [rub('w1', 1_000_000)])).toBe(false);
  });
});

describe('resuming payouts waiting for funds', () => {
  it('adds start jobs in runs of at most RESUME_CHUNK', () => {
    expect(RESUME_CHUNK).toBe(1_000);
    const ids = Array.from({ length: 2_345 }, (_, i) => `p${i}`);
    const chunks = chunksOf(ids, RESUME_CHUNK);
    expect(chunks.map((c) => c.length)).toEqual([1_000, 1_000, 345]);
    expect(chunks.flat()).toEqual(ids);
    expect(chunksOf([], 1_000)).toEqual([]);
    expect(chunksOf(['a', 'b'], 1)).toEqual([['a'], ['b']]);
    expect(() => chunksOf(['a'], 0)).toThrow(RangeError);
    expect(() => chunksOf(['a'], 1.5)).toThrow(RangeError);
  });

  it('names each job apart from the first start job and from an earlier resume, in BullMQ-safe characters', () => {
    const id = resumeJobId('order-1', 1_700_000_000_000);
    expect(id).toBe('start-order-1-r1700000000000');
    expect(id).not.toBe(jobId.start('order-1'));
    expect(resumeJobId('order-1', 1_700_000_000_001)).not.toBe(id);
    expect(resumeJobId('acme~order-1', 1)).not.toContain(':');
  });
});
