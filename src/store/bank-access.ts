import type { RedisClient } from './redis-client.js';
import type { CallRecord } from '../bank131/client.js';
import { adviceFor } from '../bank131/errors.js';

/** How long a refusal of our credentials is remembered without another call confirming it. */
const REMEMBER_S = 15 * 60;
/** How often a process that keeps failing to reach the bank writes so again. */
const REFRESH_MS = 60_000;

/** What /readyz reads of the bank: why it refuses us, why it could not be reached; null when neither. */
export interface BankStanding {
  refused: string | null;
  unreachable: string | null;
}

/**
 * Whether Bank 131 accepts our credentials, and whether it can be reached, shared by every process
 * through Redis: a call refused for our credentials (`authentication_error`, `authorization_error`,
 * `identification_error`: a wrong key, project or rights), or one that got no answer (a connection
 * refused or timed out, or the bank failing with a 5xx), is recorded from any process (a worker's
 * call, the web's probe: src/http/bank-probe.ts), /readyz of every web process answers 503 naming
 * it, and the next call the bank answers clears it. Payouts are held meanwhile, never failed for it.
 */
export class BankAccess {
  /** Until a first call is answered, what an earlier process left on record may still hold. */
  private refusedHere = true;
  private unreachableHere = true;
  /** When this process last said the bank is unreachable: during an outage it says so again at most once a minute. */
  private unreachableSaidAt = 0;
  private reachableSaidAt = 0;

  constructor(
    private readonly redis: RedisClient,
    private readonly key: string,
  ) {}

  private get unreachableKey(): string {
    return `${this.key}:unreachable`;
  }

  /** The client's onCall hook: a Redis write when the answer changes, and at most one a minute otherwise, never one per call. */
  observe(call: CallRecord): void {
    const failing = call.result === 'transport_error' || (call.result === 'refused' && (call.status ?? 0) >= 500);
    if (failing) {
      // the record outlives REMEMBER_S only while failures keep coming: refreshed, not rewritten per call
      const now = Date.now();
      if (this.unreachableHere && now - this.unreachableSaidAt < REFRESH_MS) return;
      this.unreachableHere = true;
      this.unreachableSaidAt = now;
      const why = call.result === 'transport_error' ? 'no usable answer' : `HTTP ${call.status} (${call.code ?? 'no code'})`;
      void this.redis
        .set(this.unreachableKey, `${why} on ${call.endpoint} at ${new Date(now).toISOString()}`, 'EX', REMEMBER_S)
        .catch(() => undefined);
      return;
    }
    // The bank answered: it can be reached. Said at once when this process thought otherwise, and
    // once a minute besides, so that another process's passing failure does not stand for long.
    const now = Date.now();
    if (this.unreachableHere || now - this.reachableSaidAt >= REFRESH_MS) {
      this.unreachableHere = false;
      this.reachableSaidAt = now;
      void this.redis.del(this.unreachableKey).catch(() => undefined);
    }
    if (call.result === 'refused' && call.code && adviceFor(call.code, 401) === 'misconfigured') {
      this.refusedHere = true;
      void this.redis.set(this.key, `${call.code} on ${call.endpoint}`, 'EX', REMEMBER_S).catch(() => undefined);
    } else if (call.result === 'ok' && this.refusedHere) {
      this.refusedHere = false;
      void this.redis.del(this.key).catch(() => undefined);
    }
  }

  /** Why the bank refuses us, or null when it does not (as far as anyone here knows). */
  async refusal(): Promise<string | null> {
    return this.redis.get(this.key);
  }

  /** Both, in one round trip. */
  async standing(): Promise<BankStanding> {
    const [refused, unreachable] = await this.redis.mget(this.key, this.unreachableKey);
    return { refused: refused ?? null, unreachable: unreachable ?? null };
  }
}
