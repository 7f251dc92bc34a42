import type { KeyObject } from 'node:crypto';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { bankWebhookRoutes } from './http/bank-webhooks.js';
import { registerDocs } from './http/docs.js';
import { clientErrorResponse, installErrorHandling } from './http/errors.js';
import { healthRoutes } from './http/health.js';
import { metricsRoutes } from './http/metrics.js';
import { observeSystem } from './metrics.js';
import { payoutRoutes } from './http/payouts.js';
import { echoRequestId, requestIdOf } from './http/request-id.js';
import type { CrashPoints, PipelineTiming, StepDeps } from './pipeline/pipeline-deps.js';
import type { Queues } from './queues.js';
import type { BankAccess } from './store/bank-access.js';
import type { PayoutStore } from './store/payout-store.js';

export interface ServerDeps {
  config: { apiKeys: string[]; bankPublicKey: KeyObject; publicUrl?: string | undefined };
  store: PayoutStore;
  queues: Queues;
  redis: Redis;
  /** Whether Bank 131 accepts our credentials (src/store/bank-access.ts): part of /readyz. */
  bankAccess?: BankAccess | undefined;
  timing: PipelineTiming;
  crashPoints?: CrashPoints | undefined;
  logger?: FastifyBaseLogger | false;
  /** Extra plugins (the queue board) registered by the web entry point. */
  extend?: (app: FastifyInstance) => Promise<void>;
}

/**
 * The web process: the upstream API, the Bank 131 webhook receiver, health routes and the API
 * document, each a plugin under src/http/ with its zod schemas beside it. One error handler
 * (src/http/errors.ts) shapes every refusal. It only validates, records and enqueues; workers do
 * everything that talks to the bank.
 */
export async function buildServer(deps: ServerDeps): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.logger || undefined,
    bodyLimit: 1024 * 1024,
    return503OnClosing: true,
    genReqId: requestIdOf,
    clientErrorHandler: (err, socket) => {
      if (socket.writable) socket.end(clientErrorResponse(err));
      else socket.destroy(err);
    },
  });
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  installErrorHandling(app);
  echoRequestId(app);
  await registerDocs(app, { publicUrl: deps.config.publicUrl });

  const steps: StepDeps = { store: deps.store, queues: deps.queues, log: app.log as unknown as Logger, timing: deps.timing, crashPoints: deps.crashPoints };
  await app.register(payoutRoutes, { steps, apiKeys: deps.config.apiKeys });
  await app.register(bankWebhookRoutes, { queues: deps.queues, bankPublicKey: deps.config.bankPublicKey });
  await app.register(healthRoutes, { redis: deps.redis, bankAccess: deps.bankAccess });
  observeSystem(deps.store, deps.queues);
  await app.register(metricsRoutes);

  if (deps.extend) await deps.extend(app);
  return app;
}
