import { Queue, Worker, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import { idempotencyKey } from '../src/payouts/idempotency-key.js';
import { bankMetadataFor } from '../src/payouts/schemas.js';
import { cpuMs, receiveWebhooks, skeletonPayout, skeletonSettings, startClock } from './skeleton-common.js';

/**
 * The skeleton the pipeline is measured against (bench/results.md): four BullMQ jobs per payout, each one
 * signed HTTP call (session/create, session/start/payout, session/confirm once the ready_to_confirm
 * webhook arrives, the signed callback upstream once payment_finished arrives), webhooks checked
 * against the bank's key, N payouts in flight, and nothing else: no payout record, no
 * compare-and-set, no policy, no audit, no reconciler. One process, on the bench's Redis.
 *
 * Prints `{"t0": <ms>}` when it starts sending and `{"done": true, ...}` at the end, then waits
 * for SIGTERM.
 */

const env = process.env;
const { count, concurrency, run, bankPublicKey, client, sendCallback } = skeletonSettings('skeleton-queued');

const connection = new Redis(env.BENCH_REDIS_URL!, { maxRetriesPerRequest: null });
const prefix = '{benchskel}';
const queue = new Queue('skeleton', { connection, prefix, defaultJobOptions: { removeOnComplete: true, removeOnFail: true, attempts: 3 } });

type Step =
  | { step: 'create'; payoutId: string }
  | { step: 'start' | 'confirm'; payoutId: string; sessionId: string }
  | { step: 'callback'; payoutId: string; status: string };
const payoutOf = new Map<string, string>();
let finished = 0;
let failed = 0;
let errors = 0;

async function runStep(job: Job<Step>): Promise<void> {
  const d = job.data;
  switch (d.step) {
    case 'create': {
      const session = await client.createSession({ metadata: bankMetadataFor(d.payoutId) });
      payoutOf.set(session.id, d.payoutId);
      await queue.add('start', { step: 'start', payoutId: d.payoutId, sessionId: session.id });
      return;
    }
    case 'start':
      await client.startPayout(skeletonPayout(d.payoutId, d.sessionId), { idempotencyKey: idempotencyKey(d.sessionId, 'start') });
      return;
    case 'confirm':
      await client.confirmSession(d.sessionId, { idempotencyKey: idempotencyKey(d.sessionId, 'confirm') });
      return;
    case 'callback': {
      await sendCallback(d.payoutId, d.status);
      if (d.status !== 'succeeded') failed += 1;
      finished += 1;
      if (finished === count) done();
      return;
    }
  }
}

const worker = new Worker<Step>('skeleton', runStep, { connection, prefix, concurrency });
worker.on('failed', (job, err) => {
  errors += 1;
  if (errors <= 5) process.stdout.write(`job ${job?.name}: ${err.message}\n`);
});

// 200 once the job is in Redis, as the service answers
const receiver = await receiveWebhooks(Number(env.BENCH_WEBHOOK_PORT), bankPublicKey, async (body) => {
  const payoutId = payoutOf.get(body.session.id);
  if (!payoutId) return;
  if (body.type === 'ready_to_confirm') await queue.add('confirm', { step: 'confirm', payoutId, sessionId: body.session.id });
  else if (body.type === 'payment_finished')
    await queue.add('callback', {
      step: 'callback',
      payoutId,
      status: (body.session.payout_list ?? body.session.payments ?? [])[0]?.status ?? 'unknown',
    });
});

const { t0, cpuMsAtT0 } = startClock();
for (let i = 0; i < count; i += 1000) {
  await queue.addBulk(
    Array.from({ length: Math.min(1000, count - i) }, (_, k) => ({
      name: 'create',
      data: { step: 'create' as const, payoutId: `${run}-${i + k}` },
    })),
  );
}

function done(): void {
  process.stdout.write(
    `${JSON.stringify({ done: true, t0, tEnd: Date.now(), failed, errors, badSignatures: 0, cpuMs: cpuMs(), cpuMsAtT0 })}\n`,
  );
}

// Stays until told, so the parent can read what it used from /proc first.
process.once('SIGTERM', () => {
  void worker
    .close()
    .then(() => queue.close())
    .then(() => {
      client.close();
      receiver.close();
      connection.disconnect();
      process.exit(0);
    });
});
setInterval(() => undefined, 60_000);
