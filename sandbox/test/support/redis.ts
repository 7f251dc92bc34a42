import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { inject } from 'vitest';

export function redisUrl(): string {
  return inject('sandboxRedisUrl');
}

/** A hash-tagged key prefix of its own for one test file (or one sandbox), so files running side by side never share a bank. */
export function testPrefix(name: string): string {
  return `{sbx-${name.replace(/[^a-z0-9]+/gi, '-')}-${randomBytes(4).toString('hex')}}`;
}

export function connectRedis(url = redisUrl()): Redis {
  return new Redis(url, { maxRetriesPerRequest: null });
}

/** Deletes every key under a prefix (SCAN, never KEYS, so a shared Redis is not blocked). */
export async function deleteKeys(redis: Redis, prefix: string): Promise<number> {
  let cursor = '0';
  let deleted = 0;
  const pattern = `${prefix.replace(/([*?[\]\\])/g, '\\$1')}*`;
  do {
    const [next, found] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    if (found.length) deleted += await redis.del(...found);
  } while (cursor !== '0');
  return deleted;
}
