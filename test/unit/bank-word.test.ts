import { describe, expect, it } from 'vitest';
import { BankSession } from '../../src/bank131/schemas.js';
import { verdictOf } from '../../src/payouts/bank-verdict.js';
import { BANK_WORDS, BANK_WORD_TABLE, bankDecision, bankWordOf, type BankAction, type BankWord } from '../../src/payouts/bank-word.js';
import { PAYOUT_STATES, SESSION_STATES, isTerminal, type PayoutState } from '../../src/payouts/state-machine.js';
import { STEPS } from '../../src/payouts/steps.js';

const session = (s: Record<string, unknown>, payout?: Record<string, unknown>) =>
  BankSession.parse({ id: 'ps_1', ...s, ...(payout ? { payout_list: [{ id: 'po_1', ...payout }] } : {}) });
const wordOf = (s: Record<string, unknown>, payout?: Record<string, unknown>) => bankWordOf(verdictOf(session(s, payout)));
const WAIT = { act: 'nothing', outcome: 'waiting_for_bank' };
const ENDED = { act: 'nothing', outcome: 'already_final' };

/** Every cell of the table, as [word, state, action]. */
const cells = BANK_WORDS.flatMap((word) => PAYOUT_STATES.map((state) => [word, state, BANK_WORD_TABLE[word][state]] as const));
const where = (keep: (a: BankAction, word: BankWord, state: PayoutState) => boolean) =>
  cells.filter(([word, state, a]) => keep(a, word, state)).map(([word, state]) => `${word} × ${state}`);

describe('the bank’s word, read from a session', () => {
  it('a verdict, with an unpaid session told apart when it ended because it was cancelled', () => {
    expect(wordOf({ status: 'accepted' }, { status: 'succeeded' })).toBe('paid');
    expect(wordOf({ status: 'cancelled', error: { code: 'session_cancelled_by_partner' } })).toBe('session_cancelled');
    expect(wordOf({ status: 'cancelled', error: null })).toBe('session_cancelled'); // no code given: session_cancelled
    expect(wordOf({ status: 'cancelled', error: { code: 'confirm_timeout' } })).toBe('unpaid');
    expect(wordOf({ status: 'in_progress' }, { status: 'failed', error: { code: 'session_cancelled' } })).toBe('session_cancelled');
    expect(wordOf({ status: 'in_progress' }, { status: 'failed' })).toBe('unpaid');
  });

  it('a session in progress, told apart by whether its payout is', () => {
    expect(wordOf({ status: 'in_progress', next_action: 'confirm' }, { status: 'pending' })).toBe('awaiting_confirm');
    expect(wordOf({ status: 'in_progress', next_action: 'confirm' }, { status: 'in_progress' })).toBe('payout_in_progress');
    expect(wordOf({ status: 'in_progress' }, { status: 'pending' })).toBe('session_in_progress');
    expect(wordOf({ status: 'in_progress' })).toBe('session_in_progress');
    expect(wordOf({ status: 'created' })).toBe('created');
    expect(wordOf({ status: 'error' }, { status: 'in_progress' })).toBe('unknown');
  });
});

describe('the bank’s word table (src/payouts/bank-word.ts)', () => {
  it('takes a step only where the step may be taken', () => {
    expect(where((a, _w, state) => a.act === 'step' && !STEPS[a.step].from.includes(state))).toEqual([]);
    expect(where((a) => a.act === 'redrive' && a.first !== undefined && !STEPS[a.first].from.includes('awaiting_confirmation'))).toEqual(
      [],
    );
  });

  it('fails a payout only on the bank’s word that it is unpaid, and takes the bank’s report for a decision only when it waits for one', () => {
    expect(where((a, word) => a.act === 'step' && a.step === 'fail' && word !== 'unpaid' && word !== 'session_cancelled')).toEqual([]);
    const decisions = where(
      (a) => (a.act === 'step' && a.step === 'awaitConfirmation') || (a.act === 'redrive' && a.first === 'reportAgain'),
    );
    expect(decisions.every((c) => c.startsWith('awaiting_confirm ×'))).toBe(true);
    expect(decisions).toHaveLength(4);
  });

  it('never moves a payout that has ended (but for money paid coming back), nor one without a session', () => {
    const moving = (a: BankAction) => a.act === 'step' || a.act === 'redrive';
    expect(where((a, _w, state) => moving(a) && (isTerminal(state) || state === 'awaiting_card' || state === 'queued'))).toEqual([
      'returned × succeeded',
      'returned × returned',
    ]);
    for (const word of BANK_WORDS.filter((w) => w !== 'unknown')) {
      expect([BANK_WORD_TABLE[word].awaiting_card, BANK_WORD_TABLE[word].queued]).toEqual([
        { act: 'nothing', outcome: 'nothing_to_do' },
        { act: 'nothing', outcome: 'nothing_to_do' },
      ]);
    }
  });

  it('paid: recorded paid from every state with a session, loudly where we never confirmed; a contradicted end goes to an operator', () => {
    for (const state of SESSION_STATES) {
      const unconfirmed = state !== 'confirming' && state !== 'confirmed';
      expect(BANK_WORD_TABLE.paid[state], state).toEqual({
        act: 'step',
        step: 'succeed',
        ...(unconfirmed ? { alarm: 'paid_unconfirmed' } : {}),
      });
    }
    expect(BANK_WORD_TABLE.paid.succeeded).toEqual(ENDED);
    expect(BANK_WORD_TABLE.paid.returned).toEqual(ENDED);
    expect(where((a) => a.act === 'operator')).toEqual([
      'paid × failed',
      'paid × cancelled',
      'paid × expired',
      'returned × failed',
      'returned × cancelled',
      'returned × expired',
    ]);
    expect(where((a) => a.act === 'step' && a.alarm !== undefined).every((c) => c.startsWith('paid ×') || c.startsWith('returned ×'))).toBe(
      true,
    );
  });

  it('returned: a paid payout becomes returned; one whose payment was never recorded is recorded paid first, then returned', () => {
    expect(BANK_WORD_TABLE.returned.succeeded).toEqual({ act: 'step', step: 'markReturned' });
    // more of it came back: the sum is updated (only when it differs, src/pipeline/apply-bank-session.ts)
    expect(BANK_WORD_TABLE.returned.returned).toEqual({ act: 'step', step: 'updateReturn' });
    for (const state of SESSION_STATES) {
      const unconfirmed = state !== 'confirming' && state !== 'confirmed';
      expect(BANK_WORD_TABLE.returned[state], state).toEqual({
        act: 'step',
        step: 'succeed',
        ...(unconfirmed ? { alarm: 'paid_unconfirmed' } : {}),
        then: 'markReturned',
      });
    }
    // the only way out of a final state, and only on this word
    expect(
      where((a) => a.act === 'step' && (a.step === 'markReturned' || a.then === 'markReturned')).every((c) => c.startsWith('returned ×')),
    ).toBe(true);
  });

  it('reads a return from the session: an accepted refund of a paid payout, its sum and last reason', () => {
    const paid = { status: 'succeeded', amount_details: { amount: 10000, currency: 'rub' } };
    const refund = (r: Record<string, unknown>) => ({ id: 'rf_1', status: 'accepted', created_at: 't0', finished_at: 't1', ...r });
    expect(wordOf({ status: 'accepted' }, { ...paid, refunds: [refund({ amount_details: { amount: 4000, currency: 'rub' } })] })).toBe(
      'returned',
    );
    expect(wordOf({ status: 'accepted' }, { ...paid, refunds: [refund({ status: 'in_progress' })] })).toBe('paid');
    expect(wordOf({ status: 'accepted' }, { ...paid, refunds: null })).toBe('paid');
    const verdict = verdictOf(
      session(
        { status: 'accepted' },
        {
          ...paid,
          refunds: [
            refund({ id: 'rf_1', amount_details: { amount: 3000, currency: 'rub' }, reason: 'first' }),
            refund({ id: 'rf_2', status: 'declined', amount_details: { amount: 9999, currency: 'rub' } }),
            refund({ id: 'rf_3', amount_details: { amount: 2000, currency: 'rub' }, reason: 'account closed', finished_at: 't9' }),
          ],
        },
      ),
    );
    expect(verdict).toEqual({ kind: 'returned', returned: { amount: 5000, reason: 'account closed', at: 't9', refundId: 'rf_3' } });
    // no amount named: the whole payout came back; no reason named: said plainly
    expect(verdictOf(session({ status: 'accepted' }, { ...paid, refunds: [refund({})] }))).toEqual({
      kind: 'returned',
      returned: { amount: 10000, reason: "the card's bank returned the transfer", at: 't1', refundId: 'rf_1' },
    });
    // a refund cannot come back from a payout that failed
    expect(wordOf({ status: 'cancelled' }, { status: 'failed', refunds: [refund({})] })).toBe('session_cancelled');
  });

  it('unpaid: the payout fails from every state with a session, but a cancel we asked for ends it cancelled', () => {
    for (const state of SESSION_STATES) {
      expect(BANK_WORD_TABLE.unpaid[state], state).toEqual({ act: 'step', step: 'fail' });
      expect(BANK_WORD_TABLE.session_cancelled[state], state).toEqual({
        act: 'step',
        step: state === 'cancelling' ? 'markCancelled' : 'fail',
      });
    }
    for (const word of ['unpaid', 'session_cancelled'] as const) {
      // a payout rejected before the bank never had a session, so no word of the bank's is about it
      for (const state of PAYOUT_STATES.filter(isTerminal))
        expect(BANK_WORD_TABLE[word][state]).toEqual(state === 'rejected' ? { act: 'nothing', outcome: 'nothing_to_do' } : ENDED);
    }
  });

  it('the bank waits for our confirm: the payout awaits our decision, or the decision already due is driven on; a stray session is released', () => {
    const table = BANK_WORD_TABLE.awaiting_confirm;
    for (const state of ['session_created', 'awaiting_funds', 'started'] as const) {
      expect(table[state]).toEqual({ act: 'step', step: 'awaitConfirmation' });
    }
    expect([table.awaiting_confirmation, table.confirming, table.cancelling]).toEqual([
      { act: 'redrive', job: 'confirm', first: 'reportAgain' },
      { act: 'redrive', job: 'confirm' },
      { act: 'redrive', job: 'cancel' },
    ]);
    expect(where((a) => a.act === 'cancel_stray_session')).toEqual(
      ['failed', 'cancelled', 'expired'].map((s) => `awaiting_confirm × ${s}`),
    );
    expect([table.confirmed, table.succeeded]).toEqual([
      { act: 'nothing', outcome: 'nothing_to_do' },
      { act: 'nothing', outcome: 'nothing_to_do' },
    ]);
  });

  it('in progress: the start landed, or (payout in progress) our confirm did; a cancel due is driven on', () => {
    for (const word of ['payout_in_progress', 'session_in_progress'] as const) {
      const table = BANK_WORD_TABLE[word];
      expect([table.session_created, table.awaiting_funds]).toEqual([
        { act: 'step', step: 'markStarted' },
        { act: 'step', step: 'markStarted' },
      ]);
      expect(table.cancelling).toEqual({ act: 'redrive', job: 'cancel' });
      for (const state of ['started', 'awaiting_confirmation', 'confirmed'] as const) expect(table[state]).toEqual(WAIT);
    }
    expect(BANK_WORD_TABLE.payout_in_progress.confirming).toEqual({ act: 'step', step: 'markConfirmed' });
    expect(BANK_WORD_TABLE.session_in_progress.confirming).toEqual(WAIT);
    expect(where((a) => a.act === 'step' && a.step === 'markConfirmed')).toEqual(['payout_in_progress × confirming']);
  });

  it('created: start/payout never acted, so the start is driven on; so is a cancel', () => {
    const table = BANK_WORD_TABLE.created;
    expect([table.session_created, table.awaiting_funds, table.cancelling]).toEqual([
      { act: 'redrive', job: 'start' },
      { act: 'redrive', job: 'start' },
      { act: 'redrive', job: 'cancel' },
    ]);
    for (const state of ['started', 'awaiting_confirmation', 'confirming', 'confirmed'] as const) expect(table[state]).toEqual(WAIT);
  });

  it('each job is driven on only from the state it serves', () => {
    const jobs = cells.flatMap(([, state, a]) => (a.act === 'redrive' ? [`${a.job} from ${state}`] : []));
    expect([...new Set(jobs)].sort()).toEqual([
      'cancel from cancelling',
      'confirm from awaiting_confirmation',
      'confirm from confirming',
      'start from awaiting_funds',
      'start from session_created',
    ]);
  });

  it('a word that is not final is asked again, in every state, and no other is', () => {
    expect(where((a) => a.act === 'not_final')).toEqual(PAYOUT_STATES.map((s) => `unknown × ${s}`));
  });
});

describe('where the word came from', () => {
  it('only a check of a payout found due re-drives a job; any other report leaves it in hand', () => {
    for (const [word, state, action] of cells) {
      expect(bankDecision(word, state, 'found_due')).toBe(action);
      const elsewhere = action.act === 'redrive' ? { act: 'in_hand', job: action.job } : action;
      expect(bankDecision(word, state, 'webhook')).toEqual(elsewhere);
      expect(bankDecision(word, state, 'status')).toEqual(elsewhere);
    }
  });
});
