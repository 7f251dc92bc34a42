import type { KeyObject } from 'node:crypto';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { WebhookPayloadError, WebhookSignatureError } from '../bank131/errors.js';
import { BankSession, isKnownWebhook } from '../bank131/schemas.js';
import { SIGNATURE_HEADER } from '../bank131/signature.js';
import { verifyWebhook } from '../bank131/webhook.js';
import { jobId, WEBHOOK_REPLAY_WINDOW_MS, type Queues } from '../queues.js';
import { webhooksReceived, webhooksRefused } from '../metrics.js';
import { HttpError, errorResponses } from './errors.js';

const Ack = z.object({ ok: z.literal(true) });

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

/**
 * POST /webhooks/bank131. The signature is checked over the exact bytes before anything reads
 * them (so this scope parses every body as a raw buffer). A bad signature is 401 and enqueues
 * nothing; a correctly signed webhook is never refused for its content (the bank would re-send
 * it forever): it is answered 200 once it is in Redis, and whatever session it names is acted on.
 */
export const bankWebhookRoutes: FastifyPluginAsync<{ queues: Queues; bankPublicKey: KeyObject }> = async (app, { queues, bankPublicKey }) => {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

  app.withTypeProvider<ZodTypeProvider>().post(
    '/webhooks/bank131',
    {
      schema: {
        tags: ['bank131'],
        summary: 'Bank 131 webhooks (give this URL to your Bank 131 manager)',
        description: 'Signed by the bank (`X-PARTNER-SIGN`, RSA-SHA256 over the raw body). 200 once the webhook is durably enqueued; 401 for a bad or missing signature.',
        response: { 200: Ack, ...errorResponses('invalid_signature', 'body_too_large', 'unavailable') },
      },
    },
    async (req: FastifyRequest) => {
      const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      const header = req.headers[SIGNATURE_HEADER];
      let webhook;
      let readable = true;
      try {
        webhook = verifyWebhook(raw, typeof header === 'string' ? header : undefined, bankPublicKey);
      } catch (err) {
        if (err instanceof WebhookSignatureError) {
          req.log.warn({ reason: err.reason, bytes: raw.length }, 'refused a webhook with a bad signature');
          webhooksRefused.inc({ reason: err.reason });
          throw new HttpError('invalid_signature', err.message);
        }
        if (!(err instanceof WebhookPayloadError)) throw err;
        req.log.error({ err: err.message }, 'signed webhook we cannot read; acknowledged');
        readable = false;
        webhook = looseWebhook(raw);
        if (!webhook) return { ok: true as const };
      }
      const sessionId = webhook.session?.id;
      if (!sessionId) {
        req.log.warn({ type: webhook.type }, 'signed webhook without a session; acknowledged and logged');
        return { ok: true as const };
      }
      // A readable webhook of a known type had its session parsed with it; any other is read here.
      const session = readable && isKnownWebhook(webhook) ? { success: true as const, data: webhook.session } : BankSession.safeParse(webhook.session);
      // 200 only once Redis has it. A replayed body (same bytes, same hash) is dropped at enqueue
      // for a day by a small deduplication key, not by keeping every finished webhook job that long.
      const id = jobId.webhook(raw);
      await queues.webhooks.add(
        webhook.type,
        { type: webhook.type, session: session.success ? routingFacts(session.data) : { id: sessionId }, receivedAt: new Date().toISOString() },
        { jobId: id, deduplication: { id, ttl: WEBHOOK_REPLAY_WINDOW_MS } },
      );
      webhooksReceived.inc({ type: webhook.type });
      return { ok: true as const };
    },
  );
};
