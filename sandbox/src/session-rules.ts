import { SandboxError } from './errors.js';
import type { ErrorPlan, Knobs } from './knobs.js';
import { isFinal, nextState, reportedStatus, type SandboxEvent } from './session-machine.js';
import { payoutFee } from './fees.js';
import type { RefundOrder } from './requests.js';
import type {
  Due,
  Effects,
  FiscalTerms,
  LedgerEntry,
  PayoutTerms,
  ReturnEntry,
  SandboxSession,
  SessionErrorPlan,
} from './session-types.js';
import { checkFiscalization, incomeField, incomeYear } from './taxpayers.js';
import { cardBehaviour, cardFacts } from './test-cards.js';

/**
 * What each call and each of the bank's own steps does to a session: pure changes to a draft copy
 * that sandbox/src/sessions.ts then commits to Redis (or computes again, when another call got there
 * first). The state moves only through sandbox/src/session-machine.ts. Knob counters a change takes
 * (errorSessions, mismatch) come with an `undo` for a change that does not commit.
 */

/** What a change reads besides the session: the knobs as they are now and the wallet as this process knows it. */
export interface RuleContext {
  knobs: Knobs;
  walletBalance: number;
  /** A fresh payout id. */
  payoutId(): string;
  /** A fresh refund id. */
  refundId(): string;
}

/** A timer found its step already taken or superseded: nothing to write. */
export class NothingToDo extends Error {}

/** start/payout, and start/payout/fiscalization when `fiscal` is given (a self-employed payout). */
export function startPayout(session: SandboxSession, req: PayoutTerms, ctx: RuleContext, fiscal?: FiscalTerms): Effects {
  if (session.state !== 'created') {
    throw new SandboxError('session_wrong_state', `session ${session.id} is ${reportedStatus(session.state).session}, not created`);
  }
  // Both calls may name an amount. start/payout is the call that commits the payout, so what it
  // says wins; session/create's amount only fills in when it is silent.
  const amountDetails = req.amount_details ?? session.given.amount_details;
  if (!amountDetails) {
    throw new SandboxError('invalid_request', 'amount_details: is required, in session/start/payout or earlier in session/create');
  }
  if (fiscal) checkFiscalization(fiscal, amountDetails);
  const metadata = req.metadata !== undefined ? req.metadata : session.given.metadata;
  const hash = req.payout_details.card.encrypted_card.number_hash;
  const behaviour = cardBehaviour(hash);
  if (behaviour.kind === 'reject') throw new SandboxError(behaviour.code, 'refused by the sandbox test card');
  if (ctx.walletBalance < amountDetails.amount)
    throw new SandboxError('insufficient_wallet_balance', 'the partner wallet balance is too low');
  session.payout = {
    id: ctx.payoutId(),
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
  if (fiscal) session.payout.fiscalization = { taxpayer: fiscal.taxpayer };
  move(session, 'start');
  const taken = takeErrorPlan(ctx.knobs, 'start');
  session.errorPlan = taken?.plan;
  session.due = dueIn('ready', ctx.knobs.readyDelayMs);
  return { undo: taken?.undo };
}

export function confirmSession(session: SandboxSession, ctx: RuleContext): Effects {
  move(session, 'confirm');
  const taken = takeErrorPlan(ctx.knobs, 'confirm');
  session.errorPlan = taken?.plan;
  session.due = dueIn('finish', ctx.knobs.finishDelayMs);
  return { undo: taken?.undo };
}

export function cancelSession(session: SandboxSession): Effects {
  const hadPayout = Boolean(session.payout);
  move(session, 'cancel');
  session.error = { code: 'session_cancelled_by_partner', description: 'cancelled by the partner' };
  return hadPayout ? { webhook: 'payment_finished' } : {};
}

/** A started session into `error` now, whatever the errorSessions knob says (POST /sandbox/sessions/:id/error). */
export function markError(session: SandboxSession, plan: ErrorPlan): Effects {
  const settled: SessionErrorPlan = {
    resolveTo: plan.resolveTo ?? (session.state === 'confirmed' ? 'succeeded' : 'failed'),
    resolveAfterMs: plan.resolveAfterMs,
    code: plan.code,
  };
  if (!nextState(session.state, 'error')) {
    const status = reportedStatus(session.state).session;
    throw new SandboxError('session_wrong_state', `session ${session.id} is ${status}: only a started session can go to error`);
  }
  session.errorPlan = settled;
  return enterError(session, settled);
}

/** A session's `error` ended: as its plan says, or as `to` overrides. */
export function resolveError(session: SandboxSession, ctx: RuleContext, to?: 'succeeded' | 'failed'): Effects {
  if (session.state !== 'error') {
    throw new SandboxError('session_wrong_state', `session ${session.id} is ${reportedStatus(session.state).session}, not error`);
  }
  return leaveError(session, ctx, to);
}

/** The bank's own step, when its time came; NothingToDo when the session moved on meanwhile. */
export function takeStep(session: SandboxSession, due: Due, ctx: RuleContext): Effects {
  if (!sameDue(session.due, due)) throw new NothingToDo();
  switch (due.kind) {
    case 'ready': {
      if (session.state !== 'started') throw new NothingToDo();
      if (session.errorPlan) return enterError(session, session.errorPlan);
      const undo = injectMismatch(session, ctx.knobs);
      move(session, 'ready');
      session.due = dueIn('expire', ctx.knobs.confirmTimeoutMs);
      return { webhook: 'ready_to_confirm', undo };
    }
    case 'expire':
      if (session.state !== 'awaiting_confirm') throw new NothingToDo();
      return fail(session, 'expire', 'confirm_timeout', 'no confirmation in time');
    case 'finish':
      if (session.state !== 'confirmed') throw new NothingToDo();
      if (session.errorPlan) return enterError(session, session.errorPlan);
      return settle(session, ctx);
    case 'resolve':
      if (session.state !== 'error') throw new NothingToDo();
      return leaveError(session, ctx);
  }
}

/**
 * The card's bank sends (part of) a paid payout back (POST /sandbox/sessions/:id/refund): the
 * payout keeps its `succeeded` status and gains a refund, the wallet gets the money back, and a
 * payment_refunded webhook goes out. `amount` left out: all that is still unreturned.
 */
export function refundPayout(session: SandboxSession, order: RefundOrder, ctx: RuleContext): Effects {
  const payout = session.payout;
  if (session.state !== 'succeeded' || !payout) {
    const status = reportedStatus(session.state).payout ?? 'not started';
    throw new SandboxError('session_wrong_state', `session ${session.id}: only a succeeded payout can be returned; it is ${status}`, 409);
  }
  const refunds = payout.refunds ?? [];
  const left = payout.amountDetails.amount - refunds.reduce((sum, r) => sum + r.amount, 0);
  const amount = order.amount ?? left;
  if (amount <= 0 || amount > left) {
    throw new SandboxError('refund_amount_too_large', `${amount} is more than the ${left} kopecks of payout ${payout.id} not yet returned`);
  }
  const now = new Date().toISOString();
  const refund = {
    id: ctx.refundId(),
    createdAt: now,
    finishedAt: now,
    amount,
    currency: payout.amountDetails.currency,
    reason: order.reason,
  };
  payout.refunds = [...refunds, refund];
  session.updatedAt = now;
  const credit: ReturnEntry = {
    session_id: session.id,
    payout_id: payout.id,
    refund_id: refund.id,
    amount,
    currency: refund.currency,
    metadata: payout.metadata,
    reason: refund.reason,
    at: now,
  };
  return { credit, webhook: 'payment_refunded', webhookTag: refund.id };
}

export function sameDue(a: Due | undefined, b: Due | undefined): boolean {
  return a?.kind === b?.kind && a?.at === b?.at;
}

export function noSession(id: string): SandboxError {
  return new SandboxError('invalid_request', `session_id: no session ${id}`);
}

export function idempotencyRefusal(): SandboxError {
  return new SandboxError('idempotency_key_already_exists', 'this idempotency key was already used for this endpoint', 409);
}

// ------------------------------------------------------------------ the parts

function dueIn(kind: Due['kind'], ms: number): Due {
  return { kind, at: Date.now() + ms };
}

function takeErrorPlan(knobs: Knobs, after: 'start' | 'confirm'): { plan: SessionErrorPlan; undo: () => void } | undefined {
  const k = knobs.errorSessions;
  if (!k || k.after !== after || k.remaining <= 0) return undefined;
  k.remaining -= 1;
  return {
    plan: { resolveTo: k.resolveTo ?? (after === 'confirm' ? 'succeeded' : 'failed'), resolveAfterMs: k.resolveAfterMs, code: k.code },
    undo: () => (k.remaining += 1),
  };
}

function enterError(session: SandboxSession, plan: SessionErrorPlan): Effects {
  move(session, 'error');
  session.error = { code: plan.code, description: 'sandbox: the result is unknown for now; wait for the final status' };
  if (plan.resolveAfterMs !== undefined) session.due = dueIn('resolve', plan.resolveAfterMs);
  return {};
}

function leaveError(session: SandboxSession, ctx: RuleContext, to?: 'succeeded' | 'failed'): Effects {
  const plan = session.errorPlan ?? { resolveTo: 'failed', resolveAfterMs: undefined, code: 'internal_error' };
  delete session.error;
  if ((to ?? plan.resolveTo) === 'failed') return fail(session, 'decline', plan.code, 'the sandbox resolved the error as a failure');
  return settle(session, ctx);
}

/** The payout's outcome once the bank may pay: the test card's, unless the wallet is short. */
function settle(session: SandboxSession, ctx: RuleContext): Effects {
  const payout = session.payout!;
  if (payout.behaviour.kind === 'decline') return fail(session, 'decline', payout.behaviour.code, 'declined by the sandbox test card');
  if (ctx.walletBalance < payout.amountDetails.amount) {
    return fail(session, 'decline', 'insufficient_wallet_balance', 'the partner wallet balance is too low');
  }
  move(session, 'succeed');
  payout.fee = payoutFee(payout.amountDetails.amount, ctx.knobs);
  const movement: LedgerEntry = {
    session_id: session.id,
    payout_id: payout.id,
    amount: payout.amountDetails.amount,
    currency: payout.amountDetails.currency,
    metadata: payout.metadata,
    at: session.updatedAt,
    fee: payout.fee,
  };
  let income: Effects['income'];
  if (payout.fiscalization) {
    payout.fiscalization.receiptId = receiptIdOf(session.id);
    const year = incomeYear(new Date(session.updatedAt));
    income = { field: incomeField(payout.fiscalization.taxpayer.tax_reference, year), amount: payout.amountDetails.amount };
  }
  return { movement, income, webhook: 'payment_finished' };
}

/**
 * A session has one payout and that one receipt, so the receipt is named after the session's
 * number (`ps_42` → `rcpt_42`): unique on the prefix as session ids are, and found from its id
 * without an index (GET /sandbox/receipts/:id).
 */
export function receiptIdOf(sessionId: string): string {
  return `rcpt_${sessionId.replace(/^ps_/, '')}`;
}

export function sessionIdOfReceipt(receiptId: string): string | undefined {
  const n = /^rcpt_(\d+)$/.exec(receiptId)?.[1];
  return n ? `ps_${n}` : undefined;
}

function injectMismatch(session: SandboxSession, knobs: Knobs): (() => void) | undefined {
  const payout = session.payout!;
  if (payout.behaviour.kind === 'mismatch_amount') payout.reportedAmount += 100;
  if (payout.behaviour.kind === 'mismatch_metadata') payout.reportedMetadata = `not-${String(payout.metadata)}`;
  const m = knobs.mismatch;
  if (!m || m.remaining <= 0) return undefined;
  m.remaining -= 1;
  payout.reportedAmount += m.amountDelta;
  if (m.metadata !== undefined) payout.reportedMetadata = m.metadata;
  return () => (m.remaining += 1);
}

function fail(session: SandboxSession, event: SandboxEvent, code: string, description: string): Effects {
  move(session, event);
  session.error = { code, description };
  return { webhook: 'payment_finished' };
}

/** Moves the state on; whatever step was due is off (the change sets the next one, if any). */
function move(session: SandboxSession, event: SandboxEvent): void {
  const next = nextState(session.state, event);
  if (!next)
    throw new SandboxError('session_wrong_state', `cannot ${event} session ${session.id}: it is ${reportedStatus(session.state).session}`);
  session.state = next;
  session.updatedAt = new Date().toISOString();
  delete session.due;
  if (isFinal(next)) {
    session.finishedAt = session.updatedAt;
    if (session.payout) session.payout.finishedAt = session.updatedAt;
  }
}
