import { UnrecoverableError } from 'bullmq';
import { signCallback } from '../payouts/callback-signature.js';
import { FORBIDDEN_CODE } from '../payouts/callback-url.js';
import type { Attempt, Target } from '../payouts/event-delivery.js';
import { CALLBACK_URL, eventBody, eventIdOf, type NotifyEvent } from '../payouts/events.js';
import type { PayoutRecord } from '../payouts/schemas.js';
import { callbackDeliveries } from '../metrics.js';
import { postCallback } from './callback-post.js';
import type { PipelineDeps } from './pipeline-deps.js';

export type SendTarget = Extract<Target, { kind: 'send' }>;

/** How a destination is named in job errors and in the metric's `destination` label. */
const kindOf = (target: SendTarget) => (target.destination === CALLBACK_URL ? 'callback_url' : 'endpoint');

/**
 * One delivery attempt of a payout's event to one destination, recorded beside the event whatever
 * its result (src/store/event-store.ts). The body is the event's stored one, so every delivery and
 * every resend sends the same bytes; it is signed at each attempt, since `webhook-timestamp` is
 * this attempt's time (src/payouts/callback-signature.ts), with the destination's secrets: a
 * webhook endpoint's own (both, while a rotation overlaps), or for a callback_url its tenant's
 * callback secret, else CALLBACK_SECRET. A 2xx settles the destination (scripts/mark-notified.lua);
 * anything else throws, for the job to be retried with backoff.
 */
export async function deliverEvent(
  deps: PipelineDeps,
  payout: PayoutRecord,
  event: NotifyEvent,
  target: SendTarget,
  deadlineMs: number,
): Promise<number> {
  const evt = eventIdOf(payout.id, event);
  const made = eventBody(payout, event);
  // a payout that ended before events were recorded has none to keep its body in: it is made afresh
  const body = (await deps.store.events.storePayload(evt, made)) ?? made;
  const secrets = target.secrets ?? [
    (deps.tenants ? (await deps.tenants.get(payout.tenant))?.callbackSecret : null) ?? deps.callbackSecret,
  ];
  const headers = signCallback({ id: evt, timestamp: Math.floor(Date.now() / 1000), body, secret: secrets });
  const labels = { tenant: payout.tenant, destination: kindOf(target) };
  const origin = new URL(target.url).origin;
  const at = new Date();
  const attempt = (status: number | null, error: string | null): Attempt => ({
    destination: target.destination,
    at: at.toISOString(),
    status,
    latency_ms: Date.now() - at.getTime(),
    error,
  });
  let status: number;
  try {
    status = await postCallback(target.url, { 'content-type': 'application/json', ...headers }, body, {
      deadlineMs,
      allowPrivate: deps.allowPrivateCallbacks ?? false,
    });
  } catch (err) {
    const forbidden = (err as NodeJS.ErrnoException).code === FORBIDDEN_CODE;
    const message = (err as Error).message;
    await deps.store.events.recordAttempt(evt, attempt(null, forbidden ? `not sent: ${message}` : message));
    callbackDeliveries.inc({ result: forbidden ? 'refused_address' : 'failed', ...labels });
    if (forbidden) throw new UnrecoverableError(message);
    throw new Error(`callback to ${origin} failed: ${message}`, { cause: err });
  }
  if (status < 200 || status >= 300) {
    await deps.store.events.recordAttempt(evt, attempt(status, `answered HTTP ${status}`));
    callbackDeliveries.inc({ result: 'refused', ...labels });
    throw new Error(`callback to ${origin} answered HTTP ${status}`);
  }
  await deps.store.events.settle(payout.id, event, target.destination, 'delivered', attempt(status, null));
  callbackDeliveries.inc({ result: 'delivered', ...labels });
  return status;
}

/**
 * A destination whose address is refused before anything is sent (a private, loopback or metadata
 * address, unless CALLBACK_ALLOW_PRIVATE): recorded as an attempt that was not sent, and the job
 * ends without retries (the reconciler tries again next round, in case the setting changes).
 */
export async function refuseAddress(
  deps: PipelineDeps,
  payout: PayoutRecord,
  event: NotifyEvent,
  target: SendTarget,
  problem: string,
): Promise<never> {
  const named = target.destination === CALLBACK_URL ? 'callback_url' : `webhook endpoint ${target.destination}: its url`;
  await deps.store.events.recordAttempt(eventIdOf(payout.id, event), {
    destination: target.destination,
    at: new Date().toISOString(),
    status: null,
    latency_ms: 0,
    error: `not sent: the url ${problem}`,
  });
  callbackDeliveries.inc({ result: 'refused_address', tenant: payout.tenant, destination: kindOf(target) });
  throw new UnrecoverableError(`${named} ${problem}`);
}
