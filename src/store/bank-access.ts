import type { RedisClient } from './redis-client.js';
import type { CallRecord } from '../bank131/client.js';
import { adviceFor } from '../bank131/errors.js';

/** How long a refusal of our credentials is remembered without another call confirming it. */
const REMEMBER_S = 15 * 60;

/**
 * Whether Bank 131 accepts our credentials, shared by every process through Redis: a worker that
 * is refused (`authentication_error`, `authorization_error`, `identification_error`: a wrong key,
 * project or rights) says so, /readyz of every web process answers 503 naming it, and the first
 * call the bank accepts again clears it. Payouts are held meanwhile, never failed for it.
 */
export class BankAccess {
  /** Until a first call is accepted, a refusal left by an earlier process may still be on record. */
  private refusedHere = true;

  constructor(
    private readonly redis: RedisClient,
    private readonly key: string,
  ) {}

  /** The client's onCall hook: one Redis write when the answer changes, none per call otherwise. */
  observe(call: CallRecord): void {
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
}
