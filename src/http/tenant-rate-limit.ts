import type { FastifyReply, FastifyRequest } from 'fastify';
import type { TenantCache } from '../tenants/tenant-cache.js';
import { callerOf } from './auth.js';
import { HttpError } from './errors.js';

/**
 * A tenant's requests per minute to the API (its `rateLimitPerMinute`, or API_RATE_LIMIT_PER_MINUTE
 * for tenants without one), counted per web process in a token bucket of a minute's worth: a
 * tenant that floods the API is answered 429 with Retry-After, and the others keep their share of
 * the process. In memory, so no request pays a Redis round trip for it; with N web processes a
 * tenant may make N times its limit in all.
 */
export function limitTenantRate(tenants: TenantCache, fallbackPerMinute: number | null) {
  const buckets = new Map<string, { tokens: number; at: number }>();
  return async (req: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const { tenant } = callerOf(req);
    const perMinute = (await tenants.get(tenant))?.rateLimitPerMinute ?? fallbackPerMinute;
    if (perMinute === null) return;
    const now = Date.now();
    const perMs = perMinute / 60_000;
    const bucket = buckets.get(tenant) ?? { tokens: perMinute, at: now };
    bucket.tokens = Math.min(perMinute, bucket.tokens + (now - bucket.at) * perMs);
    bucket.at = now;
    buckets.set(tenant, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return;
    }
    const waitS = Math.max(1, Math.ceil((1 - bucket.tokens) / perMs / 1000));
    reply.header('retry-after', String(waitS));
    throw new HttpError('rate_limited', `too many requests for this tenant (${perMinute} a minute): try again in ${waitS} s`);
  };
}
