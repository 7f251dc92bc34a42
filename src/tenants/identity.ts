import { z } from 'zod';

/**
 * A tenant is an upstream system with keys of its own (docs/api.md, Tenants). Order ids are per tenant:
 * the same id under two tenants is two payouts. Inside the service a payout's id is its tenant's
 * order id for the default tenant (the one API_KEYS belong to, so payouts made before tenants keep
 * their ids), and `<tenant>~<order id>` for any other: `~` is in no order id (src/payouts/schemas.ts
 * PayoutId), so the two can never meet. Pure.
 */
export const DEFAULT_TENANT = 'default';

export const TenantId = z
  .string({ error: 'must be a string' })
  .regex(/^[a-z0-9][a-z0-9-]{0,31}$/, 'must be 1 to 32 lower-case letters, digits or "-", starting with a letter or digit');

const SEPARATOR = '~';

/** The id the service keeps a tenant's order under. */
export function payoutKeyOf(tenant: string, orderId: string): string {
  return tenant === DEFAULT_TENANT ? orderId : `${tenant}${SEPARATOR}${orderId}`;
}

/** The tenant and its own order id behind a payout's id. */
export function tenantOf(payoutId: string): { tenant: string; orderId: string } {
  const at = payoutId.indexOf(SEPARATOR);
  return at < 0 ? { tenant: DEFAULT_TENANT, orderId: payoutId } : { tenant: payoutId.slice(0, at), orderId: payoutId.slice(at + 1) };
}

/** Who made a request: the tenant its key belongs to, and the key's id (never its secret). */
export interface Caller {
  tenant: string;
  keyId: string;
  /** A key made with the review right (`keys create --review`): it may approve and reject held payouts. */
  canReview?: boolean;
}
