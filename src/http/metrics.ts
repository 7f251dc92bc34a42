import type { FastifyPluginAsync } from 'fastify';
import { METRICS_CONTENT_TYPE, registry } from '../metrics.js';

/** GET /metrics: Prometheus text format (src/metrics.ts). Unauthenticated, like /healthz: keep it off the public internet. */
export const metricsRoutes: FastifyPluginAsync = async (app) => {
  app.get('/metrics', { schema: { hide: true } }, async (_req, reply) => {
    return reply.header('content-type', METRICS_CONTENT_TYPE).send(await registry.metrics());
  });
};
