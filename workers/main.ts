import http from 'node:http';
import { loadWorkerConfig } from '../src/config.js';
import { METRICS_CONTENT_TYPE, observeSystem, registry } from '../src/metrics.js';
import { createLogger, type Logger } from '../src/log.js';
import { checkRedisDurability, createRuntime, exitOnSignals, redisReady, waitForRedis, within, workerRuntimeOptions, type Runtime } from '../src/runtime.js';
import { exitOnStartupError } from '../src/settings.js';
import { startWorkersFor, type RunningWorkers } from './index.js';

/** The worker process (Procfile `worker`): run as many as you like against one Redis. */
async function main(): Promise<void> {
  const config = loadWorkerConfig();
  const log = createLogger({ level: config.logLevel, pretty: config.logPretty, base: { process: 'worker' } });
  // Before anything else touches Redis: a wrong REDIS_URL or REDIS_CLUSTER ends here, in one line that names it.
  await waitForRedis(config.redisUrl, config.redisConnectTimeoutMs, { cluster: config.redisCluster });
  const runtime = createRuntime(workerRuntimeOptions(config, log));
  await redisReady(runtime, config.redisUrl, config.redisConnectTimeoutMs);
  await checkRedisDurability(runtime.redis, log);
  const workers = startWorkersFor(runtime, {
    log,
    bankPublicKey: config.bank.publicKey,
    callbackSecret: config.callbackSecret,
    callbackTimeoutMs: config.callbackTimeoutMs,
    concurrency: config.payoutConcurrency,
    concurrencyByQueue: config.concurrencyByQueue,
    stalled: config.stalled,
    prefix: config.redisPrefix,
    timing: config.timing,
    allowPrivateCallbacks: config.callbackAllowPrivate,
  });
  const metrics = config.metricsPort ? await serveMetrics(runtime, config.metricsPort, config.metricsHost, log) : null;
  log.info({ concurrency: config.payoutConcurrency, maxRps: config.bank.maxRps, metrics: metrics ? `http://${config.metricsHost}:${config.metricsPort}/metrics` : 'off', ...config.timing }, 'worker process ready');
  exitOnSignals(
    async () => {
      await stopWorkers(workers, runtime, log);
      metrics?.close();
      await runtime.close();
    },
    { timeoutMs: config.shutdownTimeoutMs, log },
  );
}

/**
 * Stops taking jobs. With Redis up, the jobs in hand are finished first; with Redis unreachable,
 * or once it goes while they finish, they are left: nothing in hand can finish without Redis, and
 * each one's lock lapses and another worker takes it up. Without Redis nothing here waits on it:
 * the connection is dropped and each close bounded, since a worker's commands wait for a
 * reconnection (README: a worker stops at once while Redis is down).
 */
async function stopWorkers(workers: RunningWorkers, runtime: Runtime, log: Logger): Promise<void> {
  if (runtime.redisHealthy()) {
    log.info('finishing jobs in hand, then stopping');
    const lost = new Promise<false>((resolve) => runtime.redis.once('close', () => resolve(false)));
    if (await Promise.race([workers.close().then(() => true), lost])) return;
    log.warn('Redis went away: stopping without finishing the jobs in hand');
  } else {
    log.warn('Redis is unreachable: stopping without finishing the jobs in hand');
  }
  runtime.redis.disconnect();
  await within(STOP_WITHOUT_REDIS_MS, Promise.all(workers.workers.map((w) => w.close(true))));
}

/** The bound on closing the workers without Redis; their connections are dropped, so it is rarely reached. */
const STOP_WITHOUT_REDIS_MS = 1_000;

/**
 * The worker's Prometheus endpoint (METRICS_PORT on METRICS_HOST, loopback unless an operator
 * opens it): the same registry the web serves at /metrics.
 */
async function serveMetrics(runtime: Runtime, port: number, host: string, log: Logger): Promise<http.Server | null> {
  observeSystem(runtime.store, runtime.queues);
  const server = http.createServer((req, res) => {
    if (req.url !== '/metrics') {
      res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { code: 'not_found', message: 'only /metrics here' } }));
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': METRICS_CONTENT_TYPE }).end(text),
      (err: Error) => res.writeHead(503, { 'content-type': 'text/plain' }).end(`metrics unavailable: ${err.message}`),
    );
  });
  const listening = await new Promise<boolean>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => (err.code === 'EADDRINUSE' ? resolve(false) : reject(err)));
    server.listen(port, host, () => resolve(true));
  });
  // Several workers on one host: the first serves the metrics, the others go on without (their
  // Redis-wide gauges would say the same; their own counters are lost until METRICS_PORT differs).
  if (!listening) {
    log.warn({ port }, `METRICS_PORT ${port} is in use (another worker on this host?): this worker serves no metrics; give each worker its own METRICS_PORT`);
    return null;
  }
  return server;
}

main().catch(exitOnStartupError);
