/**
 * Typed failures of talking to Bank 131. Every error answers the two questions a payout worker
 * must ask before doing anything else:
 *  - `retryable`: can the same call, later, plausibly succeed?
 *  - `outcomeUnknown`: might the bank have acted even though we saw no success? Then the only
 *    safe next step is `session/status`, never a blind resend of a money-moving call.
 */

/**
 * What the bank's error table says to do about a code (docs/bank131-protocol.md §6).
 * `misconfigured`: the bank refuses our credentials (key, project, rights). Nothing was done, and
 * the payout is not at fault: it waits until the deployment is fixed, never fails for it.
 */
export type ErrorAdvice = 'retry' | 'check_status' | 'permanent' | 'misconfigured';

const ADVICE: Record<string, ErrorAdvice> = {
  internal_error: 'retry',
  provider_internal_error: 'retry',
  provider_issuer_unavailable: 'retry',
  npd_service_internal_error: 'retry',
  wallet_internal_error: 'retry',
  routing_internal_error: 'retry',
  insufficient_wallet_balance: 'retry', // our own balance: a top-up makes the same call succeed
  provider_timeout: 'check_status',
  session_wrong_state: 'check_status',
  idempotency_key_already_exists: 'check_status',
  identification_error: 'misconfigured',
  authentication_error: 'misconfigured',
  authorization_error: 'misconfigured',
  invalid_request: 'permanent',
  provider_foreign_transfer_prohibited: 'permanent',
  provider_exceeds_amount_limit: 'permanent',
  session_cancelled: 'permanent',
  session_cancelled_by_partner: 'permanent',
  operation_rejected: 'permanent',
  bank_card_expired: 'permanent',
  declined_by_issuer_bank: 'permanent',
  not_permitted_by_issuer_bank: 'permanent',
  insufficient_funds: 'permanent',
  card_number_does_not_exist: 'permanent',
  account_not_found: 'permanent',
  activity_count_exceeded: 'permanent',
  amount_less_allowed_provider: 'permanent',
  binding_is_deactivated: 'permanent',
  confirm_timeout: 'permanent',
  capture_timeout: 'permanent',
  '3DS_error': 'permanent',
  // a self-employed recipient who is unknown to the tax service, not bound to the bank, or over the
  // НПД income limit: the same payout sent again is refused the same way (src/payouts/fiscalization.ts)
  taxpayer_unknown: 'permanent',
  taxpayer_not_bound: 'permanent',
  taxpayer_already_bound: 'permanent',
  taxpayer_income_exceeds_amount_limit: 'permanent',
};

/**
 * Advice for a code; codes change without notice, so an unlisted one is judged by HTTP status:
 * a 5xx may be a passing fault, anything else is taken as a refusal.
 */
export function adviceFor(code: string, httpStatus: number): ErrorAdvice {
  // own entries only: a code such as "constructor" must not find Object.prototype's
  const known = Object.hasOwn(ADVICE, code) ? ADVICE[code] : undefined;
  if (known) return known;
  if (httpStatus >= 500) return 'check_status';
  if (httpStatus === 429) return 'retry';
  return 'permanent';
}

export abstract class Bank131Error extends Error {
  abstract readonly retryable: boolean;
  abstract readonly outcomeUnknown: boolean;
  constructor(
    message: string,
    readonly endpoint: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The bank answered and refused: `{"status":"error","error":{code, description}}` or HTTP >= 400. */
export class Bank131ApiError extends Bank131Error {
  readonly advice: ErrorAdvice;
  constructor(
    endpoint: string,
    readonly code: string,
    readonly description: string,
    readonly httpStatus: number,
    readonly rejectReasons: readonly unknown[] = [],
  ) {
    super(`Bank 131 ${endpoint} failed: ${code}${description ? ` (${description})` : ''} [HTTP ${httpStatus}]`, endpoint);
    this.advice = adviceFor(code, httpStatus);
  }
  get retryable(): boolean {
    return this.advice !== 'permanent';
  }
  get outcomeUnknown(): boolean {
    return this.advice === 'check_status';
  }
}

/**
 * No usable answer. `delivery` says whether the request surely never reached the bank
 * (`not_sent`: refused connection, DNS failure, connect timeout) or may have (`unknown`:
 * timeout or reset after sending, an answer we could not read).
 */
export class Bank131TransportError extends Bank131Error {
  readonly retryable = true;
  constructor(
    endpoint: string,
    readonly delivery: 'not_sent' | 'unknown',
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(`Bank 131 ${endpoint}: ${reason} (${delivery === 'not_sent' ? 'request not sent' : 'outcome unknown'})`, endpoint, options);
  }
  get outcomeUnknown(): boolean {
    return this.delivery === 'unknown';
  }
}

/**
 * The one answer to "can retrying this call ever help?": a refusal the bank's table calls final,
 * or a request we would never send. Everything else (transport faults, retryable or unknown
 * outcomes) is worth another try or a session/status check.
 */
export function isMisconfigured(err: unknown): err is Bank131ApiError {
  return err instanceof Bank131ApiError && err.advice === 'misconfigured';
}

export function isPermanent(err: unknown): boolean {
  if (err instanceof Bank131ApiError) return err.advice === 'permanent';
  return err instanceof Bank131RequestError;
}

/**
 * Not a failure: the bank has not said its last word yet (a session in status `error`, an
 * unknown status, a confirm still pending). The job is retried with backoff, and the reconciler
 * asks again later, so the payout is never left behind.
 */
export class NotFinalYet extends Error {
  override readonly name = 'NotFinalYet';
  constructor(
    readonly payoutId: string,
    readonly reason: string,
  ) {
    super(`payout ${payoutId}: ${reason}; will ask again`);
  }
}

/** A webhook whose X-PARTNER-SIGN does not prove it came from the bank; carries what was received. */
export class WebhookSignatureError extends Error {
  override readonly name = 'WebhookSignatureError';
  constructor(
    readonly reason: 'missing' | 'malformed' | 'mismatch',
    readonly header: string | undefined,
    readonly payload: Buffer,
  ) {
    super(
      reason === 'missing'
        ? 'webhook has no X-PARTNER-SIGN header'
        : reason === 'malformed'
          ? 'webhook X-PARTNER-SIGN is not a base64 RSA signature'
          : 'webhook X-PARTNER-SIGN does not match the body',
    );
  }
}

/** A correctly signed webhook whose body is not JSON or not a webhook shape we can read. */
export class WebhookPayloadError extends Error {
  override readonly name = 'WebhookPayloadError';
  constructor(
    message: string,
    readonly payload: Buffer,
  ) {
    super(message);
  }
}

/** We were about to send something the bank's schema forbids; nothing was sent. */
export class Bank131RequestError extends Bank131Error {
  readonly retryable = false;
  readonly outcomeUnknown = false;
  constructor(
    endpoint: string,
    readonly issues: readonly string[],
  ) {
    super(`Bank 131 ${endpoint}: request not sent, it is invalid: ${issues.join('; ')}`, endpoint);
  }
}
