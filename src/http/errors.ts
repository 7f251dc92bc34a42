import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { MAX_ENDPOINTS_PER_TENANT } from '../payouts/webhook-endpoints.js';
import { RETRY_AFTER_S, redisTrouble, type RedisTrouble } from '../store/redis-errors.js';

/**
 * Every refusal the API makes, in one catalogue: code, HTTP status, and the message a caller reads
 * when nothing more specific is said. Every route answers errors in one shape,
 * `{ "error": { "code", "message", ...details } }`, and the OpenAPI document lists these codes.
 */
export const ERRORS = {
  invalid_request: { status: 400, message: 'the request is invalid' },
  invalid_json: { status: 400, message: 'the body is not valid JSON' },
  unauthorized: { status: 401, message: 'missing or unknown API key (Authorization: Bearer <key>)' },
  invalid_signature: { status: 401, message: 'the X-PARTNER-SIGN signature does not prove the body came from Bank 131' },
  operator_only: { status: 403, message: "only the operator's keys (API_KEYS, the default tenant's) may do this" },
  review_right_required: {
    status: 403,
    message: 'only a key with the review right (keys create --review) or an operator in the console may decide a held payout',
  },
  self_approval: { status: 403, message: 'the key that accepted a payout may not approve it: another reviewer must' },
  not_found: { status: 404, message: 'no such resource' },
  conflict: { status: 409, message: 'a payout with this id exists with a different body' },
  not_cancellable: { status: 409, message: 'the payout can be cancelled only before it is confirmed' },
  not_awaiting_review: { status: 409, message: 'the payout is not waiting for a reviewer' },
  link_used: { status: 409, message: 'a card was already given through this collection link' },
  too_many_endpoints: { status: 409, message: `a tenant may have at most ${MAX_ENDPOINTS_PER_TENANT} webhook endpoints: delete one first` },
  no_destination: {
    status: 409,
    message: 'the event has nowhere to go: its payout has no callback_url and no enabled webhook endpoint takes its type',
  },
  link_expired: { status: 410, message: 'this collection link has expired' },
  payout_retired: {
    status: 410,
    message: 'the payout ended longer ago than PAYOUT_RETENTION_DAYS: its record was removed, its id stays taken',
  },
  card_refused: { status: 400, message: 'Bank 131 does not know this card' },
  rate_limited: { status: 429, message: 'too many requests: try again in a minute' },
  body_too_large: { status: 413, message: 'the body is larger than this route accepts' },
  unsupported_media_type: { status: 415, message: 'send the body as application/json' },
  headers_too_large: { status: 431, message: 'the request line or headers are too large' },
  internal_error: { status: 500, message: 'the service failed on its side; the request id in x-request-id helps to find out why' },
  unavailable: {
    status: 503,
    message: 'the service could not complete the request for now (its database is away or refuses writes, or it is stopping); retry it',
  },
} as const satisfies Record<string, { status: number; message: string }>;
export type ErrorCode = keyof typeof ERRORS;

/** One field and what is wrong with it, in our words. */
export const Issue = z.object({ field: z.string(), problem: z.string() });
export type Issue = z.infer<typeof Issue>;

export const ErrorBody = z
  .object({
    error: z.looseObject({
      code: z.enum(Object.keys(ERRORS) as [ErrorCode, ...ErrorCode[]]),
      message: z.string(),
      issues: z.array(Issue).optional(),
    }),
  })
  .meta({ id: 'Error', description: 'Every refusal, from every route. `code` is one of the catalogue; `issues` names each bad field.' });

/** Response schemas for the error codes a route may answer. */
export function errorResponses(...codes: ErrorCode[]): Record<number, typeof ErrorBody> {
  return Object.fromEntries(codes.map((c) => [ERRORS[c].status, ErrorBody]));
}

/** A refusal from the catalogue, thrown by a route and shaped by the one error handler. */
export class HttpError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string = ERRORS[code].message,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
  }
  get status(): number {
    return ERRORS[this.code].status;
  }
}

export function errorBody(code: ErrorCode, message: string = ERRORS[code].message, details: Record<string, unknown> = {}) {
  return { error: { code, message, ...details } };
}

/** A 400 naming each bad field. */
export function invalidRequest(issues: Issue[]): HttpError {
  return new HttpError('invalid_request', issues.map((i) => `${i.field}: ${i.problem}`).join('; '), { issues });
}

/**
 * zod's issues in our words. Our schemas say what they want (src/payouts/schemas.ts); zod's generic
 * texts ("Invalid input: expected string, received undefined") are rewritten here, so every field
 * gets a message a caller can act on.
 */
export function issuesOf(issues: readonly z.core.$ZodIssue[], prefix = ''): Issue[] {
  return issues.map((i) => ({ field: `${prefix}${i.path.map(String).join('.')}` || '(body)', problem: problemOf(i) }));
}

const GENERIC = /^(Invalid|Unrecognized key|Too (small|big))/;

function problemOf(issue: z.core.$ZodIssue): string {
  if (!GENERIC.test(issue.message)) return issue.message;
  switch (issue.code) {
    case 'too_small':
    case 'too_big': {
      const { origin } = issue as { origin?: string };
      const bound =
        issue.code === 'too_small' ? (issue as { minimum: number | bigint }).minimum : (issue as { maximum: number | bigint }).maximum;
      const least = issue.code === 'too_small' ? 'at least' : 'at most';
      if (origin === 'string') return `must be ${least} ${bound} character${Number(bound) === 1 ? '' : 's'} long`;
      if (origin === 'array' || origin === 'set') return `must hold ${least} ${bound} item${Number(bound) === 1 ? '' : 's'}`;
      return `must be ${least} ${bound}`;
    }
    case 'invalid_format':
      return `must be a valid ${(issue as { format?: string }).format ?? 'value'}`;
    case 'invalid_type':
      return issue.message.endsWith('received undefined') ? 'is required' : `must be ${article(issue.expected)}`;
    case 'unrecognized_keys':
      return `has unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.join(', ')}: check the spelling`;
    case 'invalid_value':
      return `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
    default:
      return 'is invalid';
  }
}

const article = (t: string) => (/^[aeiou]/.test(t) ? `an ${t}` : `a ${t}`);

/** Fastify's own refusals, in the catalogue's words. */
function fromFastify(err: FastifyError, contentType: string | undefined): HttpError | null {
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new HttpError('body_too_large');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new HttpError('unsupported_media_type', `content type ${contentType ?? '(none)'} is not accepted here; send application/json`);
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new HttpError('invalid_json', 'the body is empty but the content type says JSON');
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new HttpError('invalid_json');
    case 'FST_ERR_BAD_URL':
      return new HttpError('invalid_request', 'the URL is not valid (a bad %-escape?)');
    case 'FST_ERR_MAX_PARAM_LENGTH':
      return new HttpError('invalid_request', 'a path parameter is too long');
    default:
      // JSON syntax errors and a body with a forbidden key (`__proto__`) from the JSON parser
      if (err instanceof SyntaxError || err.statusCode === 400)
        return new HttpError('invalid_json', `${ERRORS.invalid_json.message}: ${err.message}`);
      if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) return new HttpError('invalid_request', err.message);
      return null;
  }
}

/**
 * Requests too broken for Fastify to route (malformed HTTP, an over-long URL or header block) are
 * answered on the socket, in the same shape, since no route or request object exists for them.
 */
export function clientErrorResponse(err: NodeJS.ErrnoException): string {
  const tooLarge = err.code === 'HPE_HEADER_OVERFLOW';
  const code: ErrorCode = tooLarge ? 'headers_too_large' : 'invalid_request';
  const body = JSON.stringify(errorBody(code, tooLarge ? ERRORS.headers_too_large.message : 'the request is not valid HTTP'));
  const status = ERRORS[code].status;
  return `HTTP/1.1 ${status} ${tooLarge ? 'Request Header Fields Too Large' : 'Bad Request'}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`;
}

/** Where a Redis error met by a request goes instead of a line of its own: the runtime's outage report. */
export type RedisErrorReporter = (err: Error) => void;

const REDIS_REFUSES = 'the service cannot store anything for now (its database refuses writes); retry it';

/**
 * Redis away or refusing: the request may well succeed later, so 503 with Retry-After, and no line
 * of its own. A full Redis fails every request alike; one outage report (src/runtime.ts) says it
 * once per interval where a line with a stack per request flooded the log.
 */
function redisUnavailable(
  err: Error,
  trouble: RedisTrouble,
  req: FastifyRequest,
  reply: FastifyReply,
  report: RedisErrorReporter | undefined,
): HttpError {
  if (report) report(err);
  else req.log.warn({ err: trouble.reason }, `Redis ${trouble.kind}`);
  reply.header('retry-after', String(RETRY_AFTER_S));
  return new HttpError('unavailable', trouble.kind === 'refusing' ? REDIS_REFUSES : ERRORS.unavailable.message);
}

/**
 * Every error, from a route or from Fastify's router, shaped by the catalogue. Redis errors go to
 * `reportRedisError` (the runtime's outage report) when given.
 */
export function sendError(
  err: FastifyError,
  req: FastifyRequest,
  reply: FastifyReply,
  reportRedisError?: RedisErrorReporter,
): FastifyReply {
  let refusal: HttpError | null = err instanceof HttpError ? err : null;
  if (!refusal && hasZodFastifySchemaValidationErrors(err)) {
    const where = err.validationContext === 'querystring' ? 'query' : '';
    refusal = invalidRequest(
      err.validation.map((v) => {
        const path = v.instancePath.replace(/^\//, '').replaceAll('/', '.');
        return {
          field: [where, path].filter(Boolean).join('.') || '(body)',
          problem: problemOf({ ...v.params, code: v.keyword, message: v.message ?? '' } as unknown as z.core.$ZodIssue),
        };
      }),
    );
  }
  const contentType = req.headers['content-type'];
  refusal ??= fromFastify(err, typeof contentType === 'string' ? contentType.split(';')[0] : undefined);
  const trouble = refusal ? null : redisTrouble(err);
  if (trouble) refusal = redisUnavailable(err, trouble, req, reply, reportRedisError);
  if (!refusal) {
    // Anything else is a bug of ours: logged with its stack and the request id.
    req.log.error({ err }, 'request failed');
    refusal = new HttpError('internal_error');
  }
  if (refusal.code === 'unauthorized') reply.header('www-authenticate', 'Bearer');
  return reply.code(refusal.status).send(errorBody(refusal.code, refusal.message, refusal.details));
}

/** The one error handler and not-found handler: every refusal leaves in the catalogue's shape. */
export function installErrorHandling(app: FastifyInstance, options: { reportRedisError?: RedisErrorReporter | undefined } = {}): void {
  app.setErrorHandler((err: FastifyError, req, reply) => sendError(err, req, reply, options.reportRedisError));
  app.setNotFoundHandler((req, reply) => reply.code(404).send(errorBody('not_found', `no route ${req.method} ${req.url.split('?')[0]}`)));
  // A stopping process answers 503 in the same shape (Fastify's own would be another shape).
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onRequest', async () => {
    if (closing) throw new HttpError('unavailable', 'the service is stopping; retry the request');
  });
}
