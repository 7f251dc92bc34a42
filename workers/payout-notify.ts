import { DelayedError, type Job } from 'bullmq';
import { callbackUrlProblem } from '../src/payouts/callback-url.js';
import { targetOf } from '../src/payouts/event-delivery.js';
import { CALLBACK_URL, DeliveryJob, Destination, eventOf, eventsOf, typeOf } from '../src/payouts/events.js';
import type { PayoutRecord } from '../src/payouts/schemas.js';
import { callbackDeferrals, jobsRefused } from '../src/metrics.js';
import { deliverEvent, refuseAddress } from '../src/pipeline/deliver-event.js';
import { FairSlots, sharesOf, type Claim, type Taken } from '../src/pipeline/fair-slots.js';
import type { JobOutcome } from '../src/pipeline/job-outcome.js';
import type { PipelineDeps } from '../src/pipeline/pipeline-deps.js';
import { QUEUE } from '../src/queues.js';

/** CALLBACK_TIMEOUT_MS when unset. */
const DEFAULT_DEADLINE_MS = 10_000;
/** The notify worker's concurrency when the caller does not say: workers/worker-process.ts at the default PAYOUT_CONCURRENCY (src/settings/worker.ts). */
const DEFAULT_SLOTS = 16;
/** All a notify job is believed about: which payout it names. */
const NamedPayout = DeliveryJob.pick({ payoutId: true });

type Refusal = 'not_final' | 'contradicts_payout' | 'malformed' | 'foreign_endpoint';

/**
 * payout-notify: tells upstream how a payout ended. Each job delivers the payout's event
 * (src/payouts/events.ts) to one destination: its callback_url (a job naming no destination), or
 * one webhook endpoint of its tenant. Signed as Standard Webhooks ask, retried with backoff until
 * that destination answers 2xx, every attempt recorded with the event (src/pipeline/deliver-event.ts).
 * A destination that fails never holds back, or has re-sent to it, one that already has the event:
 * each is settled on its own, and the payout leaves the reconciler's due index once every one has
 * (src/store/scripts/mark-notified.lua). It cannot change the outcome.
 *
 * The job only names the payout and a destination: what is told (the event, the webhook-id, the
 * body) is read from the payout record, which only named steps write. A job whose `event` is not
 * one the record's final steps recorded, that names a payout not yet final (src/pipeline/take-step.ts enqueues
 * deliveries only after the final state is stored, and final states never change), or that names
 * another tenant's endpoint, was not made by a step: it sends nothing and raises an alarm.
 *
 * One delivery has one deadline for the whole exchange (CALLBACK_TIMEOUT_MS), and holds one of the
 * worker's slots: a destination holds at most a quarter of them and a tenant at most half
 * (src/pipeline/fair-slots.ts), the rest of their deliveries put back for later without costing an attempt.
 */
export function notifyProcessor(deps: PipelineDeps, slots: FairSlots = callbackSlots(deps)) {
  const deadlineMs = deps.callbackTimeoutMs ?? DEFAULT_DEADLINE_MS;
  const notify = async (job: Job<DeliveryJob>, token?: string): Promise<JobOutcome> => {
    const { payoutId } = NamedPayout.parse(job.data);
    const payout = await deps.store.get(payoutId);
    if (!payout) return { outcome: 'missing' };
    const own = eventOf(payout);
    if (!own) return refuse(deps, job, payout, 'not_final');
    // only an event its final steps recorded: its outcome, a return after it, a card found unusable
    const event = job.data.event ?? own;
    if (!eventsOf(payout).includes(event)) return refuse(deps, job, payout, 'contradicts_payout');
    const named = Destination.optional().safeParse(job.data.destination);
    if (!named.success) return refuse(deps, job, payout, 'malformed');
    const destination = named.data ?? CALLBACK_URL;
    const endpoint = destination === CALLBACK_URL ? null : await deps.store.endpoints.get(destination);
    const target = targetOf(payout, typeOf(event), destination, endpoint, Date.now());
    switch (target.kind) {
      case 'none':
        return { outcome: 'no_callback_url' };
      case 'foreign':
        return refuse(deps, job, payout, 'foreign_endpoint');
      case 'dropped':
        await deps.store.events.settle(payout.id, event, destination, target.why);
        deps.log.info({ payoutId, destination, why: target.why }, 'event no longer owed to this destination');
        return { outcome: 'destination_dropped' };
    }
    const problem = callbackUrlProblem(target.url, { allowPrivate: deps.allowPrivateCallbacks ?? false });
    if (problem) return refuseAddress(deps, payout, event, target, problem);
    const claim: Claim = { tenant: payout.tenant, destination: new URL(target.url).origin };
    const jobId = job.id ?? '';
    const taken = slots.take(claim, jobId);
    if (taken !== 'taken') return defer(deps, job, token, claim, taken, slots.waitFor(claim, jobId));
    const started = Date.now();
    try {
      return { outcome: 'delivered', status: await deliverEvent(deps, payout, event, target, deadlineMs) };
    } finally {
      slots.give(claim, Date.now() - started);
    }
  };
  return async (job: Job<DeliveryJob>, token?: string): Promise<JobOutcome> => await notify(job, token);
}

/**
 * The process's callback slots: the notify worker's, which the finish job's own first try at a
 * callback (src/pipeline/deliver-event.ts deliverInline) takes too, so a slow receiver holds no
 * more of the process than its share, however its deliveries start.
 */
export function callbackSlots(deps: Pick<PipelineDeps, 'callbackTimeoutMs' | 'notifyConcurrency'>): FairSlots {
  return new FairSlots(sharesOf(deps.notifyConcurrency ?? DEFAULT_SLOTS), deps.callbackTimeoutMs ?? DEFAULT_DEADLINE_MS);
}

/**
 * Ends the job without retries: trying again cannot make a false claim true. Logged at error,
 * since someone wrote a job no step made; the log names ids and states only (never the order).
 */
function refuse(deps: PipelineDeps, job: Job<DeliveryJob>, payout: PayoutRecord, reason: Refusal): JobOutcome {
  const claimed = typeof job.data.event === 'string' ? job.data.event.slice(0, 40) : typeof job.data.event;
  jobsRefused.inc({ queue: QUEUE.notify, reason });
  const destination = typeof job.data.destination === 'string' ? job.data.destination.slice(0, 40) : undefined;
  const alarm = { queue: QUEUE.notify, jobId: job.id, payoutId: payout.id, claimed, destination, actual: payout.state, reason };
  deps.log.error(alarm, 'callback job refused: it does not match its payout; nothing sent');
  return { outcome: 'refused', reason, claimed, state: payout.state };
}

/**
 * Puts the job back for later instead of letting it wait in a slot another destination or tenant
 * could use. BullMQ does not count this as an attempt.
 */
async function defer(
  deps: PipelineDeps,
  job: Job<DeliveryJob>,
  token: string | undefined,
  claim: Claim,
  limit: Exclude<Taken, 'taken'>,
  waitMs: number,
): Promise<never> {
  callbackDeferrals.inc({ limit });
  deps.log.debug(
    { jobId: job.id, origin: claim.destination, tenant: claim.tenant, limit, waitMs },
    'delivery put back: its share of the slots is taken',
  );
  await job.moveToDelayed(Date.now() + waitMs, token);
  throw new DelayedError();
}
