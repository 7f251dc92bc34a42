import { describe, expect, it } from 'vitest';
import type { SandboxError } from '../../src/errors.js';
import { payoutFee } from '../../src/fees.js';
import type { FiscalTerms, TaxpayerView } from '../../src/session-types.js';
import { NPD_INCOME_LIMIT, checkFiscalization, incomeYear } from '../../src/taxpayers.js';

describe('the payout fee', () => {
  it('is the percent of the amount, rounded half up to whole kopecks', () => {
    const fee = (amount: number, feePercent: number) => payoutFee(amount, { feePercent, feeMinimumKopecks: 0 });
    expect(fee(10_000, 0.5)).toBe(50);
    expect(fee(12_345, 0.5)).toBe(62); // 61.725
    expect(fee(100, 0.5)).toBe(1); // 0.5: half up
    expect(fee(99, 0.5)).toBe(0); // 0.495
    expect(fee(10_001, 1.5)).toBe(150); // 150.015
    expect(fee(5_500, 0.7)).toBe(39); // 38.5, which 5500 * 0.7 / 100 in floating point makes 38.49999999999999
    expect(fee(3_000, 1.15)).toBe(35); // 34.5 likewise
    expect(fee(100_000_000_000, 2.75)).toBe(2_750_000_000);
    expect(fee(10_000, 0)).toBe(0);
  });

  it('is never below the minimum', () => {
    expect(payoutFee(10_000, { feePercent: 0.5, feeMinimumKopecks: 3_000 })).toBe(3_000);
    expect(payoutFee(10_000_000, { feePercent: 0.5, feeMinimumKopecks: 3_000 })).toBe(50_000);
  });
});

describe('a self-employed payout’s checks at start', () => {
  const registry = (over: Partial<TaxpayerView> = {}): TaxpayerView => ({
    tax_reference: '771234567891',
    self_employed: true,
    bound: true,
    fixed: false,
    income: { year: 2026, amount: 0, currency: 'rub' },
    income_limit: { amount: NPD_INCOME_LIMIT, currency: 'rub' },
    ...over,
  });
  const terms = (
    over: Partial<TaxpayerView> = {},
    services = [{ name: 'x', amount_details: { amount: 5_000, currency: 'rub' }, quantity: 2 }],
  ) => ({ taxpayer: { tax_reference: '771234567891', services }, registry: registry(over) }) as FiscalTerms;
  const code = (fiscal: FiscalTerms, amount = 10_000) => {
    try {
      checkFiscalization(fiscal, { amount, currency: 'rub' });
      return 'ok';
    } catch (e) {
      return (e as SandboxError).code;
    }
  };

  it('takes services that add up to the payout, for a bound taxpayer within the limit', () => {
    expect(code(terms())).toBe('ok');
    expect(code(terms({ income: { year: 2026, amount: NPD_INCOME_LIMIT - 10_000, currency: 'rub' } }))).toBe('ok');
  });

  it('refuses, in this order: services not adding up, unknown, unbound, over the limit', () => {
    expect(code(terms(), 10_001)).toBe('invalid_request');
    expect(code(terms({}, [{ name: 'x', amount_details: { amount: 10_000, currency: 'usd' }, quantity: 1 }]))).toBe('invalid_request');
    expect(code(terms({ self_employed: false, bound: false }), 10_001)).toBe('invalid_request');
    expect(code(terms({ self_employed: false, bound: false }))).toBe('taxpayer_unknown');
    expect(code(terms({ bound: false }))).toBe('taxpayer_not_bound');
    expect(code(terms({ income: { year: 2026, amount: NPD_INCOME_LIMIT - 9_999, currency: 'rub' } }))).toBe(
      'taxpayer_income_exceeds_amount_limit',
    );
  });

  it('counts income by the Moscow calendar year', () => {
    expect(incomeYear(new Date('2025-12-31T20:59:59Z'))).toBe(2025);
    expect(incomeYear(new Date('2025-12-31T21:00:00Z'))).toBe(2026);
  });
});
