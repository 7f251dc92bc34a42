import { randomBytes } from 'node:crypto';
import { TEST_CARDS } from 'bank131-sandbox';
import type { PayoutState } from '../payouts/state-machine.js';

/** One sample payout of the demo, and how it is meant to end. */
export interface Sample {
  id: string;
  expect: PayoutState;
  body: Record<string, unknown>;
}

/** `count` payouts: most pay out; every 25th few the bank reports wrongly (the policy cancels them) or declines. */
export function makeSamples(count: number, callbackUrl: string): Sample[] {
  const run = randomBytes(3).toString('hex');
  return Array.from({ length: count }, (_, i) => {
    const roll = i % 25;
    const [card, expect]: [string, PayoutState] =
      roll === 7
        ? [TEST_CARDS.mismatchAmount, 'cancelled']
        : roll === 14
          ? [TEST_CARDS.mismatchMetadata, 'cancelled']
          : roll === 21
            ? [TEST_CARDS.declinedByIssuer, 'failed']
            : [`demo_card_${run}_${String(1000 + (i % 9000)).padStart(4, '0')}`, 'succeeded'];
    const id = `demo-${run}-${String(i + 1).padStart(5, '0')}`;
    return {
      id,
      expect,
      body: {
        id,
        amount_details: { amount: 100_00 + ((i * 7919) % 49_900) * 100, currency: 'rub' },
        recipient: { full_name: 'Ivanov Ivan Ivanovich' },
        encrypted_card: { number_hash: card },
        metadata: `demo order ${i + 1}`,
        callback_url: callbackUrl,
      },
    };
  });
}
