import rateLimit from '@fastify/rate-limit';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Bank131Client } from '../bank131/client.js';
import { Bank131ApiError } from '../bank131/errors.js';
import { EncryptedCard, type TokenInfo } from '../bank131/schemas.js';
import { TaxReference, type PayoutRecord } from '../payouts/schemas.js';
import type { WebSettings } from '../settings/web.js';
import type { StepDeps } from '../pipeline/pipeline-deps.js';
import { takeStep } from '../pipeline/take-step.js';
import type { LinkMarks } from '../store/collect-links.js';
import { newCardId, type RecipientCardLink, type RecipientRecord } from '../store/recipient-store.js';
import { COLLECT_ASSETS } from './collect-assets.js';
import {
  COLLECT_PHASES,
  boundText,
  cardHint,
  collectPage,
  formatAmount,
  languageOf,
  messagePage,
  payerName,
  reasonText,
  statusText,
  viewOf,
  WIDGET_PROBLEMS,
  type CollectPageData,
  type CollectView,
  type Lang,
  type LinkFacts,
} from './collect-page.js';
import { HttpError, errorResponses, invalidRequest } from './errors.js';

export interface CollectOptions {
  steps: StepDeps;
  bank: Bank131Client;
  /**
   * BANK131_WIDGET_URL (where the widgets' scripts and styles are served), and COLLECT_PAYER_NAME
   * (who the recipient is told pays them) or, unset, the host name that stands for it.
   */
  settings: Pick<WebSettings, 'widgetUrl' | 'collectPayerName' | 'collectPayerHost'>;
  /** Requests per minute per client address on these routes. */
  rateLimitPerMinute?: number;
}

/** The tokenization widget's files on its host, and its container (docs/widget.md). */
export const WIDGET_FILES = { script: 'tokenize.js', style: 'tokenize.css', container: 'bank131-tokenize' };
/** The bank's self-employed widget (docs/widget.md §1, the bank's documented pattern). */
export const SELF_EMPLOYED_WIDGET_FILES = { script: 'self-employed.js', style: 'self-employed.css', container: 'bank131-self-employed' };

const TokenParams = z.object({ token: z.string().regex(/^[A-Za-z0-9_-]{16,64}$/, 'is not a collection link token') });
const Phase = z.enum(COLLECT_PHASES);
const Ask = z.enum(['card', 'self_employed']).nullable().describe('the widget the page shows now');
const CardAccepted = z.object({ status: z.literal('queued'), last4: z.string(), amount: z.string() }).describe('the payout starts');
const CardSaved = z
  .object({ status: z.literal('saved'), phase: Phase, last4: z.string(), text: z.string() })
  .describe("saved as the recipient's card");
const Bound = z.object({
  status: z.literal('bound'),
  phase: Phase,
  ask: Ask,
  hint: z.string().describe('what to do next, above the widget the page shows now'),
  text: z.string(),
});
const SelfEmployedBody = z.strictObject({ tax_reference: TaxReference });
const CollectStatus = z.object({ phase: Phase, text: z.string(), last4: z.string().nullable(), ask: Ask });
const WidgetProblemBody = z.strictObject({
  widget: z.enum(['card', 'self_employed']).describe('the widget that failed: the card one or the self-employed one'),
  reason: z.enum(WIDGET_PROBLEMS),
  code: z
    .string()
    .regex(/^[a-z][a-z0-9_]{0,39}$/, 'is not a widget error code')
    .optional()
    .describe("the widget's own error code, when it reported one (`public_token_used`, `internal_error` …)"),
});
/** The widget's errors saying its public token cannot be used (again): the link forgets the token. */
const SPENT_TOKEN_CODES = new Set(['public_token_used', 'public_token_unknown']);
/** Reports logged per link and web process; more are answered alike and dropped, so one page cannot flood the log. */
const REPORTS_PER_LINK = 3;
/** Links whose reports are counted at once, per web process; past it the oldest count is forgotten. */
const REPORTS_TRACKED = 10_000;

/** A collection link as the routes see it: a payout's, or a saved recipient's card link. */
type Link =
  | { kind: 'payout'; token: string; key: string; payout: PayoutRecord; recipient: RecipientRecord | null; marks: LinkMarks }
  | { kind: 'recipient'; token: string; key: string; link: RecipientCardLink; recipient: RecipientRecord | null };

/**
 * The recipient's side (docs/api.md, "Card collection" and "Recipients"): `GET /collect/:token` shows the
 * Bank 131 widget for a payout accepted without a card, or for a saved recipient's card link;
 * `POST /collect/:token/card` takes the card hashes the widget returned; `POST
 * /collect/:token/self-employed` records that a self-employed recipient bound through the bank's
 * widget, the step before the card when the payout carries fiscalization; `GET
 * /collect/:token/status` tells the page how the payout goes; `POST /collect/:token/widget-problem`
 * is the page saying a widget could not be used, logged as one warning so that an operator learns
 * why recipients cannot give a card. A failed payout's page offers a widget only where it can take
 * what it asks for (src/http/collect-page.ts viewOf), and otherwise says what happens next. Tokens are random, single-use and expire (COLLECT_TTL). The pages send
 * headers fit for a card form, and the routes are rate-limited per client address.
 */
export const collectRoutes: FastifyPluginAsync<CollectOptions> = async (app, options) => {
  const { steps, bank } = options;
  const { store } = steps;
  const links = store.collectLinks;
  const { collectPayerName, collectPayerHost } = options.settings;
  if (!collectPayerName)
    app.log.warn(
      { setting: 'COLLECT_PAYER_NAME', shown: collectPayerHost ?? 'the host name each request names' },
      'COLLECT_PAYER_NAME is not set: card pages tell recipients a host name pays them; set it to the name they know you by',
    );
  const payerOf = (req: FastifyRequest) => payerName(collectPayerName, collectPayerHost, req.hostname);
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

  /** The link behind a token, in either index, with the recipient it concerns; null when there is none. */
  const linkFor = async (token: string, req?: FastifyRequest): Promise<Link | null> => {
    const payoutId = await links.payoutFor(token);
    // the access line of a card page names its payout (never the token)
    if (payoutId && req) req.payoutId = payoutId;
    const payout = payoutId ? await store.get(payoutId) : null;
    if (payout) {
      const key = links.payoutLinkKey(token);
      const [recipient, marks] = await Promise.all([
        payout.recipientId ? store.recipients.get(payout.tenant, payout.recipientId) : null,
        links.marks(key),
      ]);
      return { kind: 'payout', token, key, payout, recipient, marks };
    }
    const link = await store.recipients.cardLink(token);
    if (!link) return null;
    const recipient = link.owner ? await store.recipients.get(link.owner.tenant, link.owner.recipientId) : null;
    if (link.owner && !recipient) return null;
    return { kind: 'recipient', token, key: store.recipients.linkKey(token), link, recipient };
  };

  const recipientFacts = (r: RecipientRecord | null) =>
    r
      ? {
          bound: r.selfEmployed === 'bound',
          taxReference: r.taxReference,
          card: r.card ? { id: r.card.id, status: r.card.status, last4: r.card.last4, savedAt: r.card.savedAt } : null,
        }
      : null;
  const factsOf = (l: Link): LinkFacts =>
    l.kind === 'payout'
      ? {
          kind: 'payout',
          now: Date.now(),
          state: l.payout.state,
          expiresAt: l.payout.collect?.expiresAt ?? null,
          errorCode: l.payout.errorCode,
          cardLast4: l.payout.cardLast4,
          cardId: l.payout.cardId,
          finishedAt: l.payout.finishedAt,
          taxReference: l.payout.taxReference,
          recipient: recipientFacts(l.recipient),
          marks: { selfEmployed: l.marks.selfEmployed, replaced: l.marks.replaced },
        }
      : {
          kind: 'recipient',
          now: Date.now(),
          expiresAt: l.link.expiresAt,
          live: l.link.owner !== null,
          spent: l.link.spent,
          recipient: recipientFacts(l.recipient),
        };
  /** Whose tax reference a self-employed step binds: the payout's, or the card link's recipient's. */
  const taxReferenceOf = (l: Link): string | null => (l.kind === 'payout' ? l.payout.taxReference : (l.recipient?.taxReference ?? null));
  /** When the link stops taking anything (ms). */
  const expiryOf = (l: Link): number =>
    l.kind === 'payout' ? (l.payout.collect?.expiresAt ?? Date.now() + steps.timing.collectTtlMs) : l.link.expiresAt;
  const amountOf = (l: Link, lang: Lang): string | null =>
    l.kind === 'payout' ? formatAmount(l.payout.order.amount_details.amount, lang) : null;
  const reasonOf = (l: Link, view: CollectView, lang: Lang) =>
    view.phase === 'failed' && l.kind === 'payout' ? reasonText(l.payout.errorCode, lang) : null;
  const textOf = (l: Link, view: CollectView, lang: Lang, payer: string) =>
    statusText({ lang, payer, view, amountText: amountOf(l, lang) ?? '', reason: reasonOf(l, view, lang) });
  const html = (reply: FastifyReply, status: number, body: string) => reply.code(status).type('text/html; charset=utf-8').send(body);
  const langOf = (req: FastifyRequest) => languageOf(req.headers['accept-language']);

  /** The widgets a page asking for `view` needs, with their public tokens (one per link and widget, kept until spent). */
  const widgetsFor = async (l: Link, view: CollectView): Promise<CollectPageData['widgets']> => {
    const wantsCard = view.ask === 'card' || (view.ask === 'self_employed' && view.afterBind === 'card');
    const taxReference = taxReferenceOf(l);
    const wantsBind = view.ask === 'self_employed' && taxReference !== null;
    if (!wantsCard && !wantsBind) return null;
    const expiresAt = expiryOf(l);
    const [card, selfEmployed] = await Promise.all([
      wantsCard ? links.widgetToken(l.key, expiresAt, () => bank.issueWidgetToken()) : null,
      wantsBind ? links.selfEmployedWidgetToken(l.key, expiresAt, () => bank.issueSelfEmployedWidgetToken(taxReference)) : null,
    ]);
    return {
      origin: widgetOrigin,
      card: card
        ? { publicToken: card, scriptUrl: `${widgetBase}/${WIDGET_FILES.script}`, cssUrl: `${widgetBase}/${WIDGET_FILES.style}` }
        : null,
      selfEmployed:
        selfEmployed && taxReference
          ? {
              publicToken: selfEmployed,
              scriptUrl: `${widgetBase}/${SELF_EMPLOYED_WIDGET_FILES.script}`,
              cssUrl: `${widgetBase}/${SELF_EMPLOYED_WIDGET_FILES.style}`,
              taxReference,
            }
          : null,
    };
  };

  routes.get(
    '/collect/:token',
    { schema: { tags, summary: 'The recipient’s card page (HTML)', params: TokenParams, produces: ['text/html'] } },
    async (req, reply) => {
      const lang = langOf(req);
      const link = await linkFor(req.params.token, req);
      if (!link) return html(reply, 404, messagePage(lang, 'notFound'));
      const view = viewOf(factsOf(link));
      let widgets: CollectPageData['widgets'];
      try {
        widgets = await widgetsFor(link, view);
      } catch (err) {
        req.log.error({ err: (err as Error).message }, 'could not get a widget token from Bank 131');
        return html(reply, 503, messagePage(lang, 'unavailable'));
      }
      const page = collectPage({
        lang,
        payer: payerOf(req),
        amountText: amountOf(link, lang),
        token: req.params.token,
        view,
        reason: reasonOf(link, view, lang),
        widgets,
      });
      return html(reply, view.phase === 'expired' ? 410 : 200, page);
    },
  );

  routes.post(
    '/collect/:token/card',
    {
      bodyLimit: 16 * 1024,
      schema: {
        tags,
        summary: 'The card hashes the widget returned',
        description:
          "Asks Bank 131 for the card's brand and last 4 digits. A payout's link: stores the hashes on the payout and starts it (202), and saves the card for the payout's saved recipient, if it has one. A recipient's card link: saves the card as theirs (201). A failed payout's page that offers a new card (its recipient's saved card was found unusable): saves the new card for the recipient (201); the payout stays failed. Each link takes one card.",
        params: TokenParams,
        body: EncryptedCard.strict(),
        response: {
          202: CardAccepted,
          201: CardSaved,
          ...errorResponses('invalid_request', 'not_found', 'link_used', 'link_expired', 'card_refused', 'rate_limited', 'unavailable'),
        },
      },
    },
    async (req, reply) => {
      const lang = langOf(req);
      const link = await linkFor(req.params.token, req);
      if (!link) throw new HttpError('not_found', 'no such collection link');
      const view = viewOf(factsOf(link));
      if (view.phase === 'expired') throw new HttpError('link_expired');
      if (view.ask === 'self_employed' && view.afterBind === 'card')
        throw new HttpError(
          'invalid_request',
          'the self-employed step comes first on this link: bind through the bank’s widget, then give the card',
        );
      if (view.ask !== 'card') throw new HttpError('link_used');
      // The widget spends its public token to make these hashes: should this card be refused, the
      // page reloaded for another one needs a fresh token.
      await links.forgetWidgetToken(link.key);
      let info: TokenInfo;
      try {
        info = await bank.tokenInfo(req.body.number_hash);
      } catch (err) {
        if (err instanceof Bank131ApiError && !err.retryable)
          throw new HttpError('card_refused', `Bank 131 does not know this card (${err.code})`);
        throw err;
      }
      const card = { hashes: req.body, brand: info.brand ?? 'unknown', last4: info.last4 };

      if (link.kind === 'payout' && view.cardFor === 'payout') {
        const { payout } = link;
        // A payout to a saved recipient: the card is theirs from now on, under one id on both, so
        // that a decline calling it unusable marks it invalid on the recipient (transition.lua).
        const cardId = payout.recipientId ? newCardId() : undefined;
        const input = { card: req.body, last4: info.last4, ...(cardId ? { cardId } : {}) };
        const r = await takeStep(steps, 'receiveCard', payout, input);
        if (!r.ok) throw new HttpError('link_used');
        if (payout.recipientId && cardId) {
          const saved = await store.recipients.saveCard(payout.tenant, payout.recipientId, card, cardId);
          if (!saved)
            req.log.warn(
              { payoutId: payout.id, recipientId: payout.recipientId },
              'the payout’s recipient is gone: its card was not saved',
            );
        }
        return reply
          .code(202)
          .send({ status: 'queued' as const, last4: info.last4, amount: formatAmount(payout.order.amount_details.amount, lang) });
      }

      const outcome =
        link.kind === 'recipient'
          ? await store.recipients.saveCardThroughLink(link.link, card)
          : link.recipient
            ? await store.recipients.replaceInvalidCard(
                link.payout.tenant,
                link.recipient.id,
                card,
                links.replacedKey(link.key),
                expiryOf(link) - Date.now(),
              )
            : ({ ok: false, why: 'missing' } as const);
      if (!outcome.ok) {
        if (outcome.why === 'expired') throw new HttpError('link_expired');
        if (outcome.why === 'missing') throw new HttpError('not_found', 'no such collection link');
        throw new HttpError('link_used');
      }
      const now = await linkFor(req.params.token, req);
      const after = now ? viewOf(factsOf(now)) : view;
      return reply.code(201).send({
        status: 'saved' as const,
        phase: after.phase,
        last4: info.last4,
        text: now ? textOf(now, after, lang, payerOf(req)) : '',
      });
    },
  );

  routes.post(
    '/collect/:token/self-employed',
    {
      schema: {
        tags,
        summary: 'The self-employed recipient bound through the bank’s widget',
        description:
          "Posted by the page when Bank 131's self-employed widget says the recipient allowed the bank to register their income (`bound`). `tax_reference` must be the one the link is for. Recorded on the saved recipient (`self_employed: bound`), or on the link for a payout without one; the page then shows the card widget, or (a payout that failed with `taxpayer_not_bound`) asks the recipient to have the payout sent again.",
        params: TokenParams,
        body: SelfEmployedBody,
        response: {
          200: Bound,
          ...errorResponses('invalid_request', 'invalid_json', 'not_found', 'link_used', 'link_expired', 'rate_limited', 'unavailable'),
        },
      },
    },
    async (req) => {
      const lang = langOf(req);
      const link = await linkFor(req.params.token, req);
      if (!link) throw new HttpError('not_found', 'no such collection link');
      const view = viewOf(factsOf(link));
      if (view.phase === 'expired') throw new HttpError('link_expired');
      const taxReference = taxReferenceOf(link);
      if (taxReference === null || req.body.tax_reference !== taxReference)
        throw invalidRequest([
          {
            field: 'tax_reference',
            problem: taxReference === null ? 'this link is for no self-employed recipient' : 'is not the tax reference this link is for',
          },
        ]);
      if (view.ask === 'self_employed') {
        if (link.recipient) await store.recipients.markSelfEmployedBound(link.recipient.tenant, link.recipient.id);
        await links.markSelfEmployed(link.key, view.afterBind === 'again' ? 'rebound' : 'bound', expiryOf(link));
        await links.forgetSelfEmployedWidgetToken(link.key);
      } else if (!(view.phase === 'card' || (view.phase === 'failed' && view.next === 'bound'))) {
        throw new HttpError('link_used', 'this link asks for no self-employed step now');
      }
      // asked again once done (a second message, a reload): the same answer
      const now = (await linkFor(req.params.token, req)) ?? link;
      const after = viewOf(factsOf(now));
      const payer = payerOf(req);
      return {
        status: 'bound' as const,
        phase: after.phase,
        ask: after.ask,
        hint: after.ask === 'card' ? cardHint(lang, payer, after) : '',
        text: after.phase === 'card' ? boundText(lang) : textOf(now, after, lang, payer),
      };
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
      const lang: Lang = langOf(req);
      const link = await linkFor(req.params.token, req);
      if (!link) throw new HttpError('not_found', 'no such collection link');
      const view = viewOf(factsOf(link));
      return { phase: view.phase, text: textOf(link, view, lang, payerOf(req)), last4: view.last4, ask: view.ask };
    },
  );

  /** Reports logged per link in this process (insertion order: the oldest is forgotten first). */
  const reported = new Map<string, number>();
  routes.post(
    '/collect/:token/widget-problem',
    {
      bodyLimit: 256,
      schema: {
        tags,
        summary: 'The page could not use a Bank 131 widget',
        description:
          "Posted by the page's script when a widget's script did not load, rendering it failed, the widget reported an error that is not the recipient's typing, or it said nothing in time. Logged as one warning naming the payout (or the recipient) and the reason; a few per link, then dropped alike. When the widget says its public token is spent or unknown, the link's token is forgotten, so that the page reloaded gets a fresh one.",
        params: TokenParams,
        body: WidgetProblemBody,
        response: {
          204: z.null().describe('noted'),
          ...errorResponses(
            'invalid_request',
            'invalid_json',
            'not_found',
            'body_too_large',
            'unsupported_media_type',
            'rate_limited',
            'unavailable',
          ),
        },
      },
    },
    async (req, reply) => {
      const link = await linkFor(req.params.token, req);
      if (!link) throw new HttpError('not_found', 'no such collection link');
      const count = reported.get(link.key) ?? 0;
      if (count >= REPORTS_PER_LINK) return reply.code(204).send(null);
      reported.delete(link.key);
      reported.set(link.key, count + 1);
      if (reported.size > REPORTS_TRACKED) reported.delete(reported.keys().next().value!);

      const { widget, reason, code } = req.body;
      const view = viewOf(factsOf(link));
      const whose =
        link.kind === 'payout'
          ? { payoutId: link.payout.id, tenant: link.payout.tenant }
          : { recipientId: link.link.owner?.recipientId ?? null, tenant: link.link.owner?.tenant ?? null };
      if (link.kind === 'payout') req.payoutId = link.payout.id;
      req.log.warn(
        { ...whose, widget, reason, ...(code ? { code } : {}), phase: view.phase },
        'a card page could not use the Bank 131 widget',
      );
      // a spent or unknown public token stays spent: the page reloaded must get another
      if (reason === 'widget_error' && code && SPENT_TOKEN_CODES.has(code)) {
        if (widget === 'card') await links.forgetWidgetToken(link.key);
        else await links.forgetSelfEmployedWidgetToken(link.key);
      }
      return reply.code(204).send(null);
    },
  );

  for (const [file, asset] of Object.entries(COLLECT_ASSETS)) {
    app.get(`/collect/assets/${file}`, { schema: { hide: true }, config: { rateLimit: false } }, async (_req, reply) =>
      reply.type(asset.type).header('cache-control', 'public, max-age=300').send(asset.body),
    );
  }
};
