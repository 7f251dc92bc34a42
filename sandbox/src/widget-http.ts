import type { FastifyReply } from 'fastify';
import type { SandboxError } from './errors.js';

/**
 * What the widgets' routes (sandbox/src/widget-routes.ts, widget-self-employed.ts) answer alike:
 * their files loadable from any page, their frames embeddable in any page yet running only their
 * own script, and their calls open to any origin, since the frame calls from the widget's origin
 * on behalf of whichever partner page embeds it.
 */

export function cors(reply: FastifyReply): FastifyReply {
  return reply
    .header('access-control-allow-origin', '*')
    .header('access-control-allow-methods', 'POST, OPTIONS')
    .header('access-control-allow-headers', 'content-type')
    .header('access-control-max-age', '600');
}

export function asset(reply: FastifyReply, type: string, body: string): FastifyReply {
  return reply
    .type(type)
    .header('cache-control', 'no-cache')
    .header('access-control-allow-origin', '*')
    .header('cross-origin-resource-policy', 'cross-origin')
    .header('x-content-type-options', 'nosniff')
    .send(body);
}

export const JS = 'application/javascript; charset=utf-8';
export const CSS = 'text/css; charset=utf-8';

/** A frame's page: any partner page may frame it; it runs only its own script and calls only its own origin. */
export function framePage(reply: FastifyReply, html: string): FastifyReply {
  return reply
    .type('text/html; charset=utf-8')
    .header('cache-control', 'no-store')
    .header('referrer-policy', 'no-referrer')
    .header('x-content-type-options', 'nosniff')
    .header(
      'content-security-policy',
      "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; form-action 'none'; base-uri 'none'; frame-ancestors *",
    )
    .send(html);
}

/** A widget call's refusal, in the bank's error shape (plus `extra`, such as a card form's fields). */
export function refuseWidgetCall(reply: FastifyReply, err: SandboxError, extra: Record<string, unknown> = {}): FastifyReply {
  return reply.code(err.httpStatus).send({ status: 'error', error: { code: err.code, description: err.description, ...extra } });
}

/** An http(s) origin, or null (the frame then posts with targetOrigin "*"). */
export function originOf(value: string | undefined): string | null {
  if (!value) return null;
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.origin : null;
  } catch {
    return null;
  }
}
