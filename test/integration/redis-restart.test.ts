import { afterAll, beforeAll, expect, it } from 'vitest';
import { startLocalRedis, type LocalRedis } from '../../src/local-redis.js';
import { bankMetadataFor } from '../../src/payouts/schemas.js';
import { TERMINAL_STATES } from '../../src/payouts/state-machine.js';
import { order, startPipeline, type Pipeline } from '../support/pipeline.js';
import { eventually } from '../support/sandbox.js';

/**
 * A Redis of its own, killed (-9) and restarted while payouts are in flight. With AOF fsync'd on
 * every write nothing Redis acknowledged is lost; what was in flight resumes, and nothing is paid
 * twice: webhooks refused during the outage are re-sent by the bank, jobs are retried.
 */
let redis: LocalRedis;
let p: Pipeline;
beforeAll(async () => {
  redis = await startLocalRedis({ appendfsync: 'always' });
  p = await startPipeline({ redisUrl: redis.url, knobs: { readyDelayMs: 20, finishDelayMs: 20 } });
  for (const c of [p.runtime.redis]) c.on('error', () => undefined);
});
afterAll(async () => {
  await p?.close();
  await redis?.stop();
});

it('payouts in flight across a Redis crash and restart each end succeeded, paid exactly once', async () => {
  const orders = Array.from({ length: 150 }, () => order());
  expect((await p.api('POST', '/v1/payouts/batch', { payouts: orders })).status).toBe(200);
  const ids = orders.map((o) => o.id);
  // crash while the pipeline is busy: some payouts past queued and not yet finished
  const inFlight = await eventually(
    async () => {
      const records = await p.runtime.store.getMany(ids);
      const moving = records.filter((r) => r && r.state !== 'queued' && !TERMINAL_STATES.includes(r.state));
      return moving.length >= 5 && moving;
    },
    30_000,
    'at least 5 payouts in flight (past queued, not finished)',
  );
  expect(inFlight.length).toBeGreaterThanOrEqual(5);
  await redis.restart({ hard: true });

  const states = await p.waitFor(ids, ['succeeded', 'failed', 'cancelled'], 60_000);
  expect(Object.values(states).filter((s) => s !== 'succeeded')).toEqual([]);
  for (const id of ids) expect(p.sandbox.bank.ledger.filter((e) => e.metadata === bankMetadataFor(id))).toHaveLength(1);
}, 90_000);
