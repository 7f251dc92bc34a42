import type { Job } from 'bullmq';
import type { WebhookJob } from '../src/payouts/schemas.js';
import { deliverInline } from '../src/pipeline/deliver-event.js';
import type { FairSlots } from '../src/pipeline/fair-slots.js';
import type { JobOutcome } from '../src/pipeline/job-outcome.js';
import type { PipelineDeps } from '../src/pipeline/pipeline-deps.js';
import { applyWebhook } from './bank-webhooks.js';

/**
 * payout-finish: the signed `payment_finished`, verified and applied as the bank's word (the
 * payout ends `succeeded` or `failed`), and the callback to the payout's callback_url sent in the
 * same run when upstream answers at once (src/pipeline/deliver-event.ts deliverInline). A callback
 * that is not answered, and each webhook endpoint's delivery, goes to a notify job with its
 * retries; one the run never got to (it died after the step) is found by the reconciler, as every
 * owed callback is. So the happy path is three jobs a payout: start, confirm, finish.
 */
export function finishProcessor(deps: PipelineDeps, slots: FairSlots) {
  const finishing: PipelineDeps = { ...deps, inline: { notify: (payoutId, event) => deliverInline(deps, slots, payoutId, event) } };
  return async (job: Job<WebhookJob>): Promise<JobOutcome> => (await applyWebhook(finishing, job)).outcome;
}
