import type { Job } from 'bullmq';
import { signCallback } from '../src/payouts/callback-signature.js';
import { NotifyJob, publicView } from '../src/payouts/schemas.js';
import { callbackDeliveries } from '../src/metrics.js';
import type { PipelineDeps } from '../src/pipeline/pipeline-deps.js';

/**
 * payout-notify: tells upstream how a payout ended, with a POST to its callback_url signed as
 * Standard Webhooks ask (src/payouts/callback-signature.ts), retried with backoff until it answers
 * 2xx. It cannot change the outcome: it only marks the outcome acknowledged, which takes the payout
 * off the reconciler's due index (until then, the reconciler sends it again).
 */
export function notifyProcessor(deps: PipelineDeps) {
  return async (job: Job<NotifyJob>): Promise<string> => {
    const { payoutId, event } = NotifyJob.parse(job.data);
    const payout = await deps.store.get(payoutId);
    if (!payout) return 'missing';
    const url = payout.order.callback_url;
    if (!url) return 'no callback_url';
    const id = `evt_${payoutId}_${event}`; // webhook-id too: the same on every retry
    const body = JSON.stringify({
      id,
      type: `payout.${event}`,
      created_at: payout.updatedAt, // the event's time, the same on every retry
      payout: publicView(payout),
    });
    // signed at each attempt: webhook-timestamp is this attempt's time, as the specification asks
    const signature = signCallback({ id, timestamp: Math.floor(Date.now() / 1000), body, secret: deps.callbackSecret });
    let status: number;
    try {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...signature },
        body,
        signal: AbortSignal.timeout(deps.callbackTimeoutMs ?? 10_000),
        redirect: 'manual',
      });
      await res.arrayBuffer().catch(() => undefined);
      status = res.status;
    } catch (err) {
      callbackDeliveries.inc({ result: 'failed' });
      throw new Error(`callback to ${new URL(url).origin} failed: ${(err as Error).message}`, { cause: err });
    }
    if (status < 200 || status >= 300) {
      callbackDeliveries.inc({ result: 'refused' });
      throw new Error(`callback to ${new URL(url).origin} answered HTTP ${status}`);
    }
    callbackDeliveries.inc({ result: 'delivered' });
    await deps.store.markNotified(payoutId, event);
    return `delivered (${status})`;
  };
}
