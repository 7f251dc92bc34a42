import rateLimit from '@fastify/rate-limit';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { CrashPoints, StepDeps } from '../pipeline/pipeline-deps.js';
import { decideReview } from '../pipeline/review.js';
import type { Queues } from '../queues.js';
import type { WebSettings } from '../settings/web.js';
import type { PayoutStore } from '../store/payout-store.js';
import { CONSOLE_ASSETS } from './assets.js';
import { flashOf, flashQuery, type FlashCode } from './flash.js';
import { messagePage, payoutPath, type Chrome, type Section } from './pages/layout.js';
import { loginPage } from './pages/login.js';
import { overviewPage } from './pages/overview.js';
import { payoutPage } from './pages/payout.js';
import { reviewPage } from './pages/review.js';
import { searchPage } from './pages/search.js';
import { overviewData, payoutPageData, reviewQueue } from './reads.js';
import { SearchForm, planSearch, runSearch } from './search.js';
import {
  SESSION_COOKIE,
  checkCsrf,
  checkLogin,
  clearedCookie,
  cookieValue,
  csrfToken,
  issueSession,
  readSession,
  sessionCookie,
  sessionKey,
  type Session,
} from './session.js';

export interface ConsoleOptions {
  store: PayoutStore;
  queues: Queues;
  /** The web's settings: the console's users and key (`console`), and what the review steps need. */
  settings: Pick<WebSettings, 'console' | 'timing' | 'callbackAllowPrivate'>;
  crashPoints?: CrashPoints | undefined;
  /** Login attempts per minute per client address. */
  loginRateLimitPerMinute?: number;
  now?: () => number;
}

/** Every console response's content security policy: its own stylesheet and data: images, nothing else. */
export const CONSOLE_CSP =
  "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

const one = (v: unknown) => (Array.isArray(v) ? v[0] : v);
/** Where a login goes on to: a console path of ours, never another site. */
const NextPath = z
  .string()
  .max(2048)
  .regex(/^\/console(?:[/?][^\\\s]*)?$/)
  .refine((p) => !p.startsWith('//'));
const LoginBody = z.object({
  user: z.preprocess(one, z.string().max(256).default('')),
  password: z.preprocess(one, z.string().max(1024).default('')),
  next: z.preprocess(one, NextPath.optional().catch(undefined)),
});
const CsrfBody = z.object({ csrf: z.preprocess(one, z.string().max(256).optional()) });
const DecisionBody = z.object({
  decision: z.preprocess(one, z.enum(['approve', 'reject'])),
  reason: z.preprocess(one, z.string().max(2000).optional()),
  back: z.preprocess(one, z.enum(['payout', 'review']).catch('payout')),
});
const IdParams = z.object({ id: z.string().min(1).max(200) });

class TooManyLogins extends Error {
  constructor(readonly ttlMs: number) {
    super('too many console logins');
  }
}

/**
 * The operator console (docs/operations.md, The operator console): server-rendered pages under /console behind a
 * login: the overview, the payout search, a payout's page with its timeline, and the review queue
 * where held payouts are approved or rejected. Registered with the prefix /console next to the
 * queue board (src/http/server.ts). Pages are pure functions of what src/console/reads.ts reads;
 * every POST needs the session's CSRF token, and a browser's cross-site POST is refused outright.
 */
export const consoleRoutes: FastifyPluginAsync<ConsoleOptions> = async (app, options) => {
  const access = options.settings.console;
  if (!access) return;
  const { users } = access;
  const key = sessionKey(users, access.sessionSecret);
  const now = options.now ?? Date.now;
  const { store } = options;
  const steps: StepDeps = {
    store,
    queues: options.queues,
    log: app.log as unknown as Logger,
    timing: options.settings.timing,
    crashPoints: options.crashPoints,
    allowPrivateCallbacks: options.settings.callbackAllowPrivate,
  };
  const sessions = new WeakMap<FastifyRequest, Session>();
  const html = (reply: FastifyReply, status: number, body: string) => reply.code(status).type('text/html; charset=utf-8').send(body);

  // HTML forms post urlencoded bodies; the API's JSON parser stays as it is outside this scope.
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 16 * 1024 }, (_req, body, done) => {
    const fields: Record<string, string> = {};
    for (const [k, v] of new URLSearchParams(body as string)) if (!(k in fields)) fields[k] = v;
    done(null, fields);
  });
  await app.register(rateLimit, { global: false, errorResponseBuilder: (_req, ctx) => new TooManyLogins(ctx.ttl) });
  // the login form's refusal is a page; every other error goes on to the service's handler, in its shape
  app.setErrorHandler(async (err, _req, reply) => {
    if (!(err instanceof TooManyLogins)) throw err;
    reply.header('retry-after', String(Math.ceil(err.ttlMs / 1000)));
    return html(reply, 429, messagePage('Too many attempts', 'Too many logins from here: wait a minute, then try again.', null));
  });

  app.addHook('onSend', async (_req, reply) => {
    reply.header('content-security-policy', CONSOLE_CSP);
    reply.header('x-frame-options', 'DENY');
    reply.header('x-content-type-options', 'nosniff');
    reply.header('referrer-policy', 'no-referrer');
    reply.header('cache-control', 'no-store');
  });

  const open = (url: string) => {
    const path = url.split('?')[0]!;
    return path === '/console/login' || path.startsWith('/console/assets/');
  };
  app.addHook('onRequest', async (req, reply) => {
    // a browser says where a POST comes from: only our own pages may post here (a login too)
    const site = req.headers['sec-fetch-site'];
    if (req.method === 'POST' && site !== undefined && site !== 'same-origin' && site !== 'none')
      return html(reply, 403, messagePage('Refused', 'Forms of the console are taken only from its own pages.', null));
    const session = readSession(key, cookieValue(req.headers.cookie, SESSION_COOKIE), now(), users);
    if (session) {
      sessions.set(req, session);
      return;
    }
    if (open(req.url)) return;
    if (req.method === 'GET' || req.method === 'HEAD') {
      const next = NextPath.safeParse(req.url).success ? `?next=${encodeURIComponent(req.url)}` : '';
      return reply.redirect(`/console/login${next}`, 302);
    }
    return html(reply, 401, loginPage({ failed: false }));
  });

  const sessionOf = (req: FastifyRequest): Session => sessions.get(req)!;
  const secure = (req: FastifyRequest) => req.protocol === 'https';
  const chrome = async (req: FastifyRequest, section: Section | null, held?: number): Promise<Chrome> => {
    const session = sessionOf(req);
    const count = held ?? (await store.countByState(['awaiting_review'])).awaiting_review?.count ?? 0;
    return { user: session.user, csrf: csrfToken(key, session), section, held: count, flash: flashOf(req.query) };
  };
  /** A POST from a page of this session: its CSRF token checks out. */
  const csrfOk = (req: FastifyRequest) => checkCsrf(key, sessionOf(req), CsrfBody.safeParse(req.body ?? {}).data?.csrf);
  const refusedForm = async (req: FastifyRequest, reply: FastifyReply) =>
    html(
      reply,
      403,
      messagePage(
        'Form expired',
        'That form had expired, or came from another session: nothing was done. Go back, reload and try again.',
        await chrome(req, null),
      ),
    );

  for (const [file, asset] of Object.entries(CONSOLE_ASSETS))
    app.get(`/assets/${file}`, { schema: { hide: true } }, async (_req, reply) => reply.type(asset.type).send(asset.body));

  app.get('/login', { schema: { hide: true } }, async (req, reply) => {
    if (sessions.has(req)) return reply.redirect('/console', 303);
    const next = LoginBody.shape.next.parse(one((req.query as Record<string, unknown>).next));
    return html(reply, 200, loginPage({ failed: false, ...(next ? { next } : {}) }));
  });

  app.post(
    '/login',
    { schema: { hide: true }, config: { rateLimit: { max: options.loginRateLimitPerMinute ?? 20, timeWindow: '1 minute' } } },
    async (req, reply) => {
      const body = LoginBody.safeParse(req.body ?? {});
      const given = body.success ? body.data : { user: '', password: '', next: undefined };
      const user = checkLogin(users, given.user, given.password);
      if (!user) {
        // never the name given: it may be a password typed into the wrong box
        req.log.warn('console login refused');
        return html(reply, 401, loginPage({ failed: true, user: given.user, ...(given.next ? { next: given.next } : {}) }));
      }
      req.log.info({ operator: user }, 'console login');
      reply.header('set-cookie', sessionCookie(issueSession(key, user, now()), { secure: secure(req) }));
      return reply.redirect(given.next ?? '/console', 303);
    },
  );

  app.post('/logout', { schema: { hide: true } }, async (req, reply) => {
    if (!csrfOk(req)) return refusedForm(req, reply);
    reply.header('set-cookie', clearedCookie({ secure: secure(req) }));
    return reply.redirect('/console/login', 303);
  });

  app.get('/', { schema: { hide: true } }, async (req, reply) => {
    const data = await overviewData(store, now());
    return html(reply, 200, overviewPage(data, await chrome(req, 'overview', data.held)));
  });

  app.get('/payouts', { schema: { hide: true } }, async (req, reply) => {
    const [tenants, frame] = await Promise.all([store.tenants(), chrome(req, 'payouts')]);
    const parsed = SearchForm.safeParse(req.query ?? {});
    const form = parsed.success ? parsed.data : SearchForm.parse({});
    const problem = parsed.success ? null : parsed.error.issues.map((i) => `${String(i.path[0] ?? 'search')}: ${i.message}`).join('; ');
    const plan = problem ? null : planSearch(form);
    if (!plan || 'problem' in plan)
      return html(
        reply,
        400,
        searchPage({ form, tenants, result: null, problem: problem ?? (plan as { problem: string }).problem }, frame),
      );
    const result = await runSearch(store, form, plan);
    if ('problem' in result) return html(reply, 400, searchPage({ form, tenants, result: null, problem: result.problem }, frame));
    return html(reply, 200, searchPage({ form, tenants, result, problem: null }, frame));
  });

  app.get('/payouts/:id', { schema: { hide: true } }, async (req, reply) => {
    const params = IdParams.safeParse(req.params);
    const data = params.success ? await payoutPageData(store, params.data.id) : null;
    const frame = await chrome(req, 'payouts');
    if (!data)
      return html(
        reply,
        404,
        messagePage('No such payout', 'There is no payout with this id (or it ended long ago and was removed).', frame),
      );
    return html(reply, 200, payoutPage(data, frame));
  });

  app.post('/payouts/:id/decision', { schema: { hide: true } }, async (req, reply) => {
    if (!csrfOk(req)) return refusedForm(req, reply);
    const params = IdParams.safeParse(req.params);
    const body = DecisionBody.safeParse(req.body ?? {});
    if (!params.success || !body.success)
      return html(reply, 400, messagePage('Not understood', 'The form was not one the console sends.', await chrome(req, null)));
    const id = params.data.id;
    const { decision, reason, back } = body.data;
    const operator = `operator:${sessionOf(req).user}`;
    const r = await decideReview(steps, id, { approve: decision === 'approve', by: operator, ...(reason !== undefined ? { reason } : {}) });
    req.log.info(
      { payoutId: id, decision, by: operator, ...(r.ok ? { state: r.state } : { problem: r.problem }) },
      'console review decision',
    );
    const done: FlashCode = r.ok ? (decision === 'approve' ? 'approved' : 'rejected') : r.problem;
    const query = flashQuery({ done, id, state: r.state });
    return reply.redirect(back === 'review' ? `/console/review?${query}` : `${payoutPath(id)}?${query}`, 303);
  });

  app.get('/review', { schema: { hide: true } }, async (req, reply) => {
    const queue = await reviewQueue(store);
    return html(reply, 200, reviewPage(queue, await chrome(req, 'review')));
  });

  app.setNotFoundHandler(async (req, reply) => {
    const frame = sessions.has(req) ? await chrome(req, null) : null;
    return html(reply, 404, messagePage('Not found', 'The console has no such page.', frame));
  });
};
