import type { PayoutIn } from '../payouts/schemas.js';
import { counterBreach, decide, duplicateBreach, planScreening, recipientIdentity, screens, type Breach } from '../rules/screening.js';
import type { ScreenCheck, ScreenResult } from '../store/payout-store.js';
import { tenantOf } from '../tenants/identity.js';
import type { PipelineDeps } from './pipeline-deps.js';
import { takeStep } from './take-step.js';

/** A counter or guard the store found full. */
type Found = Extract<ScreenResult, { kind: 'breach' }>['found'][number];

/** What a queued payout's screening came to: it may go to the bank, or it was held, refused or moved meanwhile. */
export type ScreenOutcome = 'go' | 'held' | 'rejected' | 'moved';

/**
 * The approval rules (RULES_FILE, REVIEW_ABOVE) on a queued payout, before anything is sent to the
 * bank. What they read is the record (amount, card, recipient), never the job. The counters are
 * checked and taken in one script (src/store/scripts/screen-payout.lua), so two workers never
 * both pass the last slot; a breach takes the rule's step: `rejectByRule`, or `holdForReview` until
 * REVIEW_TTL. A payout a reviewer approved is counted and goes on, whatever the counters say.
 */
export async function screenPayout(deps: PipelineDeps, payout: PayoutIn<'queued'>): Promise<ScreenOutcome> {
  const approval = deps.approval;
  if (!approval || !screens(approval.rules, approval.reviewAbove)) return 'go';
  const plan = planScreening(approval.rules, approval.reviewAbove, {
    tenant: tenantOf(payout.id).tenant,
    amount: payout.order.amount_details.amount,
    cardNumberHash: (payout.order.encrypted_card ?? payout.collectedCard)?.number_hash ?? null,
    recipient: recipientIdentity(payout.order, payout.customerReference),
    at: new Date(),
  });
  const amount = payout.order.amount_details.amount;
  const checks: Array<ScreenCheck & { breach: (found: Found) => Breach }> = [
    ...plan.counters.map((c) => ({
      kind: 'counter' as const,
      key: c.key,
      count: c.count,
      sum: c.sum,
      ttlMs: c.ttlMs,
      breach: (f: Found) => counterBreach(c, f.which === 'sum' ? 'sum' : 'count', f.held, amount),
    })),
    ...(plan.duplicate
      ? [
          {
            kind: 'duplicate' as const,
            key: plan.duplicate.key,
            count: null,
            sum: null,
            ttlMs: plan.duplicate.ttlMs,
            breach: () => duplicateBreach(plan.duplicate!),
          },
        ]
      : []),
  ];
  const result = await deps.store.screen(payout.id, checks, plan.breaches.length > 0);
  if (result.kind === 'moved') return 'moved';
  if (result.kind === 'pass') return 'go';
  const verdict = decide([...plan.breaches, ...result.found.map((f) => checks[f.check]!.breach(f))]);
  // the script counts nothing when it reports a breach, so a pass here would send an uncounted payout
  if (verdict.kind === 'pass') throw new Error(`payout ${payout.id}: the rules reported a breach that decides nothing`);
  if (verdict.kind === 'reject') {
    const r = await takeStep(
      deps,
      'rejectByRule',
      payout,
      { rule: verdict.breach.rule, detail: verdict.breach.detail },
      { onlyFrom: ['queued'] },
    );
    return r.ok ? 'rejected' : 'moved';
  }
  const r = await takeStep(
    deps,
    'holdForReview',
    payout,
    { breaches: verdict.breaches.map((b) => ({ rule: b.rule, detail: b.detail })), expiresAt: Date.now() + approval.reviewTtlMs },
    { onlyFrom: ['queued'] },
  );
  return r.ok ? 'held' : 'moved';
}
