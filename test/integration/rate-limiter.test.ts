import { afterAll, expect, it } from 'vitest';
import { BankRateLimiter } from '../../src/store/rate-limiter.js';
import { connectRedis, deleteKeys, testPrefix } from '../support/redis.js';

const redis = connectRedis();
const prefix = testPrefix('ratelimit');
afterAll(async () => {
  await deleteKeys(redis, prefix);
  await redis.quit();
});

it('holds calls under the limit across limiters sharing the bucket (as separate workers do)', async () => {
  const a = new BankRateLimiter(redis, `${prefix}:bank`, 20);
  const b = new BankRateLimiter(redis, `${prefix}:bank`, 20);
  const started = Date.now();
  const stamps: number[] = [];
  await Promise.all(Array.from({ length: 50 }, (_, i) => (i % 2 ? a : b).acquire().then(() => stamps.push(Date.now() - started))));
  // a full bucket lets 20 through at once; the other 30 need 1.5 s of refill at 20/s
  expect(Date.now() - started).toBeGreaterThanOrEqual(1_400);
  // and no one-second window holds more than a bucket plus a second of refill
  stamps.sort((x, y) => x - y);
  for (let i = 0; i < stamps.length; i++) {
    const inWindow = stamps.filter((t) => t >= stamps[i]! && t < stamps[i]! + 1_000).length;
    expect(inWindow).toBeLessThanOrEqual(41);
  }
});
