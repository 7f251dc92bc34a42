import { describe, expect, it } from 'vitest';
import { planFaults } from '../../src/faults.js';
import { Knobs } from '../../src/knobs.js';

describe('sandbox fault planning', () => {
  it('plays scripted faults first, in order, consuming them', () => {
    const knobs = Knobs.parse({
      errorRate: 1,
      faults: [
        { endpoint: 'session/confirm', kind: 'timeout_after_effect', times: 2 },
        { endpoint: 'session/create', kind: 'error', code: 'provider_timeout' },
      ],
    });
    expect(planFaults(knobs, 'session/confirm')).toEqual({ before: 'none', after: 'timeout' });
    expect(knobs.faults[0]!.times).toBe(1);
    expect(planFaults(knobs, 'session/confirm')).toEqual({ before: 'none', after: 'timeout' });
    expect(planFaults(knobs, 'session/create')).toEqual({ before: { error: 'provider_timeout' }, after: 'none' });
    expect(knobs.faults).toEqual([]);
    // then the rates
    expect(planFaults(knobs, 'session/confirm')).toEqual({ before: '5xx', after: 'none' });
  });

  it('loses answers after acting only on calls that move money', () => {
    const knobs = Knobs.parse({ timeoutAfterEffectRate: 1 });
    expect(planFaults(knobs, 'session/start/payout')).toEqual({ before: 'none', after: 'timeout' });
    expect(planFaults(knobs, 'session/status')).toEqual({ before: 'none', after: 'none' });
  });
});

describe('sandbox knobs', () => {
  it('optional knobs have no default and accept null as unset', () => {
    const knobs = Knobs.parse({});
    expect(knobs.webhookApiVersion).toBeUndefined();
    expect(knobs.nullFields).toBe(false);
    expect(Knobs.parse({ webhookApiVersion: null, loseWebhooks: null, errorSessions: null }).errorSessions).toBeUndefined();
    expect(Knobs.parse({ errorSessions: { after: 'start' } }).errorSessions).toEqual({
      after: 'start',
      remaining: 1,
      code: 'internal_error',
    });
    expect(Knobs.safeParse({ loseWebhooks: { types: [] } }).success).toBe(false);
  });
});
