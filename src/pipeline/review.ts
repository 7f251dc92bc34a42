import type { PayoutState } from '../payouts/state-machine.js';
import type { StepDeps } from './pipeline-deps.js';
import { takeStep } from './take-step.js';

export type ReviewDecision = { approve: boolean; by: string; reason?: string | undefined };
export type ReviewResult =
  | { ok: true; state: PayoutState }
  | { ok: false; problem: 'not_found' | 'not_awaiting_review' | 'self_approval' | 'reason_required'; state?: PayoutState };

/** The longest reason kept: it is audit text and the payout's error description. */
export const MAX_REASON = 500;

/**
 * A reviewer's decision on a payout held for review: `approveReview` sends it on to the bank (the
 * start job counts it by the rules and never holds it again), `rejectReview` ends it. Four eyes:
 * the API key that accepted the payout may not approve it (`by` is that key's id when a key
 * decides, `operator:<name>` when an operator does). Whoever decides is named in the audit entry.
 * The step's compare-and-set from `awaiting_review` is what makes two reviewers deciding at once
 * harmless: one decision lands, the other finds the payout moved on.
 */
export async function decideReview(deps: StepDeps, payoutId: string, decision: ReviewDecision): Promise<ReviewResult> {
  const reason = decision.reason?.trim().slice(0, MAX_REASON) || undefined;
  if (!decision.approve && !reason) return { ok: false, problem: 'reason_required' };
  const payout = await deps.store.get(payoutId);
  if (!payout) return { ok: false, problem: 'not_found' };
  if (payout.state !== 'awaiting_review') return { ok: false, problem: 'not_awaiting_review', state: payout.state };
  if (decision.approve && payout.createdBy !== null && payout.createdBy === decision.by)
    return { ok: false, problem: 'self_approval', state: payout.state };
  const r = decision.approve
    ? await takeStep(deps, 'approveReview', payout, { by: decision.by, reason })
    : await takeStep(deps, 'rejectReview', payout, { by: decision.by, reason: reason! });
  if (!r.ok) return { ok: false, problem: 'not_awaiting_review', ...(r.current ? { state: r.current } : {}) };
  return { ok: true, state: decision.approve ? 'queued' : 'rejected' };
}
