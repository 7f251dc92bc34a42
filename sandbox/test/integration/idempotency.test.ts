import { afterAll, describe, expect, it } from 'vitest';
import { SandboxError } from '../../src/errors.js';
import { IdempotencyKeys } from '../../src/idempotency.js';
import { SandboxStore } from '../../src/store.js';
import { connectRedis, deleteKeys, testPrefix } from '../support/redis.js';

// The keys live in Redis with the bank (sandbox/src/idempotency.ts), so these run against it.

const redis = connectRedis();
const prefix = testPrefix('idempotency');
const keys = new IdempotencyKeys(new SandboxStore(redis, prefix));

afterAll(async () => {
  await deleteKeys(redis, prefix);
  redis.disconnect();
});

const ok = async () => 'ok';
const refused = async () => {
  throw new SandboxError('invalid_request', 'refused before doing anything');
};

describe('idempotency keys', () => {
  it('refuses a reused idempotency key per endpoint, unless the first call released it', async () => {
    await keys.run('v2/session/confirm', 'k', ok);
    await expect(keys.run('v2/session/confirm', 'k', ok)).rejects.toThrow(/idempotency_key_already_exists/);
    await keys.run('v2/session/cancel', 'k', ok);
    // a call refused before it changed anything keeps no key
    await expect(keys.run('v2/session/start/payout', 'r', refused)).rejects.toThrow(/invalid_request/);
    await expect(keys.run('v2/session/start/payout', 'r', ok)).resolves.toBe('ok');
    await expect(keys.run('v2/session/status', undefined, ok)).resolves.toBe('ok');
    await expect(keys.run('v2/session/status', undefined, ok)).resolves.toBe('ok');
  });

  it('gives back a key its call kept with a change and was then refused; keeps one refused for reuse', async () => {
    const store = new SandboxStore(redis, prefix);
    await expect(
      keys.run('v2/session/init/payout', 'i', async (claim) => {
        await store.addIdempotencyKey(claim!.member);
        claim!.kept = true;
        throw new SandboxError('insufficient_wallet_balance', 'refused after the session was made');
      }),
    ).rejects.toThrow(/insufficient_wallet_balance/);
    await expect(keys.run('v2/session/init/payout', 'i', ok)).resolves.toBe('ok');
    await expect(keys.run('v2/session/init/payout', 'i', ok)).rejects.toMatchObject({
      code: 'idempotency_key_already_exists',
      httpStatus: 409,
    });
  });
});
