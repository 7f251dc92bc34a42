import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { inject } from 'vitest';

export function redisUrl(): string {
  return inject('redisUrl');
}

/**
 * A hash-tagged key prefix of its own for one test file (or one test), so files running side by
 * side on the shared Redis never see each other's keys.
 */
export function testPrefix(name: string): string {
  return `{t-${name.replace(/[^a-z0-9]+/gi, '-')}-${randomBytes(4).toString('hex')}}`;
}

export function connectRedis(url = redisUrl()): Redis {
  return new Redis(url, { maxRetriesPerRequest: null });
}

/** Deletes every key under a prefix (SCAN, never KEYS, so a shared Redis is not blocked). */
export async function deleteKeys(redis: Redis, prefix: string): Promise<number> {
  let cursor = '0';
  let deleted = 0;
  const pattern = `${prefix.replace(/([*?[\]\\])/g, '\\$1')}*`;
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    if (keys.length) deleted += await redis.del(...keys);
  } while (cursor !== '0');
  return deleted;
}

/**
 * Whether the append-only file(s) under a redis-server's `--dir` hold the command `name args...`
 * as Redis logs it (a RESP array; the command name in any case, the arguments exactly). Once they
 * do, the write is in the file and outlives a kill -9 of the server; whether it has been fsync'd
 * too only matters if the machine itself goes down.
 */
export function aofHolds(dir: string, name: string, ...args: string[]): boolean {
  const bulk = (a: string) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`;
  const head = `*${args.length + 1}\r\n${bulk(name)}`.toLowerCase();
  const tail = args.map(bulk).join('');
  const files = readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.aof'));
  return files.some((f) => {
    const text = readFileSync(join(dir, f), 'utf8');
    for (let i = text.indexOf(tail); i >= 0; i = text.indexOf(tail, i + 1)) {
      if (text.slice(i - head.length, i).toLowerCase() === head) return true;
    }
    return false;
  });
}
