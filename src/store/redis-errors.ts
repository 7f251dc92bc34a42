import { EXIT } from '../process/exit.js';

/**
 * What a Redis error means for the service, decided here and nowhere else: the web's error handler
 * answers both kinds 503 with Retry-After and anything else 500 (src/http/errors.ts), /readyz names
 * them (src/store/redis-ping.ts), and the outage reporter turns them into a few lines however many
 * requests, jobs and connections meet them (src/runtime.ts, workers/worker-process.ts).
 */
export interface RedisTrouble {
  /**
   * 'unreachable': no answer (refused, reset, timed out, closed, no node of a cluster).
   * 'refusing': Redis answers, but will not do it for now (full, a replica, failing over, loading).
   */
  kind: 'unreachable' | 'refusing';
  /** Redis's own words, without what a script or a wrapper added around them. */
  reason: string;
}

/** The longest wait between two reconnection attempts, and so between two "still unreachable" lines. */
export const REDIS_RETRY_MAX_MS = 5_000;

/**
 * Retry-After on a 503 for a Redis error. A lost connection is tried again at most this far apart
 * (REDIS_RETRY_MAX_MS), and a refusal (a full Redis, a failover) does not end sooner: a client
 * retrying faster meets the same answer and only adds to the load.
 */
export const RETRY_AFTER_S = REDIS_RETRY_MAX_MS / 1000;

/**
 * Redis's error codes for "not now": full (OOM with noeviction), a replica or a failover
 * (READONLY, MASTERDOWN, CLUSTERDOWN, TRYAGAIN, UNBLOCKED), starting (LOADING), stuck in a script
 * (BUSY), unable to persist (MISCONF), too few replicas (NOREPLICAS). The code opens the message,
 * or follows ": " or ": -" where a script error (Redis 6) or a BullMQ error wraps it.
 */
const REFUSAL = /(?:^|: -?)((?:OOM|READONLY|LOADING|MASTERDOWN|CLUSTERDOWN|TRYAGAIN|BUSY|MISCONF|NOREPLICAS|UNBLOCKED) .*)$/m;

const NO_ANSWER_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ECONNRESET',
  'EPIPE',
]);

/** ioredis's and BullMQ's words for a connection that is not there, and socket errors quoted inside other errors. */
const NO_ANSWER = new RegExp(
  [
    "Connection is closed|Stream isn't writeable|enableOfflineQueue|Command timed out|max retries per request",
    "None of startup nodes is available|Failed to refresh slots cache|Cluster is disconnected|Cluster isn't ready|Too many Cluster redirections",
    'max number of clients reached|NOAUTH|WRONGPASS',
    `\\b(?:${[...NO_ANSWER_CODES].join('|')})\\b`,
  ].join('|'),
  'i',
);

type Nested = Error & { code?: unknown; previousErrors?: unknown; lastNodeError?: unknown; cause?: unknown };

/** Whether (and how) an error is Redis being away or refusing; null for anything else, a bug of ours included. */
export function redisTrouble(err: unknown, depth = 0): RedisTrouble | null {
  if (!(err instanceof Error) || depth > 4) return null;
  const e = err as Nested;
  // What a cluster's last node said, or what made a transaction abort, is the reason itself.
  const inner = [e.lastNodeError, ...(Array.isArray(e.previousErrors) ? e.previousErrors : [])]
    .map((x) => redisTrouble(x, depth + 1))
    .find(Boolean);
  if (inner) return inner;
  const message = e.message ?? '';
  const refused = REFUSAL.exec(message)?.[1];
  if (refused) return { kind: 'refusing', reason: withoutScriptPlace(refused) };
  if (e.name === 'MaxRetriesPerRequestError' || NO_ANSWER_CODES.has(String(e.code)) || NO_ANSWER.test(message))
    return { kind: 'unreachable', reason: message };
  return redisTrouble(e.cause, depth + 1);
}

/** Redis 7 adds the script and the line to a refusal inside a script ("... script: 1a2b…, on @user_script:12."). */
function withoutScriptPlace(reason: string): string {
  return reason.replace(/\.?\s*script: [0-9a-f]+, on @user_script:\d+\.?$/, '').trim();
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
  if (/NOAUTH/.test(msg))
    return config('authentication failed (this Redis requires a password; give it in REDIS_URL as redis://:PASSWORD@host:port)');
  if (/WRONGPASS|invalid password|invalid username-password/i.test(msg))
    return config('authentication failed (wrong user name or password in REDIS_URL)');
  if (/NOPERM/.test(msg)) return config(`permission denied (the REDIS_URL user may not run what the service needs: ${msg})`);
  if (/DB index is out of range/i.test(msg)) return config('no such database (the number after the last / in REDIS_URL is out of range)');
  if (/SELECT is not allowed in cluster mode/i.test(msg))
    return config('no such database (a Redis Cluster has only database 0: drop the number after the last / in REDIS_URL)');
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
  if (/Connection is closed|Stream isn't writeable|Cluster isn't ready|Cluster is disconnected/i.test(msg))
    return unavailable('not connected');
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

/** `redis://user:secret@host` as `redis://user:***@host`: a URL safe to print. */
export function maskUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString().replace(/\/$/, '');
  } catch {
    return url.replace(/\/\/([^:/@]*):[^@]*@/, '//$1:***@');
  }
}
