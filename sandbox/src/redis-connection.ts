import { Redis } from 'ioredis';

/** A start-up failure that is not a bug: said in one line, without a stack trace (sandbox/src/main.ts). */
export class StartupError extends Error {
  override name = 'StartupError';
}

/** `redis://user:secret@host` as `redis://user:***@host`, safe to print. */
export function maskUrl(url: string): string {
  return url.replace(/\/\/([^:/@]*):[^@]*@/, '//$1:***@');
}

/**
 * The sandbox's own connection to its Redis, made before anything else so that a wrong URL stops
 * the start at once, naming the URL and the cause, instead of failing the first request.
 */
export async function connectRedis(url: string, timeoutMs = 5_000): Promise<Redis> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 3, connectTimeout: timeoutMs });
  let cause: Error | undefined;
  const remember = (err: Error) => (cause = err);
  redis.on('error', remember);
  try {
    await redis.connect();
    await redis.ping();
  } catch (err) {
    redis.disconnect();
    const why = (cause as { code?: string } | undefined)?.code ?? cause?.message ?? (err as Error).message;
    throw new StartupError(`the sandbox cannot reach its Redis at ${maskUrl(url)} (${why})`);
  }
  redis.off('error', remember);
  return redis;
}
