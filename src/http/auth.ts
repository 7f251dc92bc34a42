import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { DEFAULT_TENANT, type Caller } from '../tenants/identity.js';
import type { TenantStore } from '../tenants/tenant-store.js';
import { HttpError } from './errors.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Who made this request (set by the API's key check): its tenant and key id. */
    caller?: Caller;
  }
}

/**
 * Bearer API keys: those of API_KEYS belong to the default tenant and are compared in constant time
 * through their digests, in memory; any other is looked up in Redis (src/tenants/tenant-store.ts),
 * each time, so that a revoked key is refused at once. The caller is the request's `caller`.
 */
export function identifyCaller(apiKeys: string[], tenants: TenantStore) {
  const keys = apiKeys.map(digest);
  return async (req: FastifyRequest): Promise<void> => {
    const header = req.headers.authorization;
    const token = header?.startsWith('Bearer ') ? header.slice(7).trim() : '';
    if (!token) throw new HttpError('unauthorized');
    const given = digest(token);
    // every configured key is compared, so the time taken says nothing about which one matched
    let matched = -1;
    keys.forEach((k, i) => {
      if (timingSafeEqual(k, given) && matched < 0) matched = i;
    });
    if (matched >= 0) {
      req.caller = { tenant: DEFAULT_TENANT, keyId: `api_keys#${matched + 1}` };
      return;
    }
    const found = await tenants.lookup(token);
    if (!found) throw new HttpError('unauthorized');
    req.caller = found;
  };
}

/** The caller of a request the key check has passed. */
export function callerOf(req: FastifyRequest): Caller {
  if (!req.caller) throw new Error('no caller: the API key check did not run on this route');
  return req.caller;
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}
