import { UnrecoverableError, type Job } from 'bullmq';
import { Bank131ApiError } from '../src/bank131/errors.js';
import type { BankSession } from '../src/bank131/schemas.js';
import { StartJob, bankMetadataFor, type PayoutRecord } from '../src/payouts/schemas.js';
import { errorFields, isLastAttempt, move, payoutFacts, type PipelineDeps } from './deps.js';

/**
 * payout-start: `session/create` unless a session is recorded, then `session/start/payout`.
 *
 * Exactly-once rules (design §2): the session id is recorded (compare-and-set) before start is
 * sent; every send is counted first, so any later run that finds a count asks `session/status`
 * before it may send again. A crash, a lost answer or a second worker therefore never starts a
 * second payout, and an orphan session (created, never recorded) moves no money.
 */
export function startProcessor(deps: PipelineDeps) {
  return async (job: Job<StartJob>): Promise<string> => {
    const { payoutId } = StartJob.parse(job.data);
    let payout = await deps.store.get(payoutId);
    if (!payout) {
      deps.log.warn({ payoutId }, 'payout-start: no such payout');
      return 'missing';
    }
    if (payout.state === 'queued') {
      payout = await createSession(deps, payout, job);
      if (!payout) return 'ended';
    }
    if (payout.state !== 'session_created' || !payout.sessionId) return `nothing to start (${payout.state})`;
    return startPayout(deps, payout);
  };
}

async function createSession(deps: PipelineDeps, payout: PayoutRecord, job: Job<StartJob>): Promise<PayoutRecord | null> {
  let session: BankSession;
  try {
    session = await deps.bank.createSession({ metadata: bankMetadataFor(payout.id) });
  } catch (err) {
    // No session is recorded, so no money can have moved: a permanent refusal, or the last
    // try, may end the payout. (A session the bank made anyway stays an unused orphan.)
    const permanent = err instanceof Bank131ApiError && !err.retryable;
    if (permanent || isLastAttempt(job)) {
      await move(deps, payout.id, { from: ['queued'], to: 'failed', why: `session/create failed: ${(err as Error).message}`, set: errorFields(err) });
      throw new UnrecoverableError((err as Error).message);
    }
    throw err;
  }
  const recorded = await deps.store.transition(payout.id, {
    from: ['queued'],
    to: 'session_created',
    why: `bank session ${session.id} created`,
    set: { session_id: session.id },
    indexSession: session.id,
  });
  if (recorded.ok) return { ...payout, state: 'session_created', sessionId: session.id };
  // Another run recorded its session first (or the payout was cancelled): ours stays an unused orphan.
  deps.log.info({ payoutId: payout.id, sessionId: session.id, current: recorded.current }, 'session not recorded: payout moved on');
  return deps.store.get(payout.id);
}

async function startPayout(deps: PipelineDeps, payout: PayoutRecord): Promise<string> {
  const sessionId = payout.sessionId!;
  if (payout.startAttempts > 0) {
    // An earlier run may have reached the bank: its answer decides, never a blind resend.
    const status = await deps.bank.sessionStatus(sessionId);
    const resolved = await applyStatus(deps, payout, status);
    if (resolved) return resolved;
  }
  const attempt = await deps.store.markStartAttempt(payout.id, sessionId);
  if (attempt === null) return 'payout moved on before start';
  const { order } = payout;
  try {
    const session = await deps.bank.startPayout(
      {
        session_id: sessionId,
        payout_details: { type: 'card', card: { type: 'encrypted_card', encrypted_card: order.encrypted_card } },
        amount_details: order.amount_details,
        participant_details: { recipient: order.recipient },
        ...(order.customer ? { customer: order.customer } : {}),
        metadata: bankMetadataFor(payout.id),
      },
      { idempotencyKey: `${sessionId}-start-${attempt}` },
    );
    await recordStarted(deps, payout, session, 'bank accepted session/start/payout');
    return 'started';
  } catch (err) {
    if (err instanceof Bank131ApiError && err.advice === 'permanent') {
      await move(deps, payout.id, { from: ['session_created'], to: 'failed', why: `bank refused the payout: ${err.code}`, set: errorFields(err) });
      throw new UnrecoverableError(err.message);
    }
    throw err; // retried with backoff; the next run asks session/status first
  }
}

/** What session/status says about a start we may have sent. Returns null when it never landed. */
async function applyStatus(deps: PipelineDeps, payout: PayoutRecord, session: BankSession): Promise<string | null> {
  switch (session.status) {
    case 'created':
      return null;
    case 'in_progress':
    case 'accepted':
      await recordStarted(deps, payout, session, `session/status shows the payout started (${session.status})`);
      return 'started (resolved through session/status)';
    case 'cancelled':
      await move(deps, payout.id, {
        from: ['session_created'],
        to: 'failed',
        why: 'session/status shows the session cancelled',
        set: { error_code: session.error?.code ?? 'session_cancelled', error_text: session.error?.description ?? 'the bank cancelled the session' },
      });
      return 'failed';
    case 'error':
      // Not final at the bank (API notes §5.1): wait and ask again.
      throw new Error(`session ${session.id} is in status error (not final); will ask again`);
  }
}

async function recordStarted(deps: PipelineDeps, payout: PayoutRecord, session: BankSession, why: string): Promise<void> {
  const { set } = payoutFacts(session);
  await move(deps, payout.id, { from: ['session_created'], to: 'started', why, set });
}
