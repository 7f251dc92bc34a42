import { createHash } from 'node:crypto';
import { z } from 'zod';
import { describeIssues } from '../issues.js';
import {
  InitPayoutRequest,
  Participant,
  SessionCreateRequest,
  StartPayoutRequest,
  fromWireNames,
  type ApiVersion,
} from '../bank131/schemas.js';
import { SandboxError } from './errors.js';
import { reportedStatus } from './session-machine.js';
import type { SandboxSession } from './sessions.js';

// ---------------------------------------------------------------- requests

/**
 * The bank's guide gives the recipient as `participant_details` only sometimes, and our client's
 * rule (src/bank131/schemas.ts ParticipantDetails: a name is required) is stricter than what the
 * guide's own requests send, so the sandbox takes any participant block it is given.
 */
const AnyParticipants = z.looseObject({ recipient: Participant.optional(), sender: Participant.optional() });

/**
 * session/create as the guide sends it: `{}`, `{"metadata":"good"}`, or with `amount_details`.
 * What it carries is kept as the session's defaults for start/payout.
 */
export const SandboxCreateRequest = SessionCreateRequest.extend({ participant_details: AnyParticipants.optional() });
export type SandboxCreateRequest = z.infer<typeof SandboxCreateRequest>;

/**
 * start/payout as the guide sends it: only `session_id` and the card. The amount may have been
 * given at session/create instead (src/sandbox/sessions.ts decides which one counts).
 */
export const SandboxStartRequest = StartPayoutRequest.partial({ amount_details: true }).extend({ participant_details: AnyParticipants.optional() });
export type SandboxStartRequest = z.infer<typeof SandboxStartRequest>;

/** init/payout creates the session in the same call, so its amount can only come from here. */
export const SandboxInitRequest = InitPayoutRequest.partial({ amount_details: true }).extend({ participant_details: AnyParticipants.optional() });
export type SandboxInitRequest = z.infer<typeof SandboxInitRequest>;

/**
 * Parses a request in the bank's error shape. Payout requests are read in either spelling
 * (src/bank131/schemas.ts fromWireNames); a v1 caller sent `payment_method`, so that is the name
 * its error must use.
 */
export function parseRequest<S extends z.ZodType>(schema: S, body: unknown, version: ApiVersion): z.output<S> {
  const result = schema.safeParse(fromWireNames(body));
  if (result.success) return result.data;
  const issues = describeIssues(result.error).map((line) => (version === 'v1' ? line.replace(/^payout_details\b/, 'payment_method') : line));
  throw new SandboxError('invalid_request', issues.join('; '));
}

// ---------------------------------------------------------------- sessions as the bank shows them

/** Optional fields of the bank's session and payout objects; `nullFields` sends them as `null` when absent. */
export const NULLABLE_SESSION_FIELDS = ['finished_at', 'next_action', 'error'] as const;
export const NULLABLE_PAYOUT_FIELDS = ['finished_at', 'error', 'metadata', 'customer', 'participant_details', 'transaction_info'] as const;

export interface WireOptions {
  nullFields?: boolean;
}

/**
 * The session in v1 (`payments`, `payment_method`) or v2 (`payout_list`, `payout_details`)
 * spelling. Responses use the version of the URL asked; webhooks the session's
 * own (src/sandbox/bank.ts).
 */
export function wireSession(session: SandboxSession, version: ApiVersion, options: WireOptions = {}): Record<string, unknown> {
  const status = reportedStatus(session.state);
  const out: Record<string, unknown> = {
    id: session.id,
    status: status.session,
    created_at: session.createdAt,
    updated_at: session.updatedAt,
  };
  if (session.finishedAt) out.finished_at = session.finishedAt;
  if (status.nextAction) out.next_action = status.nextAction;
  if (session.error) out.error = session.error;
  const p = session.payout;
  const payouts: Array<Record<string, unknown>> = [];
  if (p && status.payout) {
    const payout: Record<string, unknown> = {
      id: p.id,
      status: status.payout,
      created_at: p.createdAt,
      amount_details: { amount: p.reportedAmount, currency: p.amountDetails.currency },
      [version === 'v2' ? 'payout_details' : 'payment_method']: { type: 'card', card: { type: 'encrypted_card', ...p.card } },
    };
    if (p.participantDetails !== undefined) payout.participant_details = p.participantDetails;
    if (p.reportedMetadata !== undefined) payout.metadata = p.reportedMetadata;
    if (p.customer !== undefined) payout.customer = p.customer;
    if (p.finishedAt) payout.finished_at = p.finishedAt;
    if (status.payout === 'failed' && session.error) payout.error = session.error;
    if (status.payout === 'succeeded') payout.transaction_info = { rrn: createHash('sha1').update(p.id).digest('hex').slice(0, 12) };
    if (options.nullFields) fillNulls(payout, NULLABLE_PAYOUT_FIELDS);
    payouts.push(payout);
  }
  out[version === 'v2' ? 'payout_list' : 'payments'] = payouts;
  if (options.nullFields) fillNulls(out, NULLABLE_SESSION_FIELDS);
  return out;
}

function fillNulls(target: Record<string, unknown>, fields: readonly string[]): void {
  for (const f of fields) if (target[f] === undefined) target[f] = null;
}
