import type { Knobs } from './knobs.js';

/**
 * The bank's fee on a payout (its `amounts.fee.merchant_fee`): `feePercent` of the amount, rounded
 * half up to whole kopecks, and never below `feeMinimumKopecks`. Worked in integers (the percent in
 * millionths, BigInt for the product): 0.7 % of 5 500 kopecks is 38.5, so 39, where floating point
 * makes it 38.49999999999999 and rounds to 38.
 */
export function payoutFee(amount: number, knobs: Pick<Knobs, 'feePercent' | 'feeMinimumKopecks'>): number {
  const millionths = BigInt(Math.round(knobs.feePercent * 1_000_000));
  const scale = 100n * 1_000_000n; // percent × millionths
  const fee = Number((BigInt(amount) * millionths + scale / 2n) / scale);
  return Math.max(fee, knobs.feeMinimumKopecks);
}
