import type { Logger } from 'pino';
import type { Bank131Client } from '../bank131/client.js';

/**
 * A cheap signed call to Bank 131 (`wallet/balance`), when the web starts and every BANK_PROBE_MS:
 * what the bank answers, or that it does not, reaches src/store/bank-access.ts through the
 * client's call hook like every call, so /readyz knows within one interval of start that our key is
 * refused or the bank cannot be reached, before any payout finds out. It moves no money.
 */
export function startBankProbe(bank: Pick<Bank131Client, 'walletBalance'>, intervalMs: number, log: Pick<Logger, 'debug'>): () => void {
  if (intervalMs <= 0) return () => undefined;
  const probe = () =>
    bank.walletBalance().catch((err: Error & { code?: string }) => {
      // its outcome is recorded by the call hook; /readyz says it, the log need not repeat it
      log.debug({ code: err.code ?? err.name }, 'bank probe: wallet/balance failed');
    });
  void probe();
  const timer = setInterval(() => void probe(), intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
