import type { ApiVersion } from '../bank131/schemas.js';
import { SandboxError } from './errors.js';
import type { ErrorPlan, Knobs } from './knobs.js';
import { isFinal, nextState, reportedStatus, type SandboxEvent, type SandboxSessionState } from './session-machine.js';
import { cardBehaviour, cardFacts, type CardBehaviour } from './test-cards.js';
import type { SandboxStore } from './store.js';
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
  errorPlan?: SessionErrorPlan | undefined;
  /** Bumped by every change (1 once created): what a change to the stored session compares before it writes. */
  rev?: number | undefined;
  /** The bank's next step on its own clock, and when (epoch ms): re-armed by a restarted sandbox. */
  due?: Due | undefined;
}

/**
 * What the bank does next without being asked: `ready` (ready_to_confirm after start), `expire`
 * (confirm_timeout), `finish` (the outcome after confirm), `resolve` (leave `error`).
 */
export interface Due {
  kind: 'ready' | 'expire' | 'finish' | 'resolve';
  at: number;
}

/**
 * An idempotency key a call is trying to keep (src/sandbox/bank.ts call): the first change the
 * call commits keeps it, in the same transaction.
 */
export interface IdempotencyClaim {
  member: string;
  kept: boolean;
}

/** What a change does besides the session itself; applied only once the change is committed. */
interface Effects {
  movement?: LedgerEntry | undefined;
  webhook?: WebhookType | undefined;
  /** Gives back knob counters (errorSessions, mismatch) taken by a change that did not commit. */
  undo?: (() => void) | undefined;
}

type Change = (draft: SandboxSession) => Effects | void;

/** A timer found its step already taken or superseded: nothing to write. */
class NothingToDo extends Error {}

/** A session change, or for the Redis store its promise: in memory it happens before the call returns. */
export type Committed<T> = T | Promise<T>;

/**
 * The sessions, and the money they move: drives each session through src/sandbox/session-machine.ts
 * on the bank's clock (readyDelayMs, finishDelayMs, confirmTimeoutMs, error resolution), keeps the
 * ledger and the partner wallet, and reports each webhook-worthy step to `emit`. Knows nothing of
 * HTTP or of how a session is spelled on the wire.
 *
 * Every change is computed on a copy of the session and then committed. Without a store it is
 * committed at once, in memory, before the method returns (a refusal is thrown synchronously).
 * With a store (src/sandbox/store.ts) it is committed as one Redis script that writes only if the
 * stored session is still the one the change was computed from; when another call got there first
 * the change is computed again on what is stored, so the state machine refuses it as it would in
 * memory (two confirms at once: one goes through, the other is `session_wrong_state`). The maps
 * here are then this process's copy: loaded by restore(), kept up to date by its own commits.
 * The bank's own steps (`due`) are part of the session, so a restarted sandbox re-arms them.
 */
export class SessionBook {
  walletBalance = 1_000_000_000_00; // one billion roubles, in kopecks
  readonly ledger: LedgerEntry[] = [];
  private readonly sessions = new Map<string, SandboxSession>();
  private readonly timers = new Timers();
  private sequence = Date.now();
  private closed = false;

  constructor(
    private readonly knobs: () => Knobs,
    private readonly emit: (type: WebhookType, session: SandboxSession) => void,
    private readonly store?: SandboxStore,
    private readonly onError: (err: unknown, what: string) => void = () => {},
  ) {}

  /** Takes in what the store holds (a restarted sandbox), re-arms every due step. */
  restore(sessions: SandboxSession[], ledger: LedgerEntry[], walletBalance: number): void {
    this.timers.clear();
    this.sessions.clear();
    this.ledger.length = 0;
    this.ledger.push(...ledger);
    this.walletBalance = walletBalance;
    for (const s of sessions) {
      this.sessions.set(s.id, s);
      for (const id of [s.id, s.payout?.id]) {
        const n = Number(/_(\d+)$/.exec(id ?? '')?.[1]);
        if (n > this.sequence) this.sequence = n;
      }
    }
    for (const s of sessions) this.arm(s);
  }

  create(version: ApiVersion, given: SessionTerms, claim?: IdempotencyClaim): Committed<SandboxSession> {
    const make = (): SandboxSession => {
      const now = new Date().toISOString();
      return { id: `ps_${++this.sequence}`, version, state: 'created', createdAt: now, updatedAt: now, given, rev: 1 };
    };
    if (!this.store) {
      const session = make();
      this.sessions.set(session.id, session);
      return session;
    }
    const store = this.store;
    return (async () => {
      for (;;) {
        const session = make();
        const result = await store.commit({ session, expectedRev: 0, idempotencyMember: this.claimed(claim) });
        if (result.outcome === 'idempotency') throw idempotencyRefusal();
        if (result.outcome !== 'ok') continue; // the id is taken (another sandbox on this prefix): take the next
        if (claim) claim.kept = true;
        this.sessions.set(session.id, session);
        return session;
      }
    })();
  }

  get(id: string): SandboxSession | undefined {
    return this.sessions.get(id);
  }

  find(id: string): SandboxSession {
    const session = this.sessions.get(id);
    if (!session) throw noSession(id);
    return session;
  }

  /** The session as stored now: from Redis with a store (another sandbox may have moved it), else find(). */
  read(id: string): Committed<SandboxSession> {
    if (!this.store) return this.find(id);
    const store = this.store;
    return (async () => {
      const session = await store.getSession(id);
      if (!session) throw noSession(id);
      this.remember(session);
      return session;
    })();
  }

  count(): number {
    return this.sessions.size;
  }

  start(id: string, req: PayoutTerms, claim?: IdempotencyClaim): Committed<SandboxSession> {
    return this.change(id, claim, (session) => {
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
      const taken = this.takeErrorPlan('start');
      session.errorPlan = taken?.plan;
      session.due = this.dueIn('ready', this.knobs().readyDelayMs);
      return { undo: taken?.undo };
    });
  }

  confirm(id: string, claim?: IdempotencyClaim): Committed<SandboxSession> {
    return this.change(id, claim, (session) => {
      this.move(session, 'confirm');
      const taken = this.takeErrorPlan('confirm');
      session.errorPlan = taken?.plan;
      session.due = this.dueIn('finish', this.knobs().finishDelayMs);
      return { undo: taken?.undo };
    });
  }

  cancel(id: string, claim?: IdempotencyClaim): Committed<SandboxSession> {
    return this.change(id, claim, (session) => {
      const hadPayout = Boolean(session.payout);
      this.move(session, 'cancel');
      session.error = { code: 'session_cancelled_by_partner', description: 'cancelled by the partner' };
      return hadPayout ? { webhook: 'payment_finished' } : {};
    });
  }

  /**
   * Puts a started session in `error` now, whatever the errorSessions knob says: the scripted
   * way to make session/status report `error` for one session.
   */
  markError(id: string, plan: ErrorPlan): Committed<SandboxSession> {
    return this.change(id, undefined, (session) => {
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
    });
  }

  /** Ends a session's `error`: as its plan says, or as `to` overrides. */
  resolveError(id: string, to?: 'succeeded' | 'failed'): Committed<SandboxSession> {
    return this.change(id, undefined, (session) => {
      if (session.state !== 'error') {
        throw new SandboxError('session_wrong_state', `session ${session.id} is ${reportedStatus(session.state).session}, not error`);
      }
      return this.leaveError(session, to);
    });
  }

  /** Money moved, grouped by session: what a test asserts "paid exactly once" against. */
  ledgerBySession(ledger: readonly LedgerEntry[] = this.ledger): Array<{ session_id: string; metadata: unknown; movements: LedgerEntry[]; total: number }> {
    const bySession = new Map<string, LedgerEntry[]>();
    for (const e of ledger) bySession.set(e.session_id, [...(bySession.get(e.session_id) ?? []), e]);
    return [...bySession].map(([session_id, movements]) => ({
      session_id,
      metadata: movements[0]?.metadata,
      movements,
      total: movements.reduce((s, m) => s + m.amount, 0),
    }));
  }

  /** The whole ledger: from Redis with a store (every movement, whichever sandbox made it), else this one's. */
  readLedger(): Committed<readonly LedgerEntry[]> {
    return this.store ? this.store.readLedger() : this.ledger;
  }

  /** The wallet balance: from Redis with a store, and remembered. */
  readWallet(): Committed<number> {
    if (!this.store) return this.walletBalance;
    return this.store.getWallet().then((balance) => (this.walletBalance = balance));
  }

  setWallet(amount: number): Committed<void> {
    this.walletBalance = amount;
    if (this.store) return this.store.setWallet(amount);
  }

  /** Forgets every session and the ledger; the wallet keeps its balance, as a real one would. */
  reset(): Committed<void> {
    this.timers.clear();
    this.sessions.clear();
    this.ledger.length = 0;
    if (this.store) return this.store.reset();
  }

  close(): void {
    this.closed = true;
    this.timers.close();
  }

  // ------------------------------------------------------------------ internals

  /**
   * Applies `change` to a copy of the session and commits it (see the class comment); then
   * remembers the new session, moves the money, sends the webhook and arms the next step.
   */
  private change(id: string, claim: IdempotencyClaim | undefined, change: Change): Committed<SandboxSession> {
    if (!this.store) {
      const current = this.find(id);
      const draft = structuredClone(current);
      const effects = change(draft) ?? {};
      draft.rev = (current.rev ?? 0) + 1;
      if (effects.movement) {
        this.walletBalance -= effects.movement.amount;
        this.ledger.push(effects.movement);
      }
      this.sessions.set(id, draft);
      this.after(current, draft, effects);
      return draft;
    }
    const store = this.store;
    return (async () => {
      let current = this.sessions.get(id) ?? (await store.getSession(id));
      for (let attempt = 1; ; attempt++) {
        if (!current) throw noSession(id);
        const draft = structuredClone(current);
        const effects = change(draft) ?? {};
        draft.rev = (current.rev ?? 0) + 1;
        const result = await store.commit({
          session: draft,
          expectedRev: current.rev ?? 0,
          movement: effects.movement,
          idempotencyMember: this.claimed(claim),
          webhook: effects.webhook,
        }).catch((err: unknown) => {
          effects.undo?.();
          throw err;
        });
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
    })();
  }

  private claimed(claim: IdempotencyClaim | undefined): string | undefined {
    return claim && !claim.kept ? claim.member : undefined;
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
    if (effects.webhook) this.emit(effects.webhook, after);
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
    const onError = (err: unknown) => {
      // Nothing to do, or nothing that can be done (the session is gone: the bank was reset).
      if (err instanceof NothingToDo || err instanceof SandboxError) return;
      this.onError(err, `the sandbox could not take the ${due.kind} step of session ${id}; trying again in a second`);
      this.timers.later(1_000, () => this.fire(id, due));
    };
    try {
      const result = this.change(id, undefined, (session) => this.takeStep(session, due));
      if (result instanceof Promise) result.catch(onError);
    } catch (err) {
      onError(err);
    }
  }

  private takeStep(session: SandboxSession, due: Due): Effects | void {
    if (!sameDue(session.due, due)) throw new NothingToDo();
    switch (due.kind) {
      case 'ready': {
        if (session.state !== 'started') throw new NothingToDo();
        if (session.errorPlan) return this.enterError(session, session.errorPlan);
        const undo = this.injectMismatch(session);
        this.move(session, 'ready');
        session.due = this.dueIn('expire', this.knobs().confirmTimeoutMs);
        return { webhook: 'ready_to_confirm', undo };
      }
      case 'expire':
        if (session.state !== 'awaiting_confirm') throw new NothingToDo();
        return this.fail(session, 'expire', 'confirm_timeout', 'no confirmation in time');
      case 'finish':
        if (session.state !== 'confirmed') throw new NothingToDo();
        if (session.errorPlan) return this.enterError(session, session.errorPlan);
        return this.settle(session);
      case 'resolve':
        if (session.state !== 'error') throw new NothingToDo();
        return this.leaveError(session);
    }
  }

  private dueIn(kind: Due['kind'], ms: number): Due {
    return { kind, at: Date.now() + ms };
  }

  private takeErrorPlan(after: 'start' | 'confirm'): { plan: SessionErrorPlan; undo: () => void } | undefined {
    const k = this.knobs().errorSessions;
    if (!k || k.after !== after || k.remaining <= 0) return undefined;
    k.remaining -= 1;
    return {
      plan: { resolveTo: k.resolveTo ?? (after === 'confirm' ? 'succeeded' : 'failed'), resolveAfterMs: k.resolveAfterMs, code: k.code },
      undo: () => (k.remaining += 1),
    };
  }

  private enterError(session: SandboxSession, plan: SessionErrorPlan): Effects {
    this.move(session, 'error');
    session.error = { code: plan.code, description: 'sandbox: the result is unknown for now; wait for the final status' };
    if (plan.resolveAfterMs !== undefined) session.due = this.dueIn('resolve', plan.resolveAfterMs);
    return {};
  }

  private leaveError(session: SandboxSession, to?: 'succeeded' | 'failed'): Effects {
    const plan = session.errorPlan ?? { resolveTo: 'failed', resolveAfterMs: undefined, code: 'internal_error' };
    delete session.error;
    if ((to ?? plan.resolveTo) === 'failed') return this.fail(session, 'decline', plan.code, 'the sandbox resolved the error as a failure');
    return this.settle(session);
  }

  /** The payout's outcome once the bank may pay: the test card's, unless the wallet is short. */
  private settle(session: SandboxSession): Effects {
    const payout = session.payout!;
    if (payout.behaviour.kind === 'decline') {
      return this.fail(session, 'decline', payout.behaviour.code, 'declined by the sandbox test card');
    }
    if (this.walletBalance < payout.amountDetails.amount) {
      return this.fail(session, 'decline', 'insufficient_wallet_balance', 'the partner wallet balance is too low');
    }
    this.move(session, 'succeed');
    const movement: LedgerEntry = {
      session_id: session.id,
      payout_id: payout.id,
      amount: payout.amountDetails.amount,
      currency: payout.amountDetails.currency,
      metadata: payout.metadata,
      at: new Date().toISOString(),
    };
    return { movement, webhook: 'payment_finished' };
  }

  private injectMismatch(session: SandboxSession): (() => void) | undefined {
    const payout = session.payout!;
    if (payout.behaviour.kind === 'mismatch_amount') payout.reportedAmount += 100;
    if (payout.behaviour.kind === 'mismatch_metadata') payout.reportedMetadata = `not-${String(payout.metadata)}`;
    const m = this.knobs().mismatch;
    if (m && m.remaining > 0) {
      m.remaining -= 1;
      payout.reportedAmount += m.amountDelta;
      if (m.metadata !== undefined) payout.reportedMetadata = m.metadata;
      return () => (m.remaining += 1);
    }
    return undefined;
  }

  private fail(session: SandboxSession, event: SandboxEvent, code: string, description: string): Effects {
    this.move(session, event);
    session.error = { code, description };
    return { webhook: 'payment_finished' };
  }

  /** Moves the state on; whatever step was due is off (the change sets the next one, if any). */
  private move(session: SandboxSession, event: SandboxEvent): void {
    const next = nextState(session.state, event);
    if (!next) {
      throw new SandboxError('session_wrong_state', `cannot ${event} session ${session.id}: it is ${reportedStatus(session.state).session}`);
    }
    session.state = next;
    session.updatedAt = new Date().toISOString();
    delete session.due;
    if (isFinal(next)) {
      session.finishedAt = session.updatedAt;
      if (session.payout) session.payout.finishedAt = session.updatedAt;
    }
  }
}

function sameDue(a: Due | undefined, b: Due | undefined): boolean {
  return a?.kind === b?.kind && a?.at === b?.at;
}

function noSession(id: string): SandboxError {
  return new SandboxError('invalid_request', `session_id: no session ${id}`);
}

function idempotencyRefusal(): SandboxError {
  return new SandboxError('idempotency_key_already_exists', 'this idempotency key was already used for this endpoint', 409);
}
