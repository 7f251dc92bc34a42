import http from 'node:http';
import https from 'node:https';
import { DelayedError, UnrecoverableError, type Job } from 'bullmq';
import { FORBIDDEN_CODE, callbackUrlProblem, guardedLookup } from '../src/payouts/callback-url.js';
import { signCallback } from '../src/payouts/callback-signature.js';
import { NOTIFY_EVENTS, NotifyJob, publicView, type PayoutRecord } from '../src/payouts/schemas.js';
import { isTerminal } from '../src/payouts/state-machine.js';
import { callbackDeliveries, jobsRefused } from '../src/metrics.js';
import type { JobOutcome } from '../src/pipeline/job-outcome.js';
import type { PipelineDeps } from '../src/pipeline/pipeline-deps.js';
import { QUEUE } from '../src/queues.js';

type NotifyEvent = NotifyJob['event'];

/** CALLBACK_TIMEOUT_MS when unset. */
const DEFAULT_DEADLINE_MS = 10_000;
/** The notify worker's concurrency when the caller does not say: workers/worker-process.ts at the default PAYOUT_CONCURRENCY (src/settings/worker.ts). */
const DEFAULT_SLOTS = 16;
/** The shortest wait of a delivery put back because its destination holds its share (jittered). */
const MIN_WAIT_MS = 50;
/** All a notify job is believed about: which payout it names. */
const NamedPayout = NotifyJob.pick({ payoutId: true });

/**
 * payout-notify: tells upstream how a payout ended, with a POST to its callback_url signed as
 * Standard Webhooks ask (src/payouts/callback-signature.ts), retried with backoff until it answers
 * 2xx. It cannot change the outcome: it only marks the outcome acknowledged, which takes the payout
 * off the reconciler's due index (until then, the reconciler sends it again).
 *
 * The job only names the payout: what upstream is told (the event, the webhook-id, the body) is
 * read from the payout record, which only named steps write. A job whose `event` disagrees with
 * the record, or that names a payout not yet final, was not made by a step (src/pipeline/take-step.ts
 * enqueues the callback only after the final state is stored, and final states never change):
 * it sends nothing and raises an alarm.
 */
export function notifyProcessor(deps: PipelineDeps) {
  const deadlineMs = deps.callbackTimeoutMs ?? DEFAULT_DEADLINE_MS;
  const slots = new DestinationSlots(fairShare(deps.notifyConcurrency ?? DEFAULT_SLOTS), deadlineMs);
  const notify = async (job: Job<NotifyJob>, token?: string): Promise<JobOutcome> => {
    const { payoutId } = NamedPayout.parse(job.data);
    const payout = await deps.store.get(payoutId);
    if (!payout) return { outcome: 'missing' };
    const event = eventOf(payout);
    if (!event) return refuse(deps, job, payout, 'not_final');
    if (job.data.event !== undefined && job.data.event !== event) return refuse(deps, job, payout, 'contradicts_payout');
    const url = payout.order.callback_url;
    if (!url) return { outcome: 'no_callback_url' };
    const problem = callbackUrlProblem(url, { allowPrivate: deps.allowPrivateCallbacks ?? false });
    if (problem) {
      callbackDeliveries.inc({ result: 'refused_address' });
      // Not retried now: the reconciler tries again next round, in case the setting changes.
      throw new UnrecoverableError(`callback_url ${problem}`);
    }
    const origin = new URL(url).origin;
    const jobId = job.id ?? '';
    if (!slots.take(origin, jobId)) return defer(deps, job, token, origin, slots.waitFor(origin, jobId));
    const started = Date.now();
    try {
      const status = await deliver(deps, payout, event, url, deadlineMs);
      await deps.store.markNotified(payoutId, event);
      return { outcome: 'delivered', status };
    } finally {
      slots.give(origin, Date.now() - started);
    }
  };
  return async (job: Job<NotifyJob>, token?: string): Promise<JobOutcome> => await notify(job, token);
}

/** The event a payout's own state calls for: only a final payout has one. */
function eventOf(payout: PayoutRecord): NotifyEvent | null {
  const state = payout.state as NotifyEvent;
  return isTerminal(payout.state) && NOTIFY_EVENTS.includes(state) ? state : null;
}

/**
 * Ends the job without retries: trying again cannot make a false claim true. Logged at error,
 * since someone wrote a job no step made; the log names ids and states only (never the order).
 */
function refuse(deps: PipelineDeps, job: Job<NotifyJob>, payout: PayoutRecord, reason: 'not_final' | 'contradicts_payout'): JobOutcome {
  const claimed = typeof job.data.event === 'string' ? job.data.event.slice(0, 40) : typeof job.data.event;
  jobsRefused.inc({ queue: QUEUE.notify, reason });
  const alarm = { queue: QUEUE.notify, jobId: job.id, payoutId: payout.id, claimed, actual: payout.state, reason };
  deps.log.error(alarm, 'callback job refused: it does not match its payout; nothing sent');
  return { outcome: 'refused', reason, claimed, state: payout.state };
}

/** One signed POST of the payout's own outcome; throws (for a retry) unless upstream answers 2xx in time. */
async function deliver(deps: PipelineDeps, payout: PayoutRecord, event: NotifyEvent, url: string, deadlineMs: number): Promise<number> {
  const id = `evt_${payout.id}_${event}`; // webhook-id too: the same on every retry
  const body = JSON.stringify({
    id,
    type: `payout.${event}`,
    created_at: payout.updatedAt, // the event's time, the same on every retry
    payout: publicView(payout),
  });
  // signed at each attempt: webhook-timestamp is this attempt's time, as the specification asks
  // a tenant with a callback secret of its own signs with it (src/tenants/tenant-store.ts)
  const secret = (deps.tenants ? (await deps.tenants.get(payout.tenant))?.callbackSecret : null) ?? deps.callbackSecret;
  const signature = signCallback({ id, timestamp: Math.floor(Date.now() / 1000), body, secret });
  const allowPrivate = deps.allowPrivateCallbacks ?? false;
  let status: number;
  try {
    status = await post(url, { 'content-type': 'application/json', ...signature }, body, { deadlineMs, allowPrivate });
  } catch (err) {
    const forbidden = (err as NodeJS.ErrnoException).code === FORBIDDEN_CODE;
    callbackDeliveries.inc({ result: forbidden ? 'refused_address' : 'failed' });
    if (forbidden) throw new UnrecoverableError((err as Error).message);
    throw new Error(`callback to ${new URL(url).origin} failed: ${(err as Error).message}`, { cause: err });
  }
  if (status < 200 || status >= 300) {
    callbackDeliveries.inc({ result: 'refused' });
    throw new Error(`callback to ${new URL(url).origin} answered HTTP ${status}`);
  }
  callbackDeliveries.inc({ result: 'delivered' });
  return status;
}

/** A destination's share of the slots: a quarter, so one slow receiver cannot hold up everyone else's callbacks. */
function fairShare(slots: number): number {
  return Math.max(1, Math.floor(slots / 4));
}

interface Destination {
  /** Deliveries in flight. */
  held: number;
  /** Jobs put back, by id, and when each is due back: their place in line. */
  waiting: Map<string, number>;
  /** How long a delivery there takes, smoothed (a cut-off one counts its full deadline). */
  typicalMs: number;
}

/**
 * Deliveries in flight per destination (the callback URL's origin), in this worker process only:
 * each process gives a destination its share of its own slots, which needs no Redis round trip
 * and bounds the whole service at the same fraction.
 */
class DestinationSlots {
  private readonly destinations = new Map<string, Destination>();
  constructor(
    private readonly share: number,
    private readonly deadlineMs: number,
  ) {}

  /** Synchronous, so two jobs of one process cannot both take the last place. */
  take(origin: string, jobId: string): boolean {
    const d = this.destination(origin);
    d.waiting.delete(jobId);
    if (d.held >= this.share) return false;
    d.held += 1;
    return true;
  }

  give(origin: string, tookMs: number): void {
    const d = this.destination(origin);
    d.held -= 1;
    d.typicalMs += (tookMs - d.typicalMs) / 4;
    this.forgetOverdue(d);
    if (d.held === 0 && d.waiting.size === 0) this.destinations.delete(origin);
  }

  /**
   * How long a job put back now waits: until the jobs ahead of it in line could have been
   * delivered, at the destination's usual pace through its share. A fixed or doubling wait would
   * either come back far more often than places free (a long line), or leave free places idle.
   */
  waitFor(origin: string, jobId: string): number {
    const d = this.destination(origin);
    this.forgetOverdue(d);
    const turn = ((d.waiting.size + 1) * d.typicalMs) / this.share;
    // At most twice the deadline: every delivery in flight has ended by then, so a receiver that
    // recovered does not leave its line waiting long. Jittered, so the line does not return at once.
    const waitMs = Math.round(Math.min(2 * this.deadlineMs, Math.max(MIN_WAIT_MS, turn)) * (0.75 + Math.random() / 2));
    d.waiting.set(jobId, Date.now() + waitMs);
    return waitMs;
  }

  /** Jobs long overdue were taken by another process, or removed: they are no longer in this line. */
  private forgetOverdue(d: Destination): void {
    const cutoff = Date.now() - this.deadlineMs;
    for (const [id, due] of d.waiting) {
      if (due > cutoff) break; // roughly in due order: what is left goes at a later call
      d.waiting.delete(id);
    }
  }

  private destination(origin: string): Destination {
    let d = this.destinations.get(origin);
    if (!d) this.destinations.set(origin, (d = { held: 0, waiting: new Map(), typicalMs: MIN_WAIT_MS }));
    return d;
  }
}

/**
 * Puts the job back for later instead of letting it wait in a slot another destination could use.
 * BullMQ does not count this as an attempt.
 */
async function defer(deps: PipelineDeps, job: Job<NotifyJob>, token: string | undefined, origin: string, waitMs: number): Promise<never> {
  deps.log.debug({ jobId: job.id, origin, waitMs }, 'callback destination holds its share of the slots; delivery put back');
  await job.moveToDelayed(Date.now() + waitMs, token);
  throw new DelayedError();
}

/**
 * One POST, no redirects followed; answers the HTTP status once the whole answer is in.
 * `deadlineMs` bounds everything (lookup, connect, headers, body): the socket's own `timeout`
 * only bounds each idle gap, so a receiver sending a byte every few seconds would never be cut off.
 */
function post(
  url: string,
  headers: Record<string, string>,
  body: string,
  options: { deadlineMs: number; allowPrivate: boolean },
): Promise<number> {
  const target = new URL(url);
  const transport = target.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const length = String(Buffer.byteLength(body));
    const req = transport.request(target, {
      method: 'POST',
      headers: { ...headers, 'content-length': length },
      lookup: guardedLookup(options.allowPrivate),
    });
    const timer = setTimeout(() => {
      const late = new Error(`no complete answer within ${options.deadlineMs} ms`);
      reject(late);
      req.destroy(late);
    }, options.deadlineMs);
    const settle =
      <T>(done: (value: T) => void) =>
      (value: T) => {
        clearTimeout(timer);
        done(value);
      };
    req.on('response', (res) => {
      res.on('error', settle(reject));
      res.on('end', () => settle(resolve)(res.statusCode ?? 0));
      res.resume();
    });
    req.on('error', settle(reject));
    req.end(body);
  });
}
