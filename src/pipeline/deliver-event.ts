import { UnrecoverableError } from 'bullmq';
import { signCallback } from '../payouts/callback-signature.js';
import { FORBIDDEN_CODE, callbackUrlProblem } from '../payouts/callback-url.js';
import { targetOf, type Attempt, type Target } from '../payouts/event-delivery.js';
import { CALLBACK_URL, eventBody, eventIdOf, eventsOf, typeOf, type NotifyEvent } from '../payouts/events.js';
import type { PayoutRecord } from '../payouts/schemas.js';
import { callbackDeliveries } from '../metrics.js';
import { postCallback } from './callback-post.js';
import type { FairSlots } from './fair-slots.js';
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
    deps.log.warn(
      { payoutId: payout.id, tenant: payout.tenant, event: evt, destination: kindOf(target), err: message },
      'callback not delivered',
    );
    if (forbidden) throw new UnrecoverableError(message);
    throw new Error(`callback to ${origin} failed: ${message}`, { cause: err });
  }
  if (status < 200 || status >= 300) {
    await deps.store.events.recordAttempt(evt, attempt(status, `answered HTTP ${status}`));
    callbackDeliveries.inc({ result: 'refused', ...labels });
    deps.log.warn(
      { payoutId: payout.id, tenant: payout.tenant, event: evt, destination: kindOf(target), status },
      'callback not acknowledged',
    );
    throw new Error(`callback to ${origin} answered HTTP ${status}`);
  }
  await deps.store.events.settle(payout.id, event, target.destination, 'delivered', attempt(status, null));
  callbackDeliveries.inc({ result: 'delivered', ...labels });
  deps.log.info({ payoutId: payout.id, tenant: payout.tenant, event: evt, destination: kindOf(target), status }, 'callback delivered');
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

/** The finish job's own try at a callback: short, since a slow receiver must not hold the payouts behind it. */
export const INLINE_DEADLINE_MS = 2_000;
/** How long the finish job waits for a place in the destination's share before leaving it to a notify job. */
export const INLINE_SLOT_WAIT_MS = 250;

/**
 * The callback of a payout that just ended, sent by the job that ended it (the finish queue's
 * `payment_finished`), so a payout needs no notify job when upstream answers at once. Anything but
 * a 2xx within INLINE_DEADLINE_MS (or CALLBACK_TIMEOUT_MS, if shorter) is left to a notify job,
 * with its retries, slot shares and refusals: false. What is sent is read from the record, as a
 * notify job reads it.
 */
export async function deliverInline(deps: PipelineDeps, slots: FairSlots, payoutId: string, event: NotifyEvent): Promise<boolean> {
  try {
    const payout = await deps.store.get(payoutId);
    if (!payout || !eventsOf(payout).includes(event)) return false;
    const target = targetOf(payout, typeOf(event), CALLBACK_URL, null, Date.now());
    if (target.kind !== 'send' || callbackUrlProblem(target.url, { allowPrivate: deps.allowPrivateCallbacks ?? false })) return false;
    // a slot of the notify worker's, within its destination's and tenant's shares, or a notify job
    const claim = { tenant: payout.tenant, destination: new URL(target.url).origin };
    const holder = `inline-${payoutId}-${event}`;
    // a receiver that answers fast frees its places within milliseconds: wait that long, not longer
    const until = Date.now() + INLINE_SLOT_WAIT_MS;
    while (slots.take(claim, holder) !== 'taken') {
      if (Date.now() >= until) return false;
      await new Promise((r) => setTimeout(r, 10));
    }
    const started = Date.now();
    try {
      await deliverEvent(deps, payout, event, target, Math.min(deps.callbackTimeoutMs ?? INLINE_DEADLINE_MS, INLINE_DEADLINE_MS));
    } finally {
      slots.give(claim, Date.now() - started);
    }
    return true;
  } catch {
    return false;
  }
}
