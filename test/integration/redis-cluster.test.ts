import { Cluster, Redis } from 'ioredis';
import { pino } from 'pino';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_CARDS } from 'bank131-sandbox';
import { freePort } from '../../src/local-redis.js';
import { bankMetadataFor } from '../../src/payouts/schemas.js';
import { createRuntime } from '../../src/runtime.js';
import { parseRules } from '../../src/rules/rules-file.js';
import { waitForRedis } from '../../src/store/redis-connection.js';
import { CALLBACK_SECRET, order, startPipeline, type Pipeline } from '../support/pipeline.js';
import { keyPath } from '../support/keys.js';
import { runEntry } from '../support/processes.js';
import { startRedisCluster, type LocalRedisCluster } from '../support/redis-cluster.js';
import { redisUrl, testPrefix } from '../support/redis.js';
import { eventually } from '../support/wait.js';

/**
 * The whole service on a real three-master Redis Cluster (REDIS_CLUSTER=true): payouts run to
 * their end, and every key the service writes sits in the one slot of its hash-tagged prefix.
 */

let cluster: LocalRedisCluster;
let p: Pipeline;
beforeAll(async () => {
  cluster = await startRedisCluster();
  // Two worker sets: exactly-once must hold across worker processes on a cluster too.
  // one tenant capped by an approval rule: its counters are taken in the payout's slot too
  const rules = parseRules('tenants:\n  capped:\n    card_per_day: { count: 3, action: reject }\n', 'cluster-rules.yaml');
  p = await startPipeline({
    redisUrl: cluster.url,
    cluster: true,
    workerSets: 2,
    concurrency: 8,
    worker: { approval: { rules, reviewAbove: null, reviewTtlMs: 60_000 } },
  });
});
afterAll(async () => {
  await p?.close();
  await cluster?.stop();
});

type Callback = { type: string; payout: { id: string; status: string; error: { code: string } | null } };
const callbacksFor = (id: string): Callback[] =>
  p.upstream.received
    .map((r) => new Webhook(CALLBACK_SECRET).verify(r.body, r.headers as Record<string, string>) as Callback)
    .filter((c) => c.payout.id === id);
const moneyMovedFor = (id: string) => p.sandbox.bank.ledger.filter((e) => e.metadata === bankMetadataFor(id));

/** A plain connection to one node, to see where keys really are (no cluster client redirecting). */
const node = (port: number) => {
  const client = new Redis(port, '127.0.0.1', { maxRetriesPerRequest: 0, retryStrategy: () => null });
  client.on('error', () => undefined);
  return client;
};

describe('the runtime on a Redis Cluster', () => {
  it('is a cluster client, not one connection to the seed node', async () => {
    expect(p.runtime.redis).toBeInstanceOf(Cluster);
    await eventually(() => p.runtime.redisHealthy(), 5_000, 'the cluster client to be ready');
    expect((p.runtime.redis as Cluster).nodes('master')).toHaveLength(3);
  });

  it('pays single and batched payouts exactly once, with callbacks, an audit trail and the listing', async () => {
    const ok = order({ callback_url: p.upstream.url });
    const declined = order({ callback_url: p.upstream.url }, TEST_CARDS.declinedByIssuer);
    const batch = Array.from({ length: 12 }, () => order({ callback_url: p.upstream.url }));
    expect((await p.api('POST', '/v1/payouts', ok)).status).toBe(202);
    expect((await p.api('POST', '/v1/payouts', declined)).status).toBe(202);
    const res = await p.api('POST', '/v1/payouts/batch', { payouts: batch });
    expect(res.status).toBe(200);
    expect(res.body.counts).toEqual({ created: 12, existing: 0, conflict: 0, invalid: 0 });

    const paid = [ok, ...batch].map((o) => o.id);
    const states = await p.waitFor([...paid, declined.id], ['succeeded', 'failed', 'cancelled'], 20_000);
    for (const id of paid) expect(states[id], id).toBe('succeeded');
    expect(states[declined.id]).toBe('failed');

    for (const id of paid) expect(moneyMovedFor(id), id).toHaveLength(1);
    expect(moneyMovedFor(declined.id)).toEqual([]);

    // each callback acknowledged (mark-notified ran on the cluster), each final event sent once
    await eventually(
      async () => (await p.runtime.store.getMany([...paid, declined.id])).every((r) => r?.notified === r?.state),
      10_000,
      'every callback to be acknowledged',
    );
    for (const id of paid)
      expect(
        callbacksFor(id).map((c) => c.type),
        id,
      ).toEqual(['payout.succeeded']);
    expect(callbacksFor(declined.id).map((c) => [c.type, c.payout.error?.code])).toEqual([['payout.failed', 'declined_by_issuer_bank']]);

    const got = await p.api('GET', `/v1/payouts/${ok.id}`);
    expect(got.body).toMatchObject({ id: ok.id, status: 'succeeded' });
    const moves = got.body.audit.map((e: { to: string }) => e.to);
    expect(moves[0]).toBe('queued');
    expect(moves).toContain('confirming');
    expect(moves.at(-1)).toBe('succeeded');
    const failed = await p.api('GET', `/v1/payouts/${declined.id}`);
    expect(failed.body).toMatchObject({ status: 'failed', error: { code: 'declined_by_issuer_bank' } });

    // listing: the state indexes are keys the Lua scripts name themselves (src/store/scripts/transition.lua)
    const first = await p.api('GET', '/v1/payouts?status=succeeded&limit=8');
    expect(first.status).toBe(200);
    expect(first.body.data).toHaveLength(8);
    expect(first.body.has_more).toBe(true);
    const second = await p.api('GET', `/v1/payouts?status=succeeded&limit=8&starting_after=${first.body.next_starting_after}`);
    expect(second.body.data).toHaveLength(5);
    expect(second.body.has_more).toBe(false);
    const listed = [...first.body.data, ...second.body.data].map((v: { id: string }) => v.id);
    expect(listed.sort()).toEqual([...paid].sort());
    const failedList = await p.api('GET', '/v1/payouts?status=failed');
    expect(failedList.body.data.map((v: { id: string }) => v.id)).toEqual([declined.id]);
  });

  it('lets exactly the limit of an approval rule through from two worker sets', async () => {
    const made = await p.runtime.tenants.store.createKey('capped', 'upstream');
    const orders = Array.from({ length: 12 }, () => order());
    await Promise.all(orders.map((o) => p.api('POST', '/v1/payouts', o, { authorization: `Bearer ${made.secret}` })));
    const states = await p.waitFor(
      orders.map((o) => `capped~${o.id}`),
      ['succeeded', 'rejected'],
      20_000,
    );
    const counts = Object.values(states).reduce<Record<string, number>>((c, s) => ({ ...c, [s]: (c[s] ?? 0) + 1 }), {});
    expect(counts).toEqual({ succeeded: 3, rejected: 9 });
  });

  it('keeps every key of the prefix, records and queues alike, in its one slot on one master', async () => {
    const o = order();
    await p.api('POST', '/v1/payouts', o);
    await p.waitFor([o.id], ['succeeded']);

    const redis = p.runtime.redis;
    const slot = (await redis.call('CLUSTER', 'KEYSLOT', p.prefix)) as number;
    expect(await redis.call('CLUSTER', 'KEYSLOT', `${p.prefix}:payout:${o.id}`)).toBe(slot);
    const ranges = (await redis.call('CLUSTER', 'SLOTS')) as Array<[number, number, [string, number, ...unknown[]]]>;
    const owner = ranges.find(([from, to]) => from <= slot && slot <= to)![2][1];
    expect(cluster.ports).toContain(owner);

    const nodes = cluster.ports.map((port) => ({ port, client: node(port) }));
    try {
      for (const { port, client } of nodes) {
        const [, keys] = await client.scan('0', 'COUNT', 10_000);
        if (port !== owner) {
          expect(keys, `keys on ${port}, which does not serve slot ${slot}`).toEqual([]);
          await expect(client.hget(`${p.prefix}:payout:${o.id}`, 'state')).rejects.toThrow(/MOVED/);
          continue;
        }
        expect(
          keys.every((k) => k.startsWith(`${p.prefix}:`)),
          keys.join(' '),
        ).toBe(true);
        expect(keys).toContain(`${p.prefix}:payout:${o.id}`);
        expect(keys).toContain(`${p.prefix}:list:state:succeeded`);
        expect(
          keys.some((k) => k.startsWith(`${p.prefix}:payout-start:`)),
          'a BullMQ key',
        ).toBe(true);
        expect(await client.hget(`${p.prefix}:payout:${o.id}`, 'state')).toBe('succeeded');
      }
    } finally {
      for (const { client } of nodes) client.disconnect();
    }
    // and read back through the cluster client, as the service does
    expect((await p.runtime.store.get(o.id))?.state).toBe('succeeded');
  });

  it('a web runtime (no offline queue, one retry) connects and answers pings', async () => {
    const web = createRuntime({ redisUrl: cluster.url, cluster: true, prefix: testPrefix('cluster-web'), role: 'web' });
    try {
      await eventually(() => web.redisHealthy(), 5_000, 'the web runtime to be ready');
      expect(web.redis).toBeInstanceOf(Cluster);
      expect(await web.pingRedis(1_000)).toBe(true);
      expect(await web.store.get('no-such-payout')).toBeNull();
    } finally {
      await web.close();
    }
  });
});

describe('readiness on a cluster', () => {
  it('asks the master that holds our slot: while it does not answer, the service is not ready, though the client still is', async () => {
    const web = createRuntime({ redisUrl: cluster.url, cluster: true, prefix: p.prefix, role: 'web' });
    const slot = (await p.runtime.redis.call('CLUSTER', 'KEYSLOT', p.prefix)) as number;
    const ranges = (await p.runtime.redis.call('CLUSTER', 'SLOTS')) as Array<[number, number, [string, number, ...unknown[]]]>;
    const owner = node(ranges.find(([from, to]) => from <= slot && slot <= to)![2][1]);
    try {
      await eventually(() => web.redisHealthy(), 5_000, 'the web runtime to be ready');
      expect(await web.pingRedis(1_000)).toBe(true);
      await owner.call('CLIENT', 'PAUSE', '2000', 'ALL');
      expect(web.redisHealthy()).toBe(true); // the cluster client knows nothing is wrong
      expect(await web.pingRedis(500)).toBe(false);
      await eventually(async () => (await web.pingRedis(500)) || undefined, 5_000, 'the master to answer again');
    } finally {
      owner.disconnect();
      await web.close();
    }
  });
});

describe('start-up against a cluster', () => {
  it('waits for the cluster when REDIS_CLUSTER=true', async () => {
    await waitForRedis(cluster.url, 5_000, { cluster: true });
  });

  it('refuses a cluster node without REDIS_CLUSTER, and REDIS_CLUSTER for a single Redis, at once', async () => {
    const started = Date.now();
    await expect(waitForRedis(cluster.url, 5_000)).rejects.toMatchObject({
      message: `REDIS_URL: cannot connect to ${cluster.url}: this Redis is a node of a Redis Cluster: set REDIS_CLUSTER=true`,
      exitCode: 78,
    });
    await expect(waitForRedis(redisUrl(), 5_000, { cluster: true })).rejects.toMatchObject({
      message: expect.stringMatching(/REDIS_CLUSTER is true, but this Redis is not part of a cluster: set REDIS_CLUSTER=false$/),
      exitCode: 78,
    });
    expect(Date.now() - started).toBeLessThan(4_000);
  });
});

describe('the processes with REDIS_CLUSTER', () => {
  const worker = {
    BANK131_BASE_URL: 'http://127.0.0.1:9',
    BANK131_PROJECT: 'project-1',
    BANK131_PRIVATE_KEY_FILE: keyPath('partner-private'),
    BANK131_PUBLIC_KEY_FILE: keyPath('bank-public'),
    CALLBACK_SECRET: 'whsec_a3iS1HBpNNtA8EuicVqomG22FE2tSUDSW1Ltk2V+7yo=',
    METRICS_PORT: '0',
  };

  it('the worker starts on the cluster (REDIS_CLUSTER=true) and stops cleanly; without it, it exits 78 naming REDIS_CLUSTER', async () => {
    const on = runEntry('workers/worker-process.ts', {
      ...worker,
      REDIS_URL: cluster.url,
      REDIS_CLUSTER: 'true',
      REDIS_PREFIX: testPrefix('cluster-worker'),
    });
    const off = runEntry('workers/worker-process.ts', { ...worker, REDIS_URL: cluster.url, REDIS_PREFIX: testPrefix('cluster-worker') });
    try {
      expect(await off.exit).toEqual({ code: 78, signal: null });
      expect(off.stderr().trim()).toBe(
        `REDIS_URL: cannot connect to ${cluster.url}: this Redis is a node of a Redis Cluster: set REDIS_CLUSTER=true`,
      );
      await eventually(() => on.stdout().includes('worker process ready') || on.child.exitCode !== null, 15_000, 'the worker to be ready');
      expect(on.stdout(), on.stderr()).toContain('worker process ready');
      // the durability check read the masters' own settings (this test cluster runs without AOF)
      expect(on.stdout()).toContain('Redis appendonly is off');
      on.child.kill('SIGTERM');
      expect(await on.exit).toEqual({ code: 0, signal: null });
      expect(on.stderr()).toBe('');
    } finally {
      for (const r of [on, off]) if (r.child.exitCode === null) r.child.kill('SIGKILL');
    }
  });

  it('a cluster that does not answer is reported in plain words, not as a slots cache error', async () => {
    const lines: string[] = [];
    const log = pino({ level: 'info' }, { write: (line: string) => void lines.push(line) });
    const url = `redis://127.0.0.1:${await freePort()}`;
    const runtime = createRuntime({ redisUrl: url, cluster: true, prefix: testPrefix('cluster-down'), role: 'web', log });
    try {
      const line = await eventually(() => lines.find((l) => l.includes('Redis unreachable')), 5_000, 'the outage line');
      expect(JSON.parse(line).msg).toMatch(new RegExp(`^Redis unreachable \\(REDIS_URL ${url}\\): no node of the cluster answers`));
      expect(runtime.redisHealthy()).toBe(false);
      expect(await runtime.pingRedis(500)).toBe(false);
    } finally {
      await runtime.close();
    }
  });
});
