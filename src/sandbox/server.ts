import { setMaxListeners } from 'node:events';
import type { KeyObject } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { SIGNATURE_HEADER, checkSignature } from '../bank131/signature.js';
import type { ApiVersion } from '../bank131/schemas.js';
import { SandboxBank } from './bank.js';
import { SandboxError } from './errors.js';
import { Fault, type KnobsPatch, type SANDBOX_ENDPOINTS } from './knobs.js';
import type { IdempotencyClaim } from './sessions.js';
import { DEFAULT_SANDBOX_PREFIX, SandboxStore } from './store.js';
import { WebhookDispatcher, type DeliveryRecord } from './webhook-dispatcher.js';
import { registerWidget } from './widget.js';

export interface SandboxOptions {
  host?: string;
  port?: number;
  /** Verifies our requests (the partner's public key). */
  partnerPublicKey: KeyObject;
  /** Signs the sandbox's webhooks (the bank's private key). */
  bankPrivateKey: KeyObject;
  /** When set, X-PARTNER-PROJECT must equal it. */
  project?: string | undefined;
  knobs?: KnobsPatch;
  logger?: FastifyBaseLogger | false;
  /**
   * Keep the bank (sessions, ledger, wallet, idempotency keys, public tokens, due steps, pending
   * webhooks) in Redis under `redisPrefix`, so a sandbox started again on the same Redis and prefix
   * is the same bank (src/sandbox/store.ts). A URL (SANDBOX_REDIS_URL for `npm run sandbox`): the
   * sandbox opens and closes its own connection. Left out: everything lives in memory, as before.
   */
  redisUrl?: string | undefined;
  /** Or a connection of the caller's, which the sandbox uses and leaves open. */
  redis?: Redis | undefined;
  /** Default `{b131sandbox}` (SANDBOX_REDIS_PREFIX); hash-tagged, so the scripts run on a Cluster too. */
  redisPrefix?: string | undefined;
}

export interface RunningSandbox {
  url: string;
  bank: SandboxBank;
  webhooks: WebhookDispatcher;
  server: FastifyInstance;
  close(): Promise<void>;
}

type Endpoint = (typeof SANDBOX_ENDPOINTS)[number];
type Action = (bank: SandboxBank, body: unknown, version: ApiVersion, claim?: IdempotencyClaim) => Record<string, unknown> | Promise<Record<string, unknown>>;

const SESSION_ACTIONS: Array<[Endpoint, Action]> = [
  ['session/create', (b, body, v, c) => b.createSession(body, v, c)],
  ['session/start/payout', (b, body, v, c) => b.startPayout(body, v, c)],
  ['session/init/payout', (b, body, v, c) => b.initPayout(body, v, c)],
  ['session/confirm', (b, body, v, c) => b.confirm(body, v, c)],
  ['session/cancel', (b, body, v, c) => b.cancel(body, v, c)],
  ['session/status', (b, body, v) => b.status(body, v)],
];

const V1_ONLY_ACTIONS: Array<[Endpoint, Action]> = [
  ['token', (b, body) => b.issueToken(body)],
  ['token/info', (b, body) => b.tokenInfo(body)],
  ['wallet/balance', (b, body) => b.walletBalanceOf(body)],
];

/** Starts the sandbox bank on a port (0: any free one) and returns its URL and handles. */
export async function startSandbox(options: SandboxOptions): Promise<RunningSandbox> {
  const { server, bank, webhooks } = buildSandbox(options);
  // onReady (below) loads the bank from Redis before the port opens; a failure must not leak the connection.
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
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
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
 * webhooks (src/sandbox/webhook-dispatcher.ts send). The record fills in as attempts are made.
 */
export function sendWebhook(sandbox: { webhooks: WebhookDispatcher }, body: unknown): DeliveryRecord {
  return sandbox.webhooks.send(body);
}

/**
 * The sandbox's Fastify app, not listening yet. With a Redis option it loads the bank from Redis
 * when the app becomes ready (server.ready() or listen(); startSandbox does that) and closes the
 * connection it opened when the app closes.
 */
export function buildSandbox(options: SandboxOptions): { server: FastifyInstance; bank: SandboxBank; webhooks: WebhookDispatcher } {
  // Connections held open by "timeout" faults must not keep close() waiting.
  const server = Fastify({ loggerInstance: options.logger || undefined, forceCloseConnections: true, bodyLimit: 1024 * 1024 });
  const ownRedis = !options.redis && options.redisUrl ? new Redis(options.redisUrl, { maxRetriesPerRequest: 3 }) : undefined;
  ownRedis?.on('error', (err) => server.log.warn({ err }, 'sandbox: Redis connection error'));
  const redis = options.redis ?? ownRedis;
  const store = redis ? new SandboxStore(redis, options.redisPrefix ?? DEFAULT_SANDBOX_PREFIX) : undefined;
  const bank: SandboxBank = new SandboxBank((w) => webhooks.dispatch(w), options.knobs ?? {}, {
    store,
    onError: (err, what) => server.log.error({ err }, what),
  });
  const webhooks = new WebhookDispatcher(options.bankPrivateKey, () => bank.knobs);
  const stopping = new AbortController();
  // Every held ("timeout") connection waits on this one signal; a burst of them is expected.
  setMaxListeners(0, stopping.signal);
  server.addHook('onReady', async () => bank.open());
  server.addHook('onClose', async () => {
    stopping.abort();
    bank.close();
    webhooks.close();
    if (ownRedis) await ownRedis.quit().catch(() => ownRedis.disconnect());
  });

  /** Hold a connection without answering, then drop it: what a client sees as a timeout. */
  const hang = async (reply: FastifyReply): Promise<void> => {
    reply.hijack();
    await sleep(bank.knobs.hangMs, undefined, { signal: stopping.signal }).catch(() => undefined);
    reply.raw.destroy();
  };

  const refuse = (reply: FastifyReply, err: SandboxError) =>
    reply.code(err.httpStatus).send({ status: 'error', error: { code: err.code, description: err.description } });

  // The bank's API: raw bytes in, so the signature is checked over exactly what was sent.
  void server.register(async (api) => {
    api.removeAllContentTypeParsers();
    api.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

    const handle = (endpoint: Endpoint, version: ApiVersion, action: Action) => async (req: FastifyRequest, reply: FastifyReply) => {
      const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      if (bank.knobs.latencyMs > 0) await sleep(bank.knobs.latencyMs);
      const project = req.headers['x-partner-project'];
      if (typeof project !== 'string' || project === '') {
        return refuse(reply, new SandboxError('identification_error', 'X-PARTNER-PROJECT header is missing', 401));
      }
      if (options.project && project !== options.project) {
        return refuse(reply, new SandboxError('identification_error', `unknown project ${project}`, 401));
      }
      const refusal = bank.knobs.refuseCredentials;
      if (refusal) {
        return refuse(reply, new SandboxError(refusal, 'sandbox: the partner credentials are refused (refuseCredentials knob)', refusal === 'authorization_error' ? 403 : 401));
      }
      const sign = req.headers[SIGNATURE_HEADER];
      const check = checkSignature(raw, typeof sign === 'string' ? sign : undefined, options.partnerPublicKey);
      if (!check.ok) {
        return refuse(reply, new SandboxError('authentication_error', `X-PARTNER-SIGN is ${check.reason === 'missing' ? 'missing' : 'invalid'}`, 401));
      }
      let body: unknown;
      try {
        body = JSON.parse(raw.toString('utf8'));
      } catch {
        return refuse(reply, new SandboxError('invalid_request', 'body is not JSON'));
      }
      const sessionId = (body as { session_id?: unknown } | null)?.session_id;
      const idempotencyKey = req.headers['x-partner-idempotency-key'];
      const call = { endpoint, sessionId: typeof sessionId === 'string' ? sessionId : null, idempotencyKey: typeof idempotencyKey === 'string' ? idempotencyKey : null, httpStatus: 0 };
      bank.calls.push(call);
      reply.raw.once('finish', () => (call.httpStatus = reply.statusCode));
      const plan = bank.planFaults(endpoint);
      if (plan.before === '5xx') return refuse(reply, new SandboxError('internal_error', 'sandbox: injected internal error', 500));
      if (plan.before === 'timeout') return hang(reply);
      if (typeof plan.before === 'object') return refuse(reply, new SandboxError(plan.before.error, 'sandbox: injected error'));
      const key = req.headers['x-partner-idempotency-key'];
      let answer: Record<string, unknown>;
      try {
        answer = await bank.call(`${version}/${endpoint}`, typeof key === 'string' ? key : undefined, (claim) => action(bank, body, version, claim));
      } catch (err) {
        if (err instanceof SandboxError) return refuse(reply, err);
        throw err;
      }
      if (plan.after === 'timeout') return hang(reply);
      return reply.code(200).send(answer);
    };

    for (const version of ['v1', 'v2'] as const) {
      for (const [endpoint, action] of SESSION_ACTIONS) api.post(`/api/${version}/${endpoint}`, handle(endpoint, version, action));
    }
    for (const [endpoint, action] of V1_ONLY_ACTIONS) api.post(`/api/v1/${endpoint}`, handle(endpoint, 'v1', action));
  });

  // The tokenization widget's script, form and tokenize call (src/sandbox/widget.ts, docs/widget.md).
  registerWidget(server, bank);

  // Control routes: test and demo plumbing, not part of the bank's API, and unsigned.
  server.get('/healthz', async () => ({ ok: true }));
  server.get('/sandbox/ledger', async () => {
    const ledger = await bank.readLedger();
    const sessions = bank.ledgerBySession(ledger);
    return {
      sessions,
      movements: ledger.length,
      amount_total: ledger.reduce((s, e) => s + e.amount, 0),
      sessions_paid_more_than_once: sessions.filter((s) => s.movements.length > 1).map((s) => s.session_id),
    };
  });
  server.get('/sandbox/knobs', async () => bank.knobs);
  server.patch('/sandbox/knobs', async (req, reply) => {
    try {
      return bank.setKnobs(req.body ?? {});
    } catch (err) {
      if (err instanceof SandboxError) return refuse(reply, err);
      throw err;
    }
  });
  server.post('/sandbox/faults', async (req, reply) => {
    const parsed = Fault.array().safeParse(req.body);
    if (!parsed.success) return refuse(reply, new SandboxError('invalid_request', parsed.error.message));
    bank.addFaults(parsed.data);
    return bank.knobs.faults;
  });
  server.put('/sandbox/wallet', async (req, reply) => {
    const amount = (req.body as { amount?: unknown } | undefined)?.amount;
    if (typeof amount !== 'number' || !Number.isInteger(amount) || amount < 0) {
      return refuse(reply, new SandboxError('invalid_request', 'amount: must be a whole number of kopecks, 0 or more'));
    }
    await bank.setWalletBalance(amount);
    return { amount };
  });
  server.get('/sandbox/webhooks', async () => webhooks.deliveries());
  // Answers after the first attempt, so a caller sees the receiver's answer without polling.
  server.post('/sandbox/webhooks/send', async (req, reply) => {
    const request = req.body as { body?: unknown } | undefined;
    if (!request || typeof request !== 'object' || !('body' in request)) {
      return refuse(reply, new SandboxError('invalid_request', 'body: is required (the webhook body to sign and send)'));
    }
    return webhooks.firstAttempt(webhooks.send(request.body));
  });
  server.get<{ Params: { id: string } }>('/sandbox/sessions/:id', async (req, reply) => {
    const state = bank.sessionState(req.params.id);
    if (!state) return refuse(reply, new SandboxError('invalid_request', `no session ${req.params.id}`, 404));
    return { id: req.params.id, state, session: bank.sessionView(req.params.id) };
  });
  const control = (act: (id: string, body: unknown) => unknown) => async (req: FastifyRequest<{ Params: { id: string } }>, reply: FastifyReply) => {
    if (!bank.sessionState(req.params.id)) return refuse(reply, new SandboxError('invalid_request', `no session ${req.params.id}`, 404));
    try {
      await act(req.params.id, req.body ?? {});
    } catch (err) {
      if (err instanceof SandboxError) return refuse(reply, err);
      throw err;
    }
    return { id: req.params.id, state: bank.sessionState(req.params.id), session: bank.sessionView(req.params.id) };
  };
  // Body: an ErrorPlan (src/sandbox/knobs.ts), e.g. {"resolveTo":"succeeded","resolveAfterMs":500}.
  server.post('/sandbox/sessions/:id/error', control((id, body) => bank.markSessionError(id, body)));
  // Body: {"to":"succeeded"|"failed"}, or {} for what the session's plan says.
  server.post(
    '/sandbox/sessions/:id/resolve',
    control((id, body) => {
      const to = (body as { to?: unknown }).to;
      if (to !== undefined && to !== 'succeeded' && to !== 'failed') throw new SandboxError('invalid_request', 'to: must be succeeded or failed');
      return bank.resolveSessionError(id, to);
    }),
  );
  server.post('/sandbox/reset', async () => {
    await bank.reset();
    webhooks.reset();
    return { ok: true };
  });

  return { server, bank, webhooks };
}
