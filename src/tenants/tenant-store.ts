import { createHash, randomBytes } from 'node:crypto';
import { z } from 'zod';
import { CallbackSecret } from '../payouts/callback-signature.js';
import type { RedisClient } from '../store/redis-client.js';
import { DEFAULT_TENANT, TenantId } from './identity.js';

/**
 * Tenants and their API keys, in Redis (docs/api.md, Tenants). A key is stored only as the SHA-256 of
 * its secret (the secret is random and long, so a slow hash would add nothing): `apikey:<sha>`
 * answers which tenant and key id a request comes from, and a revoked key's entry is deleted, so
 * every web process refuses it at its next request. Each tenant's keys are also listed by id
 * (`tenant:<id>:keys`), without their secrets, for `keys list`.
 */
export const TenantSettings = z.object({
  /** Requests per minute to the API for this tenant, per web process; none: unlimited. */
  rateLimitPerMinute: z.number().int().positive().max(1_000_000).nullable(),
  /** The Standard Webhooks secret of this tenant's callbacks to `callback_url`; none: CALLBACK_SECRET. */
  callbackSecret: CallbackSecret.nullable(),
  /** X-PARTNER-SUBMERCHANT on this tenant's payouts' bank calls; none: BANK131_SUBMERCHANT. */
  submerchant: z.string().min(1).max(64).nullable(),
});
export type TenantSettings = z.infer<typeof TenantSettings>;

export interface Tenant extends TenantSettings {
  id: string;
  createdAt: string;
}

export interface KeyInfo {
  id: string;
  tenant: string;
  name: string;
  /** May approve and reject its tenant's payouts held for review (never one it accepted itself). */
  review: boolean;
  createdAt: string;
  revokedAt: string | null;
}

const KEY_PREFIX = 'b131_';

const digest = (secret: string) => createHash('sha256').update(secret).digest('hex');

export class TenantStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
  ) {}

  private tenantKey(id: string): string {
    return `${this.prefix}:tenant:${id}`;
  }
  private keysOf(tenant: string): string {
    return `${this.prefix}:tenant:${tenant}:keys`;
  }
  private secretKey(sha: string): string {
    return `${this.prefix}:apikey:${sha}`;
  }
  /** Every tenant with keys or payouts (create-payouts.lua adds the latter): the metrics and retention read them all. */
  get tenantsKey(): string {
    return `${this.prefix}:tenants`;
  }

  /** A tenant's settings; the default tenant exists without being created. */
  async get(id: string): Promise<Tenant | null> {
    const h = await this.redis.hgetall(this.tenantKey(id));
    if (!h.created_at) return id === DEFAULT_TENANT ? { id, createdAt: '', ...NO_SETTINGS } : null;
    return {
      id,
      createdAt: h.created_at,
      rateLimitPerMinute: h.rate_limit_per_minute ? Number(h.rate_limit_per_minute) : null,
      callbackSecret: h.callback_secret || null,
      submerchant: h.submerchant || null,
    };
  }

  async list(): Promise<string[]> {
    const ids = await this.redis.smembers(this.tenantsKey);
    return [...new Set([DEFAULT_TENANT, ...ids])].sort();
  }

  /** Creates the tenant if it is new, and sets what is given (null clears a setting). */
  async configure(id: string, settings: Partial<TenantSettings> = {}): Promise<Tenant> {
    TenantId.parse(id);
    const checked = TenantSettings.partial().parse(settings);
    const key = this.tenantKey(id);
    await this.redis.hsetnx(key, 'created_at', new Date().toISOString());
    const fields: Record<string, string> = {};
    const cleared: string[] = [];
    const put = (field: string, value: string | number | null | undefined) => {
      if (value === undefined) return;
      if (value === null) cleared.push(field);
      else fields[field] = String(value);
    };
    put('rate_limit_per_minute', checked.rateLimitPerMinute);
    put('callback_secret', checked.callbackSecret);
    put('submerchant', checked.submerchant);
    if (Object.keys(fields).length > 0) await this.redis.hset(key, fields);
    if (cleared.length > 0) await this.redis.hdel(key, ...cleared);
    await this.redis.sadd(this.tenantsKey, id);
    return (await this.get(id))!;
  }

  /** A new key for `tenant` (created if new): its secret is in the answer and nowhere else. */
  async createKey(tenant: string, name: string, rights: { review?: boolean } = {}): Promise<{ key: KeyInfo; secret: string }> {
    TenantId.parse(tenant);
    if (!(await this.get(tenant))?.createdAt) await this.configure(tenant);
    const id = `key_${randomBytes(6).toString('hex')}`;
    const secret = `${KEY_PREFIX}${randomBytes(32).toString('base64url')}`;
    const review = rights.review === true;
    const key: KeyInfo = { id, tenant, name, review, createdAt: new Date().toISOString(), revokedAt: null };
    const sha = digest(secret);
    // keys made in the same millisecond still list in the order they were made
    const seq = await this.redis.incr(`${this.keysOf(tenant)}:seq`);
    await this.redis
      .multi()
      .hset(this.secretKey(sha), { id, tenant, ...(review ? { review: '1' } : {}) })
      .hset(this.keysOf(tenant), id, JSON.stringify({ name, createdAt: key.createdAt, sha, seq, ...(review ? { review } : {}) }))
      .sadd(this.tenantsKey, tenant)
      .exec();
    return { key, secret };
  }

  async listKeys(tenant: string): Promise<KeyInfo[]> {
    const all = await this.redis.hgetall(this.keysOf(tenant));
    return Object.entries(all)
      .map(([id, json]) => {
        const k = JSON.parse(json) as { name: string; createdAt: string; revokedAt?: string; seq?: number; review?: boolean };
        return {
          key: { id, tenant, name: k.name, review: k.review === true, createdAt: k.createdAt, revokedAt: k.revokedAt ?? null },
          seq: k.seq ?? 0,
        };
      })
      .sort((a, b) => a.key.createdAt.localeCompare(b.key.createdAt) || a.seq - b.seq)
      .map(({ key }) => key);
  }

  /** Revokes a key by its id: from the next request on, every web process refuses it. False if there is none. */
  async revokeKey(tenant: string, keyId: string): Promise<boolean> {
    const json = await this.redis.hget(this.keysOf(tenant), keyId);
    if (!json) return false;
    const k = JSON.parse(json) as { name: string; createdAt: string; sha: string; revokedAt?: string };
    if (k.revokedAt) return true;
    await this.redis
      .multi()
      .del(this.secretKey(k.sha))
      .hset(this.keysOf(tenant), keyId, JSON.stringify({ ...k, revokedAt: new Date().toISOString() }))
      .exec();
    return true;
  }

  /** Whose key this is, or null. One Redis read: keys are never cached, so a revocation counts at once. */
  async lookup(secret: string): Promise<{ tenant: string; keyId: string; canReview?: true } | null> {
    if (!secret.startsWith(KEY_PREFIX)) return null;
    const [id, tenant, review] = await this.redis.hmget(this.secretKey(digest(secret)), 'id', 'tenant', 'review');
    return id && tenant ? { tenant, keyId: id, ...(review === '1' ? { canReview: true as const } : {}) } : null;
  }
}

const NO_SETTINGS: TenantSettings = { rateLimitPerMinute: null, callbackSecret: null, submerchant: null };
