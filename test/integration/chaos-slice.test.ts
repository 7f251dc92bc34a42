import { describe, expect, it } from 'vitest';
import { SCENARIOS, runScenario } from '../chaos/scenarios.js';

/**
 * A slice of the chaos suite (test/chaos, `npm run chaos`, docs/reliability.md) for every run of
 * `npm test`: real processes (a web and several workers, `node --import tsx`), a Redis of its own,
 * the sandbox bank over HTTP and a receiver that verifies every callback's signature; a few hundred
 * payouts in all. At the end every payout is final, none is paid twice, every paid one was paid
 * its order's amount and metadata, and upstream heard each outcome and never another one.
 */
const SLICE: Array<[name: string, payouts: number]> = [
  ['worker-sigkill', 100],
  ['redis-restart', 80],
  ['webhooks-hostile', 80],
];

describe('chaos slice', () => {
  it.each(SLICE)(
    '%s with %i payouts: nothing lost, nothing paid twice, no invariant broken',
    async (name, payouts) => {
      const scenario = SCENARIOS.find((s) => s.name === name)!;
      const result = await runScenario(scenario, payouts, { settleTimeoutMs: 40_000 });
      const faults = Object.values(result.faults).reduce((a, b) => a + b, 0);
      expect(faults, 'faults were injected').toBeGreaterThan(0);
      expect(result.violationSamples).toEqual([]);
      expect({ lost: result.lost, paidTwice: result.paidTwice, violations: result.violations }).toEqual({
        lost: 0,
        paidTwice: 0,
        violations: 0,
      });
      expect(result.settleMs, 'every payout settled and was reported').not.toBeNull();
      expect(result.processFindings).toEqual([]);
    },
    90_000,
  );
});
