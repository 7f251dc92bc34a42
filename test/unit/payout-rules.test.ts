import { describe, expect, it } from 'vitest';
import { decide, type OrderFacts } from '../../src/payouts/confirmation-policy.js';
import { PayoutOrder, canonicalJson, differingFields, fingerprint } from '../../src/payouts/schemas.js';
import {
  PAYOUT_STATES,
  SESSION_STATES,
  TERMINAL_STATES,
  canMove,
  isTerminal,
  statesLeadingTo,
  stepsFrom,
} from '../../src/payouts/state-machine.js';
import { STEPS } from '../../src/payouts/steps.js';
import { jitteredBackoff } from '../../src/queues.js';

describe('payout state machine', () => {
  it('terminal states go nowhere, but money paid may come back (succeeded → returned, on the bank’s word only)', () => {
    for (const t of TERMINAL_STATES)
      expect(PAYOUT_STATES.filter((s) => canMove(t, s))).toEqual(t === 'succeeded' || t === 'returned' ? ['returned'] : []);
    expect(stepsFrom('succeeded')).toEqual(['markReturned']);
    expect(stepsFrom('returned')).toEqual(['updateReturn']);
    expect(isTerminal('succeeded') && !isTerminal('confirmed')).toBe(true);
  });

  it('money can only be confirmed from awaiting_confirmation; a payout the bank paid is recorded paid from wherever it stood', () => {
    expect(statesLeadingTo('confirming')).toEqual(['awaiting_confirmation']);
    expect(statesLeadingTo('confirmed')).toEqual(['confirming']);
    // never from queued (no session) nor from another terminal state
    expect(statesLeadingTo('succeeded').sort()).toEqual([...SESSION_STATES].sort());
  });

  it('every named step moves only along legal moves, and only succeed reaches succeeded', () => {
    for (const [name, d] of Object.entries(STEPS))
      for (const from of d.from) expect(canMove(from, d.to), `${name}: ${from} -> ${d.to}`).toBe(true);
    expect(
      Object.entries(STEPS)
        .filter(([, d]) => d.to === 'succeeded')
        .map(([n]) => n),
    ).toEqual(['succeed']);
    expect(
      Object.entries(STEPS)
        .filter(([, d]) => d.to === 'confirming')
        .map(([n]) => n),
    ).toEqual(['decideConfirm']);
    // every step that ends a payout tells upstream (one that updates an ended payout's returned sum ends nothing)
    for (const [name, d] of Object.entries(STEPS))
      if (isTerminal(d.to) && !d.from.every(isTerminal)) expect([name, d.followUp]).toEqual([name, 'notify']);
    expect(STEPS.updateReturn.followUp).toBe('none');
  });

  it('follows docs/architecture.md, plus the recoveries for webhooks that overtake answers', () => {
    expect(canMove('queued', 'session_created')).toBe(true);
    expect(canMove('session_created', 'started')).toBe(true);
    expect(canMove('session_created', 'awaiting_confirmation')).toBe(true); // ready_to_confirm before the start answer
    expect(canMove('confirming', 'succeeded')).toBe(true); // payment_finished before the confirm answer
    expect(canMove('awaiting_confirmation', 'cancelling')).toBe(true);
    expect(canMove('cancelling', 'cancelled')).toBe(true);
    expect(canMove('queued', 'started')).toBe(false);
    expect(canMove('cancelling', 'confirming')).toBe(false);
    expect(canMove('confirmed', 'cancelled')).toBe(false);
    expect(canMove('started', 'confirming')).toBe(false);
  });
});

describe('confirmation policy', () => {
  const order: OrderFacts = { sessionId: 'ps_1', amount: 10_000, currency: 'rub', metadata: 'payout:o-1' };
  const payout = { status: 'pending', amount: 10_000, currency: 'rub', metadata: 'payout:o-1' };
  const waiting = { sessionId: 'ps_1', sessionStatus: 'in_progress', nextAction: 'confirm' };

  it('confirms only an exact match in a session that waits for our confirm', () => {
    expect(decide(order, { ...waiting, payouts: [payout] })).toEqual({ action: 'confirm' });
    expect(decide(order, { ...waiting, payouts: [{ ...payout, currency: 'RUB' }] })).toEqual({ action: 'confirm' });
  });

  it.each([
    ['session', { ...waiting, sessionId: 'ps_2', payouts: [payout] }],
    ['session_state', { ...waiting, sessionStatus: 'cancelled', payouts: [payout] }],
    ['session_state', { ...waiting, nextAction: undefined, payouts: [payout] }],
    ['session_state', { ...waiting, payouts: [{ ...payout, status: 'failed' }] }],
    ['payout_count', { ...waiting, payouts: [] }],
    ['payout_count', { ...waiting, payouts: [payout, payout] }],
    ['amount', { ...waiting, payouts: [{ ...payout, amount: 10_001 }] }],
    ['amount', { ...waiting, payouts: [{ ...payout, amount: undefined }] }],
    ['currency', { ...waiting, payouts: [{ ...payout, currency: 'usd' }] }],
    ['metadata', { ...waiting, payouts: [{ ...payout, metadata: 'payout:o-2' }] }],
    ['metadata', { ...waiting, payouts: [{ ...payout, metadata: undefined }] }],
  ] as const)('cancels when the %s check fails', (check, reported) => {
    const d = decide(order, reported as never);
    expect(d).toMatchObject({ action: 'cancel', failedCheck: check });
  });

  it('cancels when no session was recorded', () => {
    expect(decide({ ...order, sessionId: null }, { ...waiting, payouts: [payout] })).toMatchObject({ failedCheck: 'session' });
  });
});

describe('orders', () => {
  const o = PayoutOrder.parse({
    id: 'o-1',
    amount_details: { amount: 10_000, currency: 'RUB' },
    recipient: { full_name: 'Ivanov Ivan' },
    encrypted_card: { number_hash: 'h' },
  });

  it('normalise the currency and fingerprint regardless of key order', () => {
    expect(o.amount_details.currency).toBe('rub');
    const shuffled = PayoutOrder.parse({
      encrypted_card: { number_hash: 'h' },
      recipient: { full_name: 'Ivanov Ivan' },
      amount_details: { currency: 'rub', amount: 10_000 },
      id: 'o-1',
    });
    expect(fingerprint(shuffled)).toBe(fingerprint(o));
    expect(canonicalJson({ b: 1, a: [2, { d: 3, c: 4 }] })).toBe('{"a":[2,{"c":4,"d":3}],"b":1}');
    expect(differingFields(o, { ...o, metadata: 'x' })).toEqual(['metadata']);
  });

  it('accept first and last name instead of a full name, and refuse neither', () => {
    expect(PayoutOrder.safeParse({ ...o, recipient: { first_name: 'Ivan', last_name: 'Ivanov' } }).success).toBe(true);
    const bad = PayoutOrder.safeParse({ ...o, recipient: { first_name: 'Ivan' } });
    expect(bad.error!.issues[0]).toMatchObject({ path: ['recipient'], message: 'needs full_name, or first_name and last_name' });
  });
});

describe('retry backoff', () => {
  it('grows exponentially, is capped, and is jittered within the upper half', () => {
    const backoff = jitteredBackoff({ baseDelayMs: 1_000, maxDelayMs: 10_000, bankAttempts: 10, notifyAttempts: 10 });
    const sample = (n: number) => Array.from({ length: 200 }, () => backoff(n) as number);
    for (const [attempt, ceiling] of [
      [1, 1_000],
      [2, 2_000],
      [4, 8_000],
      [9, 10_000],
    ] as const) {
      const s = sample(attempt);
      expect(Math.min(...s)).toBeGreaterThanOrEqual(ceiling / 2);
      expect(Math.max(...s)).toBeLessThanOrEqual(ceiling);
      expect(new Set(s).size).toBeGreaterThan(50);
    }
  });
});
