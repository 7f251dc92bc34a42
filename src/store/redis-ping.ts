import type { RedisClient } from './redis-client.js';

/**
 * Whether Redis answers a PING within `timeoutMs`. Never throws, never waits longer, and answers
 * false at once while the connection is down: what a readiness probe needs.
 */
export async function pingWithin(redis: RedisClient, timeoutMs: number): Promise<boolean> {
  if (redis.status !== 'ready') return false;
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)));
  try {
    return await Promise.race([redis.ping().then((r) => r === 'PONG', () => false), late]);
  } finally {
    clearTimeout(timer);
  }
}
