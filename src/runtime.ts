import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import type { Logger } from 'pino';
import { Bank131Client, type Bank131ClientOptions } from './bank131/client.js';
import type { BankClientConfig, WebConfig, WorkerConfig } from './config.js';
import { createQueues, DEFAULT_RETRY, type Queues, type RetryPolicy } from './queues.js';
import { EXIT, maskUrl, StartupError } from './settings.js';
import { PayoutStore } from './store/payout-store.js';
import type { RedisClient } from './store/redis-client.js';
import { BankAccess } from './store/bank-access.js';
import { REDIS_RETRY_MAX_MS, redisTrouble } from './store/redis-errors.js';
import { pingWithin } from './store/redis-ping.js';
import { BankRateLimiter } from './store/rate-limiter.js';
import { observeBankCall } from './metrics.js';

/** The connected pieces the web process uses: Redis, the payout store, the queues. */
export interface WebRuntime {
  /** A Cluster when REDIS_CLUSTER=true (RuntimeOptions.cluster), else one connection. */
  redis: RedisClient;
  store: PayoutStore;
  queues: Queues;
  retry: RetryPolicy;
  /** Whether Bank 131 accepts our credentials, as the workers last found (part of /readyz). */
  bankAccess: BankAccess;
  /** Whether the Redis connection is up right now; no round trip, never waits. */
  redisHealthy(): boolean;
  /**
   * Whether Redis takes a write (on the node that holds our keys) within `timeoutMs` (default 1 s):
   * false while it is unreachable or refuses writes (full, a replica...). Never throws, never takes
   * longer: what a readiness probe calls. False at once while the connection is down.
   */
  pingRedis(timeoutMs?: number): Promise<boolean>;
  /**
   * Report a Redis error met elsewhere (a request, a BullMQ worker, a failed job): an outage,
   * unreachable or refusing, comes out as one line per retry interval, with this runtime's own.
   */
  reportRedisError(err: Error): void;
  close(): Promise<void>;
}

/** What the workers use as well: the bank. */
export interface Runtime extends WebRuntime {
  bank: Bank131Client;
}

export interface RuntimeOptions {
  redisUrl: string;
  /** REDIS_CLUSTER: `redisUrl` names one node of a Redis Cluster, and the client finds the others. */
  cluster?: boolean;
  prefix: string;
  /** Only the workers call the bank; a runtime without it is a WebRuntime. */
  bank?: Bank131ClientOptions;
  /** Calls per second to the bank, shared by every worker through Redis (default 50). */
  maxRps?: number;
  retry?: RetryPolicy;
  /**
   * 'worker' (the default): Redis commands wait for a lost connection to come back, as BullMQ
   * workers need. 'web': while Redis is away, commands fail at once (and a command that gets no
   * answer fails after a few seconds), so a request is answered 503 instead of hanging.
   */
  role?: 'web' | 'worker';
  /** Where an outage is reported: one line when it starts, one per retry interval, one when it ends. */
  log?: Logger;
}

export { REDIS_RETRY_MAX_MS };
/** The web's bound on one Redis command that gets no answer. */
const WEB_COMMAND_TIMEOUT_MS = 5_000;

export function redisOptions(role: 'web' | 'worker'): RedisOptions {
  // Quick first retries for a blip, then one attempt every REDIS_RETRY_MAX_MS.
  const retryStrategy = (times: number) => Math.min(250 * 2 ** Math.max(0, times - 1), REDIS_RETRY_MAX_MS);
  return role === 'web'
    ? { retryStrategy, enableOfflineQueue: false, maxRetriesPerRequest: 1, commandTimeout: WEB_COMMAND_TIMEOUT_MS }
    : // BullMQ workers block on this connection's duplicates; they need unlimited retries per request.
      { retryStrategy, maxRetriesPerRequest: null };
}

/** The web calls the bank too, for the card collection pages (widget tokens, card facts). */
export function webRuntimeOptions(config: WebConfig, log?: Logger): RuntimeOptions & { bank: Bank131ClientOptions } {
  return { redisUrl: config.redisUrl, cluster: config.redisCluster, prefix: config.redisPrefix, role: 'web', maxRps: config.bank.maxRps, bank: bankClientOptions(config.bank), ...(log ? { log } : {}) };
}

export function workerRuntimeOptions(config: WorkerConfig, log?: Logger): RuntimeOptions & { bank: Bank131ClientOptions } {
  return { redisUrl: config.redisUrl, cluster: config.redisCluster, prefix: config.redisPrefix, role: 'worker', maxRps: config.bank.maxRps, bank: bankClientOptions(config.bank), ...(log ? { log } : {}) };
}

/**
 * A Redis Cluster seeded from REDIS_URL, with the same behaviour per role as one connection: the
 * cluster itself owns reconnection and the offline queue, each node connection the rest.
 */
export function redisCluster(url: string, role: 'web' | 'worker'): Cluster {
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

function bankClientOptions(b: BankClientConfig): Bank131ClientOptions {
  return {
    baseUrl: b.baseUrl,
    project: b.project,
    submerchant: b.submerchant,
    privateKey: b.privateKey,
    apiVersion: b.apiVersion,
    timeoutMs: b.timeoutMs,
    connectTimeoutMs: b.connectTimeoutMs,
  };
}

export function createRuntime(options: RuntimeOptions & { bank: Bank131ClientOptions }): Runtime;
export function createRuntime(options: RuntimeOptions): WebRuntime;
export function createRuntime(options: RuntimeOptions): WebRuntime | Runtime {
  const role = options.role ?? 'worker';
  const redis: RedisClient = options.cluster ? redisCluster(options.redisUrl, role) : new Redis(options.redisUrl, redisOptions(role));
  const retry = options.retry ?? DEFAULT_RETRY;
  const queues = createQueues(redis, options.prefix, retry);
  const slotKey = `${options.prefix}:ping`;
  // Without listeners ioredis prints "Unhandled error event" and BullMQ a stack per queue per attempt.
  const report = outageReporter(redis, options.redisUrl, options.log, () => pingWithin(redis, 1_000, slotKey));
  for (const q of queues.all()) q.on('error', report);
  const bankAccess = new BankAccess(redis, `${options.prefix}:bank:refused`);
  let bank: Bank131Client | undefined;
  if (options.bank) {
    const limiter = new BankRateLimiter(redis, `${options.prefix}:ratelimit:bank`, options.maxRps ?? 50);
    bank = new Bank131Client({
      ...options.bank,
      beforeSend: () => limiter.acquire(),
      onCall: (call) => {
        observeBankCall(call);
        bankAccess.observe(call);
      },
    });
  }
  const runtime: WebRuntime = {
    redis,
    store: new PayoutStore(redis, options.prefix),
    queues,
    retry,
    bankAccess,
    redisHealthy: () => redis.status === 'ready',
    pingRedis: (timeoutMs = 1_000) => pingWithin(redis, timeoutMs, slotKey),
    reportRedisError: report,
    async close() {
      report.stop();
      // A connection that is not up is dropped, never sent QUIT: ioredis leaves one caught between
      // two reconnection attempts 'reconnecting' even after disconnect(), and a worker's commands
      // then wait for a reconnection that never comes. Hence the bounds too.
      const up = redis.status === 'ready';
      if (!up) redis.disconnect();
      await within(CLOSE_STEP_MS, queues.close());
      bank?.close();
      if (up) await within(CLOSE_STEP_MS, redis.quit());
      redis.disconnect();
    },
  };
  return bank ? { ...runtime, bank } : runtime;
}

/** How long close() waits for each step that needs Redis, which may have gone meanwhile. */
const CLOSE_STEP_MS = 500;

/** Waits for `work` to settle, but no longer than `ms`: a stop must not wait on a Redis that is gone. */
export async function within(ms: number, work: Promise<unknown>): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)));
  try {
    await Promise.race([work.then(() => undefined, () => undefined), late]);
  } finally {
    clearTimeout(timer);
  }
}

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
export function outageReporter(redis: RedisClient, url: string, log: Logger | undefined, acceptsWrites?: () => Promise<boolean>): OutageReport {
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
    if (lastedS !== null) log?.info({ redis: where, refusedForS: lastedS }, `Redis accepts commands again, after ${lastedS} s (REDIS_URL ${where})`);
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
    if (line.lasts) log?.warn(fields, `Redis still refuses commands after ${line.forS} s (REDIS_URL ${where}): ${reason}; ${refusing.seen} refused so far`);
    else log?.warn(fields, `Redis refuses commands (REDIS_URL ${where}): ${reason}${adviceFor(reason)}; requests are answered 503, jobs wait`);
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

/** Whether an error only says that Redis is unreachable (refused, reset, timed out, closed): redisTrouble's 'unreachable'. */
export function isRedisConnectionError(err: Error): boolean {
  return redisTrouble(err)?.kind === 'unreachable';
}

export interface RedisFault {
  /** Plain words: "connection refused (…)", "unknown host …", "authentication failed (…)". */
  cause: string;
  /** EX_CONFIG where REDIS_URL itself is wrong (credentials, database), else EX_UNAVAILABLE. */
  exitCode: number;
  /** Retrying cannot help: the URL must change. */
  permanent: boolean;
}

/** What an ioredis or socket error means for an operator. */
export function describeRedisError(err: Error & { code?: string; hostname?: string }): RedisFault {
  const msg = err.message ?? '';
  const unavailable = (cause: string): RedisFault => ({ cause, exitCode: EXIT.unavailable, permanent: false });
  const config = (cause: string): RedisFault => ({ cause, exitCode: EXIT.config, permanent: true });
  const last = lastNodeError(err);
  if (last) {
    const fault = describeRedisError(last);
    return fault.cause === 'not connected' ? unavailable(NO_NODE) : fault;
  }
  if (/NOAUTH/.test(msg)) return config('authentication failed (this Redis requires a password; give it in REDIS_URL as redis://:PASSWORD@host:port)');
  if (/WRONGPASS|invalid password|invalid username-password/i.test(msg)) return config('authentication failed (wrong user name or password in REDIS_URL)');
  if (/NOPERM/.test(msg)) return config(`permission denied (the REDIS_URL user may not run what the service needs: ${msg})`);
  if (/DB index is out of range/i.test(msg)) return config('no such database (the number after the last / in REDIS_URL is out of range)');
  if (/SELECT is not allowed in cluster mode/i.test(msg)) return config('no such database (a Redis Cluster has only database 0: drop the number after the last / in REDIS_URL)');
  switch (err.code) {
    case 'ECONNREFUSED':
      return unavailable('connection refused (is Redis running and listening there?)');
    case 'ENOTFOUND':
      return unavailable(`unknown host ${err.hostname ?? ''}`.trim());
    case 'EAI_AGAIN':
      return unavailable(`unknown host ${err.hostname ?? ''} (name lookup failed; try again later)`.replace('  ', ' '));
    case 'ETIMEDOUT':
      return unavailable('connection timed out');
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return unavailable('host unreachable');
    case 'ECONNRESET':
    case 'EPIPE':
      return unavailable('connection reset by the server');
  }
  if (/Command timed out/i.test(msg)) return unavailable('no answer in time');
  if (/None of startup nodes is available|Failed to refresh slots cache/i.test(msg)) return unavailable(NO_NODE);
  if (/Connection is closed|Stream isn't writeable|Cluster isn't ready|Cluster is disconnected/i.test(msg)) return unavailable('not connected');
  return unavailable(msg || 'connection failed');
}

const NO_NODE = 'no node of the cluster answers';

/**
 * A Cluster reports "Failed to refresh slots cache" when no node answers, with the last node's
 * error as lastNodeError: a refused AUTH says why, but a refused connection only "Connection is
 * closed" (ioredis asks for the slots on a connection of its own, whose errors it keeps).
 */
function lastNodeError(err: Error): Error | null {
  const last = (err as Error & { lastNodeError?: unknown }).lastNodeError;
  return last instanceof Error ? last : null;
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
  const fail = (cause: string, exitCode: number) =>
    new StartupError(`REDIS_URL: cannot connect to ${where}: ${cause}`, exitCode);
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
      client.connect().then(() => client.ping()).then(
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
  if (enabled && !cluster) return { cause: 'this Redis is a node of a Redis Cluster: set REDIS_CLUSTER=true', exitCode: EXIT.config, permanent: true };
  if (!enabled && cluster) return { cause: 'REDIS_CLUSTER is true, but this Redis is not part of a cluster: set REDIS_CLUSTER=false', exitCode: EXIT.config, permanent: true };
  if (!cluster) return 'ok';
  const state = await (client.call('CLUSTER', 'INFO') as Promise<string>).then((text) => /^cluster_state:(\w+)/m.exec(text)?.[1] ?? 'unknown', () => null);
  if (state === null || state === 'ok') return 'ok';
  return { cause: `the cluster does not serve every slot yet (cluster_state:${state})`, exitCode: EXIT.unavailable, permanent: false };
}

/**
 * A runtime's own connection, just made after waitForRedis succeeded: wait for it to be ready (the
 * web's rejects commands until then), within `timeoutMs`.
 */
export async function redisReady(runtime: WebRuntime, url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!runtime.redisHealthy()) {
    if (Date.now() > deadline) {
      throw new StartupError(`REDIS_URL: cannot connect to ${maskUrl(url)}: no answer within ${timeoutMs} ms (REDIS_CONNECT_TIMEOUT_MS)`, EXIT.unavailable);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Design §7: warn when Redis may lose or evict what it acknowledged (on a cluster: any master). */
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
    if (policies.length) log.warn({ policy: policies.join(',') }, 'Redis maxmemory-policy is not noeviction: queued jobs and payout records may be evicted');
    if (settings.some((s) => s.aof !== 'yes')) log.warn('Redis appendonly is off: a Redis restart may lose acknowledged payouts');
  } catch {
    log.info('could not read Redis CONFIG (managed Redis?); make sure it runs with appendonly yes and noeviction');
  }
}

/**
 * SIGTERM and SIGINT: run `close` (log, stop taking work, close connections), then exit 0; if it
 * has not finished within `timeoutMs` (Redis away, a job that will not end), say so and exit 1
 * anyway. A second signal exits at once.
 */
export function exitOnSignals(close: () => Promise<void>, options: { timeoutMs: number; log: Logger }): void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      options.log.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    options.log.info({ signal, timeoutMs: options.timeoutMs }, 'shutting down');
    const timer = setTimeout(() => {
      options.log.warn(`could not close cleanly within ${options.timeoutMs} ms (SHUTDOWN_TIMEOUT_MS); exiting anyway`);
      process.exit(1);
    }, options.timeoutMs);
    close().then(
      () => {
        clearTimeout(timer);
        process.exit(0);
      },
      (err: Error) => {
        clearTimeout(timer);
        options.log.error({ err: err.message }, 'error while shutting down');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}
