import http from 'node:http';
import { loadWorkerConfig } from '../src/config.js';
import { METRICS_CONTENT_TYPE, observeSystem, registry } from '../src/metrics.js';
import { createLogger, type Logger } from '../src/log.js';
import { checkRedisDurability, createRuntime, exitOnSignals, isRedisConnectionError, redisReady, waitForRedis, workerRuntimeOptions, type Runtime } from '../src/runtime.js';
import { exitOnStartupError } from '../src/settings.js';
import { startWorkersFor } from './index.js';

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
  // Each worker relays every failed reconnection of its two connections: during an outage that is a
  // dozen lines per attempt. Those go to the runtime's outage report (one line per retry interval);
  // any other worker error still reaches the listeners the workers were started with.
  for (const worker of workers.workers) {
    const others = worker.listeners('error') as Array<(err: Error) => void>;
    worker.removeAllListeners('error');
    worker.on('error', (err: Error) => (isRedisConnectionError(err) ? runtime.reportRedisError(err) : others.forEach((l) => l.call(worker, err))));
  }
  const metrics = config.metricsPort ? await serveMetrics(runtime, config.metricsPort, log) : null;
  log.info({ concurrency: config.payoutConcurrency, maxRps: config.bank.maxRps, metrics: metrics ? `http://0.0.0.0:${config.metricsPort}/metrics` : 'off', ...config.timing }, 'worker process ready');
  exitOnSignals(
    async () => {
      if (runtime.redisHealthy()) {
        log.info('finishing jobs in hand, then stopping');
        await workers.close();
      } else {
        // Nothing in hand can be finished without Redis; its lock lapses and another worker takes it up.
        log.warn('Redis is unreachable: stopping without finishing the jobs in hand');
        runtime.redis.disconnect();
        await Promise.all(workers.workers.map((w) => w.close(true)));
      }
      metrics?.close();
      await runtime.close();
    },
    { timeoutMs: config.shutdownTimeoutMs, log },
  );
}

/** The worker's Prometheus endpoint (METRICS_PORT): the same registry the web serves at /metrics. */
async function serveMetrics(runtime: Runtime, port: number, log: Logger): Promise<http.Server | null> {
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
    server.listen(port, '0.0.0.0', () => resolve(true));
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
