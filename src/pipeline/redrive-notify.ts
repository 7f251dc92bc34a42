import { owedDestinations } from '../payouts/event-delivery.js';
import { eventIdOf, eventOf } from '../payouts/events.js';
import type { PayoutRecord } from '../payouts/schemas.js';
import { ensureDeliveryJob } from './ensure-job.js';
import type { JobOutcome } from './job-outcome.js';
import type { PipelineDeps } from './pipeline-deps.js';

/**
 * The reconciler's check of a final payout: its event is delivered again to each destination it is
 * still owed to (src/payouts/event-delivery.ts owedDestinations), each one on its own job, until
 * every one has acknowledged; then the payout leaves the due index. Only a payout found due
 * (`due`) has sat long enough for its jobs to be presumed lost.
 */
export async function redriveNotifications(deps: PipelineDeps, payout: PayoutRecord, due: boolean): Promise<JobOutcome> {
  const event = eventOf(payout);
  const record = event ? await deps.store.events.get(eventIdOf(payout.id, event)) : null;
  const owed = event ? owedDestinations(payout, record) : [];
  if (!event || owed.length === 0) {
    await deps.store.notDue(payout.id);
    return { outcome: 'done' };
  }
  if (!due) return { outcome: 'callback_in_hand' };
  let added = false;
  for (const destination of owed) if (await ensureDeliveryJob(deps, payout, event, destination)) added = true;
  return added ? { outcome: 'callback_redriven' } : { outcome: 'callback_in_hand' };
}
