import type { KeyObject } from 'node:crypto';
import { signBody } from '../../src/signature.js';
import { keys } from './keys.js';

/**
 * A partner's side of the wire for the sandbox's tests: signed JSON POSTs, answers read in either
 * API version's spelling. It checks nothing of its own, so what a test sees is what the sandbox
 * answered: an `ok` body, a refusal in the bank's shape (BankRefusal), or no answer (NoAnswer).
 */

export const PROJECT = 'sandbox-test-project';

export interface WirePayout {
  [field: string]: unknown;
  id?: string;
  status?: string;
  /** `payout_details` (v2) or `payment_method` (v1), whichever the answer used. */
  details?: Record<string, unknown>;
}

export interface WireSession {
  [field: string]: unknown;
  id: string;
  status?: string;
  next_action?: string;
  /** `payout_list` (v2) or `payments` (v1), whichever the answer used. */
  payouts: WirePayout[];
}

export interface WireWebhook {
  type: string;
  session: WireSession;
}

/** The bank refused the call: `{status:"error", error:{code, description}}` with this HTTP status. */
export class BankRefusal extends Error {
  constructor(
    readonly code: string,
    readonly description: string,
    readonly httpStatus: number,
  ) {
    super(`${code}: ${description} (HTTP ${httpStatus})`);
  }
}

/** No answer: the call timed out (`timeout`), or never reached a server (`unreachable`). */
export class NoAnswer extends Error {
  constructor(readonly reason: 'timeout' | 'unreachable') {
    super(`no answer from the bank (${reason})`);
  }
}

/** Both spellings read as one: `payouts`, and each payout's `details`. */
export function readSession(wire: Record<string, unknown>): WireSession {
  const list = (wire.payout_list ?? wire.payments ?? []) as Array<Record<string, unknown>>;
  const payouts = list.map((p) => ({ ...p, details: (p.payout_details ?? p.payment_method) as Record<string, unknown> | undefined }));
  return { ...wire, id: String(wire.id), payouts };
}

export interface ClientOptions {
  apiVersion?: 'v1' | 'v2';
  privateKey?: KeyObject;
  timeoutMs?: number;
}

export interface CallOptions {
  idempotencyKey?: string;
}

export class TestClient {
  constructor(
    readonly baseUrl: string,
    readonly options: ClientOptions = {},
  ) {}

  /** One signed call; the body of an `ok` answer. */
  async post(path: string, body: unknown, call: CallOptions = {}): Promise<Record<string, unknown>> {
    const raw = JSON.stringify(body);
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'x-partner-project': PROJECT,
      'x-partner-sign': signBody(raw, this.options.privateKey ?? keys.partnerPrivate),
    };
    if (call.idempotencyKey) headers['x-partner-idempotency-key'] = call.idempotencyKey;
    let res: Response;
    try {
      res = await fetch(`${this.baseUrl}${path}`, {
        method: 'POST',
        body: raw,
        headers,
        signal: AbortSignal.timeout(this.options.timeoutMs ?? 2_000),
      });
    } catch (err) {
      throw new NoAnswer((err as Error).name === 'TimeoutError' ? 'timeout' : 'unreachable');
    }
    const answer = (await res.json()) as { status?: string; error?: { code: string; description: string } } & Record<string, unknown>;
    if (res.status === 200 && answer.status === 'ok') return answer;
    throw new BankRefusal(answer.error?.code ?? 'unknown', answer.error?.description ?? '', res.status);
  }

  createSession(body: Record<string, unknown> = {}, call?: CallOptions): Promise<WireSession> {
    return this.session('session/create', body, call);
  }

  startPayout(request: Record<string, unknown>, call?: CallOptions): Promise<WireSession> {
    return this.session('session/start/payout', this.spelled(request), call);
  }

  initPayout(request: Record<string, unknown>, call?: CallOptions): Promise<WireSession> {
    return this.session('session/init/payout', this.spelled(request), call);
  }

  /** A self-employed payout: start/payout's body plus fiscalization_details. */
  startPayoutWithFiscalization(request: Record<string, unknown>, call?: CallOptions): Promise<WireSession> {
    return this.session('session/start/payout/fiscalization', this.spelled(request), call);
  }

  initPayoutWithFiscalization(request: Record<string, unknown>, call?: CallOptions): Promise<WireSession> {
    return this.session('session/init/payout/fiscalization', this.spelled(request), call);
  }

  confirmSession(sessionId: string, call?: CallOptions): Promise<WireSession> {
    return this.session('session/confirm', { session_id: sessionId }, call);
  }

  cancelSession(sessionId: string, call?: CallOptions): Promise<WireSession> {
    return this.session('session/cancel', { session_id: sessionId }, call);
  }

  sessionStatus(sessionId: string): Promise<WireSession> {
    return this.session('session/status', { session_id: sessionId });
  }

  async walletBalance(): Promise<Array<{ id: string; amount_details: { amount: number; currency: string } }>> {
    const answer = await this.post('/api/v1/wallet/balance', { request_datetime: new Date().toISOString() });
    return answer.wallets as Array<{ id: string; amount_details: { amount: number; currency: string } }>;
  }

  async issueWidgetToken(): Promise<string> {
    return String((await this.post('/api/v1/token', { tokenize_widget: { access: true } })).public_token);
  }

  /** A public token for the self-employed widget, bound to `taxReference`. */
  async issueSelfEmployedToken(taxReference: string): Promise<string> {
    return String((await this.post('/api/v1/token', { self_employed_widget: { tax_reference: taxReference } })).public_token);
  }

  async tokenInfo(numberHash: string): Promise<{ number_hash?: string; brand?: string; last4: string; type?: string }> {
    const answer = await this.post('/api/v1/token/info', {
      type: 'card',
      card: { type: 'encrypted_card', encrypted_card: { number_hash: numberHash } },
    });
    return answer.info as { last4: string };
  }

  private async session(endpoint: string, body: unknown, call?: CallOptions): Promise<WireSession> {
    const answer = await this.post(`/api/${this.options.apiVersion ?? 'v2'}/${endpoint}`, body, call);
    return readSession(answer.session as Record<string, unknown>);
  }

  /** The card under the name this client's version uses. */
  private spelled(request: Record<string, unknown>): Record<string, unknown> {
    if (this.options.apiVersion !== 'v1' || !('payout_details' in request)) return request;
    const { payout_details, ...rest } = request;
    return { ...rest, payment_method: payout_details };
  }
}

export function clientFor(sandbox: { url: string }, options: ClientOptions = {}): TestClient {
  return new TestClient(sandbox.url, options);
}
