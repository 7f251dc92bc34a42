import { afterAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { startLocalRedis } from '../../src/local-redis.js';
import { aofHolds, connectRedis, deleteKeys, testPrefix } from '../support/redis.js';
import { eventually } from '../support/sandbox.js';

describe('Redis for tests', () => {
  const redis = connectRedis();
  afterAll(() => redis.quit());

  it('answers at the URL the global setup provided', async () => {
    expect(await redis.ping()).toBe('PONG');
    expect(['REDIS_URL', 'testcontainers', 'redis-server']).toContain(inject('redisSource'));
  });

  it('keeps test files apart by hash-tagged prefix', async () => {
    const a = testPrefix('a');
    const b = testPrefix('a');
    expect(a).not.toBe(b);
    expect(a).toMatch(/^\{t-a-[0-9a-f]{8}\}$/);
    await redis.set(`${a}:k`, '1');
    await redis.set(`${b}:k`, '2');
    expect(await deleteKeys(redis, a)).toBe(1);
    expect(await redis.get(`${b}:k`)).toBe('2');
    await deleteKeys(redis, b);
  });

  it('a local redis-server keeps acknowledged writes across a kill -9 (AOF)', async () => {
    const local = await startLocalRedis();
    try {
      const client = connectRedis(local.url);
      client.on('error', () => undefined);
      expect(await client.config('GET', 'appendonly')).toEqual(['appendonly', 'yes']);
      expect(await client.config('GET', 'maxmemory-policy')).toEqual(['maxmemory-policy', 'noeviction']);
      await client.set('survives', 'yes');
      // everysec may hold the write back while an fsync runs: wait until the AOF holds it
      await eventually(() => aofHolds(local.dir, 'set', 'survives', 'yes'), 5_000, 'the SET to reach the AOF');
      await local.restart({ hard: true });
      expect(await client.get('survives')).toBe('yes');
      client.disconnect();
    } finally {
      await local.stop();
    }
  });
});
