import type { Command } from 'commander';
import { InvalidArgumentError, Option } from 'commander';
import { Redis } from 'ioredis';
import { redisCluster } from '../store/redis-connection.js';
import type { RedisClient } from '../store/redis-client.js';
import { maskUrl } from '../store/redis-errors.js';
import { TenantId } from '../tenants/identity.js';
import { TenantStore, type TenantSettings } from '../tenants/tenant-store.js';
import { CliFailure, EXIT } from './exit.js';

/**
 * `keys` and `tenants`: what an operator does to the tenants and their API keys (docs/operations.md, Tenants and API keys).
 * They work on Redis directly (REDIS_URL, REDIS_PREFIX, REDIS_CLUSTER as the service reads them),
 * since they hand out and take back the very keys the API is reached with. A key's secret is
 * printed once, when it is made, and kept nowhere but as its SHA-256.
 */
interface RedisOptions {
  redisUrl: string;
  redisPrefix: string;
  redisCluster?: boolean;
}

function withRedis(cmd: Command): Command {
  return cmd
    .addOption(new Option('--redis-url <url>', "the service's Redis").env('REDIS_URL').default('redis://127.0.0.1:6379'))
    .addOption(new Option('--redis-prefix <prefix>', "the service's key prefix").env('REDIS_PREFIX').default('{b131}'))
    .addOption(new Option('--redis-cluster', 'REDIS_URL is one node of a Redis Cluster').env('REDIS_CLUSTER'));
}

const tenantId = (text: string) => {
  const parsed = TenantId.safeParse(text);
  if (!parsed.success) throw new InvalidArgumentError(parsed.error.issues[0]!.message);
  return text;
};

/** `none` clears a setting (commander keeps option values as given; they are read here). */
const orNone = <T>(text: string | undefined, read: (text: string) => T): T | null | undefined =>
  text === undefined ? undefined : text === 'none' ? null : read(text);

async function withStore<T>(o: RedisOptions, work: (store: TenantStore) => Promise<T>): Promise<T> {
  const cluster = o.redisCluster === true || String(o.redisCluster) === 'true';
  const redis: RedisClient = cluster
    ? redisCluster(o.redisUrl, 'web')
    : new Redis(o.redisUrl, { maxRetriesPerRequest: 1, enableOfflineQueue: true });
  redis.on('error', () => undefined);
  try {
    return await work(new TenantStore(redis, o.redisPrefix));
  } catch (err) {
    if (err instanceof CliFailure) throw err;
    const issues = (err as { issues?: Array<{ path: PropertyKey[]; message: string }> }).issues;
    if (issues)
      throw new CliFailure(EXIT.badInput, issues.map((i) => `${i.path.map(String).join('.') || 'value'}: ${i.message}`).join('; '));
    throw new CliFailure(EXIT.unreachable, `Redis at ${maskUrl(o.redisUrl)}: ${(err as Error).message}`);
  } finally {
    redis.disconnect();
  }
}

const print = (line: string) => process.stdout.write(`${line}\n`);

export function addTenantCommands(program: Command, setExit: (code: number) => void): void {
  const keys = program.command('keys').description("Make, list and revoke tenants' API keys (on Redis directly).");
  withRedis(
    keys
      .command('create')
      .description('Make an API key for a tenant (the tenant too, if it is new); its secret is printed once.')
      .requiredOption('--tenant <id>', 'the tenant, e.g. acme', tenantId)
      .requiredOption('--name <name>', 'what the key is for, e.g. billing')
      .option('--review', "the key may approve and reject the tenant's payouts held for review (never one it accepted)"),
  ).action(async (o: RedisOptions & { tenant: string; name: string; review?: boolean }) => {
    const made = await withStore(o, (s) => s.createKey(o.tenant, o.name, { review: o.review === true }));
    print(`key ${made.key.id} for tenant ${made.key.tenant} (${made.key.name})${made.key.review ? ', with the review right' : ''}:`);
    print(made.secret);
    print('It is shown this once: give it to the tenant now (Authorization: Bearer <key>).');
    setExit(EXIT.ok);
  });
  withRedis(
    keys
      .command('list')
      .description("A tenant's keys: id, name, when made, and when revoked (never their secrets).")
      .requiredOption('--tenant <id>', 'the tenant', tenantId)
      .option('--json', 'print JSON'),
  ).action(async (o: RedisOptions & { tenant: string; json?: boolean }) => {
    const list = await withStore(o, (s) => s.listKeys(o.tenant));
    if (o.json) print(JSON.stringify(list, null, 2));
    else
      for (const k of list)
        print(`${k.id}  ${k.name}${k.review ? '  review' : ''}  made ${k.createdAt}${k.revokedAt ? `  revoked ${k.revokedAt}` : ''}`);
    setExit(EXIT.ok);
  });
  withRedis(
    keys
      .command('revoke')
      .description('Revoke a key: every web process refuses it from its next request on.')
      .argument('<key-id>', 'the key id, e.g. key_0123456789ab')
      .requiredOption('--tenant <id>', 'the tenant', tenantId),
  ).action(async (keyId: string, o: RedisOptions & { tenant: string }) => {
    const found = await withStore(o, (s) => s.revokeKey(o.tenant, keyId));
    if (!found) throw new CliFailure(EXIT.refused, `tenant ${o.tenant} has no key ${keyId}`);
    print(`key ${keyId} of tenant ${o.tenant} revoked`);
    setExit(EXIT.ok);
  });

  const tenants = program.command('tenants').description('List tenants and set their settings (on Redis directly).');
  withRedis(
    tenants
      .command('list')
      .description('Every tenant and its settings (a callback secret is shown as set or not).')
      .option('--json', 'print JSON'),
  ).action(async (o: RedisOptions & { json?: boolean }) => {
    const all = await withStore(o, async (s) => Promise.all((await s.list()).map(async (id) => (await s.get(id))!)));
    const shown = all.map((t) => ({ ...t, callbackSecret: t.callbackSecret ? 'set' : null }));
    if (o.json) print(JSON.stringify(shown, null, 2));
    else
      for (const t of shown)
        print(
          `${t.id}  rate limit ${t.rateLimitPerMinute ?? 'none'}/min  callback secret ${t.callbackSecret ?? 'CALLBACK_SECRET'}  submerchant ${t.submerchant ?? 'none'}`,
        );
    setExit(EXIT.ok);
  });
  withRedis(
    tenants
      .command('set')
      .description("Create a tenant or change its settings; 'none' clears one.")
      .argument('<id>', 'the tenant', tenantId)
      .option('--rate-limit <per-minute>', 'requests per minute to the API, per web process')
      .option('--callback-secret <whsec>', 'the Standard Webhooks secret of its callbacks (default: CALLBACK_SECRET)')
      .option('--submerchant <id>', 'X-PARTNER-SUBMERCHANT for its payouts'),
  ).action(async (id: string, o: RedisOptions & { rateLimit?: string; callbackSecret?: string; submerchant?: string }) => {
    const rateLimit = orNone(o.rateLimit, Number);
    const callbackSecret = orNone(o.callbackSecret, String);
    const submerchant = orNone(o.submerchant, String);
    const settings: Partial<TenantSettings> = {
      ...(rateLimit !== undefined ? { rateLimitPerMinute: rateLimit } : {}),
      ...(callbackSecret !== undefined ? { callbackSecret } : {}),
      ...(submerchant !== undefined ? { submerchant } : {}),
    };
    const t = await withStore(o, (s) => s.configure(id, settings));
    print(
      `tenant ${t.id}: rate limit ${t.rateLimitPerMinute ?? 'none'}/min, callback secret ${t.callbackSecret ? 'set' : 'CALLBACK_SECRET'}, submerchant ${t.submerchant ?? 'none'}`,
    );
    setExit(EXIT.ok);
  });
}
