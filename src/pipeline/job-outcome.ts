import type { PayoutState } from '../payouts/state-machine.js';

/**
 * What a job did, as one declared union: every processor (workers/*.ts), src/pipeline/reconcile.ts
 * and src/pipeline/apply-bank-session.ts end with one of these. Pure. `outcome` is the kind: the
 * reconciler's metric label (reconciler_actions_total{action}) and what tests assert on; the
 * fields beside it are what the human text needs. Small and JSON-safe, like everything a job returns.
 */
export type JobOutcome =
  | { outcome: FixedKind }
  | { outcome: StatedKind; state: PayoutState }
  | { outcome: 'refused'; reason: RefusedReason; claimed?: string; state?: PayoutState }
  | { outcome: 'delivered'; status: number }
  | { outcome: 'swept'; due: number }
  | { outcome: 'retired'; count: number };
export type OutcomeKind = JobOutcome['outcome'];
export type OutcomeOf<K extends OutcomeKind> = Extract<JobOutcome, { outcome: K }>;

/** A job that drives a payout on, which the reconciler enqueues again when it is presumed lost. */
export type DrivingJob = 'start' | 'confirm' | 'cancel' | 'callback';
type FixedKind =
  | PayoutState // the job moved the payout to this state
  | `${DrivingJob}_redriven`
  | `${DrivingJob}_in_hand`
  | 'missing' // no such payout
  | 'not_our_session'
  | 'no_longer_applies' // the step's compare-and-set found the payout moved on
  | 'out_of_funds' // failed: the wallet was not topped up within WALLET_WAIT_MS
  | 'stray_session_cancelled'
  | 'paid_but_ended_unpaid' // the bank contradicts a final record: an operator must look
  | 'not_final_yet'
  | 'done'
  | 'waiting_for_card'
  | 'waiting_for_review'
  | 'no_session'
  | 'unknown_session'
  | 'status_check_requested'
  | 'no_callback_url'
  | 'destination_dropped'; // a webhook endpoint deleted, disabled or no longer taking the event: no longer owed it
type StatedKind = 'nothing_to_do' | 'waiting_for_bank' | 'already_final';
type RefusedReason = 'bad_signature' | 'malformed' | 'not_final' | 'contradicts_payout' | 'foreign_endpoint';

/** Texts that are not the kind's words with spaces for underscores. */
const WORDED: Partial<Record<FixedKind, string>> = {
  awaiting_funds: 'waiting for a top-up',
  out_of_funds: 'failed: no funds in time',
  paid_but_ended_unpaid: 'paid but recorded otherwise',
  waiting_for_card: 'waiting for a card',
  waiting_for_review: 'waiting for a reviewer',
  awaiting_review: 'held for review',
  no_callback_url: 'no callback_url',
};

/** The human text a job returns (BullMQ keeps it as the job's returnvalue). */
export function outcomeText(o: JobOutcome): string {
  switch (o.outcome) {
    case 'nothing_to_do':
      return `nothing to do (${o.state})`;
    case 'waiting_for_bank':
      return `waiting for the bank (${o.state})`;
    case 'already_final':
      return `already ${o.state}`;
    case 'refused':
      return o.claimed === undefined
        ? `refused: ${o.reason}`
        : `refused: ${o.reason} (claimed ${o.claimed}, payout ${o.state ?? 'unknown'})`;
    case 'delivered':
      return `delivered (${o.status})`;
    case 'swept':
      return `${o.due} due`;
    case 'retired':
      return `${o.count} retired`;
    default:
      return WORDED[o.outcome] ?? o.outcome.replaceAll('_', ' ').replace(' redriven', ' re-driven');
  }
}
