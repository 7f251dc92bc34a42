import type { Job } from 'bullmq';
import { BankSession } from '../src/bank131/schemas.js';
import type { ReportedFacts } from '../src/payouts/confirmation-policy.js';
import { WebhookJob } from '../src/payouts/schemas.js';
import { enqueueConfirm } from '../src/queues.js';
import type { PayoutState } from '../src/payouts/state-machine.js';
import { move, payoutFacts, type PipelineDeps } from './deps.js';

/** Every state a payout with a live bank session can be in: payment_finished is final for all. */
const LIVE_WITH_SESSION: PayoutState[] = ['session_created', 'started', 'awaiting_confirmation', 'confirming', 'confirmed'];

/**
 * bank-webhooks: routes a verified webhook by session to the next step. The bank re-sends until it
 * gets a 200 and may deliver twice or out of order, so every branch is a compare-and-set from the
 * states where the webhook still applies; anywhere else it changes nothing.
 */
export function webhookProcessor(deps: PipelineDeps) {
  return async (job: Job<WebhookJob>): Promise<string> => {
    const data = WebhookJob.parse(job.data);
    const parsed = BankSession.safeParse(data.session);
    if (!parsed.success) {
      deps.log.error({ type: data.type }, 'bank-webhooks: unreadable session in a verified webhook');
      return 'unreadable';
    }
    const session = parsed.data;
    const payoutId = await deps.store.payoutIdForSession(session.id);
    if (!payoutId) {
      deps.log.warn({ type: data.type, sessionId: session.id }, 'webhook for an unknown session; nothing changed');
      return 'unknown session';
    }
    const log = deps.log.child({ payoutId, sessionId: session.id, type: data.type });
    // A retry of this job (not a duplicate webhook) re-ensures follow-ups an earlier run may have missed.
    const retry = job.attemptsMade > 0;

    switch (data.type) {
      case 'ready_to_confirm':
        return readyToConfirm(deps, payoutId, session, retry, log);
      case 'payment_finished':
        return paymentFinished(deps, payoutId, session, retry);
      default:
        log.info('webhook type not handled; nothing changed');
        return 'ignored';
    }
  };
}

async function readyToConfirm(deps: PipelineDeps, payoutId: string, session: BankSession, retry: boolean, log: PipelineDeps['log']): Promise<string> {
  const reported: ReportedFacts = {
    sessionId: session.id,
    payouts: session.payouts.map((p) => ({ amount: p.amount_details?.amount, currency: p.amount_details?.currency, metadata: p.metadata })),
  };
  const { set } = payoutFacts(session);
  const result = await deps.store.transition(payoutId, {
    from: ['session_created', 'started'],
    to: 'awaiting_confirmation',
    why: 'ready_to_confirm received',
    set: { ...set, reported: JSON.stringify(reported) },
  });
  if (result.ok || (retry && result.current === 'awaiting_confirmation')) {
    await enqueueConfirm(deps.queues, payoutId, session.id);
    return 'confirmation enqueued';
  }
  if (result.current === 'cancelled') {
    // The order was withdrawn while the bank prepared the payout: release the session now rather
    // than let it time out. Best effort: an unconfirmed session moves no money either way.
    await deps.bank.cancelSession(session.id).catch((err: Error) => log.info({ err: err.message }, 'could not cancel the stray session'));
    return 'payout cancelled; stray session cancelled';
  }
  log.info({ current: result.current }, 'duplicate or late ready_to_confirm; nothing changed');
  return 'no longer applies';
}

async function paymentFinished(deps: PipelineDeps, payoutId: string, session: BankSession, retry: boolean): Promise<string> {
  const payout = session.payouts[0];
  const { set } = payoutFacts(session);
  if (payout?.status === 'succeeded') {
    const r = await move(deps, payoutId, { from: ['confirming', 'confirmed'], to: 'succeeded', why: 'payment_finished: payout succeeded', set }, retry);
    if (!r.ok && r.current !== 'succeeded') {
      deps.log.error({ payoutId, sessionId: session.id, current: r.current }, 'bank reports a payout succeeded that we never confirmed');
    }
    return r.ok ? 'succeeded' : 'no longer applies';
  }
  if (payout?.status === 'failed' || session.status === 'cancelled') {
    const error = payout?.error ?? session.error;
    const fields = { ...set, error_code: error?.code ?? 'payout_failed', error_text: error?.description ?? 'the bank reports the payout failed' };
    // Our own cancel, confirmed by the bank's final word.
    const cancelled = await move(deps, payoutId, { from: ['cancelling'], to: 'cancelled', why: 'payment_finished: session cancelled as asked' }, retry);
    if (cancelled.ok || cancelled.current === 'cancelled') return 'cancelled';
    const r = await move(deps, payoutId, { from: LIVE_WITH_SESSION, to: 'failed', why: `payment_finished: payout failed (${fields.error_code})`, set: fields }, retry);
    return r.ok ? 'failed' : 'no longer applies';
  }
  deps.log.warn({ payoutId, sessionId: session.id, status: payout?.status }, 'payment_finished without a final payout status; nothing changed');
  return 'not final';
}
