import type { RedisClient } from './redis-client.js';

/**
 * Whether Redis answers a PING within `timeoutMs`. Never throws, never waits longer, and answers
 * false at once while the connection is down: what a readiness probe needs.
 * On a cluster the client stays ready while one master is down, and a PING goes to any node: so
 * the question is put to the node that holds our keys, by reading a key in their slot (`slotKey`,
 * any key under REDIS_PREFIX).
 */
export async function pingWithin(redis: RedisClient, timeoutMs: number, slotKey?: string): Promise<boolean> {
  if (redis.status !== 'ready') return false;
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)));
  try {
    const asked = 'isCluster' in redis && redis.isCluster && slotKey ? redis.exists(slotKey).then(() => true) : redis.ping().then((r) => r === 'PONG');
    return await Promise.race([asked.catch(() => false), late]);
  } finally {
    clearTimeout(timer);
  }
}
