import type { KeyObject } from 'node:crypto';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyRequest } from 'fastify';
import { serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import type { RedisClient } from './store/redis-client.js';
import type { Logger } from 'pino';
import type { Bank131Client } from './bank131/client.js';
import { bankWebhookRoutes } from './http/bank-webhooks.js';
import { registerDocs } from './http/docs.js';
import { clientErrorResponse, installErrorHandling, sendError } from './http/errors.js';
import { collectRoutes } from './http/collect.js';
import { healthRoutes } from './http/health.js';
import { parseJsonBody } from './http/json-body.js';
import { metricsRoutes } from './http/metrics.js';
import { observeSystem } from './metrics.js';
import { payoutRoutes } from './http/payouts.js';
import { logResponses } from './http/access-log.js';
import { echoRequestId, requestIdOf } from './http/request-id.js';
import type { CrashPoints, PipelineTiming, StepDeps } from './pipeline/pipeline-deps.js';
import type { Queues } from './queues.js';
import type { BankAccess } from './store/bank-access.js';
import type { PayoutStore } from './store/payout-store.js';

export interface ServerDeps {
  config: {
    apiKeys: string[];
    bankPublicKey: KeyObject;
    /** Where the web is reached from outside (PUBLIC_URL): collection links and the API document use it. */
    publicUrl: string | (() => string);
    /** BANK131_WIDGET_URL and COLLECT_PAYER_NAME, for the card collection pages. */
    widgetUrl: string;
    payerName: string;
  };
  /** The web calls Bank 131 for widget tokens and card facts. */
  bank: Bank131Client;
  store: PayoutStore;
  queues: Queues;
  redis: RedisClient;
  /** Whether Bank 131 accepts our credentials (src/store/bank-access.ts): part of /readyz. */
  bankAccess?: BankAccess | undefined;
  timing: PipelineTiming;
  crashPoints?: CrashPoints | undefined;
  /** CALLBACK_ALLOW_PRIVATE (src/payouts/callback-url.ts). */
  allowPrivateCallbacks?: boolean | undefined;
  /** One log line per response (ACCESS_LOG, on by default); state changes are logged either way. */
  accessLog?: boolean | undefined;
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
    // Fastify's two lines per request (received, completed) cost ingress half its throughput;
    // one access line per response (src/http/access-log.ts) says the same, or nothing (ACCESS_LOG).
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 1024 * 1024,
    // src/http/errors.ts answers in our shape while closing, for Fastify's router errors too
    return503OnClosing: false,
    frameworkErrors: (err, req, reply) => sendError(err, req, reply),
    routerOptions: { maxParamLength: 200 },
    genReqId: requestIdOf,
    clientErrorHandler: (err, socket) => {
      // Fastify's own handler logs this at trace; the error carries the raw bytes (src/log.ts)
      app.log.trace({ err }, 'client error');
      if (socket.writable) socket.end(clientErrorResponse(err));
      else socket.destroy(err);
    },
  });
  // An empty body with a JSON content type is no body (clients send one with a bodiless POST).
  // Keys that could change prototypes are removed and refused by name: src/http/json-body.ts.
  app.removeContentTypeParser(['application/json', 'text/plain']);
  app.addContentTypeParser('application/json', { parseAs: 'string' }, async (req: FastifyRequest, body: string) => parseJsonBody(req, body));
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  installErrorHandling(app);
  echoRequestId(app);
  if (deps.accessLog !== false) logResponses(app);
  const publicUrl = typeof deps.config.publicUrl === 'function' ? deps.config.publicUrl : () => deps.config.publicUrl as string;
  await registerDocs(app, { publicUrl: typeof deps.config.publicUrl === 'string' ? deps.config.publicUrl : undefined });

  const steps: StepDeps = { store: deps.store, queues: deps.queues, log: app.log as unknown as Logger, timing: deps.timing, crashPoints: deps.crashPoints, allowPrivateCallbacks: deps.allowPrivateCallbacks };
  await app.register(payoutRoutes, { steps, apiKeys: deps.config.apiKeys, bank: deps.bank, publicUrl });
  await app.register(collectRoutes, { steps, bank: deps.bank, widgetUrl: deps.config.widgetUrl, payerName: deps.config.payerName });
  await app.register(bankWebhookRoutes, { queues: deps.queues, bankPublicKey: deps.config.bankPublicKey });
  await app.register(healthRoutes, { redis: deps.redis, slotKey: `${deps.store.prefix}:ping`, bankAccess: deps.bankAccess });
  observeSystem(deps.store, deps.queues);
  await app.register(metricsRoutes);

  if (deps.extend) await deps.extend(app);
  return app;
}
