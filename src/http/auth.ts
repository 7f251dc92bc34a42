import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { HttpError } from './errors.js';

/** Bearer API keys (API_KEYS), compared in constant time through their digests. */
export function requireApiKey(apiKeys: string[]) {
  const keys = apiKeys.map(digest);
  return async (req: FastifyRequest): Promise<void> => {
    const header = req.headers.authorization;
    const token = header?.startsWith('Bearer ') ? header.slice(7).trim() : '';
    const given = token ? digest(token) : null;
    if (!given || !keys.some((k) => timingSafeEqual(k, given))) throw new HttpError('unauthorized');
  };
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}
