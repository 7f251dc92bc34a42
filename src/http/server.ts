import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyRequest } from 'fastify';
import { serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import type { Logger } from 'pino';
import type { Bank131Client } from '../bank131/client.js';
import { mountBoard } from '../board.js';
import { consoleRoutes } from '../console/routes.js';
import { observeSystem } from '../metrics.js';
import type { CrashPoints, StepDeps } from '../pipeline/pipeline-deps.js';
import type { Queues } from '../queues.js';
import type { WebSettings } from '../settings/web.js';
import type { BankAccess } from '../store/bank-access.js';
import type { PayoutStore } from '../store/payout-store.js';
import type { TenantCache } from '../tenants/tenant-cache.js';
import type { TenantStore } from '../tenants/tenant-store.js';
import type { RedisClient } from '../store/redis-client.js';
import { logResponses } from './access-log.js';
import { bankWebhookRoutes } from './bank-webhooks.js';
import { collectRoutes } from './collect.js';
import { registerDocs, serveDocument } from './docs.js';
import { clientErrorResponse, installErrorHandling, sendError } from './errors.js';
import { healthRoutes } from './health.js';
import { parseJsonBody } from './json-body.js';
import { metricsRoutes } from './metrics.js';
import { echoRequestId, requestIdOf } from './request-id.js';
import { tenantApi } from './tenant-api.js';

/** What the web's Fastify apps are built from: its settings as read, and the runtime's pieces. */
export interface ServerDeps {
  settings: WebSettings;
  /** The web calls Bank 131 for widget tokens and card facts. */
  bank: Bank131Client;
  store: PayoutStore;
  tenants: { store: TenantStore; cache: TenantCache };
  queues: Queues;
  redis: RedisClient;
  /** Whether Bank 131 accepts our credentials (src/store/bank-access.ts): part of /readyz. */
  bankAccess?: BankAccess | undefined;
  /** The runtime's outage report (src/process/outage-report.ts): Redis errors met by requests go there, not one line each. */
  reportRedisError?: ((err: Error) => void) | undefined;
  /** Where the web is reached: PUBLIC_URL, or (PORT 0) the address it listens on once it does. */
  publicUrl: () => string;
  crashPoints?: CrashPoints | undefined;
  logger?: FastifyBaseLogger | false;
}

/**
 * The web's public app: the upstream API (payouts, recipients, webhook endpoints, events, funding), the Bank 131
 * webhook receiver, the recipients' card pages, health, and (unless ADMIN_PORT puts them apart)
 * what operators use: /metrics, /docs and the queue board. Each is a plugin under src/http/ with
 * its zod schemas beside it; one error handler (src/http/errors.ts) shapes every refusal. It
 * validates, records and enqueues; of the bank it calls only `token` and `token/info`, for the
 * card pages, and `wallet/balance` (cached) for GET /v1/balance: nothing that moves money.
 */
export async function buildServer(deps: ServerDeps): Promise<FastifyInstance> {
  const { settings } = deps;
  const apart = settings.admin !== null;
  const app = baseApp(deps);
  // An empty body with a JSON content type is no body (clients send one with a bodiless POST).
  // Keys that could change prototypes, and keys given twice, are refused by name: src/http/json-body.ts.
  app.removeContentTypeParser(['application/json', 'text/plain']);
  app.addContentTypeParser('application/json', { parseAs: 'string' }, async (req: FastifyRequest, body: string) =>
    parseJsonBody(req, body),
  );
  // The document is made from these routes; its pages are served here or on the admin listener.
  await registerDocs(app, { publicUrl: settings.publicUrl ?? undefined, ui: !apart });

  const steps: StepDeps = {
    store: deps.store,
    queues: deps.queues,
    log: app.log as unknown as Logger,
    timing: settings.timing,
    crashPoints: deps.crashPoints,
    allowPrivateCallbacks: settings.callbackAllowPrivate,
  };
  await app.register(tenantApi, {
    steps,
    settings,
    bank: deps.bank,
    redis: deps.redis,
    tenants: deps.tenants,
    publicUrl: deps.publicUrl,
  });
  await app.register(collectRoutes, { steps, settings, bank: deps.bank });
  await app.register(bankWebhookRoutes, { queues: deps.queues, settings });
  await app.register(healthRoutes, healthOptions(deps));
  observeSystem(deps.store, deps.queues);
  if (!apart) await registerOperatorRoutes(app, deps);
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
  await registerOperatorRoutes(app, deps);
  return app;
}

async function registerOperatorRoutes(app: FastifyInstance, deps: ServerDeps): Promise<void> {
  await app.register(metricsRoutes);
  if (deps.settings.board) await mountBoard(app, deps.queues, deps.settings.board);
  if (deps.settings.console)
    await app.register(consoleRoutes, {
      prefix: '/console',
      store: deps.store,
      queues: deps.queues,
      settings: deps.settings,
      crashPoints: deps.crashPoints,
    });
}

function healthOptions(deps: ServerDeps) {
  const sweep = { lastSwept: () => deps.store.lastSwept(), intervalMs: deps.settings.timing.reconcileIntervalMs, since: Date.now() };
  return { redis: deps.redis, slotKey: `${deps.store.prefix}:ping`, bankAccess: deps.bankAccess, sweep };
}

/** A number of hops as Fastify's types take it (a function of the hop); anything else as it is. */
function trustProxyOption(setting: WebSettings['trustProxy']): boolean | string | ((address: string, hop: number) => boolean) {
  if (typeof setting === 'number') return (_address, hop) => hop < setting;
  return setting;
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
    trustProxy: trustProxyOption(deps.settings.trustProxy),
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
  if (deps.settings.accessLog) logResponses(app);
  return app;
}
