import { STEPS, type StepDef, type StepInput, type StepName } from '../payouts/steps.js';
import type { NotifyJob } from '../payouts/schemas.js';
import type { PayoutState } from '../payouts/state-machine.js';
import { enqueueCancel, enqueueConfirm, enqueueNotify, enqueueStart, jobId } from '../queues.js';
import type { TransitionResult } from '../store/payout-store.js';
import { observeStep } from '../metrics.js';
import type { StepDeps } from './pipeline-deps.js';

/** The payout a step is taken on: its id, and its session where the follow-up needs one. */
export interface StepTarget {
  id: string;
  sessionId?: string | null;
  /** When the payout was accepted: a final step times the payout's life by it. */
  createdAt?: string;
  /** The order, when known: a payout without a callback_url needs no callback job. */
  order?: { callback_url?: string | undefined };
}

/**
 * Takes a named step (src/payouts/steps.ts): one atomic compare-and-set that also records when the
 * payout is next due, then the step's follow-up job. A step the payout is already past does
 * nothing. If the process dies between the two, the payout is due and the reconciler
 * (src/pipeline/reconcile.ts) enqueues the follow-up again.
 */
export async function takeStep<N extends StepName>(
  deps: StepDeps,
  name: N,
  payout: StepTarget,
  input: StepInput<N>,
  options: { onlyFrom?: readonly PayoutState[] } = {},
): Promise<TransitionResult> {
  // The table's entries differ in their input type; each is applied to its own input.
  const def = STEPS[name] as unknown as StepDef<StepInput<N>>;
  // A job that fails a payout for its own call's sake narrows the step to the state it saw: the
  // payout may have moved on meanwhile (a webhook, another run), and then the failure is stale.
  const from = options.onlyFrom ? def.from.filter((s) => options.onlyFrom!.includes(s)) : def.from;
  const lookAgainMs = def.lookAgain === 'wallet_retry' ? deps.timing.walletRetryMs * 2 : deps.timing.reconcileAfterMs;
  const result = await deps.store.transition(payout.id, {
    from,
    to: def.to,
    why: def.why(input),
    set: def.fields(input),
    ...(def.indexSession ? { indexSession: def.indexSession(input) } : {}),
    dueAt: Date.now() + lookAgainMs,
  });
  if (!result.ok) {
    deps.log.debug({ payoutId: payout.id, step: name, current: result.current }, 'step no longer applies; nothing changed');
    return result;
  }
  const sessionId = def.indexSession?.(input) ?? payout.sessionId ?? undefined;
  deps.log.info({ payoutId: payout.id, sessionId, step: name, from: result.from, to: def.to }, 'payout moved');
  observeStep(name, def.to, payout.createdAt);
  deps.crashPoints?.afterStep?.(name, payout.id);
  const followUp = await enqueueFollowUp(deps, def.followUp, payout, def.to);
  if (followUp) await deps.store.setLastJob(payout.id, followUp);
  return result;
}

async function enqueueFollowUp(deps: StepDeps, kind: (typeof STEPS)[StepName]['followUp'], payout: StepTarget, to: string): Promise<string | null> {
  switch (kind) {
    case 'none':
      return null;
    case 'start':
      return enqueueStart(deps.queues, payout.id);
    case 'retry_start':
      return enqueueStart(deps.queues, payout.id, { jobId: jobId.again(jobId.start(payout.id), Date.now()), delayMs: deps.timing.walletRetryMs });
    case 'confirm':
      return payout.sessionId ? enqueueConfirm(deps.queues, payout.id, payout.sessionId) : null;
    case 'cancel':
      return payout.sessionId ? enqueueCancel(deps.queues, payout.id, payout.sessionId) : null;
    case 'notify':
      // nobody to tell: transition.lua has already taken the payout off the due index
      if (payout.order && !payout.order.callback_url) return null;
      return enqueueNotify(deps.queues, payout.id, to as NotifyJob['event']);
  }
}
