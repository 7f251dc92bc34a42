import http from 'node:http';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { pino } from 'pino';
import { startWorkers, type RunningWorkers } from '../../workers/worker-process.js';
import { workerSettings } from '../support/settings.js';
import { order, startPipeline, type Pipeline } from '../support/pipeline.js';
import { eventually, startReceiver } from '../support/sandbox.js';

/**
 * One slow callback receiver must not hold up everyone else's callbacks (workers/payout-notify.ts):
 * a delivery has a deadline for the whole exchange, and one destination holds at most a quarter of
 * the notify slots, the rest of its deliveries put back for later without costing an attempt.
 */
const NOTIFY_SLOTS = 4;
const SHARE = 1; // max(1, floor(NOTIFY_SLOTS / 4))
const DEADLINE_MS = 1_500;
/** Shorter than the deadline: a per-idle-socket timeout would never cut this receiver off. */
const DRIP_EVERY_MS = 300;
const SLOW_PAYOUTS = 2 * NOTIFY_SLOTS;
const NORMAL_PAYOUTS = NOTIFY_SLOTS;

interface SlowRequest {
  payoutId: string;
  at: number;
  closedAt?: number;
}

/** Answers 200 headers at once, then one byte every DRIP_EVERY_MS, and never ends. */
async function startSlowReceiver() {
  const requests: SlowRequest[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const request: SlowRequest = {
        payoutId: (JSON.parse(Buffer.concat(chunks).toString()) as { payout: { id: string } }).payout.id,
        at: Date.now(),
      };
      requests.push(request);
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('.');
      const drip = setInterval(() => res.write('.'), DRIP_EVERY_MS);
      res.on('close', () => {
        clearInterval(drip);
        request.closedAt = Date.now();
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}/slow`,
    requests,
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

let p: Pipeline;
let workers: RunningWorkers;
let slow: Awaited<ReturnType<typeof startSlowReceiver>>;
const arrivals = new Map<string, number>();
let normal: Awaited<ReturnType<typeof startReceiver>>;

beforeAll(async () => {
  p = await startPipeline({ workerSets: 0 });
  slow = await startSlowReceiver();
  normal = await startReceiver((r) => {
    arrivals.set((JSON.parse(r.body.toString()) as { payout: { id: string } }).payout.id, Date.now());
    return 200;
  });
  const { runtime } = p;
  workers = startWorkers(
    runtime,
    workerSettings({
      redisPrefix: p.prefix,
      callbackTimeoutMs: DEADLINE_MS,
      callbackAllowPrivate: true,
      payoutConcurrency: 8,
      concurrencyByQueue: { notify: NOTIFY_SLOTS },
    }),
    { log: pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }) },
  );
});
afterAll(async () => {
  // the receiver first: its open deliveries then end at once, and the workers close without waiting them out
  await slow?.close();
  await workers?.close();
  await normal?.close();
  await p?.close();
});

async function accept(callbackUrl: string, count: number): Promise<string[]> {
  const orders = Array.from({ length: count }, () => order({ callback_url: callbackUrl }));
  const res = await p.api('POST', '/v1/payouts/batch', { payouts: orders });
  expect(res.body.counts).toMatchObject({ created: count });
  return orders.map((o) => o.id);
}

/** The most slow deliveries open at once. */
function mostOpenAtOnce(requests: SlowRequest[]): number {
  return Math.max(0, ...requests.map((r) => requests.filter((o) => o.at <= r.at && (o.closedAt ?? Infinity) > r.at).length));
}

it('a receiver that trickles its answer is cut at the deadline and holds one slot; others are called within 2 s of each payout ending', async () => {
  const slowIds = await accept(slow.url, SLOW_PAYOUTS);
  await p.waitFor(slowIds, ['succeeded']);
  await eventually(() => slow.requests.length > 0, 5_000, 'the slow receiver to be called');

  const normalIds = await accept(normal.url, NORMAL_PAYOUTS);
  await p.waitFor(normalIds, ['succeeded']);
  await eventually(() => arrivals.size === NORMAL_PAYOUTS, 5_000, 'every normal callback');
  const records = await p.runtime.store.getMany(normalIds);
  const delays = records.map((r) => arrivals.get(r!.id)! - Date.parse(r!.updatedAt));
  const lastArrival = Math.max(...arrivals.values());
  console.info(`callback after the payout ended, ms: ${delays.join(', ')}`);
  for (const delay of delays) expect(delay).toBeLessThan(2_000);

  // The slow backlog was still being worked on: none of it acknowledged, a delivery open or begun since.
  const slowRecords = await p.runtime.store.getMany(slowIds);
  expect(slowRecords.map((r) => r!.notified)).toEqual(slowIds.map(() => null));
  await eventually(() => slow.requests.some((r) => (r.closedAt ?? Infinity) > lastArrival), 5_000, 'a slow delivery after the normal ones');

  // Cut at the deadline, never more than its share of the slots at once.
  await eventually(() => slow.requests.filter((r) => r.closedAt).length >= 3, 10_000, 'three slow deliveries to be cut');
  const held = slow.requests.filter((r) => r.closedAt).map((r) => r.closedAt! - r.at);
  console.info(`slow deliveries held, ms: ${held.join(', ')}; slow requests so far: ${slow.requests.length}`);
  for (const ms of held) {
    expect(ms).toBeGreaterThanOrEqual(DEADLINE_MS - 100);
    expect(ms).toBeLessThan(DEADLINE_MS + 500);
  }
  expect(mostOpenAtOnce(slow.requests)).toBeLessThanOrEqual(SHARE);

  // Put back for later is not a failed attempt: a job fails only as often as it was sent.
  const jobs = await Promise.all(slowIds.map((id) => p.runtime.queues.notify.getJob(`notify-${id}-succeeded`)));
  for (const job of jobs) {
    const sent = slow.requests.filter((r) => r.payoutId === job!.data.payoutId).length;
    expect(job!.attemptsMade).toBeLessThanOrEqual(sent);
  }
  expect(jobs.some((job) => job!.attemptsStarted > job!.attemptsMade + 1)).toBe(true);
});
