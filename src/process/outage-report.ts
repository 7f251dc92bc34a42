import { Cluster } from 'ioredis';
import type { Logger } from 'pino';
import type { RedisClient } from '../store/redis-client.js';
import { REDIS_RETRY_MAX_MS, describeRedisError, isRedisConnectionError, maskUrl, redisTrouble } from '../store/redis-errors.js';

/** The error listener outageReporter returns, with what close() calls. */
export interface OutageReport {
  (err: Error): void;
  /** Stops watching for the end of a refusal. */
  stop(): void;
}

/**
 * Reports a Redis outage after start-up, of either kind redisTrouble (src/store/redis-errors.ts)
 * knows: unreachable, or refusing (full, a replica, loading...). Each kind is one warning when it
 * begins, at most one line per REDIS_RETRY_MAX_MS however many connections, queues, requests and
 * jobs meet it, and one line when it ends: the connection's 'ready' for the one, and for the
 * other a write that `acceptsWrites` (tried every REDIS_RETRY_MAX_MS meanwhile) sees taken again.
 * Returns the error listener to give whatever else meets Redis errors.
 */
export function outageReporter(
  redis: RedisClient,
  url: string,
  log: Logger | undefined,
  acceptsWrites?: () => Promise<boolean>,
): OutageReport {
  const where = maskUrl(url);
  const away = new Spell();
  const refusing = new Spell();
  let watch: NodeJS.Timeout | undefined;
  let lastOther = 0;
  const stopWatching = () => {
    clearInterval(watch);
    watch = undefined;
  };
  const refusalOver = async () => {
    if (redis.status !== 'ready' || !(await acceptsWrites?.())) return;
    stopWatching();
    const lastedS = refusing.end(Date.now());
    if (lastedS !== null)
      log?.info({ redis: where, refusedForS: lastedS }, `Redis accepts commands again, after ${lastedS} s (REDIS_URL ${where})`);
  };
  const sayRefused = (reason: string) => {
    const now = Date.now();
    const line = refusing.sight(now);
    if (!watch && acceptsWrites) {
      // Nothing says when a refusal ends, so ask: the same question /readyz asks.
      watch = setInterval(() => void refusalOver().catch(() => undefined), REDIS_RETRY_MAX_MS);
      watch.unref();
    }
    if (!line) return;
    const fields = { redis: where, refusal: reason, refusingForS: line.forS, refused: refusing.seen };
    if (line.lasts)
      log?.warn(
        fields,
        `Redis still refuses commands after ${line.forS} s (REDIS_URL ${where}): ${reason}; ${refusing.seen} refused so far`,
      );
    else
      log?.warn(fields, `Redis refuses commands (REDIS_URL ${where}): ${reason}${adviceFor(reason)}; requests are answered 503, jobs wait`);
  };
  const sayAway = (err: Error) => {
    const line = away.sight(Date.now());
    if (!line) return;
    const { cause } = describeRedisError(err);
    const fields = { redis: where, cause, downForS: line.forS, attempts: away.seen };
    if (line.lasts) log?.warn(fields, `Redis still unreachable after ${line.forS} s (REDIS_URL ${where}): ${cause}; reconnecting`);
    else log?.warn(fields, `Redis unreachable (REDIS_URL ${where}): ${cause}; reconnecting, at least every ${REDIS_RETRY_MAX_MS / 1000} s`);
  };
  const report = (err: Error) => {
    if (!log) return;
    const trouble = redisTrouble(err);
    if (trouble?.kind === 'refusing') return sayRefused(trouble.reason);
    // The first of many connections (the workers' too) to notice a lost connection says so.
    if (trouble || redis.status !== 'ready') return sayAway(err);
    const now = Date.now();
    if (now - lastOther < REDIS_RETRY_MAX_MS) return;
    lastOther = now;
    log.error({ redis: where, err: err.message }, `Redis error: ${describeRedisError(err).cause}`);
  };
  redis.on('error', report);
  if (redis instanceof Cluster) reportNodeErrors(redis, where, log);
  redis.on('close', () => away.begin(Date.now()));
  redis.on('ready', () => {
    const lastedS = away.end(Date.now());
    if (lastedS !== null) log?.info({ redis: where, downForS: lastedS }, 'Redis connection restored');
  });
  return Object.assign(report, { stop: stopWatching });
}

/**
 * One kind of outage, as the log tells it: a line when it begins, then at most one per
 * REDIS_RETRY_MAX_MS, however often it is met.
 */
class Spell {
  private since: number | null = null;
  private lastLine = 0;
  private announced = false;
  /** How often it was met since it began. */
  seen = 0;

  begin(now: number): void {
    this.since ??= now;
  }

  /** Met once more: whether a line is due now (it `lasts`: not the first), and since how long. */
  sight(now: number): { lasts: boolean; forS: number } | null {
    this.seen += 1;
    this.begin(now);
    if (now - this.lastLine < REDIS_RETRY_MAX_MS) return null;
    this.lastLine = now;
    const lasts = this.announced;
    this.announced = true;
    return { lasts, forS: Math.round((now - (this.since ?? now)) / 1000) };
  }

  /** Over: how long it lasted in seconds, or null if no line said it began. */
  end(now: number): number | null {
    const lastedS = this.announced ? Math.round((now - (this.since ?? now)) / 1000) : null;
    this.since = null;
    this.lastLine = 0;
    this.announced = false;
    this.seen = 0;
    return lastedS;
  }
}

/** What an operator can do about a refusal, where Redis's own words do not say. */
function adviceFor(reason: string): string {
  if (/^OOM/.test(reason)) return ' (Redis is full: raise its maxmemory or free memory; what was accepted waits)';
  if (/^READONLY/.test(reason)) return ' (REDIS_URL leads to a replica: after a failover, to the new primary)';
  if (/^MISCONF/.test(reason)) return ' (Redis cannot save its data: see its log and its disk)';
  return '';
}

/**
 * One node of a cluster lost while the cluster client stays ready (the others answer; a replica
 * may be promoted): no outage of the whole, but worth a line. A whole outage comes as 'error'.
 */
function reportNodeErrors(redis: Cluster, where: string, log: Logger | undefined): void {
  let lastNodeLine = 0;
  redis.on('node error', (err: Error, node: string) => {
    const now = Date.now();
    if (!log || redis.status !== 'ready' || now - lastNodeLine < REDIS_RETRY_MAX_MS) return;
    lastNodeLine = now;
    const { cause } = describeRedisError(err);
    log.warn({ redis: where, node, cause }, `Redis Cluster node ${node}${isRedisConnectionError(err) ? ' unreachable' : ''}: ${cause}`);
  });
}
