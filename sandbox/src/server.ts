import { setMaxListeners } from 'node:events';
import type { KeyObject } from 'node:crypto';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { registerApi } from './api-routes.js';
import { SandboxBank } from './bank.js';
import { registerControl } from './control-routes.js';
import type { KnobsPatch } from './knobs.js';
import { connectRedis } from './redis-connection.js';
import { holder } from './replies.js';
import { SandboxStore } from './store.js';
import { WebhookDispatcher, type DeliveryRecord, type OutgoingWebhook } from './webhook-dispatcher.js';
import { registerWidget } from './widget-routes.js';

export interface SandboxOptions {
  host?: string;
  /** 0 (the default): any free port. */
  port?: number;
  /** Verifies the partner's requests (the partner's public key). */
  partnerPublicKey: KeyObject;
  /** Signs the sandbox's webhooks (the bank's private key). */
  bankPrivateKey: KeyObject;
  /** When set, X-PARTNER-PROJECT must equal it. */
  project?: string | undefined;
  knobs?: KnobsPatch;
  logger?: FastifyBaseLogger | false;
  /**
   * The Redis that keeps the bank: sessions with their due steps, ledger, wallet, idempotency keys,
   * widget tokens and webhooks not yet delivered (sandbox/src/store.ts). The sandbox opens its own
   * connection and closes it with itself.
   */
  redisUrl: string;
  /**
   * The prefix of its keys: one bank per prefix. A hash tag such as `{b131sandbox}`, so each change's
   * script runs on a Redis Cluster too. A sandbox started again on the same Redis and prefix is the
   * same bank; knobs are never kept.
   */
  redisPrefix: string;
  /** Told of every webhook the bank sends, before it is delivered: what a harness keeps samples from. */
  onWebhook?: ((webhook: Readonly<OutgoingWebhook>) => void) | undefined;
  /** Routes of a harness's own, added to the sandbox's app before it listens. */
  routes?: ((app: FastifyInstance) => void) | undefined;
  /**
   * Where browsers and partners reach the sandbox when that is not where it listens (a port
   * mapped by Docker, a proxy): the base of the links it hands out, such as receipt links.
   * Default: the URL it listens on.
   */
  publicUrl?: string | undefined;
}

export interface RunningSandbox {
  /** Where it listens. */
  url: string;
  /** The base of the links it hands out: SandboxOptions.publicUrl, else `url`. */
  publicUrl: string;
  bank: SandboxBank;
  webhooks: WebhookDispatcher;
  server: FastifyInstance;
  close(): Promise<void>;
}

/**
 * Starts the sandbox bank: connects to Redis, loads the bank it holds under the prefix, listens,
 * and only then resumes it (re-arming due steps, re-sending undelivered webhooks), so everything it
 * sends already knows the sandbox's URL. Answers its URL and handles.
 */
export async function startSandbox(options: SandboxOptions): Promise<RunningSandbox> {
  const redis = await connectRedis(options.redisUrl);
  // Connections held open by "timeout" faults must not keep close() waiting.
  const server = Fastify({ loggerInstance: options.logger || undefined, forceCloseConnections: true, bodyLimit: 1024 * 1024 });
  redis.on('error', (err) => server.log.warn({ err }, 'sandbox: Redis connection error'));
  const store = new SandboxStore(redis, options.redisPrefix);
  const onError = (err: unknown, what: string) => server.log.error({ err }, what);
  const emit = (webhook: OutgoingWebhook) => {
    options.onWebhook?.(webhook);
    webhooks.dispatch(webhook);
  };
  const bank: SandboxBank = new SandboxBank(store, emit, options.knobs ?? {}, onError);
  const webhooks = new WebhookDispatcher(options.bankPrivateKey, () => bank.knobs);
  const stopping = new AbortController();
  // Every held ("timeout") connection waits on this one signal; a burst of them is expected.
  setMaxListeners(0, stopping.signal);
  server.addHook('onReady', async () => bank.open());
  server.addHook('onClose', async () => {
    stopping.abort();
    bank.close();
    webhooks.close();
    await redis.quit().catch(() => redis.disconnect());
  });

  const hang = holder(stopping.signal, () => bank.knobs.hangMs);
  registerApi(server, bank, { partnerPublicKey: options.partnerPublicKey, project: options.project, hang });
  // The tokenization widget's script, form and tokenize call (sandbox/src/widget-routes.ts, docs/widget.md).
  registerWidget(server, bank);
  registerControl(server, bank, webhooks);
  options.routes?.(server);

  // onReady loads the bank from Redis before the port opens; a failure must not leak the connection.
  try {
    await server.ready();
  } catch (err) {
    await server.close();
    throw err;
  }
  await server.listen({ host: options.host ?? '127.0.0.1', port: options.port ?? 0 });
  const address = server.server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  const host = options.host && options.host !== '0.0.0.0' ? options.host : '127.0.0.1';
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  bank.baseUrl = options.publicUrl?.replace(/\/+$/, '') ?? url;
  bank.resume();
  return {
    url,
    publicUrl: bank.baseUrl,
    bank,
    webhooks,
    server,
    async close() {
      await server.close();
    },
  };
}

/**
 * Signs `body` with the bank's key and delivers it to the webhook URL like one of the bank's own
 * webhooks (sandbox/src/webhook-dispatcher.ts send). The record fills in as attempts are made.
 */
export function sendWebhook(sandbox: { webhooks: WebhookDispatcher }, body: unknown): DeliveryRecord {
  return sandbox.webhooks.send(body);
}
