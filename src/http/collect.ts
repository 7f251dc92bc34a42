import rateLimit from '@fastify/rate-limit';
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Bank131Client } from '../bank131/client.js';
import { Bank131ApiError } from '../bank131/errors.js';
import { EncryptedCard } from '../bank131/schemas.js';
import type { PayoutRecord } from '../payouts/schemas.js';
import type { WebSettings } from '../settings/web.js';
import type { StepDeps } from '../pipeline/pipeline-deps.js';
import { takeStep } from '../pipeline/take-step.js';
import { COLLECT_ASSETS } from './collect-assets.js';
import {
  collectPage,
  formatAmount,
  languageOf,
  messagePage,
  phaseOf,
  reasonText,
  statusText,
  type CollectPhase,
  type Lang,
} from './collect-page.js';
import { HttpError, errorResponses } from './errors.js';

export interface CollectOptions {
  steps: StepDeps;
  bank: Bank131Client;
  /** BANK131_WIDGET_URL (where the widget's script and style are served) and COLLECT_PAYER_NAME (who the recipient is told pays them). */
  settings: Pick<WebSettings, 'widgetUrl' | 'collectPayerName'>;
  /** Requests per minute per client address on these routes. */
  rateLimitPerMinute?: number;
}

/** The widget's files on its host, and its container (docs/widget.md). */
export const WIDGET_FILES = { script: 'tokenize.js', style: 'tokenize.css', container: 'bank131-tokenize' };

const TokenParams = z.object({ token: z.string().regex(/^[A-Za-z0-9_-]{16,64}$/, 'is not a collection link token') });
const CardAccepted = z.object({ status: z.literal('queued'), last4: z.string(), amount: z.string() });
const CollectStatus = z.object({
  phase: z.enum(['card', 'paying', 'succeeded', 'failed', 'cancelled', 'expired']),
  text: z.string(),
  last4: z.string().nullable(),
});

/**
 * The recipient's side (README "Card collection"): `GET /collect/:token` shows the Bank 131 widget
 * for a payout accepted without a card, `POST /collect/:token/card` takes the card hashes the
 * widget returned, `GET /collect/:token/status` tells the page how the payout goes. Tokens are
 * random, single-use and expire (COLLECT_TTL). The pages send headers fit for a card form, and
 * the routes are rate-limited per client address.
 */
export const collectRoutes: FastifyPluginAsync<CollectOptions> = async (app, options) => {
  const { steps, bank } = options;
  const { store } = steps;
  const widgetBase = options.settings.widgetUrl.replace(/\/+$/, '');
  const widgetOrigin = new URL(widgetBase).origin;
  const csp = [
    "default-src 'none'",
    `script-src 'self' ${widgetOrigin}`,
    `style-src 'self' ${widgetOrigin}`,
    `img-src 'self' data: ${widgetOrigin}`,
    `font-src ${widgetOrigin}`,
    `connect-src 'self' ${widgetOrigin}`,
    `frame-src ${widgetOrigin}`,
    `form-action 'self' ${widgetOrigin}`,
    "base-uri 'none'",
    "frame-ancestors 'none'",
  ].join('; ');

  await app.register(rateLimit, {
    max: options.rateLimitPerMinute ?? 60,
    timeWindow: '1 minute',
    errorResponseBuilder: (_req, ctx) => new HttpError('rate_limited', `too many requests: try again in ${Math.ceil(ctx.ttl / 1000)} s`),
  });
  app.addHook('onSend', async (_req, reply) => {
    reply.header('content-security-policy', csp);
    reply.header('x-frame-options', 'DENY');
    reply.header('x-content-type-options', 'nosniff');
    reply.header('referrer-policy', 'no-referrer');
    if (!reply.hasHeader('cache-control')) reply.header('cache-control', 'no-store');
  });

  const routes = app.withTypeProvider<ZodTypeProvider>();
  const tags = ['collect'];

  /** The payout behind a token, or why there is none. */
  const payoutFor = async (token: string): Promise<PayoutRecord | null> => {
    const id = await store.collectLinks.payoutFor(token);
    return id ? store.get(id) : null;
  };
  const expired = (p: PayoutRecord) =>
    p.state === 'expired' || (p.state === 'awaiting_card' && p.collect !== null && Date.now() >= p.collect.expiresAt);
  const phase = (p: PayoutRecord): CollectPhase => (expired(p) ? 'expired' : phaseOf(p.state));
  const html = (reply: FastifyReply, status: number, body: string) => reply.code(status).type('text/html; charset=utf-8').send(body);

  routes.get(
    '/collect/:token',
    { schema: { tags, summary: 'The recipient’s card page (HTML)', params: TokenParams, produces: ['text/html'] } },
    async (req, reply) => {
      const lang = languageOf(req.headers['accept-language']);
      const payout = await payoutFor(req.params.token);
      if (!payout) return html(reply, 404, messagePage(lang, 'notFound'));
      const now = phase(payout);
      let widget = null;
      if (now === 'card') {
        try {
          const expiresAt = payout.collect?.expiresAt ?? Date.now() + steps.timing.collectTtlMs;
          const publicToken = await store.collectLinks.widgetToken(req.params.token, expiresAt, () => bank.issueWidgetToken());
          widget = {
            publicToken,
            scriptUrl: `${widgetBase}/${WIDGET_FILES.script}`,
            cssUrl: `${widgetBase}/${WIDGET_FILES.style}`,
            origin: widgetOrigin,
          };
        } catch (err) {
          req.log.error({ err: (err as Error).message }, 'could not get a widget token from Bank 131');
          return html(reply, 503, messagePage(lang, 'unavailable'));
        }
      }
      const page = collectPage({
        lang,
        payer: options.settings.collectPayerName,
        amountText: formatAmount(payout.order.amount_details.amount, lang),
        token: req.params.token,
        widget,
        phase: now,
        last4: payout.cardLast4,
        reason: now === 'failed' ? reasonText(payout.errorCode, lang) : null,
      });
      return html(reply, now === 'expired' ? 410 : 200, page);
    },
  );

  routes.post(
    '/collect/:token/card',
    {
      bodyLimit: 16 * 1024,
      schema: {
        tags,
        summary: 'The card hashes the widget returned',
        description: 'Asks Bank 131 for the card’s last 4 digits, stores the hashes on the payout and starts it. The link is single-use.',
        params: TokenParams,
        body: EncryptedCard.strict(),
        response: {
          202: CardAccepted,
          ...errorResponses('invalid_request', 'not_found', 'link_used', 'link_expired', 'card_refused', 'rate_limited', 'unavailable'),
        },
      },
    },
    async (req, reply) => {
      const lang = languageOf(req.headers['accept-language']);
      const payout = await payoutFor(req.params.token);
      if (!payout) throw new HttpError('not_found', 'no such collection link');
      if (expired(payout)) throw new HttpError('link_expired');
      if (payout.state !== 'awaiting_card') throw new HttpError('link_used');
      // The widget spends its public token to make these hashes: should this card be refused, the
      // page reloaded for another one needs a fresh token.
      await store.collectLinks.forgetWidgetToken(req.params.token);
      let last4: string;
      try {
        last4 = (await bank.tokenInfo(req.body.number_hash)).last4;
      } catch (err) {
        if (err instanceof Bank131ApiError && !err.retryable)
          throw new HttpError('card_refused', `Bank 131 does not know this card (${err.code})`);
        throw err;
      }
      const r = await takeStep(steps, 'receiveCard', payout, { card: req.body, last4 });
      if (!r.ok) throw new HttpError('link_used');
      return reply.code(202).send({ status: 'queued' as const, last4, amount: formatAmount(payout.order.amount_details.amount, lang) });
    },
  );

  routes.get(
    '/collect/:token/status',
    {
      schema: {
        tags,
        summary: 'How the payout behind a link goes (the page polls it)',
        params: TokenParams,
        response: { 200: CollectStatus, ...errorResponses('invalid_request', 'not_found', 'rate_limited', 'unavailable') },
      },
      config: { rateLimit: { max: 600, timeWindow: '1 minute' } },
    },
    async (req) => {
      const lang: Lang = languageOf(req.headers['accept-language']);
      const payout = await payoutFor(req.params.token);
      if (!payout) throw new HttpError('not_found', 'no such collection link');
      const now = phase(payout);
      const amountText = formatAmount(payout.order.amount_details.amount, lang);
      const reason = now === 'failed' ? reasonText(payout.errorCode, lang) : null;
      return { phase: now, text: statusText({ lang, phase: now, amountText, last4: payout.cardLast4, reason }), last4: payout.cardLast4 };
    },
  );

  for (const [file, asset] of Object.entries(COLLECT_ASSETS)) {
    app.get(`/collect/assets/${file}`, { schema: { hide: true }, config: { rateLimit: false } }, async (_req, reply) =>
      reply.type(asset.type).header('cache-control', 'public, max-age=300').send(asset.body),
    );
  }
};
