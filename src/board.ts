import { ownOriginCsp } from './http/csp.js';
import { timingSafeEqual, createHash } from 'node:crypto';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import type { Queue } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import { safeLogValue } from './log.js';
import type { Queues } from './queues.js';
import { errorBody } from './http/errors.js';

export const BOARD_PATH = '/admin/queues';

/**
 * The board's page loads only Bull Board's own files, served from node_modules under
 * /admin/queues/static, and its JSON API beside them. Styles: the page's loading placeholder is
 * styled inline and the board adds style elements of its own, hence 'unsafe-inline' for styles
 * alone; scripts are its files only (it needs no eval). Images: its logo and favicons are files,
 * some icons data: URIs. base-uri: the page sets <base href="/admin/queues/">.
 */
export const BOARD_CSP = ownOriginCsp("'self' 'unsafe-inline'");

export interface BoardOptions {
  user: string;
  password: string;
  /**
   * BOARD_READ_ONLY (default true): the board shows queues and jobs and takes no action. With
   * actions allowed, none of them can move money on its own either: every job is a pointer that
   * the workers check against the payout record and the bank's signed word (docs/architecture.md).
   */
  readOnly?: boolean;
}

/** Bull Board at /admin/queues behind HTTP basic auth (BOARD_USER / BOARD_PASSWORD). */
export async function mountBoard(app: FastifyInstance, queues: Queues, options: BoardOptions): Promise<void> {
  const expected = digest(`${options.user}:${options.password}`);
  const readOnly = options.readOnly ?? true;
  await app.register(async (scope) => {
    scope.addHook('onRequest', async (req, reply) => {
      const header = req.headers.authorization ?? '';
      const given = header.startsWith('Basic ') ? Buffer.from(header.slice(6), 'base64').toString('utf8') : '';
      if (!given || !timingSafeEqual(digest(given), expected)) {
        return reply
          .code(401)
          .header('www-authenticate', 'Basic realm="bank131-payouts queues"')
          .send(errorBody('unauthorized', 'queue board: basic auth required'));
      }
      // The board refuses actions on read-only queues itself; this also covers any route it adds later.
      if (readOnly && req.method !== 'GET' && req.method !== 'HEAD') {
        return reply
          .code(405)
          .send(errorBody('invalid_request', 'the queue board is read-only (BOARD_READ_ONLY=true): it shows jobs and takes no action'));
      }
    });
    scope.addHook('onSend', async (_req, reply, payload) => {
      reply.header('content-security-policy', BOARD_CSP);
      const html = typeof payload === 'string' && String(reply.getHeader('content-type')).startsWith('text/html');
      return html ? withoutRemoteLinks(payload) : payload;
    });
    const adapter = new FastifyAdapter();
    adapter.setBasePath(BOARD_PATH);
    createBullBoard({ queues: queues.all().map((q) => boardQueue(q, readOnly)), serverAdapter: adapter });
    await scope.register(adapter.registerPlugin(), { prefix: BOARD_PATH });
  });
}

/**
 * Bull Board's page template links a Google Fonts stylesheet (its CSS falls back to the system's
 * fonts without it): the page is served without any <link> to another origin, so an operator's
 * browser asks nothing of a third party, and the CSP is not left to refuse it with an error.
 */
export function withoutRemoteLinks(html: string): string {
  return html.replace(/<link\b[^>]*\bhref\s*=\s*["']?(?:[a-z][a-z0-9+.-]*:|\/\/)[^>]*>\s*/gi, '');
}

function boardQueue(queue: Queue, readOnly: boolean): BullMQAdapter {
  const adapter = new BullMQAdapter(queue, { readOnlyMode: readOnly });
  // signed webhooks ride on bank-webhooks, payout-confirm and payout-finish alike
  adapter.setFormatter('data', (data: unknown) => (isWebhookData(data) ? webhookOutline(data) : safeLogValue(data)));
  return adapter;
}

const isWebhookData = (data: unknown): boolean => Boolean(data && typeof data === 'object' && ('body' in data || 'signature' in data));

/**
 * A webhook job holds the bank's signed body, with the recipient's name in it: operators see what
 * it is, not what it says (the payout's audit trail says that, in words).
 */
function webhookOutline(data: unknown): unknown {
  if (!data || typeof data !== 'object') return data;
  const { body, ...rest } = data as { body?: unknown; signature?: unknown };
  return {
    ...rest,
    signature: rest.signature ? '[present]' : '[missing]',
    body: typeof body === 'string' ? `[the signed body, ${body.length} characters, verified by the worker]` : body,
  };
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}
