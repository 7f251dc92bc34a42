import http from 'node:http';
import type { Logger } from 'pino';
import { METRICS_CONTENT_TYPE, observeSystem, registry } from '../src/metrics.js';
import type { Runtime } from '../src/runtime.js';

/**
 * The worker's Prometheus endpoint (METRICS_PORT on METRICS_HOST, loopback unless an operator
 * opens it): the same registry the web serves at /metrics.
 */
export async function serveMetrics(runtime: Runtime, port: number, host: string, log: Logger): Promise<http.Server | null> {
  observeSystem(runtime.store, runtime.queues);
  const server = http.createServer((req, res) => {
    if (req.url !== '/metrics') {
      res
        .writeHead(404, { 'content-type': 'application/json' })
        .end(JSON.stringify({ error: { code: 'not_found', message: 'only /metrics here' } }));
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
    log.warn(
      { port },
      `METRICS_PORT ${port} is in use (another worker on this host?): this worker serves no metrics; give each worker its own METRICS_PORT`,
    );
    return null;
  }
  return server;
}
