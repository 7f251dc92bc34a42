import { STEPS, type StepDef, type StepInput, type StepName } from '../payouts/steps.js';
import { CALLBACK_URL, type NotifyEvent } from '../payouts/events.js';
import type { NotifyJob, PayoutRecord } from '../payouts/schemas.js';
import { UNUSABLE_CARD_CODES } from '../recipients/unusable-card.js';
import type { PayoutState } from '../payouts/state-machine.js';
import { enqueueCancel, enqueueConfirm, enqueueNotify, enqueueStart, jobId, QUEUE } from '../queues.js';
import type { TransitionResult } from '../store/payout-store.js';
import { observeStep } from '../metrics.js';
import { tenantOf } from '../tenants/identity.js';
import type { StepDeps } from './pipeline-deps.js';

/** The payout a step is taken on: its id, and its session where the follow-up needs one. */
export interface StepTarget {
  id: string;
  sessionId?: string | null;
  /** When the payout was accepted: a final step times the payout's life by it. */
  createdAt?: string;
  /** The order, when known: a payout without a callback_url has no callback job to remember as its last job. */
  order?: { callback_url?: string | undefined };
  /** A payout to a saved card: failing with a code that makes the card unusable marks the card so. */
  savedCard?: { recipientId: string; cardId: string } | undefined;
}

/** The step target a payout record makes. */
export function targetOf(payout: PayoutRecord): StepTarget {
  return {
    id: payout.id,
    sessionId: payout.sessionId,
    createdAt: payout.createdAt,
    order: payout.order,
    ...(payout.recipientId && payout.cardId ? { savedCard: { recipientId: payout.recipientId, cardId: payout.cardId } } : {}),
  };
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
  // a held payout is next looked at when its review expires (the step's input says when)
  const dueAt = def.lookAgain === 'review_expiry' ? (input as { expiresAt: number }).expiresAt : Date.now() + lookAgainMs;
  // The follow-up's job id is known before the move, so the record names it in the same script
  // (one round trip fewer than writing it afterwards); the reconciler checks that job first.
  const followUp = planFollowUp(deps, def.followUp, payout, def.to);
  const code = (input as { code?: unknown }).code;
  // a record passed as it is carries its saved card too
  const savedCard = payout.savedCard ?? ('recipientId' in payout ? targetOf(payout as PayoutRecord).savedCard : undefined);
  const unusable = name === 'fail' && typeof code === 'string' && UNUSABLE_CARD_CODES.has(code) && savedCard;
  const result = await deps.store.transition(payout.id, {
    from,
    to: def.to,
    why: def.why(input),
    set: def.fields(input),
    ...(def.indexSession ? { indexSession: def.indexSession(input) } : {}),
    ...(followUp?.ref ? { lastJob: followUp.ref } : {}),
    dueAt,
    // a step asked for by an API caller (an upstream cancel) names its key in the audit
    ...(typeof (input as { by?: unknown }).by === 'string' ? { by: (input as { by: string }).by } : {}),
    ...(unusable ? { invalidateCard: { tenant: tenantOf(payout.id).tenant, ...unusable } } : {}),
  });
  if (!result.ok) {
    deps.log.debug({ payoutId: payout.id, step: name, current: result.current }, 'step no longer applies; nothing changed');
    return result;
  }
  const sessionId = def.indexSession?.(input) ?? payout.sessionId ?? undefined;
  deps.log.info(
    { payoutId: payout.id, tenant: tenantOf(payout.id).tenant, sessionId, step: name, from: result.from, to: def.to },
    'payout moved',
  );
  observeStep(name, def.to, payout.createdAt, tenantOf(payout.id).tenant);
  deps.crashPoints?.afterStep?.(name, payout.id);
  await followUp?.enqueue(result.events ?? []);
  return result;
}

interface PlannedJob {
  /** `<queue>/<job id>`, recorded with the move as its last job; null: none to record. */
  ref: string | null;
  /** `events`: a final payout's events and who each is still owed to, as the move found them. */
  enqueue(events: Array<{ event: NotifyEvent; destinations: string[] }>): Promise<unknown>;
}

function planFollowUp(deps: StepDeps, kind: (typeof STEPS)[StepName]['followUp'], payout: StepTarget, to: string): PlannedJob | null {
  const planned = (queue: string, id: string, enqueue: (id: string) => Promise<unknown>): PlannedJob => ({
    ref: `${queue}/${id}`,
    enqueue: () => enqueue(id),
  });
  switch (kind) {
    case 'none':
      return null;
    case 'start':
      return planned(QUEUE.start, jobId.start(payout.id), (id) => enqueueStart(deps.queues, payout.id, { jobId: id }));
    case 'retry_start':
      return planned(QUEUE.start, jobId.again(jobId.start(payout.id), Date.now()), (id) =>
        enqueueStart(deps.queues, payout.id, { jobId: id, delayMs: deps.timing.walletRetryMs }),
      );
    case 'confirm': {
      const sessionId = payout.sessionId;
      // the job that took the step decides next, itself (its webhook fed it): nothing to enqueue
      if (sessionId && deps.inline?.confirm) return { ref: deps.inline.confirm, enqueue: async () => undefined };
      return sessionId
        ? planned(QUEUE.confirm, jobId.confirm(sessionId), (id) => enqueueConfirm(deps.queues, payout.id, sessionId, id))
        : null;
    }
    case 'cancel': {
      const sessionId = payout.sessionId;
      return sessionId
        ? planned(QUEUE.confirm, jobId.cancel(sessionId), (id) => enqueueCancel(deps.queues, payout.id, sessionId, id))
        : null;
    }
    case 'notify': {
      // One delivery job per destination the event is owed to (transition.lua decides who, as it
      // records the event): the payout's callback_url, whose job is the reconciler's first check
      // (its last job), and each webhook endpoint of its tenant that takes the event. Owed to
      // nobody: no job, and transition.lua has already taken the payout off the due index.
      // A payout may owe more than this step's event (a `payout.succeeded` still pending when the
      // money comes back, a `recipient.card_invalid` beside a `payout.failed`): each owed one gets its job.
      // The finish job sends the callback itself when it can (deps.inline.notify); a callback it
      // could not send, and every webhook endpoint's delivery, is a notify job with its retries.
      const event = to as NotifyJob['event'];
      const first = jobId.notify(payout.id, event);
      const inline = deps.inline?.notify;
      const deliver = async (e: NotifyEvent, d: string) => {
        if (inline && d === CALLBACK_URL && (await inline(payout.id, e))) return;
        await enqueueNotify(deps.queues, payout.id, e, jobId.delivery(payout.id, e, d), d);
      };
      return {
        ref: payout.order && !payout.order.callback_url ? null : `${QUEUE.notify}/${first}`,
        enqueue: (events) => Promise.all(events.flatMap((e) => e.destinations.map((d) => deliver(e.event, d)))),
      };
    }
  }
}
