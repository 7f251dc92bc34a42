import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import type { Logger } from 'pino';
import { EXIT, StartupError } from '../process/exit.js';
import type { RedisClient } from './redis-client.js';
import { REDIS_RETRY_MAX_MS, describeRedisError, maskUrl, type RedisFault } from './redis-errors.js';

/**
 * The processes' Redis connection: its options per role, a Cluster when REDIS_CLUSTER says so, and
 * what start-up checks before anything else touches it (reachable, the right kind, durable).
 *
 * 'worker': commands wait for a lost connection to come back, as BullMQ workers need. 'web': while
 * Redis is away, commands fail at once (and one that gets no answer fails after a few seconds), so a
 * request is answered 503 instead of hanging.
 */
export type RedisRole = 'web' | 'worker';

/** The web's bound on one Redis command that gets no answer. */
const WEB_COMMAND_TIMEOUT_MS = 5_000;

export function redisOptions(role: RedisRole): RedisOptions {
  // Quick first retries for a blip, then one attempt every REDIS_RETRY_MAX_MS.
  const retryStrategy = (times: number) => Math.min(250 * 2 ** Math.max(0, times - 1), REDIS_RETRY_MAX_MS);
  return role === 'web'
    ? { retryStrategy, enableOfflineQueue: false, maxRetriesPerRequest: 1, commandTimeout: WEB_COMMAND_TIMEOUT_MS }
    : // BullMQ workers block on this connection's duplicates; they need unlimited retries per request.
      { retryStrategy, maxRetriesPerRequest: null };
}

/**
 * A Redis Cluster seeded from REDIS_URL, with the same behaviour per role as one connection: the
 * cluster itself owns reconnection and the offline queue, each node connection the rest.
 */
export function redisCluster(url: string, role: RedisRole): Cluster {
  const { retryStrategy, enableOfflineQueue, ...perNode } = redisOptions(role);
  const seed = new URL(url);
  const tls = seed.protocol === 'rediss:';
  const options: ClusterOptions = {
    clusterRetryStrategy: retryStrategy ?? null,
    enableOfflineQueue: enableOfflineQueue ?? true,
    // A cluster has only database 0, so the path of REDIS_URL is not used (waitForRedis says so).
    redisOptions: {
      ...perNode,
      ...(seed.username ? { username: decodeURIComponent(seed.username) } : {}),
      ...(seed.password ? { password: decodeURIComponent(seed.password) } : {}),
      ...(tls ? { tls: {} } : {}),
    },
    // ioredis resolves the seed's name to an address before connecting; over TLS the certificate
    // names the host, not the address, so the name must reach the TLS handshake unresolved.
    ...(tls ? { dnsLookup: (address: string, callback: (err: null, address: string) => void) => callback(null, address) } : {}),
  };
  return new Cluster([{ host: seed.hostname.replace(/^\[(.*)\]$/, '$1'), port: Number(seed.port || 6379) }], options);
}

/** One connection, or a Cluster seeded from `url`, for `role`. */
export function connectRedis(url: string, options: { cluster: boolean; role: RedisRole }): RedisClient {
  return options.cluster ? redisCluster(url, options.role) : new Redis(url, redisOptions(options.role));
}

/**
 * Start-up: connect to REDIS_URL within `timeoutMs`, retrying a refused or unreachable Redis until
 * then; a wrong password ends the wait at once. Throws a StartupError naming REDIS_URL (password
 * masked) and the cause in one line. With `cluster` (REDIS_CLUSTER=true), REDIS_URL is one node,
 * and the wait lasts until that node says the cluster serves every slot; a REDIS_CLUSTER that does
 * not match what the node is ends the wait at once.
 */
export async function waitForRedis(url: string, timeoutMs: number, options: { cluster?: boolean } = {}): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const where = maskUrl(url);
  let last: RedisFault | null = null;
  const fail = (cause: string, exitCode: number) => new StartupError(`REDIS_URL: cannot connect to ${where}: ${cause}`, exitCode);
  for (;;) {
    const remaining = deadline - Date.now();
    if (remaining <= 0) {
      throw last
        ? fail(`${last.cause}; gave up after ${timeoutMs} ms (REDIS_CONNECT_TIMEOUT_MS)`, last.exitCode)
        : fail(`no answer within ${timeoutMs} ms (REDIS_CONNECT_TIMEOUT_MS)`, EXIT.unavailable);
    }
    const fault = await tryConnect(url, remaining, options.cluster ?? false);
    if (fault === null) return;
    if (fault.permanent) throw fail(fault.cause, fault.exitCode);
    if (fault.cause !== 'timeout') last = fault;
    await new Promise((r) => setTimeout(r, Math.min(250, Math.max(0, deadline - Date.now()))));
  }
}

/** One attempt: null when Redis answered PING, else what went wrong ('timeout' when nothing did). */
async function tryConnect(url: string, timeoutMs: number, cluster: boolean): Promise<RedisFault | null> {
  const client = new Redis(url, {
    lazyConnect: true,
    retryStrategy: () => null,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    connectTimeout: Math.max(1, timeoutMs),
  });
  let first: Error | null = null;
  client.on('error', (err: Error) => (first ??= err));
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)));
  try {
    const outcome = await Promise.race([
      client
        .connect()
        .then(() => client.ping())
        .then(
          () => clusterMismatch(client, cluster),
          (err: Error) => err,
        ),
      late,
    ]);
    if (outcome === 'ok' || isFault(outcome)) {
      // A refused SELECT (database out of range) is only an error event; the connection carries on.
      const fault = first ? describeRedisError(first) : null;
      return fault?.permanent ? fault : outcome === 'ok' ? null : outcome;
    }
    if (outcome === 'timeout' && first === null) return { cause: 'timeout', exitCode: EXIT.unavailable, permanent: false };
    // The error event carries the cause; connect() itself often only says "Connection is closed".
    return describeRedisError(first ?? (outcome as Error));
  } finally {
    clearTimeout(timer);
    client.disconnect();
  }
}

const isFault = (x: unknown): x is RedisFault => typeof x === 'object' && x !== null && 'cause' in x && 'permanent' in x;

/**
 * After PING: whether REDIS_CLUSTER matches what the node is, and a cluster serves every slot.
 * 'ok' when it does, or when the node will not say (INFO or CLUSTER INFO refused to this user).
 * A cluster node used as one server answers MOVED for most keys; a cluster client cannot even
 * start on a node outside a cluster. Both are settings to fix, so neither is retried.
 */
async function clusterMismatch(client: Redis, cluster: boolean): Promise<'ok' | RedisFault> {
  const info = await client.info('cluster').catch(() => null);
  if (info === null) return 'ok';
  const enabled = /^cluster_enabled:1/m.test(info);
  if (enabled && !cluster)
    return { cause: 'this Redis is a node of a Redis Cluster: set REDIS_CLUSTER=true', exitCode: EXIT.config, permanent: true };
  if (!enabled && cluster)
    return {
      cause: 'REDIS_CLUSTER is true, but this Redis is not part of a cluster: set REDIS_CLUSTER=false',
      exitCode: EXIT.config,
      permanent: true,
    };
  if (!cluster) return 'ok';
  const state = await (client.call('CLUSTER', 'INFO') as Promise<string>).then(
    (text) => /^cluster_state:(\w+)/m.exec(text)?.[1] ?? 'unknown',
    () => null,
  );
  if (state === null || state === 'ok') return 'ok';
  return { cause: `the cluster does not serve every slot yet (cluster_state:${state})`, exitCode: EXIT.unavailable, permanent: false };
}

/**
 * A runtime's own connection, just made after waitForRedis succeeded: wait for it to be ready (the
 * web's rejects commands until then), within `timeoutMs`.
 */
export async function redisReady(redis: RedisClient, url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (redis.status !== 'ready') {
    if (Date.now() > deadline) {
      throw new StartupError(
        `REDIS_URL: cannot connect to ${maskUrl(url)}: no answer within ${timeoutMs} ms (REDIS_CONNECT_TIMEOUT_MS)`,
        EXIT.unavailable,
      );
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * Warn when Redis may lose or evict what it acknowledged (on a cluster: any master): it must run
 * with appendonly and noeviction (docs/operations.md, Redis).
 */
export async function checkRedisDurability(redis: RedisClient, log: Logger): Promise<void> {
  const servers = redis instanceof Cluster ? redis.nodes('master') : [redis];
  try {
    const settings = await Promise.all(
      servers.map(async (server) => {
        const [, policy] = (await server.config('GET', 'maxmemory-policy')) as [string, string];
        const [, aof] = (await server.config('GET', 'appendonly')) as [string, string];
        return { policy, aof };
      }),
    );
    const policies = [...new Set(settings.map((s) => s.policy))].filter((p) => p !== 'noeviction');
    if (policies.length)
      log.warn({ policy: policies.join(',') }, 'Redis maxmemory-policy is not noeviction: queued jobs and payout records may be evicted');
    if (settings.some((s) => s.aof !== 'yes')) log.warn('Redis appendonly is off: a Redis restart may lose acknowledged payouts');
  } catch {
    log.info('could not read Redis CONFIG (managed Redis?); make sure it runs with appendonly yes and noeviction');
  }
}
