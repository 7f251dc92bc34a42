import { existsSync } from 'node:fs';
import http from 'node:http';
import type { TestProject } from 'vitest/node';
import { startLocalRedis } from '../../src/local-redis.js';

declare module 'vitest' {
  export interface ProvidedContext {
    redisUrl: string;
    redisSource: 'REDIS_URL' | 'testcontainers' | 'redis-server';
  }
}

/**
 * One Redis for the whole suite: REDIS_URL when set; else a `redis:7` container when a container
 * runtime answers; else the local `redis-server` binary on a free port with AOF in a temporary
 * folder. Test files keep apart by key prefix (test/support/redis.ts).
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  if (process.env.REDIS_URL) {
    project.provide('redisUrl', process.env.REDIS_URL);
    project.provide('redisSource', 'REDIS_URL');
    say(`tests use the Redis at REDIS_URL (${process.env.REDIS_URL.replace(/\/\/[^@/]*@/, '//***@')})`);
    return async () => {};
  }
  if (await containerRuntimeAnswers()) {
    const { GenericContainer, Wait } = await import('testcontainers');
    const container = await new GenericContainer('redis:7')
      .withCommand(['redis-server', '--appendonly', 'yes', '--maxmemory-policy', 'noeviction'])
      .withExposedPorts(6379)
      .withWaitStrategy(Wait.forLogMessage('Ready to accept connections'))
      .start();
    project.provide('redisUrl', `redis://${container.getHost()}:${container.getMappedPort(6379)}`);
    project.provide('redisSource', 'testcontainers');
    say(`tests use a redis:7 container (testcontainers) at ${container.getHost()}:${container.getMappedPort(6379)}`);
    return async () => {
      await container.stop();
    };
  }
  const redis = await startLocalRedis();
  project.provide('redisUrl', redis.url);
  project.provide('redisSource', 'redis-server');
  say(`tests use the local redis-server binary at ${redis.url} (no container runtime answered; REDIS_URL unset)`);
  return () => redis.stop();
}

/** Said once per run, before the tests start. */
function say(line: string): void {
  process.stdout.write(`${line}\n`);
}

/** A quick ping of the Docker API, so a machine without a container engine costs no waiting. */
async function containerRuntimeAnswers(): Promise<boolean> {
  if (process.env.TESTCONTAINERS_DISABLED === '1') return false;
  const host = process.env.DOCKER_HOST;
  const socketPath = host?.startsWith('unix://') ? host.slice('unix://'.length) : host ? undefined : '/var/run/docker.sock';
  if (socketPath && !existsSync(socketPath)) return false;
  const target = socketPath
    ? { socketPath }
    : (() => {
        const u = new URL(host!.replace(/^tcp:/, 'http:'));
        return { host: u.hostname, port: Number(u.port || 2375) };
      })();
  return new Promise((resolve) => {
    const req = http.request({ ...target, path: '/_ping', method: 'GET', timeout: 1500 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
    req.end();
  });
}
