import { describe, expect, it } from 'vitest';
import { isFinal, nextState, reportedStatus, type SandboxEvent, type SandboxSessionState } from '../../src/session-machine.js';
import { cardBehaviour, cardFacts } from '../../src/test-cards.js';

const STATES: SandboxSessionState[] = [
  'created',
  'started',
  'awaiting_confirm',
  'confirmed',
  'error',
  'succeeded',
  'declined',
  'cancelled',
  'expired',
];
const EVENTS: SandboxEvent[] = ['start', 'ready', 'confirm', 'cancel', 'succeed', 'decline', 'expire', 'error'];

describe('sandbox session machine', () => {
  it('allows exactly the documented transitions', () => {
    const allowed = STATES.flatMap((s) => EVENTS.map((e) => [s, e, nextState(s, e)] as const)).filter(([, , n]) => n);
    expect(allowed.map(([s, e, n]) => `${s} -${e}-> ${n}`).sort()).toEqual(
      [
        'created -start-> started',
        'created -cancel-> cancelled',
        'started -ready-> awaiting_confirm',
        'started -cancel-> cancelled',
        'started -decline-> declined',
        'awaiting_confirm -confirm-> confirmed',
        'awaiting_confirm -cancel-> cancelled',
        'awaiting_confirm -expire-> expired',
        'confirmed -succeed-> succeeded',
        'confirmed -decline-> declined',
        'started -error-> error',
        'awaiting_confirm -error-> error',
        'confirmed -error-> error',
        'error -succeed-> succeeded',
        'error -decline-> declined',
      ].sort(),
    );
  });

  it('money can only move after a confirm, or out of an error the bank resolves: succeeded is reachable only through confirmed or error', () => {
    const into = STATES.filter((s) => EVENTS.some((e) => nextState(s, e) === 'succeeded'));
    expect(into).toEqual(['confirmed', 'error']);
    expect(STATES.filter((s) => EVENTS.some((e) => nextState(s, e) === 'confirmed'))).toEqual(['awaiting_confirm']);
  });

  it('error is not final and no partner call (confirm, cancel) leaves it', () => {
    expect(isFinal('error')).toBe(false);
    expect(nextState('error', 'confirm')).toBeNull();
    expect(nextState('error', 'cancel')).toBeNull();
    expect(nextState('created', 'error')).toBeNull();
  });

  it('reports the bank statuses of docs/bank131-protocol.md §4', () => {
    expect(reportedStatus('awaiting_confirm')).toEqual({ session: 'in_progress', payout: 'pending', nextAction: 'confirm' });
    expect(reportedStatus('succeeded')).toEqual({ session: 'accepted', payout: 'succeeded' });
    expect(reportedStatus('declined')).toEqual({ session: 'cancelled', payout: 'failed' });
    expect(reportedStatus('created').payout).toBeNull();
    expect(reportedStatus('error')).toEqual({ session: 'error', payout: 'in_progress' });
    expect(STATES.filter(isFinal)).toEqual(['succeeded', 'declined', 'cancelled', 'expired']);
  });

  it('test cards map to their scripted behaviour', () => {
    expect(cardBehaviour('sandbox_decline_insufficient_funds')).toEqual({ kind: 'decline', code: 'insufficient_funds' });
    expect(cardBehaviour('sandbox_reject_operation_rejected')).toEqual({ kind: 'reject', code: 'operation_rejected' });
    expect(cardBehaviour('sandbox_mismatch_amount')).toEqual({ kind: 'mismatch_amount' });
    expect(cardBehaviour('a1b2c3-opaque-hash')).toEqual({ kind: 'ok' });
    expect(cardFacts('whatever_1234').last4).toBe('1234');
    expect(cardFacts('opaque')).toEqual(cardFacts('opaque'));
    expect(cardFacts('opaque').last4).toMatch(/^\d{4}$/);
  });
});
