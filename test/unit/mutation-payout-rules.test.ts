import { describe, expect, it } from 'vitest';
import { decide, type OrderFacts, type ReportedFacts } from '../../src/payouts/confirmation-policy.js';
import {
  CANCELLABLE_AT_BANK,
  CANCELLABLE_DIRECTLY,
  PAYOUT_STATES,
  SESSION_STATES,
  TERMINAL_STATES,
  canMove,
  isTerminal,
  nextStates,
  statesLeadingTo,
  stepsFrom,
  type PayoutState,
} from '../../src/payouts/state-machine.js';
import { STEPS, type StepDef, type StepName } from '../../src/payouts/steps.js';

describe('confirmation policy: what the audit trail says when it refuses', () => {
  const order: OrderFacts = { sessionId: 'ps_1', amount: 10_000, currency: 'rub', metadata: 'payout:o-1' };
  const payout = { status: 'pending', amount: 10_000, currency: 'rub', metadata: 'payout:o-1' };
  const waiting = { sessionId: 'ps_1', sessionStatus: 'in_progress', nextAction: 'confirm' };
  const reported = (over: Partial<ReportedFacts> = {}, p: Record<string, unknown> = {}): ReportedFacts => ({
    ...waiting,
    payouts: [{ ...payout, ...p }],
    ...over,
  });

  it.each<[string, OrderFacts, ReportedFacts, string, string]>([
    ['another session', order, reported({ sessionId: 'ps_2' }), 'session', 'session ps_2 is not the one recorded (ps_1)'],
    ['no session recorded', { ...order, sessionId: null }, reported(), 'session', 'session ps_1 is not the one recorded (none)'],
    [
      'a finished session',
      order,
      reported({ sessionStatus: 'accepted' }),
      'session_state',
      'session is accepted with next_action confirm, not in_progress waiting for confirm',
    ],
    [
      'no status, no next action',
      order,
      reported({ sessionStatus: undefined, nextAction: undefined }),
      'session_state',
      'session is of no status with next_action none, not in_progress waiting for confirm',
    ],
    [
      'another next action',
      order,
      reported({ nextAction: 'capture' }),
      'session_state',
      'session is in_progress with next_action capture, not in_progress waiting for confirm',
    ],
    ['two payouts', order, { ...waiting, payouts: [payout, payout] }, 'payout_count', 'session holds 2 payouts, expected 1'],
    ['no payout', order, { ...waiting, payouts: [] }, 'payout_count', 'session holds 0 payouts, expected 1'],
    ['a payout of no status', order, reported({}, { status: undefined }), 'session_state', 'the payout is of no status, not pending'],
    ['a payout in progress', order, reported({}, { status: 'in_progress' }), 'session_state', 'the payout is in_progress, not pending'],
    ['another amount', order, reported({}, { amount: 10_001 }), 'amount', 'bank reports 10001, order is 10000'],
    ['no amount', order, reported({}, { amount: undefined }), 'amount', 'bank reports no amount, order is 10000'],
    ['a zero amount', order, reported({}, { amount: 0 }), 'amount', 'bank reports 0, order is 10000'],
    ['another currency', order, reported({}, { currency: 'usd' }), 'currency', 'bank reports usd, order is rub'],
    ['no currency', order, reported({}, { currency: undefined }), 'currency', 'bank reports no currency, order is rub'],
    ['other metadata', order, reported({}, { metadata: 'payout:o-2' }), 'metadata', 'bank reports "payout:o-2", we sent "payout:o-1"'],
    ['no metadata', order, reported({}, { metadata: undefined }), 'metadata', 'bank reports null, we sent "payout:o-1"'],
    [
      'metadata of another type',
      order,
      reported({}, { metadata: { payout: 'o-1' } }),
      'metadata',
      'bank reports {"payout":"o-1"}, we sent "payout:o-1"',
    ],
  ])('cancels for %s', (_name, o, r, failedCheck, detail) => {
    expect(decide(o, r)).toEqual({ action: 'cancel', failedCheck, detail });
  });

  it('checks the session before anything the session reports', () => {
    const everythingWrong = { sessionId: 'ps_2', sessionStatus: 'cancelled', nextAction: undefined, payouts: [{ ...payout, amount: 1 }] };
    expect(decide(order, everythingWrong)).toMatchObject({ failedCheck: 'session' });
    expect(decide(order, { ...everythingWrong, sessionId: 'ps_1' })).toMatchObject({ failedCheck: 'session_state' });
  });

  it('never confirms when neither side knows the session (facts read back from the store are untyped JSON)', () => {
    const unknownSession = { ...reported(), sessionId: null as unknown as string };
    expect(decide({ ...order, sessionId: null }, unknownSession)).toMatchObject({ action: 'cancel', failedCheck: 'session' });
  });

  it('cancels for another card than the one we learned, and another recipient; names stay out of the detail', () => {
    const known = { ...order, last4: '4242', recipient: { full_name: 'Ivanov Ivan Ivanovich' } };
    expect(decide(known, reported({}, { last4: '9999' }))).toEqual({
      action: 'cancel',
      failedCheck: 'card',
      detail: 'bank reports card •••• 9999, the card given for this payout ends 4242',
    });
    const otherName = decide(known, reported({}, { last4: '4242', recipient: { full_name: 'Petrov Petr' } }));
    expect(otherName).toEqual({
      action: 'cancel',
      failedCheck: 'recipient',
      detail: 'bank reports another recipient name than the order gives',
    });
    // the card is checked before the name
    expect(decide(known, reported({}, { last4: '9999', recipient: { full_name: 'Petrov Petr' } }))).toMatchObject({ failedCheck: 'card' });
    expect(decide(known, reported({}, { last4: '4242', recipient: { full_name: 'Ivanov Ivan Ivanovich' } }))).toEqual({
      action: 'confirm',
    });
  });

  it('checks card and name only where both sides know them; a name compares by its words', () => {
    // we never saw the card (upstream gave the hashes), or the bank does not say which card
    expect(decide({ ...order, last4: null }, reported({}, { last4: '9999' }))).toEqual({ action: 'confirm' });
    expect(decide({ ...order, last4: '4242' }, reported())).toEqual({ action: 'confirm' });
    // the bank does not echo the recipient
    expect(decide({ ...order, recipient: { full_name: 'Ivanov Ivan' } }, reported())).toEqual({ action: 'confirm' });
    // the same person in another spelling of the fields, case, spacing or ё
    const split = { ...order, recipient: { first_name: 'Пётр', last_name: 'Иванов' } };
    expect(decide(split, reported({}, { recipient: { full_name: '  иванов   ПЕТР ' } }))).toEqual({ action: 'confirm' });
    expect(decide(split, reported({}, { recipient: { first_name: 'Петр', last_name: 'Иванов', middle_name: 'Ильич' } }))).toMatchObject({
      failedCheck: 'recipient',
    });
  });

  it('compares currencies without regard to case, on either side', () => {
    expect(decide({ ...order, currency: 'RUB' }, reported())).toEqual({ action: 'confirm' });
    expect(decide(order, reported({}, { currency: 'Rub' }))).toEqual({ action: 'confirm' });
  });
});

describe('payout states', () => {
  it('exactly six states are final, and nothing moves out of them but a paid payout coming back', () => {
    expect(PAYOUT_STATES.filter(isTerminal).sort()).toEqual(['cancelled', 'expired', 'failed', 'rejected', 'returned', 'succeeded']);
    // succeeded → returned, and returned → returned as more of it comes back
    for (const t of TERMINAL_STATES)
      for (const s of PAYOUT_STATES) expect(canMove(t, s)).toBe(s === 'returned' && (t === 'succeeded' || t === 'returned'));
  });

  it('a cancel never undoes a confirm, and nothing returns to an earlier state but a wait that is looked at again', () => {
    const order = PAYOUT_STATES;
    const back = order.flatMap((from, i) =>
      order
        .slice(0, i + 1)
        .filter((to) => canMove(from, to))
        .map((to) => `${from} -> ${to}`),
    );
    // a reviewer's approval sends a held payout on, before any bank call; the wallet wait, tried
    // again; the bank asked again while it waits for our confirm; more money coming back
    expect(back).toEqual([
      'awaiting_review -> queued',
      'awaiting_funds -> awaiting_funds',
      'awaiting_confirmation -> awaiting_confirmation',
      'returned -> returned',
    ]);
    expect(statesLeadingTo('cancelling').sort()).toEqual(['awaiting_confirmation', 'started']);
    expect(statesLeadingTo('cancelled').sort()).toEqual([
      'awaiting_card',
      'awaiting_funds',
      'awaiting_review',
      'cancelling',
      'queued',
      'session_created',
    ]);
    // refused before the bank: by a rule at once, by a reviewer or by nobody deciding in time
    expect(statesLeadingTo('rejected').sort()).toEqual(['awaiting_review', 'queued']);
    expect(statesLeadingTo('awaiting_review')).toEqual(['queued']);
    expect(statesLeadingTo('expired')).toEqual(['awaiting_card']);
    expect(statesLeadingTo('failed').sort()).toEqual(
      ['awaiting_confirmation', 'awaiting_funds', 'cancelling', 'confirmed', 'confirming', 'queued', 'session_created', 'started'].sort(),
    );
  });
});

describe('payout steps (docs/architecture.md, "States" and "Steps")', () => {
  const steps = Object.entries(STEPS) as Array<[StepName, StepDef<never>]>;
  /** Every state reachable from `from` in any number of steps. */
  const reachable = (from: PayoutState): Set<PayoutState> => {
    const seen = new Set<PayoutState>();
    const todo = [from];
    for (let state = todo.pop(); state !== undefined; state = todo.pop()) {
      for (const to of nextStates(state)) {
        if (!seen.has(to)) todo.push(to);
        seen.add(to);
      }
    }
    return seen;
  };

  it.each(PAYOUT_STATES)('%s: the legal moves are exactly the moves its steps make', (state) => {
    const own = steps.filter(([, d]) => d.from.includes(state));
    expect(stepsFrom(state)).toEqual(own.map(([n]) => n));
    const targets = new Set(own.map(([, d]) => d.to));
    expect(nextStates(state)).toEqual(PAYOUT_STATES.filter((to) => targets.has(to)));
    for (const to of PAYOUT_STATES) expect(canMove(state, to), `${state} -> ${to}`).toBe(targets.has(to));
    expect(PAYOUT_STATES.filter((from) => statesLeadingTo(state).includes(from))).toEqual(
      PAYOUT_STATES.filter((from) => canMove(from, state)),
    );
  });

  it('no live payout is stuck: each can be moved on, and one step can end it', () => {
    for (const state of PAYOUT_STATES.filter((s) => !isTerminal(s))) {
      expect(stepsFrom(state), state).not.toEqual([]);
      expect(nextStates(state).some(isTerminal), state).toBe(true);
    }
  });

  it('every state is reached from acceptance (queued, or awaiting_card without a card), and nothing leads back to it', () => {
    const fromAcceptance = new Set([...reachable('queued'), ...reachable('awaiting_card'), 'queued', 'awaiting_card']);
    expect(PAYOUT_STATES.filter((s) => !fromAcceptance.has(s))).toEqual([]);
    expect(statesLeadingTo('awaiting_card')).toEqual([]);
    // a held payout goes back to queued only through a reviewer's approval, and nothing there has a session
    expect(statesLeadingTo('queued')).toEqual(['awaiting_card', 'awaiting_review']);
    expect(stepsFrom('awaiting_review').sort()).toEqual(['approveReview', 'cancel', 'expireReview', 'rejectReview']);
  });

  it('the states with a session are the live states after session/create, and the bank’s word that it paid applies in each', () => {
    const afterCreate = [...reachable('session_created'), 'session_created'].filter((s) => !isTerminal(s as PayoutState));
    expect([...SESSION_STATES].sort()).toEqual([...new Set(afterCreate)].sort());
    expect(statesLeadingTo('succeeded')).toEqual([...SESSION_STATES]);
    // money moves only through a session: nothing before one can be paid
    expect(SESSION_STATES).not.toContain('queued');
    expect(SESSION_STATES).not.toContain('awaiting_card');
  });

  it('a cancel never undoes a confirm: once the decision to confirm is taken, nothing reaches cancelling or cancelled', () => {
    for (const from of ['confirming', 'confirmed'] as const) {
      const later = reachable(from);
      expect(later.has('cancelling') || later.has('cancelled'), from).toBe(false);
    }
    expect(steps.filter(([, d]) => d.to === 'confirming').map(([n]) => n)).toEqual(['decideConfirm']);
  });

  it('upstream cancels directly until start/payout is accepted, through the bank until the decision, never after it', () => {
    expect([...STEPS.cancel.from].sort()).toEqual(['awaiting_card', 'awaiting_funds', 'awaiting_review', 'queued', 'session_created']);
    expect([...STEPS.requestCancel.from].sort()).toEqual(['awaiting_confirmation', 'started']);
    expect([STEPS.cancel.to, STEPS.cancel.followUp, STEPS.requestCancel.to, STEPS.requestCancel.followUp]).toEqual([
      'cancelled',
      'notify',
      'cancelling',
      'cancel',
    ]);
    expect([CANCELLABLE_DIRECTLY, CANCELLABLE_AT_BANK]).toEqual([STEPS.cancel.from, STEPS.requestCancel.from]);
  });

  it('every step writes an audit reason: the one it is given, or its own words', () => {
    for (const name of [
      'markStarted',
      'awaitConfirmation',
      'decideConfirm',
      'decideCancel',
      'markConfirmed',
      'markCancelled',
      'succeed',
      'fail',
    ] as const) {
      expect((STEPS[name].why as (i: { why: string }) => string)({ why: `reason for ${name}` })).toBe(`reason for ${name}`);
    }
    expect(STEPS.receiveCard.why({ card: {}, last4: '4242' })).toBe('card •••• 4242 given through the collection link');
    expect(STEPS.recordSession.why({ sessionId: 'ps_9' })).toBe('bank session ps_9 created');
    expect(
      STEPS.awaitFunds.why({ code: 'insufficient_wallet_balance', description: 'top up', waitUntil: Date.UTC(2026, 0, 2, 3, 4, 5) }),
    ).toBe('bank refused start/payout: insufficient_wallet_balance; waiting for a top-up until 2026-01-02T03:04:05.000Z');
    expect(STEPS.cancel.why({})).toBe('cancelled by upstream');
    expect(STEPS.requestCancel.why({})).toBe('cancelled by upstream');
    expect(STEPS.expire.why({})).toBe('no card was given before the collection link expired');
  });

  it('records the card given, the session made, and indexes the session to the payout', () => {
    const card = { type: 'encrypted_card', number_hash: 'h' };
    expect(STEPS.receiveCard.fields({ card, last4: '4242' })).toEqual({
      collected_card: JSON.stringify(card),
      card_last4: '4242',
      given_last4: '4242',
    });
    expect(STEPS.recordSession.fields({ sessionId: 'ps_9' })).toEqual({ session_id: 'ps_9' });
    expect(STEPS.recordSession.indexSession!({ sessionId: 'ps_9' })).toBe('ps_9');
    expect(steps.filter(([, d]) => d.indexSession).map(([n]) => n)).toEqual(['recordSession']);
  });

  it('records the bank’s refusal while waiting for funds, and when to stop waiting', () => {
    const waitUntil = 1_767_225_600_000;
    expect(STEPS.awaitFunds.fields({ code: 'insufficient_wallet_balance', description: 'top up', waitUntil })).toEqual({
      error_code: 'insufficient_wallet_balance',
      error_text: 'top up',
      funds_wait_until: String(waitUntil),
    });
    expect([STEPS.awaitFunds.lookAgain, STEPS.awaitFunds.followUp]).toEqual(['wallet_retry', 'retry_start']);
    expect(steps.filter(([, d]) => d.lookAgain === 'wallet_retry').map(([n]) => n)).toEqual(['awaitFunds']);
  });

  it('progress keeps the bank’s facts and clears an earlier refusal', () => {
    const facts = { bank_payout_id: 'po_1', card_last4: '4242' };
    const cleared = { ...facts, error_code: '', error_text: '' };
    expect(STEPS.markStarted.fields({ facts, why: 'w' })).toEqual(cleared);
    expect(STEPS.succeed.fields({ facts, why: 'w' })).toEqual(cleared);
    const reported: ReportedFacts = {
      sessionId: 'ps_1',
      sessionStatus: 'in_progress',
      nextAction: 'confirm',
      payouts: [{ status: 'pending', amount: 1, currency: 'rub', metadata: 'm' }],
    };
    const fields = STEPS.awaitConfirmation.fields({ reported, facts, why: 'w' });
    expect({ ...fields, reported: JSON.parse(fields.reported!) }).toEqual({ ...cleared, reported });
  });

  it('a refusal records the code and words that caused it', () => {
    const failure = { code: 'declined_by_issuer_bank', description: 'declined' };
    expect(STEPS.fail.fields({ ...failure, why: 'w' })).toEqual({ error_code: 'declined_by_issuer_bank', error_text: 'declined' });
    expect(STEPS.fail.fields({ ...failure, facts: { bank_payout_id: 'po_1' }, why: 'w' })).toEqual({
      bank_payout_id: 'po_1',
      error_code: 'declined_by_issuer_bank',
      error_text: 'declined',
    });
    expect(STEPS.decideCancel.fields({ code: 'policy_amount_mismatch', description: 'bank reports 1', why: 'w' })).toEqual({
      error_code: 'policy_amount_mismatch',
      error_text: 'bank reports 1',
    });
    expect(STEPS.cancel.fields({})).toEqual({ error_code: 'cancelled_by_upstream', error_text: 'upstream cancelled the payout' });
    expect(STEPS.requestCancel.fields({})).toEqual({ error_code: 'cancelled_by_upstream', error_text: 'upstream cancelled the payout' });
    expect(STEPS.expire.fields({})).toEqual({ error_code: 'collect_expired', error_text: 'the recipient gave no card in time' });
  });

  it('a decision or an acknowledgement writes no fields', () => {
    for (const name of ['decideConfirm', 'markConfirmed', 'markCancelled'] as const) expect(STEPS[name].fields({ why: 'w' })).toEqual({});
  });
});
