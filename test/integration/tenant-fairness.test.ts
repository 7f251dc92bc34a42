import http from 'node:http';
import { pino } from 'pino';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startWorkers, type RunningWorkers } from '../../workers/worker-process.js';
import { order, startPipeline, type Pipeline } from '../support/pipeline.js';
import { eventually, startReceiver } from '../support/sandbox.js';
import { workerSettings } from '../support/settings.js';

/**
 * One tenant's flood of slow deliveries must not hold back another tenant's (src/pipeline/fair-slots.ts):
 * a destination holds at most a quarter of the notify slots, and a tenant at most half. Here acme
 * has four webhook endpoints, each on a receiver of its own that drips its answer: by destination
 * alone they would take all four slots, each held to the deadline, and the default tenant's
 * callbacks would wait for them. By tenant, acme holds two at most, and the others go at once.
 */
const NOTIFY_SLOTS = 4;
const TENANT_SHARE = 2; // floor(NOTIFY_SLOTS / 2)
const DEADLINE_MS = 3_000;
const DRIP_EVERY_MS = 300;

interface SlowRequest {
  at: number;
  closedAt?: number;
}

/** Answers 200 headers at once, then one byte every DRIP_EVERY_MS, and never ends. */
async function startSlowReceiver(requests: SlowRequest[]) {
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const request: SlowRequest = { at: Date.now() };
      requests.push(request);
      res.writeHead(200, { 'content-type': 'text/plain' });
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
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

let p: Pipeline;
let workers: RunningWorkers;
let acme: Record<string, string>;
const slowRequests: SlowRequest[] = [];
const slow: Array<Awaited<ReturnType<typeof startSlowReceiver>>> = [];
const arrivals = new Map<string, number>();
let normal: Awaited<ReturnType<typeof startReceiver>>;

beforeAll(async () => {
  p = await startPipeline({ workerSets: 0 });
  acme = { authorization: `Bearer ${(await p.runtime.tenants.store.createKey('acme', 'test')).secret}` };
  for (let i = 0; i < 4; i += 1) slow.push(await startSlowReceiver(slowRequests));
  normal = await startReceiver((r) => {
    arrivals.set((JSON.parse(r.body.toString()) as { payout: { id: string } }).payout.id, Date.now());
    return 200;
  });
  workers = startWorkers(
    p.runtime,
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
  // the receivers first: their open deliveries then end at once, and the workers close without waiting them out
  await Promise.all(slow.map((s) => s.close()));
  await workers?.close();
  await normal?.close();
  await p?.close();
});

/** The most slow deliveries open at once. */
function mostOpenAtOnce(requests: SlowRequest[]): number {
  return Math.max(0, ...requests.map((r) => requests.filter((o) => o.at <= r.at && (o.closedAt ?? Infinity) > r.at).length));
}

it("a tenant whose endpoints drip holds half the notify slots at most; another tenant's callbacks go within a second", async () => {
  for (const s of slow) expect((await p.api('POST', '/v1/webhook-endpoints', { url: s.url }, acme)).status).toBe(201);
  const flood = Array.from({ length: 3 }, () => order());
  expect((await p.api('POST', '/v1/payouts/batch', { payouts: flood }, acme)).body.counts).toMatchObject({ created: 3 });
  await eventually(
    () => slowRequests.filter((r) => !r.closedAt).length >= TENANT_SHARE,
    10_000,
    "acme's slow deliveries to hold their share",
  );

  const mine = Array.from({ length: 4 }, () => order({ callback_url: normal.url }));
  expect((await p.api('POST', '/v1/payouts/batch', { payouts: mine })).body.counts).toMatchObject({ created: 4 });
  await p.waitFor(
    mine.map((o) => o.id),
    ['succeeded'],
  );
  await eventually(() => arrivals.size === mine.length, 5_000, "every one of the default tenant's callbacks");
  const records = await p.runtime.store.getMany(mine.map((o) => o.id));
  const delays = records.map((r) => arrivals.get(r!.id)! - Date.parse(r!.updatedAt));
  console.info(`callbacks after their payouts ended, ms: ${delays.join(', ')}`);
  for (const delay of delays) expect(delay).toBeLessThan(1_000);

  // acme's deliveries went on all the while, never more than its share at once, each cut at the deadline
  await eventually(() => slowRequests.filter((r) => r.closedAt).length >= 4, 10_000, 'slow deliveries to be cut');
  const held = slowRequests.filter((r) => r.closedAt).map((r) => r.closedAt! - r.at);
  console.info(`slow deliveries held, ms: ${held.join(', ')}; most open at once: ${mostOpenAtOnce(slowRequests)}`);
  expect(mostOpenAtOnce(slowRequests)).toBeLessThanOrEqual(TENANT_SHARE);
  for (const ms of held) expect(ms).toBeLessThan(DEADLINE_MS + 500);
  const floodRecords = await p.runtime.store.getMany(flood.map((o) => `acme~${o.id}`));
  expect(floodRecords.map((r) => r!.notified)).toEqual(flood.map(() => null));
});
