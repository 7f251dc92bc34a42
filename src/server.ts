import type { KeyObject } from 'node:crypto';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyRequest } from 'fastify';
import { serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import type { RedisClient } from './store/redis-client.js';
import type { Logger } from 'pino';
import type { Bank131Client } from './bank131/client.js';
import { bankWebhookRoutes } from './http/bank-webhooks.js';
import { registerDocs, serveDocument } from './http/docs.js';
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
  /** The runtime's outage report (src/runtime.ts): Redis errors met by requests go there, not one line each. */
  reportRedisError?: ((err: Error) => void) | undefined;
  timing: PipelineTiming;
  crashPoints?: CrashPoints | undefined;
  /** CALLBACK_ALLOW_PRIVATE (src/payouts/callback-url.ts). */
  allowPrivateCallbacks?: boolean | undefined;
  /** One log line per response (ACCESS_LOG, on by default); state changes are logged either way. */
  accessLog?: boolean | undefined;
  logger?: FastifyBaseLogger | false;
  /** Extra plugins (the queue board) registered by the web entry point, beside /metrics and /docs. */
  extend?: (app: FastifyInstance) => Promise<void>;
  /** ADMIN_PORT is set: /metrics, /docs and `extend` go on the admin listener (buildAdminServer), not here. */
  adminApart?: boolean | undefined;
  /** TRUST_PROXY, as Fastify's trustProxy takes it. */
  trustProxy?: boolean | number | string | undefined;
}

/**
 * The web process: the upstream API, the Bank 131 webhook receiver, the recipients' card pages,
 * health routes and (unless `adminApart`) what operators use, each a plugin under src/http/ with its
 * zod schemas beside it. One error handler (src/http/errors.ts) shapes every refusal. It validates,
 * records and enqueues; of the bank it calls only `token` and `token/info`, for the card pages.
 */
export async function buildServer(deps: ServerDeps): Promise<FastifyInstance> {
  const app = baseApp(deps);
  // An empty body with a JSON content type is no body (clients send one with a bodiless POST).
  // Keys that could change prototypes, and keys given twice, are refused by name: src/http/json-body.ts.
  app.removeContentTypeParser(['application/json', 'text/plain']);
  app.addContentTypeParser('application/json', { parseAs: 'string' }, async (req: FastifyRequest, body: string) => parseJsonBody(req, body));
  const publicUrl = typeof deps.config.publicUrl === 'function' ? deps.config.publicUrl : () => deps.config.publicUrl as string;
  // The document is made from these routes; its pages are served here or on the admin port.
  await registerDocs(app, { publicUrl: typeof deps.config.publicUrl === 'string' ? deps.config.publicUrl : undefined, ui: !deps.adminApart });

  const steps: StepDeps = { store: deps.store, queues: deps.queues, log: app.log as unknown as Logger, timing: deps.timing, crashPoints: deps.crashPoints, allowPrivateCallbacks: deps.allowPrivateCallbacks };
  await app.register(payoutRoutes, { steps, apiKeys: deps.config.apiKeys, bank: deps.bank, publicUrl });
  await app.register(collectRoutes, { steps, bank: deps.bank, widgetUrl: deps.config.widgetUrl, payerName: deps.config.payerName });
  await app.register(bankWebhookRoutes, { queues: deps.queues, bankPublicKey: deps.config.bankPublicKey });
  await app.register(healthRoutes, healthOptions(deps));
  observeSystem(deps.store, deps.queues);
  if (!deps.adminApart) {
    await app.register(metricsRoutes);
    if (deps.extend) await deps.extend(app);
  }
  return app;
}

/**
 * ADMIN_PORT: what operators use (/metrics, /docs, the queue board, and health) on a listener of
 * its own, so the public port serves only the API, webhooks and the card pages. The document
 * describes `publicApp`'s routes (it must be ready).
 */
export async function buildAdminServer(deps: ServerDeps, publicApp: FastifyInstance): Promise<FastifyInstance> {
  const app = baseApp(deps);
  await serveDocument(app, publicApp.swagger() as Record<string, unknown>);
  await app.register(healthRoutes, healthOptions(deps));
  await app.register(metricsRoutes);
  if (deps.extend) await deps.extend(app);
  return app;
}

/** A number of hops as Fastify's types take it (a function of the hop); anything else as it is. */
function trustProxyOption(setting: ServerDeps['trustProxy']): boolean | string | ((address: string, hop: number) => boolean) {
  if (typeof setting === 'number') return (_address, hop) => hop < setting;
  return setting ?? false;
}

function healthOptions(deps: ServerDeps) {
  const sweep = { lastSwept: () => deps.store.lastSwept(), intervalMs: deps.timing.reconcileIntervalMs, since: Date.now() };
  return { redis: deps.redis, slotKey: `${deps.store.prefix}:ping`, bankAccess: deps.bankAccess, sweep };
}

/** A Fastify instance with our logging, request ids and error shape: what both listeners share. */
function baseApp(deps: ServerDeps): FastifyInstance {
  const app = Fastify({
    loggerInstance: deps.logger || undefined,
    // Fastify's two lines per request (received, completed) cost ingress half its throughput;
    // one access line per response (src/http/access-log.ts) says the same, or nothing (ACCESS_LOG).
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 1024 * 1024,
    // TRUST_PROXY: behind a proxy, the client's address (rate limits, logs) is X-Forwarded-For's
    trustProxy: trustProxyOption(deps.trustProxy),
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
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  installErrorHandling(app, { reportRedisError: deps.reportRedisError });
  echoRequestId(app);
  if (deps.accessLog !== false) logResponses(app);
  return app;
}
