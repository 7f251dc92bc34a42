import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';

export interface LocalRedis {
  url: string;
  port: number;
  dir: string;
  /** Stop the server (SHUTDOWN, so AOF is flushed) and, unless kept, delete its folder. */
  stop(options?: { keepData?: boolean }): Promise<void>;
  /** Kill -9 and start again on the same port and folder: what a crash and restart looks like. */
  restart(options?: { hard?: boolean }): Promise<void>;
}

/** A free TCP port on loopback, as the OS hands it out. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      srv.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/**
 * Runs the `redis-server` binary on a free loopback port with AOF in a temporary folder, configured
 * the way the service wants production Redis (appendonly, noeviction). Used by the test suite and
 * by `npm run demo` when REDIS_URL is unset.
 */
export async function startLocalRedis(
  options: {
    binary?: string;
    dir?: string;
    appendfsync?: 'always' | 'everysec';
    /** `--requirepass`: `url` then carries it. */ password?: string;
  } = {},
): Promise<LocalRedis> {
  const binary = options.binary ?? 'redis-server';
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'b131-redis-'));
  const port = await freePort();
  let child: ChildProcess;
  const url = `redis://${options.password ? `:${encodeURIComponent(options.password)}@` : ''}127.0.0.1:${port}`;

  const launch = async () => {
    child = spawn(
      binary,
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--dir',
        dir,
        '--appendonly',
        'yes',
        '--appendfsync',
        options.appendfsync ?? 'everysec',
        '--save',
        '',
        '--maxmemory-policy',
        'noeviction',
        '--daemonize',
        'no',
        '--logfile',
        join(dir, 'redis.log'),
        ...(options.password ? ['--requirepass', options.password] : []),
      ],
      { stdio: 'ignore' },
    );
    const exited = new Promise<never>((_, reject) => {
      child.once('error', (err) =>
        reject(new Error(`cannot start ${binary}: ${err.message} (install Redis, e.g. apt-get install redis-server, or set REDIS_URL)`)),
      );
      child.once('exit', (code) => reject(new Error(`${binary} exited with code ${code}; see ${join(dir, 'redis.log')}`)));
    });
    exited.catch(() => undefined);
    await Promise.race([waitForPing(url, 10_000), exited]);
  };
  await launch();

  const waitExit = (c: ChildProcess) =>
    new Promise<void>((resolve) => (c.exitCode !== null || c.signalCode !== null ? resolve() : c.once('exit', () => resolve())));

  return {
    url,
    port,
    dir,
    async stop({ keepData = false } = {}) {
      const c = child;
      if (c.exitCode === null && c.signalCode === null) {
        const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
        client.on('error', () => undefined);
        await client
          .connect()
          .then(() => client.call('SHUTDOWN', 'NOSAVE'))
          .catch(() => c.kill('SIGTERM'));
        client.disconnect();
        await waitExit(c);
      }
      if (!keepData && !options.dir) rmSync(dir, { recursive: true, force: true });
    },
    async restart({ hard = true } = {}) {
      const c = child;
      c.kill(hard ? 'SIGKILL' : 'SIGTERM');
      await waitExit(c);
      await launch();
    },
  };
}

/** Until a freshly started redis-server at `url` answers PING (refusals meanwhile are expected). */
export async function waitForPing(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    client.on('error', () => undefined); // refusals are expected while the server starts
    try {
      await client.connect();
      await client.ping();
      client.disconnect();
      return;
    } catch {
      client.disconnect();
      if (Date.now() > deadline) throw new Error(`Redis at ${url} did not answer within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}
