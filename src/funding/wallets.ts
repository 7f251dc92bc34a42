import { z } from 'zod';
import type { Wallet } from '../bank131/schemas.js';

/**
 * The partner wallet as the service shows and keeps it: the bank's `wallet/balance` answer
 * (docs/bank131-protocol.md §3) flattened to `{ id, amount, currency }`, amounts in kopecks. Pure.
 */
export const WalletBalance = z.object({
  id: z.string(),
  amount: z.number().int().describe('kopecks: 100 RUB = 10000'),
  currency: z.string(),
});
export type WalletBalance = z.infer<typeof WalletBalance>;

/** What the worker's poll keeps in Redis (`<prefix>:funds:balance`), and the metrics read. */
export const StoredBalance = z.object({ wallets: z.array(WalletBalance), fetched_at: z.string() });
export type StoredBalance = z.infer<typeof StoredBalance>;

export function walletsOf(wallets: readonly Wallet[]): WalletBalance[] {
  return wallets.map((w) => ({ id: w.id, amount: w.amount_details.amount, currency: w.amount_details.currency.toLowerCase() }));
}

/** A stored balance as written, or null when there is none or it cannot be read (then the next poll writes a good one). */
export function parseStoredBalance(text: string | null): StoredBalance | null {
  if (text === null) return null;
  try {
    const parsed = StoredBalance.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

/**
 * Whether the wallet was topped up between two answers: some wallet holds more than it did (a
 * wallet not seen before counts when it holds anything). Without an earlier answer nothing can be
 * said to have risen.
 */
export function toppedUp(before: readonly WalletBalance[] | null, after: readonly WalletBalance[]): boolean {
  if (before === null) return false;
  const earlier = new Map(before.map((w) => [`${w.id}\u0000${w.currency}`, w.amount]));
  return after.some((w) => w.amount > (earlier.get(`${w.id}\u0000${w.currency}`) ?? 0));
}
