import type { Job } from 'bullmq';
import { CheckJob } from '../src/payouts/schemas.js';
import type { JobOutcome } from '../src/pipeline/job-outcome.js';
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
  return async (job: Job): Promise<JobOutcome> => await reconcile(deps, job);
}

async function reconcile(deps: PipelineDeps, job: Job): Promise<JobOutcome> {
  if (job.name === 'sweep') return { outcome: 'swept', due: await sweep(deps) };
  if (job.name === 'retention') return { outcome: 'retired', count: await retireFinished(deps) };
  const { payoutId, reason } = CheckJob.parse(job.data);
  const outcome = await checkPayout(deps, payoutId, reason);
  reconcilerActions.inc({ action: outcome.outcome });
  return outcome;
}
