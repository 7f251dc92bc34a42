import type { ErrorPlan, Knobs } from './knobs.js';
import type { ApiVersion, RefundOrder } from './requests.js';
import {
  NothingToDo,
  cancelSession,
  confirmSession,
  idempotencyRefusal,
  markError,
  noSession,
  refundPayout,
  resolveError,
  sameDue,
  startPayout,
  takeStep,
  type RuleContext,
} from './session-rules.js';
import type {
  Due,
  Effects,
  FiscalTerms,
  IdempotencyClaim,
  LedgerEntry,
  PayoutTerms,
  ReturnEntry,
  SandboxSession,
  SessionTerms,
  WebhookType,
} from './session-types.js';
import { SandboxError } from './errors.js';
import type { CommitResult, SandboxStore } from './store.js';
import { Timers } from './timers.js';

type Change = (draft: SandboxSession, ctx: RuleContext) => Effects;

/** One billion roubles, in kopecks: the partner wallet of a new bank. */
export const OPENING_BALANCE = 1_000_000_000_00;

/**
 * The sessions and the money they move, kept in Redis (sandbox/src/store.ts). Drives each session
 * through sandbox/src/session-rules.ts on the bank's clock (readyDelayMs, finishDelayMs,
 * confirmTimeoutMs, error resolution), keeps the ledger and the partner wallet, and reports each
 * webhook-worthy step to `emit`. Knows nothing of HTTP or of how a session is spelled on the wire.
 *
 * Every change is computed on a copy of the session and committed as one Redis script that writes
 * only if the stored session is still the one the change was computed from; when another call got
 * there first the change is computed again on what is stored, so the state machine refuses it
 * (two confirms at once: one goes through, the other is `session_wrong_state`). The maps here are
 * this process's copy: loaded by restore(), kept up to date by its own commits, and what tests read
 * without a round trip. The bank's own steps (`due`) are part of the session, so a restarted sandbox
 * re-arms them.
 */
export class SessionBook {
  walletBalance = OPENING_BALANCE;
  readonly ledger: LedgerEntry[] = [];
  private readonly sessions = new Map<string, SandboxSession>();
  private readonly timers = new Timers();
  private sequence = Date.now();
  private closed = false;

  constructor(
    private readonly store: SandboxStore,
    private readonly knobs: () => Knobs,
    private readonly emit: (type: WebhookType, session: SandboxSession, tag?: string) => void,
    private readonly onError: (err: unknown, what: string) => void,
  ) {}

  /** Takes in what the store holds (a restarted sandbox); resume() then re-arms every due step. */
  restore(sessions: SandboxSession[], ledger: LedgerEntry[], walletBalance: number): void {
    this.timers.clear();
    this.sessions.clear();
    this.ledger.length = 0;
    this.ledger.push(...ledger);
    this.walletBalance = walletBalance;
    for (const s of sessions) {
      this.sessions.set(s.id, s);
      for (const id of [s.id, s.payout?.id, ...(s.payout?.refunds ?? []).map((r) => r.id)]) {
        const n = Number(/_(\d+)$/.exec(id ?? '')?.[1]);
        if (n > this.sequence) this.sequence = n;
      }
    }
  }

  /** Arms every known session's due step (overdue ones are taken at once). */
  resume(): void {
    for (const s of this.sessions.values()) this.arm(s);
  }

  async create(version: ApiVersion, given: SessionTerms, claim?: IdempotencyClaim): Promise<SandboxSession> {
    for (;;) {
      const now = new Date().toISOString();
      const session: SandboxSession = {
        id: `ps_${++this.sequence}`,
        version,
        state: 'created',
        createdAt: now,
        updatedAt: now,
        given,
        rev: 1,
      };
      const result = await this.store.commit({ session, expectedRev: 0, idempotencyMember: claimed(claim) });
      if (result.outcome === 'idempotency') throw idempotencyRefusal();
      if (result.outcome !== 'ok') continue; // the id is taken (another sandbox on this prefix): take the next
      if (claim) claim.kept = true;
      this.sessions.set(session.id, session);
      return session;
    }
  }

  /** This process's copy of a session. */
  get(id: string): SandboxSession | undefined {
    return this.sessions.get(id);
  }

  count(): number {
    return this.sessions.size;
  }

  /** The session as stored now (another sandbox on the prefix may have moved it), and remembered. */
  async read(id: string): Promise<SandboxSession> {
    const session = await this.store.getSession(id);
    if (!session) throw noSession(id);
    this.remember(session);
    return session;
  }

  /** start/payout; with `fiscal`, start/payout/fiscalization (a self-employed payout). */
  start(id: string, req: PayoutTerms, claim?: IdempotencyClaim, fiscal?: FiscalTerms): Promise<SandboxSession> {
    return this.change(id, claim, (draft, ctx) => startPayout(draft, req, ctx, fiscal));
  }

  /** The card's bank returns (part of) a paid payout: money back into the wallet, payment_refunded sent. */
  refund(id: string, order: RefundOrder): Promise<SandboxSession> {
    return this.change(id, undefined, (draft, ctx) => refundPayout(draft, order, ctx));
  }

  confirm(id: string, claim?: IdempotencyClaim): Promise<SandboxSession> {
    return this.change(id, claim, (draft, ctx) => confirmSession(draft, ctx));
  }

  cancel(id: string, claim?: IdempotencyClaim): Promise<SandboxSession> {
    return this.change(id, claim, (draft) => cancelSession(draft));
  }

  markError(id: string, plan: ErrorPlan): Promise<SandboxSession> {
    return this.change(id, undefined, (draft) => markError(draft, plan));
  }

  resolveError(id: string, to?: 'succeeded' | 'failed'): Promise<SandboxSession> {
    return this.change(id, undefined, (draft, ctx) => resolveError(draft, ctx, to));
  }

  /**
   * Money moved, grouped by session: what a test asserts "paid exactly once" against. `movements`
   * are payouts only; what the card's bank sent back is in `returns`, so a returned payout is never
   * counted as paid twice.
   */
  ledgerBySession(
    ledger: readonly LedgerEntry[] = this.ledger,
    returns: readonly ReturnEntry[] = [],
  ): Array<{
    session_id: string;
    metadata: unknown;
    movements: LedgerEntry[];
    total: number;
    fee: number;
    returns: ReturnEntry[];
    returned: number;
  }> {
    const bySession = new Map<string, LedgerEntry[]>();
    for (const e of ledger) bySession.set(e.session_id, [...(bySession.get(e.session_id) ?? []), e]);
    return [...bySession].map(([session_id, movements]) => {
      const back = returns.filter((r) => r.session_id === session_id);
      return {
        session_id,
        metadata: movements[0]?.metadata,
        movements,
        total: movements.reduce((s, m) => s + m.amount, 0),
        fee: movements.reduce((s, m) => s + (m.fee ?? 0), 0),
        returns: back,
        returned: back.reduce((s, r) => s + r.amount, 0),
      };
    });
  }

  /** Every movement in Redis, whichever sandbox on the prefix made it. */
  readLedger(): Promise<LedgerEntry[]> {
    return this.store.readLedger();
  }

  /** Every return in Redis, whichever sandbox on the prefix took it. */
  readReturns(): Promise<ReturnEntry[]> {
    return this.store.readReturns();
  }

  async readWallet(): Promise<number> {
    this.walletBalance = await this.store.getWallet();
    return this.walletBalance;
  }

  /** This copy at once (a start checks it), Redis when the promise settles. */
  setWallet(amount: number): Promise<void> {
    this.walletBalance = amount;
    return this.store.setWallet(amount);
  }

  /** Forgets every session and the ledger; the wallet keeps its balance, as a real one would. */
  reset(): Promise<void> {
    this.timers.clear();
    this.sessions.clear();
    this.ledger.length = 0;
    return this.store.reset();
  }

  close(): void {
    this.closed = true;
    this.timers.close();
  }

  /**
   * Applies `change` to a copy of the session and commits it (see the class comment); then
   * remembers the new session, moves the money, sends the webhook and arms the next step.
   */
  private async change(id: string, claim: IdempotencyClaim | undefined, change: Change): Promise<SandboxSession> {
    let current = this.sessions.get(id) ?? (await this.store.getSession(id));
    for (let attempt = 1; ; attempt++) {
      if (!current) throw noSession(id);
      const draft = structuredClone(current);
      const effects = change(draft, this.context());
      draft.rev = (current.rev ?? 0) + 1;
      let result: CommitResult;
      try {
        result = await this.store.commit({
          session: draft,
          expectedRev: current.rev ?? 0,
          movement: effects.movement,
          credit: effects.credit,
          income: effects.income,
          idempotencyMember: claimed(claim),
          webhook: effects.webhook,
          webhookTag: effects.webhookTag,
        });
      } catch (err) {
        effects.undo?.();
        throw err;
      }
      if (result.outcome === 'ok') {
        if (claim) claim.kept = true;
        this.walletBalance = result.balance;
        if (effects.movement) this.ledger.push(effects.movement);
        this.sessions.set(id, draft);
        this.after(current, draft, effects);
        return draft;
      }
      effects.undo?.();
      if (result.outcome === 'idempotency') throw idempotencyRefusal();
      if (result.outcome === 'short') this.walletBalance = result.balance;
      else {
        current = result.current;
        if (current) this.remember(current);
        else this.sessions.delete(id);
      }
      if (attempt >= 50) throw new SandboxError('internal_error', `session ${id} changes too often to commit`, 500);
    }
  }

  private context(): RuleContext {
    return {
      knobs: this.knobs(),
      walletBalance: this.walletBalance,
      payoutId: () => `po_${++this.sequence}`,
      refundId: () => `rf_${++this.sequence}`,
    };
  }

  /** A session read from the store, taken in: arms its step if this copy did not know it. */
  private remember(session: SandboxSession): void {
    const known = this.sessions.get(session.id);
    if (known && (known.rev ?? 0) >= (session.rev ?? 0)) return;
    this.sessions.set(session.id, session);
    if (!sameDue(known?.due, session.due)) this.arm(session);
  }

  private after(before: SandboxSession, after: SandboxSession, effects: Effects): void {
    if (this.closed) return;
    if (effects.webhook) this.emit(effects.webhook, after, effects.webhookTag);
    if (!sameDue(before.due, after.due)) this.arm(after);
  }

  private arm(session: SandboxSession): void {
    const due = session.due;
    if (!due) return;
    this.timers.later(Math.max(0, due.at - Date.now()), () => this.fire(session.id, due));
  }

  /** A due step's time came: take it, unless the session moved on meanwhile. */
  private fire(id: string, due: Due): void {
    if (!sameDue(this.sessions.get(id)?.due, due)) return;
    this.change(id, undefined, (draft, ctx) => takeStep(draft, due, ctx)).catch((err: unknown) => {
      // Nothing to do, or nothing that can be done (the session is gone: the bank was reset).
      if (err instanceof NothingToDo || err instanceof SandboxError) return;
      this.onError(err, `the sandbox could not take the ${due.kind} step of session ${id}; trying again in a second`);
      this.timers.later(1_000, () => this.fire(id, due));
    });
  }
}

function claimed(claim: IdempotencyClaim | undefined): string | undefined {
  return claim && !claim.kept ? claim.member : undefined;
}
