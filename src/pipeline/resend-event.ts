import { resendTargets } from '../payouts/event-delivery.js';
import { parseEventId } from '../payouts/events.js';
import { enqueueNotify, jobId } from '../queues.js';
import type { EventRecord } from '../store/event-store.js';
import type { StepDeps } from './pipeline-deps.js';

/**
 * `POST /v1/events/{id}/resend`: the event again, to the one webhook endpoint asked for or to every
 * destination that should have it now (src/payouts/event-delivery.ts resendTargets), one new job
 * each. Each is the stored body under the same `webhook-id`, with a new timestamp and signature
 * (workers/payout-notify.ts); one that is still owed settles when it acknowledges.
 */
export async function resendEvent(
  deps: StepDeps,
  event: EventRecord,
  requested?: string,
): Promise<{ ok: true; destinations: string[] } | { ok: false; field: 'endpoint' | null; problem: string }> {
  const outcome = parseEventId(event.id)?.event;
  const payout = await deps.store.get(event.payoutId);
  if (!outcome || !payout) return { ok: false, field: null, problem: 'its payout is gone' };
  const plan = resendTargets({
    hasCallbackUrl: Boolean(payout.order.callback_url),
    endpoints: await deps.store.endpoints.list(event.tenant),
    type: event.type,
    requested,
  });
  if (!plan.ok) return plan;
  const at = Date.now();
  await Promise.all(
    plan.destinations.map((d) => enqueueNotify(deps.queues, payout.id, outcome, jobId.resend(payout.id, outcome, d, at), d)),
  );
  deps.log.info({ event: event.id, destinations: plan.destinations }, 'event sent again on request');
  return plan;
}
