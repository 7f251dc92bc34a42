import type { FastifyInstance, FastifyReply } from 'fastify';
import type { SandboxBank } from './bank.js';
import { SandboxError } from './errors.js';
import { loadWidgetAssets } from './widget-assets.js';
import { CardRefused, tokenize } from './widget-card.js';
import type { Locale } from './widget-text.js';

/**
 * The sandbox's Bank 131 tokenization widget (docs/widget.md has the contract and what of it is
 * confirmed). Served from the sandbox's own origin, at paths that mirror the bank's widget host,
 * so BANK131_WIDGET_URL can be the sandbox's base URL:
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
  const cors = (reply: FastifyReply) =>
    reply
      .header('access-control-allow-origin', '*')
      .header('access-control-allow-methods', 'POST, OPTIONS')
      .header('access-control-allow-headers', 'content-type')
      .header('access-control-max-age', '600');
  const asset = (reply: FastifyReply, type: string, body: string) =>
    reply
      .type(type)
      .header('cache-control', 'no-cache')
      .header('access-control-allow-origin', '*')
      .header('cross-origin-resource-policy', 'cross-origin')
      .header('x-content-type-options', 'nosniff')
      .send(body);

  server.get('/tokenize.js', async (_req, reply) => asset(reply, 'application/javascript; charset=utf-8', files.loaderJs));
  server.get('/tokenize.css', async (_req, reply) => asset(reply, 'text/css; charset=utf-8', files.css));
  server.get('/tokenize/frame.js', async (_req, reply) => asset(reply, 'application/javascript; charset=utf-8', files.frameJs));
  server.get<{ Querystring: Record<string, string | undefined> }>('/tokenize/frame', async (req, reply) => {
    const locale: Locale = req.query.locale === 'en' ? 'en' : 'ru';
    const token = req.query.public_token ?? '';
    const state = token ? await bank.lookupPublicToken(token) : 'unknown';
    const tokenError = state === 'fresh' ? null : state === 'used' ? 'public_token_used' : 'public_token_unknown';
    return (
      reply
        .type('text/html; charset=utf-8')
        .header('cache-control', 'no-store')
        .header('referrer-policy', 'no-referrer')
        .header('x-content-type-options', 'nosniff')
        // Any partner page may frame the form; the form itself runs only its own script.
        .header(
          'content-security-policy',
          "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; form-action 'none'; base-uri 'none'; frame-ancestors *",
        )
        .send(files.frameHtml({ locale, token, parentOrigin: originOf(req.query.origin), tokenError }))
    );
  });

  server.options('/widget/tokenize', async (_req, reply) => cors(reply).code(204).send());
  server.post('/widget/tokenize', async (req, reply) => {
    cors(reply).header('cache-control', 'no-store');
    try {
      return reply.code(200).send(await tokenize(bank, req.body));
    } catch (err) {
      if (err instanceof CardRefused) {
        return reply
          .code(err.httpStatus)
          .send({ status: 'error', error: { code: err.code, description: err.description, fields: err.fields } });
      }
      if (err instanceof SandboxError)
        return reply.code(err.httpStatus).send({ status: 'error', error: { code: err.code, description: err.description } });
      throw err;
    }
  });
}

/** An http(s) origin, or null (the frame then posts with targetOrigin "*"). */
function originOf(value: string | undefined): string | null {
  if (!value) return null;
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.origin : null;
  } catch {
    return null;
  }
}
