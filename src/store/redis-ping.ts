import type { RedisClient } from './redis-client.js';
import { redisTrouble } from './redis-errors.js';

const NO_ANSWER = 'Redis does not answer';
/** The probe key lapses by itself: nothing is left behind however often it is written. */
const PROBE_TTL_MS = 10_000;

/**
 * Why Redis cannot do the service's work right now, in words for /readyz; null when it can.
 * Never throws, never waits longer than `timeoutMs`, and answers at once while the connection is
 * down. With `slotKey` (any key under REDIS_PREFIX) the question is a write of that key: a Redis
 * that answers PING may still refuse every write (full with noeviction, a replica after a
 * failover), and on a cluster, where the client stays ready while one master is down and a PING
 * goes to any node, the key takes the question to the node that holds our keys.
 */
export async function redisNotReady(redis: RedisClient, timeoutMs: number, slotKey?: string): Promise<string | null> {
  if (redis.status !== 'ready') return NO_ANSWER;
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<string>((resolve) => (timer = setTimeout(() => resolve(NO_ANSWER), timeoutMs)));
  try {
    return await Promise.race([ask(redis, slotKey), late]);
  } finally {
    clearTimeout(timer);
  }
}

async function ask(redis: RedisClient, slotKey: string | undefined): Promise<string | null> {
  try {
    if (slotKey) await redis.set(slotKey, '1', 'PX', PROBE_TTL_MS);
    else if ((await redis.ping()) !== 'PONG') return NO_ANSWER;
    return null;
  } catch (err) {
    const trouble = redisTrouble(err);
    if (trouble?.kind === 'unreachable') return NO_ANSWER;
    // Any other refusal (an ACL that forbids the write, say) stops the service just the same.
    return `Redis refuses writes: ${trouble?.reason ?? (err as Error).message.split('\n')[0]}`;
  }
}

/** Whether Redis answers, and takes a write of `slotKey` when given, within `timeoutMs`: redisNotReady as a yes or no. */
export async function pingWithin(redis: RedisClient, timeoutMs: number, slotKey?: string): Promise<boolean> {
  return (await redisNotReady(redis, timeoutMs, slotKey)) === null;
}
