import type { FastifyInstance } from 'fastify';
import type { SandboxBank } from './bank.js';
import { SandboxError } from './errors.js';
import { isSelfEmployed } from './taxpayers.js';
import type { WidgetAssets } from './widget-assets.js';
import { CSS, JS, asset, cors, framePage, originOf, refuseWidgetCall } from './widget-http.js';
import type { Locale } from './widget-text.js';

/**
 * The sandbox's Bank 131 self-employed widget: a self-employed person allows the bank to register
 * their income (binds their tax reference to the bank), which a self-employed payout
 * (session/start|init/payout/fiscalization) needs. Its loader follows the bank's documented widget
 * (developer.131.ru/en/widget/selfemployed-widget: self-employed.js and .css,
 * `new Bank131SelfEmployed({ publicToken, stage, initialValues }).render()` into
 * `#bank131-self-employed`, results as window messages); its frame, messages and call are the
 * sandbox's, shaped like the tokenization widget's (sandbox/README.md has the contract):
 *
 *   GET  /self-employed.js             the script a partner page loads: defines window.Bank131SelfEmployed
 *   GET  /self-employed.css            its stylesheet (the container, and the page inside the frame)
 *   GET  /self-employed/frame          the "Allow" page, in an iframe on the widget's origin
 *   GET  /self-employed/frame.js       the page's behaviour
 *   POST /widget/self-employed/bind    the page's call: spends the public token, binds its tax reference
 *
 * The public token comes from POST /api/v1/token {"self_employed_widget":{"tax_reference":"…"}}
 * and names the person: the page shows (masked) and binds that reference only.
 */
export function registerSelfEmployedWidget(server: FastifyInstance, bank: SandboxBank, files: WidgetAssets['selfEmployed']): void {
  server.get('/self-employed.js', async (_req, reply) => asset(reply, JS, files.loaderJs));
  server.get('/self-employed.css', async (_req, reply) => asset(reply, CSS, files.css));
  server.get('/self-employed/frame.js', async (_req, reply) => asset(reply, JS, files.frameJs));
  server.get<{ Querystring: Record<string, string | undefined> }>('/self-employed/frame', async (req, reply) => {
    const locale: Locale = req.query.locale === 'en' ? 'en' : 'ru';
    const stage = req.query.stage === 'check' ? 'check' : 'bind';
    const token = req.query.public_token ?? '';
    const { state, taxReference } = token ? await bank.lookupSelfEmployedToken(token) : { state: 'unknown' as const, taxReference: '' };
    const error =
      state === 'used'
        ? 'public_token_used'
        : state === 'unknown'
          ? 'public_token_unknown'
          : isSelfEmployed(taxReference)
            ? null
            : 'taxpayer_unknown';
    const bound = error ? false : (await bank.taxpayer(taxReference)).bound;
    const html = files.frameHtml({ locale, token, parentOrigin: originOf(req.query.origin), stage, taxReference, bound, error });
    return framePage(reply, html);
  });

  server.options('/widget/self-employed/bind', async (_req, reply) => cors(reply).code(204).send());
  // Body: {"public_token"}. 200: {"status":"ok","tax_reference","bound":true}.
  server.post('/widget/self-employed/bind', async (req, reply) => {
    cors(reply).header('cache-control', 'no-store');
    try {
      const token = (req.body as { public_token?: unknown } | null)?.public_token;
      if (typeof token !== 'string' || token.trim() === '') throw new SandboxError('invalid_request', 'public_token: is required');
      const taxpayer = await bank.bindWithSelfEmployedToken(token.trim());
      return reply.code(200).send({ status: 'ok', tax_reference: taxpayer.tax_reference, bound: taxpayer.bound });
    } catch (err) {
      if (err instanceof SandboxError) return refuseWidgetCall(reply, err);
      throw err;
    }
  });
}
