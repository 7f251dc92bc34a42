import { SandboxError } from './errors.js';
import type { Amount, FiscalTerms, TaxpayerView } from './session-types.js';
import type { SandboxStore } from './store.js';

/**
 * The sandbox's registry of self-employed (НПД) taxpayers: who is self-employed, who has allowed
 * the bank to register income for them ("bound" to the bank), and the income the sandbox registered
 * for each this calendar year. What a self-employed payout (session/start|init/payout/fiscalization)
 * is checked against at start. Bindings and income live in Redis (sandbox/src/store.ts); the test
 * taxpayers below need no setting up. sandbox/README.md lists them.
 */

/** Tax references with a fixed part to play; any other 12-digit reference is self-employed and unbound until bound. */
export const TEST_TAXPAYERS = {
  /** Self-employed and bound to the bank, always. */
  bound: '500100732259',
  /** Self-employed, not bound until bound through the widget or PUT /sandbox/taxpayers/:ref. */
  unbound: '771234567891',
  /** Not registered as self-employed (any reference starting 0000): taxpayer_unknown. */
  unknown: '000012345678',
  /** Bound, and already at the yearly income limit: every payout is taxpayer_income_exceeds_amount_limit. */
  overLimit: '500100732260',
} as const;

/** The НПД regime's yearly income limit: 2,400,000.00 RUB, in kopecks. */
export const NPD_INCOME_LIMIT = 2_400_000_00;

const TAX_REFERENCE = /^\d{12}$/;

/** Not registered as self-employed: the sandbox's convention for "the tax service does not know them". */
export function isSelfEmployed(taxReference: string): boolean {
  return !taxReference.startsWith('0000');
}

/** The binding of a test taxpayer that cannot be changed; undefined for everyone else. */
function fixedBinding(taxReference: string): boolean | undefined {
  return taxReference === TEST_TAXPAYERS.bound || taxReference === TEST_TAXPAYERS.overLimit ? true : undefined;
}

/**
 * The calendar year income counts towards. The tax service keeps Moscow time, so a payout at
 * 01:00 on 1 January in Moscow is next year's income even while it is still December in UTC.
 */
export function incomeYear(at: Date = new Date()): number {
  return new Date(at.getTime() + 3 * 3600_000).getUTCFullYear();
}

/** The Redis hash field a taxpayer's income for one year is kept under. */
export function incomeField(taxReference: string, year: number): string {
  return `${taxReference}:${year}`;
}

export function checkTaxReference(taxReference: string): void {
  if (!TAX_REFERENCE.test(taxReference)) throw new SandboxError('invalid_request', 'tax_reference: must be 12 digits');
}

export class Taxpayers {
  constructor(private readonly store: SandboxStore) {}

  async view(taxReference: string): Promise<TaxpayerView> {
    checkTaxReference(taxReference);
    const selfEmployed = isSelfEmployed(taxReference);
    const fixed = fixedBinding(taxReference);
    const year = incomeYear();
    const [set, registered] = await Promise.all([
      this.store.taxpayerBinding(taxReference),
      this.store.income(incomeField(taxReference, year)),
    ]);
    // The over-limit test taxpayer starts every year already at the limit.
    const income = taxReference === TEST_TAXPAYERS.overLimit ? Math.max(registered, NPD_INCOME_LIMIT) : registered;
    return {
      tax_reference: taxReference,
      self_employed: selfEmployed,
      bound: selfEmployed && (fixed ?? set ?? false),
      fixed: fixed !== undefined || !selfEmployed,
      income: { year, amount: income, currency: 'rub' },
      income_limit: { amount: NPD_INCOME_LIMIT, currency: 'rub' },
    };
  }

  /** PUT /sandbox/taxpayers/:ref: binds or unbinds, where the reference's part allows it. */
  async setBound(taxReference: string, bound: boolean): Promise<TaxpayerView> {
    checkTaxReference(taxReference);
    if (!isSelfEmployed(taxReference)) throw unknownTaxpayer(taxReference);
    const fixed = fixedBinding(taxReference);
    if (fixed !== undefined && fixed !== bound) {
      throw new SandboxError('invalid_request', `${taxReference} is a test taxpayer that is always bound; use another reference`);
    }
    await this.store.setTaxpayerBinding(taxReference, bound);
    return this.view(taxReference);
  }
}

export function unknownTaxpayer(taxReference: string): SandboxError {
  return new SandboxError('taxpayer_unknown', `${taxReference} is not registered as self-employed (НПД)`);
}

/**
 * Refuses a self-employed payout of `amount` the way the bank does at start: the services must add
 * up to the payout, the taxpayer must be self-employed and bound, and the payout must keep their
 * income this year within the limit. Throws the refusal; nothing is started.
 */
export function checkFiscalization(fiscal: FiscalTerms, amount: Amount): void {
  const { taxpayer, registry } = fiscal;
  const where = 'fiscalization_details.professional_income_taxpayer.services';
  const currencies = new Set(taxpayer.services.map((s) => s.amount_details.currency.toLowerCase()));
  if (currencies.size !== 1 || !currencies.has(amount.currency.toLowerCase())) {
    throw new SandboxError('invalid_request', `${where}: every service must be in the payout's currency (${amount.currency})`);
  }
  const total = taxpayer.services.reduce((sum, s) => sum + s.amount_details.amount * s.quantity, 0);
  if (total !== amount.amount) {
    throw new SandboxError(
      'invalid_request',
      `${where}: add up to ${total} (amount × quantity), not to the payout's amount_details.amount ${amount.amount}`,
    );
  }
  if (!registry.self_employed) throw unknownTaxpayer(registry.tax_reference);
  if (!registry.bound) {
    throw new SandboxError('taxpayer_not_bound', `${registry.tax_reference} has not allowed Bank 131 to register their income`);
  }
  if (registry.income.amount + amount.amount > registry.income_limit.amount) {
    throw new SandboxError(
      'taxpayer_income_exceeds_amount_limit',
      `the payout would take ${registry.tax_reference}'s income in ${registry.income.year} above ${registry.income_limit.amount / 100} RUB`,
    );
  }
}
