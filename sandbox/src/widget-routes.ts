import type { FastifyInstance } from 'fastify';
import type { SandboxBank } from './bank.js';
import { SandboxError } from './errors.js';
import { loadWidgetAssets } from './widget-assets.js';
import { CardRefused, tokenize } from './widget-card.js';
import { CSS, JS, asset, cors, framePage, originOf, refuseWidgetCall } from './widget-http.js';
import { registerSelfEmployedWidget } from './widget-self-employed.js';
import type { Locale } from './widget-text.js';

/**
 * The sandbox's Bank 131 widgets. The tokenization widget (docs/widget.md has the contract and what
 * of it is confirmed) is here; the self-employed widget is in sandbox/src/widget-self-employed.ts.
 * Served from the sandbox's own origin, at paths that mirror the bank's widget host, so
 * BANK131_WIDGET_URL can be the sandbox's base URL:
 *
 *   GET  /tokenize.js       the script a partner page loads: defines window.Bank131Tokenize
 *   GET  /tokenize.css      its stylesheet (the container, and the form inside the frame)
 *   GET  /tokenize/frame    the card form, rendered in an iframe on the widget's origin
 *   GET  /tokenize/frame.js the form's behaviour
 *   POST /widget/tokenize   the form's call: public token + typed card in, card hashes out
 *
 * The card form lives in an iframe on the widget's origin, so the partner page never sees card
 * data; the frame posts the outcome to the page with window.postMessage.
 */
export function registerWidget(server: FastifyInstance, bank: SandboxBank): void {
  const files = loadWidgetAssets();

  server.get('/tokenize.js', async (_req, reply) => asset(reply, JS, files.loaderJs));
  server.get('/tokenize.css', async (_req, reply) => asset(reply, CSS, files.css));
  server.get('/tokenize/frame.js', async (_req, reply) => asset(reply, JS, files.frameJs));
  server.get<{ Querystring: Record<string, string | undefined> }>('/tokenize/frame', async (req, reply) => {
    const locale: Locale = req.query.locale === 'en' ? 'en' : 'ru';
    const token = req.query.public_token ?? '';
    const state = token ? await bank.lookupPublicToken(token) : 'unknown';
    const tokenError = state === 'fresh' ? null : state === 'used' ? 'public_token_used' : 'public_token_unknown';
    return framePage(reply, files.frameHtml({ locale, token, parentOrigin: originOf(req.query.origin), tokenError }));
  });

  server.options('/widget/tokenize', async (_req, reply) => cors(reply).code(204).send());
  server.post('/widget/tokenize', async (req, reply) => {
    cors(reply).header('cache-control', 'no-store');
    try {
      return reply.code(200).send(await tokenize(bank, req.body));
    } catch (err) {
      if (err instanceof CardRefused) return refuseWidgetCall(reply, err, { fields: err.fields });
      if (err instanceof SandboxError) return refuseWidgetCall(reply, err);
      throw err;
    }
  });

  registerSelfEmployedWidget(server, bank, files.selfEmployed);
}
