import { owedDestinations } from '../payouts/event-delivery.js';
import { eventIdOf, eventsOf } from '../payouts/events.js';
import type { PayoutRecord } from '../payouts/schemas.js';
import { ensureDeliveryJob } from './ensure-job.js';
import type { JobOutcome } from './job-outcome.js';
import type { PipelineDeps } from './pipeline-deps.js';

/**
 * The reconciler's check of a final payout: each of its events (its outcome, a return after it, a
 * saved card found unusable) is delivered again to each destination it is still owed to
 * (src/payouts/event-delivery.ts owedDestinations), each one on its own job, until every one has
 * acknowledged; then the payout leaves the due index. Only a payout found due (`due`) has sat long
 * enough for its jobs to be presumed lost.
 */
export async function redriveNotifications(deps: PipelineDeps, payout: PayoutRecord, due: boolean): Promise<JobOutcome> {
  const events = eventsOf(payout);
  const records = await deps.store.events.getMany(events.map((e) => eventIdOf(payout.id, e)));
  const owed = events.flatMap((event, i) =>
    owedDestinations(payout, event, records[i] ?? null).map((destination) => ({ event, destination })),
  );
  if (owed.length === 0) {
    await deps.store.notDue(payout.id);
    return { outcome: 'done' };
  }
  if (!due) return { outcome: 'callback_in_hand' };
  let added = false;
  for (const { event, destination } of owed) if (await ensureDeliveryJob(deps, payout, event, destination)) added = true;
  return added ? { outcome: 'callback_redriven' } : { outcome: 'callback_in_hand' };
}
