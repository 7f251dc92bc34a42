import { expect } from 'vitest';
import { STEPS, type StepDef, type StepInput, type StepName } from '../../src/payouts/steps.js';
import type { PayoutStore } from '../../src/store/payout-store.js';

/**
 * A named step applied as src/pipeline/take-step.ts applies it, without its follow-up job: for
 * tests that put payouts into states with no worker running. It must land.
 */
export async function applyStep<N extends StepName>(store: PayoutStore, id: string, name: N, input: StepInput<N>): Promise<void> {
  const def = STEPS[name] as unknown as StepDef<StepInput<N>>;
  const moved = await store.transition(id, {
    from: def.from,
    to: def.to,
    why: def.why(input),
    set: def.fields(input),
    ...(def.indexSession ? { indexSession: def.indexSession(input) } : {}),
    dueAt: Date.now() + 3_600_000,
  });
  expect(moved.ok, `${name} of ${id}`).toBe(true);
}
