import type { Tenant, TenantStore } from './tenant-store.js';

/** How long a tenant's settings are used before they are read again. */
export const TENANT_SETTINGS_TTL_MS = 5_000;

/**
 * A tenant's settings (rate limit, callback secret, submerchant) as a process uses them: read from
 * Redis at most once per TENANT_SETTINGS_TTL_MS, so a change takes effect within seconds without a
 * restart and without a Redis read per request or job. Keys are never cached (src/tenants/tenant-store.ts).
 */
export class TenantCache {
  private readonly entries = new Map<string, { at: number; tenant: Promise<Tenant | null> }>();

  constructor(
    private readonly store: TenantStore,
    private readonly ttlMs = TENANT_SETTINGS_TTL_MS,
  ) {}

  get(id: string): Promise<Tenant | null> {
    const now = Date.now();
    const hit = this.entries.get(id);
    if (hit && now - hit.at < this.ttlMs) return hit.tenant;
    const tenant = this.store.get(id);
    this.entries.set(id, { at: now, tenant });
    // a failed read is not kept: the next caller asks again
    tenant.catch(() => this.entries.delete(id));
    return tenant;
  }
}
