import { bankFor } from '../src/pipeline/bank-for.js';
import { UnrecoverableError, type Job } from 'bullmq';
import { Bank131ApiError, NotFinalYet, isMisconfigured, isPermanent } from '../src/bank131/errors.js';
import { idempotencyKey } from '../src/payouts/idempotency-key.js';
import type { BankSession } from '../src/bank131/schemas.js';
import { bankFacts, failureOf, verdictOf } from '../src/payouts/bank-verdict.js';
import { StartJob, bankMetadataFor, type PayoutIn, type PayoutRecord, type PayoutWithSession } from '../src/payouts/schemas.js';
import { applyBankSession } from '../src/pipeline/apply-bank-session.js';
import type { JobOutcome } from '../src/pipeline/job-outcome.js';
import type { PipelineDeps } from '../src/pipeline/pipeline-deps.js';
import { takeStep } from '../src/pipeline/take-step.js';
import { describeRefusal, fiscalizationDetails } from '../src/payouts/fiscalization.js';
import { isLastAttempt } from './job-attempts.js';
import { screenPayout } from '../src/pipeline/screen.js';

type AwaitingStart = PayoutIn<'session_created' | 'awaiting_funds'>;

/**
 * payout-start: the approval rules (src/pipeline/screen.ts) for a payout not yet sent, then
 * `session/create` unless a session is recorded, then `session/start/payout`.
 *
 * Exactly-once rules (docs/architecture.md): the session id is recorded (compare-and-set) before start is
 * sent; every send is counted first, so any later run that finds a count asks `session/status`
 * before it may send again. A crash, a lost answer or a second worker therefore never starts a
 * second payout, and an orphan session (created, never recorded) moves no money. An empty partner
 * wallet holds the payout in `awaiting_funds` and tries the same session again (WALLET_RETRY_MS)
 * until WALLET_WAIT_MS has passed.
 */
export function startProcessor(deps: PipelineDeps) {
  return async (job: Job<StartJob>): Promise<JobOutcome> => await start(deps, job);
}

async function start(deps: PipelineDeps, job: Job<StartJob>): Promise<JobOutcome> {
  const { payoutId } = StartJob.parse(job.data);
  let payout = await deps.store.get(payoutId);
  if (!payout) {
    deps.log.warn({ payoutId }, 'payout-start: no such payout');
    return { outcome: 'missing' };
  }
  if (payout.state === 'queued') {
    // the approval rules first: a payout they hold or refuse never reaches the bank
    const screened = await screenPayout(deps, payout);
    if (screened === 'held') return { outcome: 'awaiting_review' };
    if (screened === 'rejected') return { outcome: 'rejected' };
    if (screened === 'moved') return { outcome: 'no_longer_applies' };
    const created = await createSession(deps, payout, job);
    if (created === 'failed') return { outcome: 'failed' };
    if (!created) return { outcome: 'missing' };
    payout = created;
  }
  if (payout.state !== 'session_created' && payout.state !== 'awaiting_funds') return { outcome: 'nothing_to_do', state: payout.state };
  return startPayout(deps, payout);
}

async function createSession(deps: PipelineDeps, payout: PayoutRecord, job: Job<StartJob>): Promise<PayoutRecord | null | 'failed'> {
  let session: BankSession;
  try {
    session = await (await bankFor(deps, payout)).createSession({ metadata: bankMetadataFor(payout.id) });
  } catch (err) {
    if (isMisconfigured(err)) {
      // Our deployment's fault (key, project, rights), not the payout's: hold it until fixed.
      if (job.attemptsMade === 0)
        await deps.store.note(
          payout.id,
          `held: Bank 131 refuses our credentials (${err.code}); nothing was sent, and the payout waits until BANK131_PRIVATE_KEY / BANK131_PROJECT are fixed`,
        );
      throw err;
    }
    // No session is recorded, so no money can have moved: a permanent refusal, or the last
    // try, may end the payout. (A session the bank made anyway stays an unused orphan.)
    if (isPermanent(err) || isLastAttempt(job)) {
      await takeStep(
        deps,
        'fail',
        payout,
        { ...failureOf(err), why: `session/create failed: ${(err as Error).message}` },
        { onlyFrom: ['queued'] },
      );
      // the payout's outcome, told upstream: the job did its work (a failed job is for our own faults)
      if (isPermanent(err)) return 'failed';
      throw new UnrecoverableError((err as Error).message);
    }
    // Seen in the payout's own story, not only in the worker's log: why it is still queued.
    if (job.attemptsMade === 0)
      await deps.store.note(
        payout.id,
        `waiting: Bank 131 did not answer session/create (${(err as Error).message}); nothing was sent, and it is tried again with backoff`,
      );
    throw err;
  }
  const recorded = await takeStep(deps, 'recordSession', payout, { sessionId: session.id });
  if (!recorded.ok) {
    // Another run recorded its session first (or the payout was cancelled): ours stays an unused orphan.
    deps.log.info({ payoutId: payout.id, sessionId: session.id, current: recorded.current }, 'session not recorded: payout moved on');
    return deps.store.get(payout.id);
  }
  // The step set the session and nothing else; the payout as it now stands, without reading it back.
  const started: AwaitingStart = { ...payout, state: 'session_created', sessionId: session.id };
  return started;
}

async function startPayout(deps: PipelineDeps, payout: AwaitingStart): Promise<JobOutcome> {
  const { sessionId } = payout;
  if (payout.startAttempts > 0) {
    // An earlier run may have reached the bank: its answer decides, never a blind resend.
    const session = await (await bankFor(deps, payout)).sessionStatus(sessionId);
    if (verdictOf(session).kind !== 'created') return applyBankSession(deps, payout, session, 'status');
  }
  // Only a session the bank never started may be given up on.
  if (payout.state === 'awaiting_funds' && payout.fundsWaitUntil !== null && Date.now() >= payout.fundsWaitUntil) {
    return giveUpWaitingForFunds(deps, payout);
  }
  const { order } = payout;
  // Given with the order, or by the recipient through the collection link.
  const card = order.encrypted_card ?? payout.collectedCard;
  if (!card) {
    await takeStep(
      deps,
      'fail',
      payout,
      { code: 'no_card', description: 'the payout has no card to pay to', why: 'no card: neither in the order nor collected' },
      { onlyFrom: [payout.state] },
    );
    return { outcome: 'failed' };
  }
  // The order's name, or a saved recipient's as it was when the payout was accepted.
  const recipient = order.recipient ?? payout.recipientName;
  if (!recipient) throw new UnrecoverableError(`payout ${payout.id} names nobody to pay`);
  const attempt = await deps.store.markStartAttempt(payout.id, sessionId);
  if (attempt === null) return { outcome: 'no_longer_applies' };
  try {
    const request = {
      session_id: sessionId,
      payout_details: { type: 'card' as const, card: { type: 'encrypted_card' as const, encrypted_card: card } },
      amount_details: order.amount_details,
      participant_details: { recipient },
      ...(order.customer ? { customer: order.customer } : {}),
      metadata: bankMetadataFor(payout.id),
    };
    // One key per session and action, the same on every try: a repeat the bank can recognise.
    const key = { idempotencyKey: idempotencyKey(sessionId, 'start', payout.keyGenerations.start) };
    const bank = await bankFor(deps, payout);
    // A self-employed recipient is paid through fiscalization: the bank registers the income too.
    const session = payout.taxReference
      ? await bank.startPayoutWithFiscalization(
          { ...request, fiscalization_details: fiscalizationDetails(order, payout.taxReference) },
          key,
        )
      : await bank.startPayout(request, key);
    await takeStep(deps, 'markStarted', payout, { facts: bankFacts(session), why: 'bank accepted session/start/payout' });
    return { outcome: 'started' };
  } catch (err) {
    if (err instanceof Bank131ApiError && err.code === 'insufficient_wallet_balance') return awaitFunds(deps, payout, err);
    if (err instanceof Bank131ApiError && err.code === 'idempotency_key_already_exists') return keyAlreadyUsed(deps, payout);
    if (isPermanent(err)) {
      const failure = failureOf(err);
      await takeStep(
        deps,
        'fail',
        payout,
        {
          code: failure.code,
          description: describeRefusal(failure.code, failure.description),
          why: `bank refused the payout: ${(err as Bank131ApiError).code ?? 'invalid request'}`,
        },
        { onlyFrom: [payout.state] },
      );
      // a decline is the payout's outcome, logged at info with the step and told upstream: not a failed job
      return { outcome: 'failed' };
    }
    throw err; // retried with backoff; the next run asks session/status first
  }
}

/**
 * "The first one arrived": session/status decides. A session the bank shows as never started
 * means the bank remembers the key of a call that did not act; the next try uses a new one.
 */
async function keyAlreadyUsed(deps: PipelineDeps, payout: AwaitingStart): Promise<JobOutcome> {
  const session = await (await bankFor(deps, payout)).sessionStatus(payout.sessionId);
  if (verdictOf(session).kind !== 'created') return applyBankSession(deps, payout, session, 'status');
  await deps.store.nextKeyGeneration(
    payout.id,
    'start',
    'the bank answered idempotency_key_already_exists for a start/payout it never acted on; the next try uses a new idempotency key',
  );
  throw new NotFinalYet(payout.id, 'start/payout: the bank remembers a key whose call never acted');
}

/** Nothing was started, and the bank said why: hold the payout, visibly, and try again later. */
async function awaitFunds(deps: PipelineDeps, payout: AwaitingStart, err: Bank131ApiError): Promise<JobOutcome> {
  const waitUntil = payout.fundsWaitUntil ?? Date.now() + deps.timing.walletWaitMs;
  if (Date.now() >= waitUntil) return giveUpWaitingForFunds(deps, payout);
  await takeStep(deps, 'awaitFunds', payout, {
    code: err.code,
    description: err.description || 'the partner wallet balance is too low',
    waitUntil,
  });
  return { outcome: 'awaiting_funds' };
}

async function giveUpWaitingForFunds(deps: PipelineDeps, payout: PayoutWithSession): Promise<JobOutcome> {
  const r = await takeStep(
    deps,
    'fail',
    payout,
    {
      code: 'insufficient_wallet_balance',
      description: `the partner wallet was not topped up within ${Math.round(deps.timing.walletWaitMs / 1000)} s`,
      why: 'gave up waiting for the partner wallet to be topped up (WALLET_WAIT_MS)',
    },
    { onlyFrom: ['awaiting_funds'] },
  );
  // Never started, so nothing can be paid in it; release it at the bank all the same.
  if (r.ok)
    await (
      await bankFor(deps, payout)
    )
      .cancelSession(payout.sessionId, { idempotencyKey: idempotencyKey(payout.sessionId, 'cancel', payout.keyGenerations.cancel) })
      .catch(() => undefined);
  return r.ok ? { outcome: 'out_of_funds' } : { outcome: 'no_longer_applies' };
}
