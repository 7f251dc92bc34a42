import { describe, expect, it } from 'vitest';
import { outcomeText, type JobOutcome } from '../../src/pipeline/job-outcome.js';

describe('what a job returns', () => {
  it.each<[JobOutcome, string]>([
    [{ outcome: 'nothing_to_do', state: 'succeeded' }, 'nothing to do (succeeded)'],
    [{ outcome: 'waiting_for_bank', state: 'started' }, 'waiting for the bank (started)'],
    [{ outcome: 'already_final', state: 'failed' }, 'already failed'],
    [{ outcome: 'confirmed' }, 'confirmed'],
    [{ outcome: 'awaiting_confirmation' }, 'awaiting confirmation'],
    [{ outcome: 'awaiting_funds' }, 'waiting for a top-up'],
    [{ outcome: 'no_longer_applies' }, 'no longer applies'],
    [{ outcome: 'unknown_session' }, 'unknown session'],
    [{ outcome: 'start_redriven' }, 'start re-driven'],
    [{ outcome: 'callback_in_hand' }, 'callback in hand'],
    [{ outcome: 'paid_but_ended_unpaid' }, 'paid but recorded otherwise'],
    [{ outcome: 'no_callback_url' }, 'no callback_url'],
    [{ outcome: 'refused', reason: 'bad_signature' }, 'refused: bad_signature'],
    [
      { outcome: 'refused', reason: 'contradicts_payout', claimed: 'failed', state: 'succeeded' },
      'refused: contradicts_payout (claimed failed, payout succeeded)',
    ],
    [{ outcome: 'delivered', status: 204 }, 'delivered (204)'],
    [{ outcome: 'swept', due: 3 }, '3 due'],
    [{ outcome: 'retired', count: 0 }, '0 retired'],
  ])('%j reads "%s"', (outcome, text) => {
    expect(outcomeText(outcome)).toBe(text);
  });

  it('is small and survives JSON, as BullMQ keeps it', () => {
    const o: JobOutcome = { outcome: 'refused', reason: 'not_final', claimed: 'succeeded', state: 'queued' };
    expect(JSON.parse(JSON.stringify(o))).toEqual(o);
  });
});
