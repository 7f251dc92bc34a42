import http from 'node:http';
import https from 'node:https';
import { UnrecoverableError, type Job } from 'bullmq';
import { FORBIDDEN_CODE, callbackUrlProblem, guardedLookup } from '../src/payouts/callback-url.js';
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
    const problem = callbackUrlProblem(url, { allowPrivate: deps.allowPrivateCallbacks ?? false });
    if (problem) {
      callbackDeliveries.inc({ result: 'refused_address' });
      // Not retried now: the reconciler tries again next round, in case the setting changes.
      throw new UnrecoverableError(`callback_url ${problem}`);
    }
    let status: number;
    try {
      status = await post(url, { 'content-type': 'application/json', ...signature }, body, {
        timeoutMs: deps.callbackTimeoutMs ?? 10_000,
        allowPrivate: deps.allowPrivateCallbacks ?? false,
      });
    } catch (err) {
      callbackDeliveries.inc({ result: (err as NodeJS.ErrnoException).code === FORBIDDEN_CODE ? 'refused_address' : 'failed' });
      if ((err as NodeJS.ErrnoException).code === FORBIDDEN_CODE) throw new UnrecoverableError((err as Error).message);
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

/** One POST, no redirects followed; answers the HTTP status. */
function post(url: string, headers: Record<string, string>, body: string, options: { timeoutMs: number; allowPrivate: boolean }): Promise<number> {
  const target = new URL(url);
  const transport = target.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = transport.request(target, { method: 'POST', headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) }, lookup: guardedLookup(options.allowPrivate), timeout: options.timeoutMs }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${options.timeoutMs} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}
