import type { ApiVersion } from '../bank131/schemas.js';
import { SandboxError } from './errors.js';
import type { ErrorPlan, Knobs } from './knobs.js';
import { isFinal, nextState, reportedStatus, type SandboxEvent, type SandboxSessionState } from './session-machine.js';
import { cardBehaviour, cardFacts, type CardBehaviour } from './test-cards.js';
import { Timers } from './timers.js';

export interface LedgerEntry {
  session_id: string;
  payout_id: string;
  amount: number;
  currency: string;
  metadata: unknown;
  at: string;
}

export type WebhookType = 'ready_to_confirm' | 'payment_finished';

interface Amount {
  amount: number;
  currency: string;
}

/** What session/create may carry (src/sandbox/wire-format.ts SandboxCreateRequest fits it). */
export interface SessionTerms {
  amount_details?: Amount | undefined;
  metadata?: unknown;
  customer?: unknown;
  participant_details?: unknown;
}

/** What start/payout or init/payout carries (src/sandbox/wire-format.ts SandboxStartRequest fits it). */
export interface PayoutTerms extends SessionTerms {
  payout_details: { card: { encrypted_card: { number_hash: string } } };
}

export interface SandboxPayout {
  id: string;
  behaviour: CardBehaviour;
  card: { brand: string; last4: string };
  createdAt: string;
  finishedAt?: string;
  amountDetails: Amount;
  metadata: unknown;
  customer: unknown;
  participantDetails: unknown;
  /** What ready_to_confirm and status report, when a mismatch was injected. */
  reportedAmount: number;
  reportedMetadata: unknown;
}

/** An ErrorPlan (src/sandbox/knobs.ts) settled for one session. */
interface SessionErrorPlan {
  resolveTo: 'succeeded' | 'failed';
  resolveAfterMs: number | undefined;
  code: string;
}

export interface SandboxSession {
  id: string;
  /** The API version of the URL the session was created on: the spelling of its webhooks. */
  version: ApiVersion;
  state: SandboxSessionState;
  createdAt: string;
  updatedAt: string;
  finishedAt?: string;
  /** What session/create carried: start/payout falls back on it for what it leaves out. */
  given: SessionTerms;
  payout?: SandboxPayout;
  error?: { code: string; description: string };
  /** Taken from the errorSessions knob at start or confirm: this session will go to `error`. */
  errorPlan?: SessionErrorPlan;
}

/**
 * The sessions, and the money they move: drives each session through src/sandbox/session-machine.ts
 * on the bank's clock (readyDelayMs, finishDelayMs, confirmTimeoutMs, error resolution), keeps the
 * ledger and the partner wallet, and reports each webhook-worthy step to `emit`. Knows nothing of
 * HTTP or of how a session is spelled on the wire.
 */
export class SessionBook {
  walletBalance = 1_000_000_000_00; // one billion roubles, in kopecks
  readonly ledger: LedgerEntry[] = [];
  private readonly sessions = new Map<string, SandboxSession>();
  private readonly timers = new Timers();
  private sequence = Date.now();

  constructor(
    private readonly knobs: () => Knobs,
    private readonly emit: (type: WebhookType, session: SandboxSession) => void,
  ) {}

  create(version: ApiVersion, given: SessionTerms): SandboxSession {
    const now = new Date().toISOString();
    const session: SandboxSession = { id: `ps_${++this.sequence}`, version, state: 'created', createdAt: now, updatedAt: now, given };
    this.sessions.set(session.id, session);
    return session;
  }

  get(id: string): SandboxSession | undefined {
    return this.sessions.get(id);
  }

  find(id: string): SandboxSession {
    const session = this.sessions.get(id);
    if (!session) throw new SandboxError('invalid_request', `session_id: no session ${id}`);
    return session;
  }

  count(): number {
    return this.sessions.size;
  }

  start(session: SandboxSession, req: PayoutTerms): void {
    if (session.state !== 'created') {
      throw new SandboxError('session_wrong_state', `session ${session.id} is ${reportedStatus(session.state).session}, not created`);
    }
    // Both calls may name an amount. start/payout is the call that commits
    // the payout, so what it says wins; session/create's amount only fills in when it is silent.
    const amountDetails = req.amount_details ?? session.given.amount_details;
    if (!amountDetails) {
      throw new SandboxError('invalid_request', 'amount_details: is required, in session/start/payout or earlier in session/create');
    }
    const metadata = req.metadata !== undefined ? req.metadata : session.given.metadata;
    const hash = req.payout_details.card.encrypted_card.number_hash;
    const behaviour = cardBehaviour(hash);
    if (behaviour.kind === 'reject') throw new SandboxError(behaviour.code, 'refused by the sandbox test card');
    if (this.walletBalance < amountDetails.amount) {
      throw new SandboxError('insufficient_wallet_balance', 'the partner wallet balance is too low');
    }
    session.payout = {
      id: `po_${++this.sequence}`,
      behaviour,
      card: cardFacts(hash),
      createdAt: new Date().toISOString(),
      amountDetails,
      metadata,
      customer: req.customer ?? session.given.customer,
      participantDetails: req.participant_details ?? session.given.participant_details,
      reportedAmount: amountDetails.amount,
      reportedMetadata: metadata,
    };
    this.move(session, 'start');
    session.errorPlan = this.takeErrorPlan('start');
    this.timers.later(this.knobs().readyDelayMs, () => {
      if (session.state !== 'started') return;
      if (session.errorPlan) return this.enterError(session, session.errorPlan);
      this.injectMismatch(session);
      this.move(session, 'ready');
      this.emit('ready_to_confirm', session);
      this.timers.later(this.knobs().confirmTimeoutMs, () => {
        if (session.state === 'awaiting_confirm') this.fail(session, 'expire', 'confirm_timeout', 'no confirmation in time');
      });
    });
  }

  confirm(session: SandboxSession): void {
    this.move(session, 'confirm');
    session.errorPlan = this.takeErrorPlan('confirm');
    this.timers.later(this.knobs().finishDelayMs, () => {
      if (session.state !== 'confirmed') return;
      if (session.errorPlan) this.enterError(session, session.errorPlan);
      else this.settle(session);
    });
  }

  cancel(session: SandboxSession): void {
    const hadPayout = Boolean(session.payout);
    this.move(session, 'cancel');
    session.error = { code: 'session_cancelled_by_partner', description: 'cancelled by the partner' };
    if (hadPayout) this.emit('payment_finished', session);
  }

  /**
   * Puts a started session in `error` now, whatever the errorSessions knob says: the scripted
   * way to make session/status report `error` for one session.
   */
  markError(session: SandboxSession, plan: ErrorPlan): void {
    const settled: SessionErrorPlan = {
      resolveTo: plan.resolveTo ?? (session.state === 'confirmed' ? 'succeeded' : 'failed'),
      resolveAfterMs: plan.resolveAfterMs,
      code: plan.code,
    };
    if (!nextState(session.state, 'error')) {
      throw new SandboxError('session_wrong_state', `session ${session.id} is ${reportedStatus(session.state).session}: only a started session can go to error`);
    }
    session.errorPlan = settled;
    this.enterError(session, settled);
  }

  /** Ends a session's `error`: as its plan says, or as `to` overrides. */
  resolveError(session: SandboxSession, to?: 'succeeded' | 'failed'): void {
    if (session.state !== 'error') {
      throw new SandboxError('session_wrong_state', `session ${session.id} is ${reportedStatus(session.state).session}, not error`);
    }
    const plan = session.errorPlan ?? { resolveTo: 'failed', resolveAfterMs: undefined, code: 'internal_error' };
    delete session.error;
    if ((to ?? plan.resolveTo) === 'failed') this.fail(session, 'decline', plan.code, 'the sandbox resolved the error as a failure');
    else this.settle(session);
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

  /** Forgets every session and the ledger; the wallet keeps its balance, as a real one would. */
  reset(): void {
    this.timers.clear();
    this.sessions.clear();
    this.ledger.length = 0;
  }

  close(): void {
    this.timers.close();
  }

  // ------------------------------------------------------------------ internals

  private takeErrorPlan(after: 'start' | 'confirm'): SessionErrorPlan | undefined {
    const k = this.knobs().errorSessions;
    if (!k || k.after !== after || k.remaining <= 0) return undefined;
    k.remaining -= 1;
    return { resolveTo: k.resolveTo ?? (after === 'confirm' ? 'succeeded' : 'failed'), resolveAfterMs: k.resolveAfterMs, code: k.code };
  }

  private enterError(session: SandboxSession, plan: SessionErrorPlan): void {
    this.move(session, 'error');
    session.error = { code: plan.code, description: 'sandbox: the result is unknown for now; wait for the final status' };
    if (plan.resolveAfterMs === undefined) return;
    this.timers.later(plan.resolveAfterMs, () => {
      if (session.state === 'error') this.resolveError(session);
    });
  }

  /** The payout's outcome once the bank may pay: the test card's, unless the wallet is short. */
  private settle(session: SandboxSession): void {
    const payout = session.payout!;
    if (payout.behaviour.kind === 'decline') {
      this.fail(session, 'decline', payout.behaviour.code, 'declined by the sandbox test card');
    } else if (this.walletBalance < payout.amountDetails.amount) {
      this.fail(session, 'decline', 'insufficient_wallet_balance', 'the partner wallet balance is too low');
    } else {
      this.move(session, 'succeed');
      this.walletBalance -= payout.amountDetails.amount;
      this.ledger.push({
        session_id: session.id,
        payout_id: payout.id,
        amount: payout.amountDetails.amount,
        currency: payout.amountDetails.currency,
        metadata: payout.metadata,
        at: new Date().toISOString(),
      });
      this.emit('payment_finished', session);
    }
  }

  private injectMismatch(session: SandboxSession): void {
    const payout = session.payout!;
    if (payout.behaviour.kind === 'mismatch_amount') payout.reportedAmount += 100;
    if (payout.behaviour.kind === 'mismatch_metadata') payout.reportedMetadata = `not-${String(payout.metadata)}`;
    const m = this.knobs().mismatch;
    if (m && m.remaining > 0) {
      m.remaining -= 1;
      payout.reportedAmount += m.amountDelta;
      if (m.metadata !== undefined) payout.reportedMetadata = m.metadata;
    }
  }

  private fail(session: SandboxSession, event: SandboxEvent, code: string, description: string): void {
    this.move(session, event);
    session.error = { code, description };
    this.emit('payment_finished', session);
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
}
