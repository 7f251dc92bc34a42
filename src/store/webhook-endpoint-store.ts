import { z } from 'zod';
import { EventType } from '../payouts/events.js';
import { MAX_ENDPOINTS_PER_TENANT, newEndpointId, newEndpointSecret, type WebhookEndpoint } from '../payouts/webhook-endpoints.js';
import type { RedisClient } from './redis-client.js';
import type { ScriptCommands } from './scripts.js';

/** What a tenant gives for an endpoint. */
export interface EndpointInput {
  url: string;
  events: EventType[];
  description: string | null;
  disabled: boolean;
}

const EndpointHash = z.object({
  tenant: z.string(),
  url: z.string(),
  events: z.string(),
  description: z.string().optional(),
  disabled: z.enum(['0', '1']),
  secret: z.string(),
  previous_secret: z.string().optional(),
  previous_secret_until: z.string().optional(),
  created_at: z.string(),
  updated_at: z.string(),
});

function toEndpoint(id: string, h: Record<string, string>): WebhookEndpoint {
  const e = EndpointHash.parse(h);
  return {
    id,
    tenant: e.tenant,
    url: e.url,
    events: z.array(EventType).parse(e.events.split(',').filter(Boolean)),
    description: e.description ?? null,
    disabled: e.disabled === '1',
    secret: e.secret,
    previousSecret: e.previous_secret ?? null,
    previousSecretUntil: e.previous_secret_until ? Number(e.previous_secret_until) : null,
    createdAt: e.created_at,
    updatedAt: e.updated_at,
  };
}

/**
 * `,payout.succeeded,payout.failed,`: transition.lua finds a type in it with one plain search
 * for `,<type>,`.
 */
const eventsField = (events: readonly EventType[]) => `,${[...new Set(events)].join(',')},`;

/**
 * Tenants' webhook endpoints in Redis: `endpoint:<id>` (a hash; its secrets kept as they are, since
 * they sign) and `endpoints:<tenant>` (the ids of a tenant's endpoints), which
 * src/store/scripts/transition.lua reads when a payout ends. An endpoint of another tenant is
 * treated as absent by every method that takes a tenant.
 */
export class WebhookEndpointStore {
  constructor(
    private readonly redis: RedisClient & ScriptCommands,
    private readonly prefix: string,
  ) {}

  key(id: string): string {
    return `${this.prefix}:endpoint:${id}`;
  }
  tenantKey(tenant: string): string {
    return `${this.prefix}:endpoints:${tenant}`;
  }

  /** A new endpoint with a new secret, or 'limit' when the tenant has MAX_ENDPOINTS_PER_TENANT. */
  async create(tenant: string, input: EndpointInput): Promise<WebhookEndpoint | 'limit'> {
    const id = newEndpointId();
    const now = new Date().toISOString();
    const fields: Record<string, string> = {
      tenant,
      url: input.url,
      events: eventsField(input.events),
      disabled: input.disabled ? '1' : '0',
      secret: newEndpointSecret(),
      created_at: now,
      updated_at: now,
      ...(input.description !== null ? { description: input.description } : {}),
    };
    const made = await this.redis.b131CreateEndpoint(
      this.key(id),
      this.tenantKey(tenant),
      String(MAX_ENDPOINTS_PER_TENANT),
      id,
      ...Object.entries(fields).flat(),
    );
    return made === 1 ? toEndpoint(id, fields) : 'limit';
  }

  /** Any tenant's endpoint: the notify worker checks whose it is (src/payouts/event-delivery.ts targetOf). */
  async get(id: string): Promise<WebhookEndpoint | null> {
    const h = await this.redis.hgetall(this.key(id));
    return h.tenant ? toEndpoint(id, h) : null;
  }

  /** The tenant's own endpoint, or null. */
  async ofTenant(tenant: string, id: string): Promise<WebhookEndpoint | null> {
    const e = await this.get(id);
    return e && e.tenant === tenant ? e : null;
  }

  /** The tenant's endpoints, oldest first. */
  async list(tenant: string): Promise<WebhookEndpoint[]> {
    const ids = await this.redis.smembers(this.tenantKey(tenant));
    if (ids.length === 0) return [];
    const pipeline = this.redis.pipeline();
    for (const id of ids) pipeline.hgetall(this.key(id));
    const replies = (await pipeline.exec()) ?? [];
    return ids
      .flatMap((id, i) => {
        const h = replies[i]?.[1] as Record<string, string> | undefined;
        return h?.tenant === tenant ? [toEndpoint(id, h)] : [];
      })
      .sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id));
  }

  /** Changes what is given (a null description clears it); null when the tenant has no such endpoint. */
  async update(tenant: string, id: string, patch: Partial<EndpointInput>): Promise<WebhookEndpoint | null> {
    const fields: string[] = ['updated_at', new Date().toISOString()];
    if (patch.url !== undefined) fields.push('url', patch.url);
    if (patch.events !== undefined) fields.push('events', eventsField(patch.events));
    if (patch.description !== undefined) fields.push('description', patch.description ?? '');
    if (patch.disabled !== undefined) fields.push('disabled', patch.disabled ? '1' : '0');
    if ((await this.redis.b131UpdateEndpoint(this.key(id), tenant, ...fields)) === 0) return null;
    return this.ofTenant(tenant, id);
  }

  /**
   * A new secret; the one it replaces still signs until `overlapMs` from now (0: not at all). A
   * secret still in its overlap from an earlier rotation stops signing now. Null when there is no
   * such endpoint of this tenant.
   */
  async rotateSecret(tenant: string, id: string, overlapMs: number): Promise<{ endpoint: WebhookEndpoint; secret: string } | null> {
    const current = await this.ofTenant(tenant, id);
    if (!current) return null;
    const secret = newEndpointSecret();
    // '' removes the field (update-endpoint.lua): no overlap, no previous secret
    const [previous, until] = overlapMs > 0 ? [current.secret, String(Date.now() + overlapMs)] : ['', ''];
    const fields = ['secret', secret, 'updated_at', new Date().toISOString(), 'previous_secret', previous, 'previous_secret_until', until];
    if ((await this.redis.b131UpdateEndpoint(this.key(id), tenant, ...fields)) === 0) return null;
    const endpoint = await this.ofTenant(tenant, id);
    return endpoint ? { endpoint, secret } : null;
  }

  /** Removes it: an event still owed to it drops it at its next delivery. False when the tenant has no such endpoint. */
  async delete(tenant: string, id: string): Promise<boolean> {
    if (!(await this.ofTenant(tenant, id))) return false;
    await this.redis.multi().del(this.key(id)).srem(this.tenantKey(tenant), id).exec();
    return true;
  }
}
