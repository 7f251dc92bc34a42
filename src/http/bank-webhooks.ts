import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { WebhookSignatureError } from '../bank131/errors.js';
import { SIGNATURE_HEADER, checkSignature } from '../bank131/signature.js';
import { webhookBody } from '../payouts/schemas.js';
import type { WebSettings } from '../settings/web.js';
import { jobId, webhookQueueOf, WEBHOOK_REPLAY_WINDOW_MS, type Queues } from '../queues.js';
import { webhooksReceived, webhooksRefused } from '../metrics.js';
import { HttpError, errorResponses } from './errors.js';

const Ack = z.object({ ok: z.literal(true) });

/**
 * What the route reads of a verified webhook: its type (to name the job) and its session id (a
 * webhook without one has nothing to act on). Anything else is the worker's to read, from the
 * signed bytes themselves.
 */
function outline(raw: Buffer): { type: string; sessionId: string | null } | null {
  try {
    const json = JSON.parse(raw.toString('utf8')) as { type?: unknown; session?: { id?: unknown } | null } | null;
    const id = json?.session?.id;
    return {
      type: typeof json?.type === 'string' ? json.type.slice(0, 100) : 'unknown',
      sessionId: typeof id === 'string' && id ? id : null,
    };
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
export const bankWebhookRoutes: FastifyPluginAsync<{ queues: Queues; settings: { bank: Pick<WebSettings['bank'], 'publicKey'> } }> = async (
  app,
  { queues, settings },
) => {
  const bankPublicKey = settings.bank.publicKey;
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

  app.withTypeProvider<ZodTypeProvider>().post(
    '/webhooks/bank131',
    {
      schema: {
        tags: ['bank131'],
        summary: 'Bank 131 webhooks (give this URL to your Bank 131 manager)',
        description:
          'Signed by the bank (`X-PARTNER-SIGN`, RSA-SHA256 over the raw body). 200 once the webhook is durably enqueued, with the signed bytes and the signature as received (the worker verifies them again before it acts); 401 for a bad or missing signature. A correctly signed webhook is never refused for its content.',
        response: { 200: Ack, ...errorResponses('invalid_signature', 'body_too_large', 'unavailable') },
      },
    },
    async (req: FastifyRequest) => {
      const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      const header = req.headers[SIGNATURE_HEADER];
      const signature = typeof header === 'string' ? header : undefined;
      const check = checkSignature(raw, signature, bankPublicKey);
      if (!check.ok) {
        const err = new WebhookSignatureError(check.reason, signature, raw);
        req.log.warn({ reason: err.reason, bytes: raw.length }, 'refused a webhook with a bad signature');
        webhooksRefused.inc({ reason: err.reason });
        throw new HttpError('invalid_signature', err.message);
      }
      const webhook = outline(raw);
      if (!webhook) {
        req.log.error({ bytes: raw.length }, 'signed webhook that is not JSON; acknowledged');
        return { ok: true as const };
      }
      if (!webhook.sessionId) {
        req.log.warn({ type: webhook.type }, 'signed webhook without a session; acknowledged and logged');
        return { ok: true as const };
      }
      // 200 only once Redis has it. The job carries the signed bytes and the signature, never our
      // reading of them: the worker verifies again before it acts. A replayed body (same bytes,
      // same hash) is dropped at enqueue for a day by a small deduplication key.
      const id = jobId.webhook(raw);
      // to the queue of the step it feeds (a replay is dropped there, by the same key)
      await webhookQueueOf(queues, webhook.type).add(
        webhook.type,
        { type: webhook.type, ...webhookBody(raw), signature: signature!, receivedAt: new Date().toISOString() },
        { jobId: id, deduplication: { id, ttl: WEBHOOK_REPLAY_WINDOW_MS } },
      );
      webhooksReceived.inc({ type: webhook.type });
      return { ok: true as const };
    },
  );
};
