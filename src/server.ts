import { timingSafeEqual, createHash } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import Fastify, { type FastifyBaseLogger, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Redis } from 'ioredis';
import type { z } from 'zod';
import { WebhookPayloadError, WebhookSignatureError } from './bank131/errors.js';
import type { Logger } from 'pino';
import { BankSession } from './bank131/schemas.js';
import { verifyWebhook } from './bank131/webhook.js';
import { SIGNATURE_HEADER } from './bank131/signature.js';
import { BatchRequest, PayoutId, PayoutOrder, publicView, type PublicPayout } from './payouts/schemas.js';
import { CANCELLABLE_AT_BANK, CANCELLABLE_DIRECTLY, type PayoutState } from './payouts/state-machine.js';
import type { CrashPoints, PipelineTiming, StepDeps } from './pipeline/pipeline-deps.js';
import { takeStep } from './pipeline/take-step.js';
import { acceptPayouts } from './pipeline/accept-payouts.js';
import { jobId, type Queues } from './queues.js';
import type { PayoutStore } from './store/payout-store.js';

export interface ServerDeps {
  config: { apiKeys: string[]; bankPublicKey: KeyObject };
  store: PayoutStore;
  queues: Queues;
  redis: Redis;
  timing: PipelineTiming;
  crashPoints?: CrashPoints | undefined;
  logger?: FastifyBaseLogger | false;
  /** Extra plugins (the queue board) registered by the web entry point. */
  extend?: (app: FastifyInstance) => Promise<void>;
}

/**
 * What routing and the confirmation policy need from a webhook's session, in v2 spelling. Job
 * data is visible on the queue board, so the recipient's name and other extras stay out of it.
 */
function routingFacts(session: BankSession) {
  return {
    id: session.id,
    ...(session.status !== undefined ? { status: session.status } : {}),
    ...(session.next_action ? { next_action: session.next_action } : {}),
    ...(session.error ? { error: session.error } : {}),
    payout_list: session.payouts.map((p) => ({
      id: p.id,
      status: p.status,
      ...(p.amount_details ? { amount_details: p.amount_details } : {}),
      ...(p.finished_at ? { finished_at: p.finished_at } : {}),
      ...(p.metadata !== undefined ? { metadata: p.metadata } : {}),
      ...(p.error ? { error: p.error } : {}),
      ...(p.details?.card?.last4 ? { payout_details: { type: p.details.type, card: { last4: p.details.card.last4, brand: p.details.card.brand } } } : {}),
    })),
  };
}

/** What can be read of a signed webhook our schemas refuse: its type and session id, if any. */
function looseWebhook(raw: Buffer): { type: string; session?: { id?: string } } | null {
  try {
    const json = JSON.parse(raw.toString('utf8')) as { type?: unknown; session?: { id?: unknown } | null } | null;
    const id = json?.session?.id;
    return { type: typeof json?.type === 'string' ? json.type : 'unknown', ...(typeof id === 'string' && id ? { session: { id } } : {}) };
  } catch {
    return null;
  }
}

/** 4xx bodies name each bad field: `{ error: { code, message, issues: [{ field, problem }] } }`. */
function invalid(reply: FastifyReply, issues: Array<{ field: string; problem: string }>, status = 400) {
  const message = issues.map((i) => `${i.field}: ${i.problem}`).join('; ');
  return reply.code(status).send({ error: { code: 'invalid_request', message, issues } });
}

function zodIssues(error: z.ZodError, prefix = ''): Array<{ field: string; problem: string }> {
  return error.issues.map((i) => ({ field: `${prefix}${i.path.join('.')}` || '(body)', problem: i.message }));
}

/**
 * The web process: the upstream API (README, The upstream API), the Bank 131 webhook receiver and health
 * routes. It only validates, records and enqueues; workers do everything that talks to the bank.
 */
export async function buildServer(deps: ServerDeps): Promise<FastifyInstance> {
  const { store, queues } = deps;
  const app = Fastify({
    loggerInstance: deps.logger || undefined,
    bodyLimit: 1024 * 1024,
    return503OnClosing: true,
  });

  const steps: StepDeps = { store, queues, log: app.log as unknown as Logger, timing: deps.timing, crashPoints: deps.crashPoints };

  const keys = deps.config.apiKeys.map((k) => createHash('sha256').update(k).digest());
  const authorised = (header: string | undefined): boolean => {
    const token = header?.startsWith('Bearer ') ? header.slice(7).trim() : '';
    if (!token) return false;
    const given = createHash('sha256').update(token).digest();
    return keys.some((k) => timingSafeEqual(k, given));
  };

  app.setErrorHandler((err: FastifyError, req, reply) => {
    const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    if (status === 500) {
      req.log.error({ err }, 'request failed');
      return reply.code(503).send({ error: { code: 'unavailable', message: 'the service could not complete the request; retry it' } });
    }
    const code = err.code === 'FST_ERR_CTP_BODY_TOO_LARGE' ? 'body_too_large' : 'invalid_request';
    return reply.code(status).send({ error: { code, message: err.message } });
  });
  app.setNotFoundHandler((req, reply) => reply.code(404).send({ error: { code: 'not_found', message: `no route ${req.method} ${req.url}` } }));

  // ---------------------------------------------------------------- upstream API
  await app.register(async (api) => {
    api.addHook('onRequest', async (req, reply) => {
      if (!authorised(req.headers.authorization)) {
        return reply.code(401).header('www-authenticate', 'Bearer').send({ error: { code: 'unauthorized', message: 'missing or unknown API key (Authorization: Bearer <key>)' } });
      }
    });

    api.post('/v1/payouts', async (req, reply) => {
      const parsed = PayoutOrder.safeParse(req.body);
      if (!parsed.success) return invalid(reply, zodIssues(parsed.error));
      const [result] = await acceptPayouts(steps, [parsed.data]);
      if (!result) throw new Error('no create result');
      if (result.status === 'conflict') {
        return reply.code(409).send({
          error: {
            code: 'conflict',
            message: `payout ${result.id} exists with a different ${result.fields.join(', ') || 'body'}`,
            fields: result.fields,
          },
        });
      }
      return reply.code(result.status === 'created' ? 202 : 200).send({ id: result.id, status: result.state });
    });

    api.post('/v1/payouts/batch', { bodyLimit: 32 * 1024 * 1024 }, async (req, reply) => {
      const envelope = BatchRequest.safeParse(req.body);
      if (!envelope.success) return invalid(reply, zodIssues(envelope.error));
      const items = envelope.data.payouts;
      const answers: Array<Record<string, unknown>> = new Array(items.length);
      const valid: Array<{ at: number; order: PayoutOrder }> = [];
      const seen = new Map<string, number>();
      items.forEach((item, at) => {
        const parsed = PayoutOrder.safeParse(item);
        if (!parsed.success) {
          const id = typeof (item as { id?: unknown })?.id === 'string' ? (item as { id: string }).id : null;
          answers[at] = { index: at, id, status: 'invalid', issues: zodIssues(parsed.error) };
          return;
        }
        const first = seen.get(parsed.data.id);
        if (first !== undefined) {
          answers[at] = { index: at, id: parsed.data.id, status: 'invalid', issues: [{ field: 'id', problem: `repeats item ${first} of this batch` }] };
          return;
        }
        seen.set(parsed.data.id, at);
        valid.push({ at, order: parsed.data });
      });
      const results = await acceptPayouts(steps, valid.map((v) => v.order));
      results.forEach((r, j) => {
        const at = valid[j]!.at;
        answers[at] = r.status === 'conflict' ? { index: at, id: r.id, status: 'conflict', state: r.state, fields: r.fields } : { index: at, id: r.id, status: r.status, state: r.state };
      });
      const counts = { created: 0, existing: 0, conflict: 0, invalid: 0 };
      for (const a of answers) counts[a.status as keyof typeof counts] += 1;
      return reply.code(200).send({ counts, results: answers });
    });

    api.get<{ Params: { id: string } }>('/v1/payouts/:id', async (req, reply) => {
      const id = PayoutId.safeParse(req.params.id);
      if (!id.success) return invalid(reply, zodIssues(id.error, 'id'));
      const payout = await store.get(id.data);
      if (!payout) return reply.code(404).send({ error: { code: 'not_found', message: `no payout ${id.data}` } });
      return publicView(payout, await store.audit(id.data)) satisfies PublicPayout;
    });

    api.post<{ Params: { id: string } }>('/v1/payouts/:id/cancel', async (req, reply) => {
      const id = PayoutId.safeParse(req.params.id);
      if (!id.success) return invalid(reply, zodIssues(id.error, 'id'));
      const payout = await store.get(id.data);
      if (!payout) return reply.code(404).send({ error: { code: 'not_found', message: `no payout ${id.data}` } });
      const state = payout.state;
      if (state === 'cancelled' || state === 'cancelling') return reply.code(200).send({ id: payout.id, status: state });
      if ((CANCELLABLE_DIRECTLY as PayoutState[]).includes(state)) {
        const r = await takeStep(steps, 'cancel', payout, {});
        if (r.ok) return reply.code(202).send({ id: payout.id, status: 'cancelled' });
      } else if ((CANCELLABLE_AT_BANK as PayoutState[]).includes(state)) {
        const r = await takeStep(steps, 'requestCancel', payout, {});
        if (r.ok) return reply.code(202).send({ id: payout.id, status: 'cancelling' });
      }
      const now = (await store.get(payout.id))?.state ?? state;
      return reply.code(409).send({
        error: { code: 'not_cancellable', message: `payout ${payout.id} is ${now}: it can be cancelled only before it is confirmed`, state: now },
      });
    });
  });

  // ---------------------------------------------------------------- Bank 131 webhooks
  await app.register(async (hooks) => {
    // The signature covers the exact bytes: keep them, parse only after verifying.
    hooks.removeAllContentTypeParsers();
    hooks.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

    hooks.post('/webhooks/bank131', async (req: FastifyRequest, reply) => {
      const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      const header = req.headers[SIGNATURE_HEADER];
      let webhook;
      try {
        webhook = verifyWebhook(raw, typeof header === 'string' ? header : undefined, deps.config.bankPublicKey);
      } catch (err) {
        if (err instanceof WebhookSignatureError) {
          req.log.warn({ reason: err.reason, bytes: raw.length }, 'refused a webhook with a bad signature');
          return reply.code(401).send({ error: { code: 'invalid_signature', message: err.message } });
        }
        if (!(err instanceof WebhookPayloadError)) throw err;
        // Signed by the bank: never refused for its content, or the bank re-sends it forever. What
        // we can read of it (its session) still leads to a check; the rest is logged.
        req.log.error({ err: err.message }, 'signed webhook we cannot read; acknowledged');
        webhook = looseWebhook(raw);
        if (!webhook) return reply.code(200).send({ ok: true });
      }
      const sessionId = webhook.session?.id;
      if (!sessionId) {
        req.log.warn({ type: webhook.type }, 'signed webhook without a session; acknowledged and logged');
        return reply.code(200).send({ ok: true });
      }
      const session = BankSession.safeParse(webhook.session);
      // 200 only once Redis has it; the job id (hash of the exact bytes) drops a replayed body.
      await queues.webhooks.add(
        webhook.type,
        { type: webhook.type, session: session.success ? routingFacts(session.data) : { id: sessionId }, receivedAt: new Date().toISOString() },
        { jobId: jobId.webhook(raw) },
      );
      return reply.code(200).send({ ok: true });
    });
  });

  // ---------------------------------------------------------------- operations
  app.get('/healthz', async () => ({ ok: true }));
  app.get('/readyz', async (_req, reply) => {
    try {
      await deps.redis.ping();
      return { ok: true };
    } catch {
      return reply.code(503).send({ ok: false, error: 'redis unreachable' });
    }
  });

  if (deps.extend) await deps.extend(app);
  return app;
}
