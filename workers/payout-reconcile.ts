import type { Job } from 'bullmq';
import { CheckJob } from '../src/payouts/schemas.js';
import type { PipelineDeps } from '../src/pipeline/pipeline-deps.js';
import { reconcilerActions } from '../src/metrics.js';
import { checkPayout, retireFinished, sweep } from '../src/pipeline/reconcile.js';

/**
 * payout-reconcile: a job scheduler runs `sweep` every RECONCILE_INTERVAL_MS; each payout it finds
 * due gets a `check` job (src/pipeline/reconcile.ts), so a lost job, webhook or callback delays a
 * payout but never strands it. A second scheduler runs `retention` hourly: finished payouts past
 * PAYOUT_RETENTION_DAYS are removed, leaving a tombstone that keeps their ids taken.
 */
export function reconcileProcessor(deps: PipelineDeps) {
  return async (job: Job): Promise<string> => {
    if (job.name === 'sweep') return `${await sweep(deps)} due`;
    if (job.name === 'retention') return `${await retireFinished(deps)} retired`;
    const { payoutId, reason } = CheckJob.parse(job.data);
    const result = await checkPayout(deps, payoutId, reason);
    // one label per kind of action: "waiting for the bank (started)" counts as "waiting for the bank"
    reconcilerActions.inc({ action: result.replace(/ \(.*$|: .*$/, '') });
    return result;
  };
}
