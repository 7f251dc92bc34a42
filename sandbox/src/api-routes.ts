import type { KeyObject } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { SandboxBank } from './bank.js';
import { SandboxError } from './errors.js';
import type { SANDBOX_ENDPOINTS } from './knobs.js';
import { refuse } from './replies.js';
import type { ApiVersion } from './requests.js';
import type { IdempotencyClaim } from './session-types.js';
import { SIGNATURE_HEADER, checkSignature } from './signature.js';

type Endpoint = (typeof SANDBOX_ENDPOINTS)[number];
type Action = (bank: SandboxBank, body: unknown, version: ApiVersion, claim?: IdempotencyClaim) => Promise<Record<string, unknown>>;

const SESSION_ACTIONS: Array<[Endpoint, Action]> = [
  ['session/create', (b, body, v, c) => b.createSession(body, v, c)],
  ['session/start/payout', (b, body, v, c) => b.startPayout(body, v, c)],
  ['session/init/payout', (b, body, v, c) => b.initPayout(body, v, c)],
  ['session/start/payout/fiscalization', (b, body, v, c) => b.startPayoutWithFiscalization(body, v, c)],
  ['session/init/payout/fiscalization', (b, body, v, c) => b.initPayoutWithFiscalization(body, v, c)],
  ['session/confirm', (b, body, v, c) => b.confirm(body, v, c)],
  ['session/cancel', (b, body, v, c) => b.cancel(body, v, c)],
  ['session/status', (b, body, v) => b.status(body, v)],
];

const V1_ONLY_ACTIONS: Array<[Endpoint, Action]> = [
  ['token', (b, body) => b.issueToken(body)],
  ['token/info', (b, body) => b.tokenInfo(body)],
  ['wallet/balance', (b, body) => b.walletBalanceOf(body)],
];

export interface ApiOptions {
  /** Verifies the partner's requests. */
  partnerPublicKey: KeyObject;
  /** When set, X-PARTNER-PROJECT must equal it. */
  project?: string | undefined;
  /** Holds a connection unanswered (sandbox/src/replies.ts holder). */
  hang: (reply: FastifyReply) => Promise<void>;
}

/**
 * The bank's API under /api/v1 and /api/v2. Raw bytes in, so the signature is checked over exactly
 * what was sent, before the body is parsed or anything happens; then the project, the knobs'
 * faults, and the call under its idempotency key.
 */
export function registerApi(server: FastifyInstance, bank: SandboxBank, options: ApiOptions): void {
  void server.register(async (api) => {
    api.removeAllContentTypeParsers();
    api.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

    const handle = (endpoint: Endpoint, version: ApiVersion, action: Action) => async (req: FastifyRequest, reply: FastifyReply) => {
      const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      if (bank.knobs.latencyMs > 0) await sleep(bank.knobs.latencyMs);
      const refusal = checkCaller(req, raw, bank, options);
      if (refusal) return refuse(reply, refusal);
      let body: unknown;
      try {
        body = JSON.parse(raw.toString('utf8'));
      } catch {
        return refuse(reply, new SandboxError('invalid_request', 'body is not JSON'));
      }
      const sessionId = (body as { session_id?: unknown } | null)?.session_id;
      const key = req.headers['x-partner-idempotency-key'];
      const idempotencyKey = typeof key === 'string' ? key : undefined;
      const call = {
        endpoint,
        sessionId: typeof sessionId === 'string' ? sessionId : null,
        idempotencyKey: idempotencyKey ?? null,
        submerchant: typeof req.headers['x-partner-submerchant'] === 'string' ? req.headers['x-partner-submerchant'] : null,
        httpStatus: 0,
      };
      bank.calls.push(call);
      reply.raw.once('finish', () => (call.httpStatus = reply.statusCode));
      const plan = bank.planFaults(endpoint);
      if (plan.before === '5xx') return refuse(reply, new SandboxError('internal_error', 'sandbox: injected internal error', 500));
      if (plan.before === 'timeout') return options.hang(reply);
      if (typeof plan.before === 'object') return refuse(reply, new SandboxError(plan.before.error, 'sandbox: injected error'));
      let answer: Record<string, unknown>;
      try {
        answer = await bank.call(`${version}/${endpoint}`, idempotencyKey, (claim) => action(bank, body, version, claim));
      } catch (err) {
        if (err instanceof SandboxError) return refuse(reply, err);
        throw err;
      }
      if (plan.after === 'timeout') return options.hang(reply);
      return reply.code(200).send(answer);
    };

    for (const version of ['v1', 'v2'] as const) {
      for (const [endpoint, action] of SESSION_ACTIONS) api.post(`/api/${version}/${endpoint}`, handle(endpoint, version, action));
    }
    for (const [endpoint, action] of V1_ONLY_ACTIONS) api.post(`/api/v1/${endpoint}`, handle(endpoint, 'v1', action));
  });
}

/** Who is calling, as the bank checks it: the project, then the credentials knob, then the signature. */
function checkCaller(req: FastifyRequest, raw: Buffer, bank: SandboxBank, options: ApiOptions): SandboxError | null {
  const project = req.headers['x-partner-project'];
  if (typeof project !== 'string' || project === '')
    return new SandboxError('identification_error', 'X-PARTNER-PROJECT header is missing', 401);
  if (options.project && project !== options.project) return new SandboxError('identification_error', `unknown project ${project}`, 401);
  const refused = bank.knobs.refuseCredentials;
  if (refused) {
    const status = refused === 'authorization_error' ? 403 : 401;
    return new SandboxError(refused, 'sandbox: the partner credentials are refused (refuseCredentials knob)', status);
  }
  const sign = req.headers[SIGNATURE_HEADER];
  const check = checkSignature(raw, typeof sign === 'string' ? sign : undefined, options.partnerPublicKey);
  if (!check.ok)
    return new SandboxError('authentication_error', `X-PARTNER-SIGN is ${check.reason === 'missing' ? 'missing' : 'invalid'}`, 401);
  return null;
}
