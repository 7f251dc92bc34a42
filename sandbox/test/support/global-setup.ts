import { generateKeyPairSync } from 'node:crypto';
import type { TestProject } from 'vitest/node';
import { startRedisServer } from './redis-server.js';

export interface PemKeys {
  partnerPrivate: string;
  partnerPublic: string;
  bankPrivate: string;
  bankPublic: string;
}

declare module 'vitest' {
  export interface ProvidedContext {
    sandboxRedisUrl: string;
    sandboxKeys: PemKeys;
  }
}

/**
 * For the sandbox's tests: a real Redis (REDIS_URL when set, else `redis-server` on a free port,
 * stopped at the end; files keep apart by key prefix, test/support/redis.ts) and one pair of RSA
 * keys per side, made for this run (the partner signs requests, the bank signs webhooks).
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const pair = () =>
    generateKeyPairSync('rsa', {
      modulusLength: 2048,
      publicKeyEncoding: { type: 'spki', format: 'pem' },
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    });
  const partner = pair();
  const bank = pair();
  project.provide('sandboxKeys', {
    partnerPrivate: partner.privateKey,
    partnerPublic: partner.publicKey,
    bankPrivate: bank.privateKey,
    bankPublic: bank.publicKey,
  });
  if (process.env.REDIS_URL) {
    project.provide('sandboxRedisUrl', process.env.REDIS_URL);
    return async () => {};
  }
  const redis = await startRedisServer();
  project.provide('sandboxRedisUrl', redis.url);
  process.stdout.write(`sandbox tests use a redis-server of their own at ${redis.url} (REDIS_URL unset)\n`);
  return () => redis.stop();
}
