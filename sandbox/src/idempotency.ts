import { SandboxError } from './errors.js';
import type { IdempotencyClaim } from './session-types.js';
import type { SandboxStore } from './store.js';

/**
 * Idempotency keys, per endpoint (`<version>/<endpoint>`), kept in Redis with the rest of the bank.
 * A key already kept is refused with 409 idempotency_key_already_exists (as the SDK's tests show the
 * bank doing): the partner must ask session/status instead of resending. A call refused with any
 * other SandboxError does not keep its key, since it did nothing the key should guard and the
 * partner may rightly retry under it. A call that changes a session keeps its key in the same Redis
 * script as its first change (sandbox/src/store.ts COMMIT_LUA), so a kill never keeps the key of a
 * call that did nothing, nor a change without its key; a call that changes nothing keeps it after.
 */
export class IdempotencyKeys {
  constructor(private readonly store: SandboxStore) {}

  /** Runs `act` under `key`; without a key, just runs it. */
  async run<T>(scope: string, key: string | undefined, act: (claim?: IdempotencyClaim) => Promise<T>): Promise<T> {
    if (!key) return act();
    const claim: IdempotencyClaim = { member: `${scope}\u0000${key}`, kept: false };
    if (await this.store.hasIdempotencyKey(claim.member)) {
      throw new SandboxError('idempotency_key_already_exists', `idempotency key ${key} was already used for ${scope}`, 409);
    }
    try {
      const answer = await act(claim);
      if (!claim.kept) await this.store.addIdempotencyKey(claim.member);
      return answer;
    } catch (err) {
      const release = claim.kept && err instanceof SandboxError && err.code !== 'idempotency_key_already_exists';
      if (release) await this.store.removeIdempotencyKey(claim.member);
      throw err;
    }
  }
}
