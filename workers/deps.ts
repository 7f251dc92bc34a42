import type { Logger } from 'pino';
import type { Bank131Client } from '../src/bank131/client.js';
import { Bank131ApiError, Bank131Error } from '../src/bank131/errors.js';
import type { BankSession } from '../src/bank131/schemas.js';
import { enqueueNotify, type Queues } from '../src/queues.js';
import type { NotifyJob } from '../src/payouts/schemas.js';
import { isTerminal, type PayoutState } from '../src/payouts/state-machine.js';
import type { PayoutStore, Transition, TransitionResult } from '../src/store/payout-store.js';

/** What every processor is handed: plain arguments, so tests start the real thing. */
export interface PipelineDeps {
  store: PayoutStore;
  queues: Queues;
  bank: Bank131Client;
  log: Logger;
  callbackSecret: string;
  /** Callbacks to upstream: per-request timeout. */
  callbackTimeoutMs?: number;
}

/**
 * A state change that may end the payout: when it lands in a terminal state, upstream is told.
 * `ensureNotify` re-enqueues the callback when the payout is already terminal (a retried job whose
 * earlier run crashed between the state change and the enqueue); the notify job id dedupes it.
 */
export async function move(deps: PipelineDeps, payoutId: string, t: Transition, ensureNotify = false): Promise<TransitionResult> {
  const result = await deps.store.transition(payoutId, t);
  const landed: PayoutState | null = result.ok ? t.to : ensureNotify ? result.current : null;
  if (landed && isTerminal(landed) && landed !== 'expired') {
    await enqueueNotify(deps.queues, payoutId, landed as NotifyJob['event']);
  }
  if (!result.ok) deps.log.info({ payoutId, to: t.to, current: result.current }, 'payout already moved on; nothing to do');
  return result;
}

/** The error a failed payout records: the bank's code where there is one. */
export function errorFields(err: unknown): { error_code: string; error_text: string } {
  if (err instanceof Bank131ApiError) return { error_code: err.code, error_text: err.description || err.message };
  if (err instanceof Bank131Error) return { error_code: 'bank_unreachable', error_text: err.message };
  return { error_code: 'internal_error', error_text: err instanceof Error ? err.message : String(err) };
}

/** The one payout of a card payout session, with its masked card facts. */
export function payoutFacts(session: BankSession): { set: Transition['set']; payout: BankSession['payouts'][number] | undefined } {
  const payout = session.payouts[0];
  const set: Record<string, string> = {};
  if (payout?.id) set.bank_payout_id = payout.id;
  const last4 = payout?.details?.card?.last4;
  if (last4) set.card_last4 = last4;
  return { set, payout };
}

/** Is this the job's last try? Then a payout that could not have moved money may be ended. */
export function isLastAttempt(job: { attemptsMade: number; opts: { attempts?: number } }): boolean {
  return job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
}
