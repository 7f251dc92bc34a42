import { afterAll, expect, it } from 'vitest';
import { BankRateLimiter } from '../../src/store/rate-limiter.js';
import { connectRedis, deleteKeys, testPrefix } from '../support/redis.js';

const redis = connectRedis();
const prefix = testPrefix('ratelimit');
afterAll(async () => {
  await deleteKeys(redis, prefix);
  await redis.quit();
});

it('never lets more than the limit through in any second, across limiters sharing the slots (as separate workers do), evenly spaced', async () => {
  const a = new BankRateLimiter(redis, `${prefix}:bank`, 20);
  const b = new BankRateLimiter(redis, `${prefix}:bank`, 20);
  const started = Date.now();
  const stamps: number[] = [];
  await Promise.all(Array.from({ length: 50 }, (_, i) => (i % 2 ? a : b).acquire().then(() => stamps.push(Date.now() - started))));
  // one every 50 ms at most (55.6 ms with the headroom): the 50th goes at least 2.45 s after the first
  expect(Date.now() - started).toBeGreaterThanOrEqual(2_400);
  // and no one-second window holds more than 20, not even the first (timers may fire a few ms late)
  stamps.sort((x, y) => x - y);
  for (let i = 0; i < stamps.length; i++) {
    const inWindow = stamps.filter((t) => t >= stamps[i]! && t < stamps[i]! + 990).length;
    expect(inWindow).toBeLessThanOrEqual(20);
  }
});
