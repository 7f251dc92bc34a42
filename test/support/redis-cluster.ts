import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { freePort, waitForPing } from '../../src/local-redis.js';
import { eventually } from './wait.js';

export interface LocalRedisCluster {
  /** One node's URL: what REDIS_URL holds with REDIS_CLUSTER=true. */
  url: string;
  /** Every master's client port, in the order they were created. */
  ports: number[];
  stop(): Promise<void>;
}

/**
 * A real Redis Cluster of `masters` (default 3) `redis-server` processes on free loopback ports,
 * no replicas, no persistence, in a temporary folder: created with `redis-cli --cluster create`,
 * returned once every node reports cluster_state:ok.
 */
export async function startRedisCluster(options: { masters?: number; binary?: string; cli?: string } = {}): Promise<LocalRedisCluster> {
  const masters = options.masters ?? 3;
  const binary = options.binary ?? 'redis-server';
  const dir = mkdtempSync(join(tmpdir(), 'b131-redis-cluster-'));
  // The cluster bus defaults to port + 10000, which nobody checked was free; ask for its own port.
  const free = new Set<number>();
  while (free.size < masters * 2) free.add(await freePort());
  const [ports, busPorts] = [[...free].slice(0, masters), [...free].slice(masters)];
  const children: ChildProcess[] = [];

  const stop = async () => {
    await Promise.all(children.map((c) => stopProcess(c)));
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    await Promise.all(
      ports.map(async (port, i) => {
        const nodeDir = join(dir, String(port));
        mkdirSync(nodeDir);
        const child = spawn(
          binary,
          [
            '--port',
            String(port),
            '--cluster-port',
            String(busPorts[i]),
            '--bind',
            '127.0.0.1',
            '--dir',
            nodeDir,
            '--cluster-enabled',
            'yes',
            '--cluster-config-file',
            join(dir, `nodes-${port}.conf`),
            '--appendonly',
            'no',
            '--save',
            '',
            '--maxmemory-policy',
            'noeviction',
            '--daemonize',
            'no',
            '--logfile',
            join(nodeDir, 'redis.log'),
          ],
          { stdio: 'ignore' },
        );
        children.push(child);
        const exited = new Promise<never>((_, reject) => {
          child.once('error', (err) =>
            reject(new Error(`cannot start ${binary}: ${err.message} (install Redis, e.g. apt-get install redis-server)`)),
          );
          child.once('exit', (code) =>
            reject(new Error(`${binary} on port ${port} exited with code ${code}; see ${join(nodeDir, 'redis.log')}`)),
          );
        });
        exited.catch(() => undefined);
        await Promise.race([waitForPing(`redis://127.0.0.1:${port}`, 10_000), exited]);
      }),
    );
    await promisify(execFile)(
      options.cli ?? 'redis-cli',
      ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes'],
      { timeout: 30_000 },
    );
    await Promise.all(ports.map((port) => untilClusterOk(port)));
  } catch (err) {
    await stop();
    throw err;
  }
  return { url: `redis://127.0.0.1:${ports[0]}`, ports, stop };
}

/** `redis-cli --cluster create` returns once the configuration agrees; each node decides "ok" on its own. */
async function untilClusterOk(port: number): Promise<void> {
  const client = new Redis(port, '127.0.0.1', { maxRetriesPerRequest: 0, retryStrategy: () => null });
  client.on('error', () => undefined);
  try {
    await eventually(
      async () => /^cluster_state:ok/m.test((await client.call('CLUSTER', 'INFO')) as string),
      15_000,
      `cluster_state:ok on port ${port}`,
      50,
    );
  } finally {
    client.disconnect();
  }
}

async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 3_000);
  await exited;
  clearTimeout(timer);
}
