import { createHash, randomBytes } from 'node:crypto';
import type { z } from 'zod';
import { describeIssues } from '../issues.js';
import {
  InitPayoutRequest,
  SessionCreateRequest,
  SessionIdRequest,
  StartPayoutRequest,
  TokenInfoRequest,
  WalletBalanceRequest,
  WidgetTokenRequest,
  fromWireNames,
  type ApiVersion,
  type PayoutFields,
} from '../bank131/schemas.js';
import { Knobs, KnobsPatch, type Fault } from './knobs.js';
import { isFinal, nextState, reportedStatus, type SandboxEvent, type SandboxSessionState } from './session-machine.js';
import { cardBehaviour, cardFacts, type CardBehaviour } from './test-cards.js';

/** A refusal in the bank's error shape. */
export class SandboxError extends Error {
  constructor(
    readonly code: string,
    readonly description: string,
    readonly httpStatus = 400,
  ) {
    super(`${code}: ${description}`);
  }
}

export interface LedgerEntry {
  session_id: string;
  payout_id: string;
  amount: number;
  currency: string;
  metadata: unknown;
  at: string;
}

interface SandboxSession {
  id: string;
  state: SandboxSessionState;
  createdAt: string;
  updatedAt: string;
  finishedAt?: string;
  createMetadata: unknown;
  payout?: {
    id: string;
    fields: PayoutFields;
    behaviour: CardBehaviour;
    card: { brand: string; last4: string };
    createdAt: string;
    finishedAt?: string;
    /** What ready_to_confirm and status report, when a mismatch was injected. */
    reportedAmount: number;
    reportedMetadata: unknown;
  };
  error?: { code: string; description: string };
}

export type WebhookType = 'ready_to_confirm' | 'payment_finished';

/** What the bank wants delivered; the dispatcher signs and sends it. */
export interface OutgoingWebhook {
  type: WebhookType;
  sessionId: string;
  body: Record<string, unknown>;
}

/** How the HTTP layer must answer, decided before and after acting. */
export type FaultPlan = { before: 'none' | '5xx' | 'timeout' | { error: string }; after: 'none' | 'timeout' };

const MONEY_MOVING = new Set(['session/start/payout', 'session/init/payout', 'session/confirm']);

/**
 * The sandbox bank's state: sessions, the ledger of money moved, the wallet, issued tokens and
 * idempotency keys, plus the knobs. Pure in-memory logic; the HTTP server and the webhook
 * dispatcher sit around it.
 */
export class SandboxBank {
  knobs: Knobs = Knobs.parse({});
  walletBalance = 1_000_000_000_00; // one billion roubles, in kopecks
  readonly ledger: LedgerEntry[] = [];
  /** Every signed API call that reached the bank, with the session it named: what a test counts. */
  readonly calls: Array<{ endpoint: string; sessionId: string | null; httpStatus: number }> = [];
  private readonly sessions = new Map<string, SandboxSession>();
  private readonly idempotency = new Map<string, string>();
  private readonly publicTokens = new Set<string>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private sequence = Date.now();
  private closed = false;

  constructor(
    private readonly emit: (webhook: OutgoingWebhook) => void,
    knobs: KnobsPatch = {},
  ) {
    this.setKnobs(knobs);
  }

  /** Merge only the knobs named in the patch (zod would fill the others with defaults). */
  setKnobs(patch: unknown): Knobs {
    const parsed = KnobsPatch.safeParse(patch);
    if (!parsed.success) throw new SandboxError('invalid_request', describeIssues(parsed.error).join('; '));
    const named = Object.keys(patch as object) as Array<keyof Knobs>;
    const next = { ...this.knobs } as Record<string, unknown>;
    for (const key of named) next[key] = (parsed.data as Record<string, unknown>)[key];
    this.knobs = Knobs.parse(next);
    return this.knobs;
  }

  addFaults(faults: Fault[]): void {
    this.knobs.faults.push(...faults);
  }

  reset(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.sessions.clear();
    this.idempotency.clear();
    this.publicTokens.clear();
    this.ledger.length = 0;
    this.calls.length = 0;
    this.knobs = Knobs.parse({ webhookUrl: this.knobs.webhookUrl, webhookApiVersion: this.knobs.webhookApiVersion });
  }

  close(): void {
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }

  /** Decide, per request, which fault (if any) to play: scripted faults first, then the rates. */
  planFaults(endpoint: string): FaultPlan {
    const i = this.knobs.faults.findIndex((f) => f.endpoint === endpoint);
    if (i >= 0) {
      const fault = this.knobs.faults[i]!;
      fault.times -= 1;
      if (fault.times <= 0) this.knobs.faults.splice(i, 1);
      switch (fault.kind) {
        case '5xx':
          return { before: '5xx', after: 'none' };
        case 'error':
          return { before: { error: fault.code ?? 'internal_error' }, after: 'none' };
        case 'timeout':
          return { before: 'timeout', after: 'none' };
        case 'timeout_after_effect':
          return { before: 'none', after: 'timeout' };
      }
    }
    const k = this.knobs;
    if (k.errorRate > 0 && Math.random() < k.errorRate) return { before: '5xx', after: 'none' };
    if (k.timeoutRate > 0 && Math.random() < k.timeoutRate) return { before: 'timeout', after: 'none' };
    if (MONEY_MOVING.has(endpoint) && k.timeoutAfterEffectRate > 0 && Math.random() < k.timeoutAfterEffectRate) {
      return { before: 'none', after: 'timeout' };
    }
    return { before: 'none', after: 'none' };
  }

  /**
   * A reused idempotency key is refused (as the SDK's tests show the bank doing); the caller must
   * ask session/status instead of resending. Returns a release for a call that was refused, since
   * a refused call did nothing the key should guard.
   */
  claimIdempotencyKey(endpoint: string, key: string | undefined): () => void {
    if (!key) return () => {};
    const scoped = `${endpoint}\u0000${key}`;
    if (this.idempotency.has(scoped)) {
      throw new SandboxError('idempotency_key_already_exists', `idempotency key ${key} was already used for ${endpoint}`, 409);
    }
    this.idempotency.set(scoped, endpoint);
    return () => this.idempotency.delete(scoped);
  }

  // ------------------------------------------------------------------ endpoints

  issueToken(body: unknown): Record<string, unknown> {
    parse(WidgetTokenRequest, body);
    const token = randomBytes(32).toString('hex');
    this.publicTokens.add(token);
    return { status: 'ok', public_token: token };
  }

  tokenInfo(body: unknown): Record<string, unknown> {
    const req = parse(TokenInfoRequest, body);
    const hash = req.card.encrypted_card.number_hash;
    return { status: 'ok', info: { number_hash: hash, type: 'card', ...cardFacts(hash) } };
  }

  walletBalanceOf(body: unknown): Record<string, unknown> {
    parse(WalletBalanceRequest, body);
    return { status: 'ok', wallets: [{ id: 'wlt_sandbox', amount_details: { amount: this.walletBalance, currency: 'rub' } }] };
  }

  createSession(body: unknown, version: ApiVersion): Record<string, unknown> {
    const req = parse(SessionCreateRequest, body);
    const session = this.newSession(req.metadata);
    return { status: 'ok', session: this.wire(session, version) };
  }

  startPayout(body: unknown, version: ApiVersion): Record<string, unknown> {
    const req = parse(StartPayoutRequest, fromWireNames(body));
    const session = this.find(req.session_id);
    this.start(session, req);
    return { status: 'ok', session: this.wire(session, version) };
  }

  initPayout(body: unknown, version: ApiVersion): Record<string, unknown> {
    const req = parse(InitPayoutRequest, fromWireNames(body));
    const session = this.newSession(req.metadata);
    this.start(session, req);
    return { status: 'ok', session: this.wire(session, version) };
  }

  confirm(body: unknown, version: ApiVersion): Record<string, unknown> {
    const session = this.find(parse(SessionIdRequest, body).session_id);
    this.move(session, 'confirm');
    const payout = session.payout!;
    this.later(this.knobs.finishDelayMs, () => {
      if (payout.behaviour.kind === 'decline') {
        this.fail(session, 'decline', payout.behaviour.code, 'declined by the sandbox test card');
      } else if (this.walletBalance < payout.fields.amount_details.amount) {
        this.fail(session, 'decline', 'insufficient_wallet_balance', 'the partner wallet balance is too low');
      } else {
        this.move(session, 'succeed');
        this.walletBalance -= payout.fields.amount_details.amount;
        this.ledger.push({
          session_id: session.id,
          payout_id: payout.id,
          amount: payout.fields.amount_details.amount,
          currency: payout.fields.amount_details.currency,
          metadata: payout.fields.metadata,
          at: new Date().toISOString(),
        });
        this.emitWebhook('payment_finished', session);
      }
    });
    return { status: 'ok', session: this.wire(session, version) };
  }

  cancel(body: unknown, version: ApiVersion): Record<string, unknown> {
    const session = this.find(parse(SessionIdRequest, body).session_id);
    const hadPayout = Boolean(session.payout);
    this.move(session, 'cancel');
    session.error = { code: 'session_cancelled_by_partner', description: 'cancelled by the partner' };
    if (hadPayout) this.emitWebhook('payment_finished', session);
    return { status: 'ok', session: this.wire(session, version) };
  }

  status(body: unknown, version: ApiVersion): Record<string, unknown> {
    const session = this.find(parse(SessionIdRequest, body).session_id);
    return { status: 'ok', session: this.wire(session, version) };
  }

  // ------------------------------------------------------------------ inspection

  sessionState(id: string): SandboxSessionState | undefined {
    return this.sessions.get(id)?.state;
  }

  sessionCount(): number {
    return this.sessions.size;
  }

  /** Money moved, grouped by session: what a test asserts "paid exactly once" against. */
  ledgerBySession(): Array<{ session_id: string; metadata: unknown; movements: LedgerEntry[]; total: number }> {
    const bySession = new Map<string, LedgerEntry[]>();
    for (const e of this.ledger) bySession.set(e.session_id, [...(bySession.get(e.session_id) ?? []), e]);
    return [...bySession].map(([session_id, movements]) => ({
      session_id,
      metadata: movements[0]?.metadata,
      movements,
      total: movements.reduce((s, m) => s + m.amount, 0),
    }));
  }

  // ------------------------------------------------------------------ internals

  private newSession(metadata: unknown): SandboxSession {
    const now = new Date().toISOString();
    const session: SandboxSession = { id: `ps_${++this.sequence}`, state: 'created', createdAt: now, updatedAt: now, createMetadata: metadata };
    this.sessions.set(session.id, session);
    return session;
  }

  private start(session: SandboxSession, req: PayoutFields): void {
    if (session.state !== 'created') {
      throw new SandboxError('session_wrong_state', `session ${session.id} is ${reportedStatus(session.state).session}, not created`);
    }
    const hash = req.payout_details.card.encrypted_card.number_hash;
    const behaviour = cardBehaviour(hash);
    if (behaviour.kind === 'reject') throw new SandboxError(behaviour.code, 'refused by the sandbox test card');
    if (this.walletBalance < req.amount_details.amount) {
      throw new SandboxError('insufficient_wallet_balance', 'the partner wallet balance is too low');
    }
    const now = new Date().toISOString();
    session.payout = {
      id: `po_${++this.sequence}`,
      fields: req,
      behaviour,
      card: cardFacts(hash),
      createdAt: now,
      reportedAmount: req.amount_details.amount,
      reportedMetadata: req.metadata,
    };
    this.move(session, 'start');
    this.later(this.knobs.readyDelayMs, () => {
      if (session.state !== 'started') return;
      this.injectMismatch(session);
      this.move(session, 'ready');
      this.emitWebhook('ready_to_confirm', session);
      this.later(this.knobs.confirmTimeoutMs, () => {
        if (session.state === 'awaiting_confirm') this.fail(session, 'expire', 'confirm_timeout', 'no confirmation in time');
      });
    });
  }

  private injectMismatch(session: SandboxSession): void {
    const payout = session.payout!;
    if (payout.behaviour.kind === 'mismatch_amount') payout.reportedAmount += 100;
    if (payout.behaviour.kind === 'mismatch_metadata') payout.reportedMetadata = `not-${String(payout.fields.metadata)}`;
    const m = this.knobs.mismatch;
    if (m && m.remaining > 0) {
      m.remaining -= 1;
      payout.reportedAmount += m.amountDelta;
      if (m.metadata !== undefined) payout.reportedMetadata = m.metadata;
    }
  }

  private fail(session: SandboxSession, event: SandboxEvent, code: string, description: string): void {
    this.move(session, event);
    session.error = { code, description };
    this.emitWebhook('payment_finished', session);
  }

  private move(session: SandboxSession, event: SandboxEvent): void {
    const next = nextState(session.state, event);
    if (!next) {
      throw new SandboxError('session_wrong_state', `cannot ${event} session ${session.id}: it is ${reportedStatus(session.state).session}`);
    }
    session.state = next;
    session.updatedAt = new Date().toISOString();
    if (isFinal(next)) {
      session.finishedAt = session.updatedAt;
      if (session.payout) session.payout.finishedAt = session.updatedAt;
    }
  }

  private find(id: string): SandboxSession {
    const session = this.sessions.get(id);
    if (!session) throw new SandboxError('invalid_request', `session_id: no session ${id}`);
    return session;
  }

  private emitWebhook(type: WebhookType, session: SandboxSession): void {
    const version = this.knobs.webhookApiVersion;
    const body: Record<string, unknown> = { type, session: this.wire(session, version) };
    this.emit({ type, sessionId: session.id, body });
  }

  private later(ms: number, fn: () => void): void {
    if (this.closed) return;
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (!this.closed) fn();
    }, ms);
    t.unref();
    this.timers.add(t);
  }

  /** The session as the bank shows it, in v1 or v2 spelling. */
  wire(session: SandboxSession, version: ApiVersion): Record<string, unknown> {
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
        amount_details: { amount: p.reportedAmount, currency: p.fields.amount_details.currency },
        [version === 'v2' ? 'payout_details' : 'payment_method']: { type: 'card', card: { type: 'encrypted_card', ...p.card } },
        participant_details: { recipient: { full_name: p.fields.participant_details.recipient.full_name } },
      };
      if (p.reportedMetadata !== undefined) payout.metadata = p.reportedMetadata;
      if (p.fields.customer) payout.customer = p.fields.customer;
      if (p.finishedAt) payout.finished_at = p.finishedAt;
      if (status.payout === 'failed' && session.error) payout.error = session.error;
      if (status.payout === 'succeeded') payout.transaction_info = { rrn: createHash('sha1').update(p.id).digest('hex').slice(0, 12) };
      payouts.push(payout);
    }
    out[version === 'v2' ? 'payout_list' : 'payments'] = payouts;
    return out;
  }
}

function parse<S extends z.ZodType>(schema: S, body: unknown): z.output<S> {
  const result = schema.safeParse(body);
  if (!result.success) throw new SandboxError('invalid_request', describeIssues(result.error).join('; '));
  return result.data;
}
