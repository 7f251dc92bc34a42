import { afterAll, beforeAll, expect, it } from 'vitest';
import { pino } from 'pino';
import { jobsRefused } from '../../src/metrics.js';
import { startWorkers, type RunningWorkers } from '../../workers/worker-process.js';
import { workerSettings } from '../support/settings.js';
import { order, startPipeline, type Pipeline } from '../support/pipeline.js';
import { eventually } from '../support/sandbox.js';

/**
 * A notify job names a payout; what upstream is told comes from the payout record
 * (workers/payout-notify.ts). A job whose event disagrees with the record, or that names a payout
 * not yet final, sends nothing and raises an alarm (jobs_refused_total and an error log line).
 */
let p: Pipeline;
let workers: RunningWorkers;
const logLines: Record<string, unknown>[] = [];

beforeAll(async () => {
  // Workers of our own, so their log can be read.
  p = await startPipeline({ workerSets: 0 });
  const log = pino({ level: 'info' }, { write: (line: string) => void logLines.push(JSON.parse(line) as Record<string, unknown>) });
  workers = startWorkers(
    p.runtime,
    workerSettings({ redisPrefix: p.prefix, callbackTimeoutMs: 2_000, callbackAllowPrivate: true, payoutConcurrency: 4 }),
    { log },
  );
});
afterAll(async () => {
  await workers?.close();
  await p?.close();
});

interface Callback {
  webhookId: string;
  type: string;
  status: string;
}

/** The callbacks upstream received for one payout, in arrival order. */
function callbacksFor(payoutId: string): Callback[] {
  return p.upstream.received
    .map((r) => ({ headers: r.headers, body: JSON.parse(r.body.toString()) as { type: string; payout: { id: string; status: string } } }))
    .filter((r) => r.body.payout.id === payoutId)
    .map((r) => ({ webhookId: String(r.headers['webhook-id']), type: r.body.type, status: r.body.payout.status }));
}

async function refused(reason: string): Promise<number> {
  const { values } = await jobsRefused.get();
  return values.find((v) => v.labels.queue === 'payout-notify' && v.labels.reason === reason)?.value ?? 0;
}

/** A payout paid through the whole pipeline, its one true callback received. */
async function paidPayout(): Promise<string> {
  const o = order({ callback_url: p.upstream.url });
  expect((await p.api('POST', '/v1/payouts', o)).status).toBe(202);
  await p.waitFor([o.id], ['succeeded']);
  await eventually(() => callbacksFor(o.id).length === 1, 10_000, 'the payout.succeeded callback');
  return o.id;
}

/** Adds a notify job by hand (kept once completed, so its result can be read) and waits for it to finish. */
async function handAdded(jobId: string, data: Record<string, unknown>) {
  await p.runtime.queues.notify.add('notify', data as never, { jobId, removeOnComplete: false });
  return eventually(
    async () => {
      const job = await p.runtime.queues.notify.getJob(jobId);
      const state = await job?.getState();
      return state === 'completed' || state === 'failed' ? { job: job!, state } : undefined;
    },
    10_000,
    `job ${jobId} to finish`,
  );
}

const alarmFor = (jobId: string) => logLines.find((l) => l.level === 50 && l.jobId === jobId);

it('a hand-added job claiming "failed" for a paid payout sends nothing, ends without retries and raises the alarm', async () => {
  const id = await paidPayout();
  const before = await refused('contradicts_payout');
  const { job, state } = await handAdded(`x-${id}`, { payoutId: id, event: 'failed' });

  expect(state).toBe('completed');
  expect(job.attemptsStarted).toBe(1); // one run, no retries
  expect(job.returnvalue).toEqual({ outcome: 'refused', reason: 'contradicts_payout', claimed: 'failed', state: 'succeeded' });
  expect(await refused('contradicts_payout')).toBe(before + 1);
  const alarm = alarmFor(`x-${id}`);
  expect(alarm).toMatchObject({
    queue: 'payout-notify',
    payoutId: id,
    claimed: 'failed',
    actual: 'succeeded',
    reason: 'contradicts_payout',
  });
  // ids and states only: nothing of the order, least of all the card
  expect(JSON.stringify(alarm)).not.toMatch(/sandbox_ok|number_hash|Ivanov|callback_url/);

  expect(callbacksFor(id)).toEqual([{ webhookId: `evt_${id}_succeeded`, type: 'payout.succeeded', status: 'succeeded' }]);
  expect((await p.runtime.store.get(id))?.notified).toBe('succeeded');
});

it('a job for a payout still in flight sends nothing and raises the alarm', async () => {
  // recorded without its start job, so it stays queued
  const o = order({ callback_url: p.upstream.url });
  await p.runtime.store.createMany([o as never], () => 'queued', Date.now() + 60_000);
  const before = await refused('not_final');
  const { job, state } = await handAdded(`x-${o.id}`, { payoutId: o.id, event: 'succeeded' });

  expect(state).toBe('completed');
  expect(job.attemptsStarted).toBe(1); // one run, no retries
  expect(job.returnvalue).toEqual({ outcome: 'refused', reason: 'not_final', claimed: 'succeeded', state: 'queued' });
  expect(await refused('not_final')).toBe(before + 1);
  expect(alarmFor(`x-${o.id}`)).toMatchObject({ payoutId: o.id, claimed: 'succeeded', actual: 'queued', reason: 'not_final' });
  expect(callbacksFor(o.id)).toEqual([]);
  expect((await p.runtime.store.get(o.id))?.state).toBe('queued');
});

it("a job that agrees with its payout still delivers, under the webhook-id of the payout's own outcome", async () => {
  const id = await paidPayout();
  const { state } = await handAdded(`y-${id}`, { payoutId: id, event: 'succeeded' });
  expect(state).toBe('completed');
  // one naming only the payout is told the payout's own state
  await handAdded(`z-${id}`, { payoutId: id });

  const expected = { webhookId: `evt_${id}_succeeded`, type: 'payout.succeeded', status: 'succeeded' };
  expect(callbacksFor(id)).toEqual([expected, expected, expected]);
  expect(alarmFor(`y-${id}`)).toBeUndefined();
  expect(alarmFor(`z-${id}`)).toBeUndefined();
});
