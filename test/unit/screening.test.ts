import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { RuleSet, Rules } from '../../src/rules/rules-file.js';
import {
  counterBreach,
  decide,
  duplicateBreach,
  planScreening,
  recipientIdentity,
  RULE_NAMES,
  screens,
  type Breach,
  type CounterCheck,
  type ScreenFacts,
} from '../../src/rules/screening.js';

const CARD = 'c0ffee'.repeat(8);
const NOON = new Date('2025-03-01T12:00:00Z');

function rulesOf(set: RuleSet, timezone = 'UTC', tenants: Record<string, RuleSet> = {}): Rules {
  return { timezone, default: set, tenants };
}

function facts(over: Partial<ScreenFacts> = {}): ScreenFacts {
  return { tenant: 'acme', amount: 100_00, cardNumberHash: CARD, recipient: 'name:ivan petrov', at: NOON, ...over };
}

const rulesHit = (rules: Rules | null, reviewAbove: number | null, f: ScreenFacts) =>
  planScreening(rules, reviewAbove, f).breaches.map((b) => b.rule);

describe('rules decided from the payout alone trip just past their limit', () => {
  const maxAmount = rulesOf({ max_amount: { above: 5000_00, action: 'reject' } });
  it.each([
    ['max_amount at the limit', maxAmount, null, 5000_00, []],
    ['max_amount one kopeck above', maxAmount, null, 5000_01, ['max_amount']],
    ['review_above at the threshold', null, 1000_00, 1000_00, []],
    ['review_above one kopeck above', null, 1000_00, 1000_01, ['review_above']],
    ['both, in rule order', maxAmount, 1000_00, 6000_00, ['max_amount', 'review_above']],
    ['no rules, no threshold', null, null, 10_000_000_000, []],
  ])('%s', (_what, rules, reviewAbove, amount, expected) => {
    expect(rulesHit(rules, reviewAbove, facts({ amount }))).toEqual(expected);
  });

  it('max_amount keeps its action and names the limit; review_above always reviews', () => {
    const plan = planScreening(rulesOf({ max_amount: { above: 5000_00, action: 'review' } }), 1_000_00, facts({ amount: 1_234_567_89 }));
    expect(plan.breaches).toEqual([
      { rule: 'max_amount', action: 'review', detail: 'amount 1,234,567.89 RUB is above the limit of 5,000.00 RUB per payout' },
      {
        rule: 'review_above',
        action: 'review',
        detail: 'amount 1,234,567.89 RUB is above the review threshold of 1,000.00 RUB (REVIEW_ABOVE)',
      },
    ]);
  });
});

describe('allowed_hours: from inclusive, to exclusive, in the rules zone', () => {
  const day = rulesOf({ allowed_hours: { from: '08:00', to: '22:00', action: 'review' } });
  const night = rulesOf({ allowed_hours: { from: '22:00', to: '06:00', action: 'reject' } });
  const moscow = rulesOf({ allowed_hours: { from: '08:00', to: '22:00', action: 'review' } }, 'Europe/Moscow');
  it.each([
    ['day window, a minute before from', day, '2025-03-01T07:59:59Z', false],
    ['day window, at from', day, '2025-03-01T08:00:00Z', true],
    ['day window, a minute before to', day, '2025-03-01T21:59:59Z', true],
    ['day window, at to', day, '2025-03-01T22:00:00Z', false],
    ['overnight, before from', night, '2025-03-01T21:59:00Z', false],
    ['overnight, at from', night, '2025-03-01T22:00:00Z', true],
    ['overnight, midnight', night, '2025-03-02T00:00:00Z', true],
    ['overnight, before to', night, '2025-03-02T05:59:00Z', true],
    ['overnight, at to', night, '2025-03-02T06:00:00Z', false],
    ['Moscow (UTC+3), 07:59 local', moscow, '2025-03-01T04:59:00Z', false],
    ['Moscow (UTC+3), 08:00 local', moscow, '2025-03-01T05:00:00Z', true],
    ['Moscow (UTC+3), 21:59 local', moscow, '2025-03-01T18:59:00Z', true],
    ['Moscow (UTC+3), 22:00 local', moscow, '2025-03-01T19:00:00Z', false],
  ])('%s', (_what, rules, at, allowed) => {
    expect(rulesHit(rules, null, facts({ at: new Date(at) }))).toEqual(allowed ? [] : ['allowed_hours']);
  });

  it('the breach names the local time, the zone and the window', () => {
    const [breach] = planScreening(moscow, null, facts({ at: new Date('2025-03-01T20:15:00Z') })).breaches;
    expect(breach).toEqual({
      rule: 'allowed_hours',
      action: 'review',
      detail: '23:15 (Europe/Moscow) is outside the allowed hours 08:00 to 22:00',
    });
  });
});

const ALL_COUNTERS = rulesOf({
  card_per_day: { count: 10, sum: 1_000_000_00, action: 'review' },
  recipient_per_day: { sum: 2_000_000_00, action: 'reject' },
  tenant_per_hour: { count: 1000, action: 'reject' },
  duplicate: { within_minutes: 10, action: 'review' },
});
const h = (value: string) => createHash('sha256').update(value).digest('hex').slice(0, 32);

describe('the counters and the duplicate window to check', () => {
  it('one counter per rule, keyed by tenant, hashed subject and local day or hour', () => {
    const plan = planScreening(ALL_COUNTERS, null, facts({ amount: 123_45 }));
    expect(plan.breaches).toEqual([]);
    expect(plan.counters).toEqual<CounterCheck[]>([
      {
        rule: 'card_per_day',
        action: 'review',
        key: `rules:acme:card:${h(CARD)}:d:2025-03-01`,
        count: 10,
        sum: 1_000_000_00,
        ttlMs: 172_800_000,
      },
      {
        rule: 'recipient_per_day',
        action: 'reject',
        key: `rules:acme:rcp:${h('name:ivan petrov')}:d:2025-03-01`,
        count: null,
        sum: 2_000_000_00,
        ttlMs: 172_800_000,
      },
      { rule: 'tenant_per_hour', action: 'reject', key: 'rules:acme:h:2025-03-01T12', count: 1000, sum: null, ttlMs: 7_200_000 },
    ]);
    expect(plan.duplicate).toEqual({ rule: 'duplicate', action: 'review', key: `rules:acme:dup:${h(CARD)}:12345`, ttlMs: 600_000 });
  });

  it('no key holds a card hash, a name or a brace (the prefix brings the hash tag)', () => {
    const plan = planScreening(ALL_COUNTERS, null, facts({ recipient: 'ref:cust-42' }));
    const keys = [...plan.counters.map((c) => c.key), plan.duplicate?.key ?? ''];
    for (const key of keys) {
      expect(key).not.toContain(CARD);
      expect(key).not.toContain('cust-42');
      expect(key).not.toMatch(/[{}]/);
      expect(key).toMatch(/^rules:acme:(card|rcp|h|dup):/);
    }
    expect(
      planScreening(ALL_COUNTERS, null, facts())
        .counters.map((c) => c.key)
        .join(' '),
    ).not.toMatch(/ivan|petrov/);
  });

  it('without a card: no card counter and no duplicate window; without a recipient: no recipient counter', () => {
    const plan = planScreening(ALL_COUNTERS, null, facts({ cardNumberHash: null, recipient: null }));
    expect(plan.counters.map((c) => c.rule)).toEqual(['tenant_per_hour']);
    expect(plan.duplicate).toBeNull();
  });

  it('the same card under two tenants is two counters', () => {
    const a = planScreening(ALL_COUNTERS, null, facts({ tenant: 'a' })).counters[0]?.key;
    const b = planScreening(ALL_COUNTERS, null, facts({ tenant: 'b' })).counters[0]?.key;
    expect(a).not.toBe(b);
  });

  it('the day turns at local midnight, not UTC midnight', () => {
    const moscow = { ...ALL_COUNTERS, timezone: 'Europe/Moscow' };
    const keys = (at: string) => planScreening(moscow, null, facts({ at: new Date(at) })).counters.map((c) => c.key.split(':').pop());
    // 23:59:59 on 1 March in Moscow is 20:59:59 UTC; a second later it is 2 March there
    expect(keys('2025-03-01T20:59:59Z')).toEqual(['2025-03-01', '2025-03-01', '2025-03-01T23']);
    expect(keys('2025-03-01T21:00:00Z')).toEqual(['2025-03-02', '2025-03-02', '2025-03-02T00']);
    // and at UTC midnight it is still 2 March in Moscow
    expect(keys('2025-03-02T00:00:00Z')).toEqual(['2025-03-02', '2025-03-02', '2025-03-02T03']);
  });

  it('a tenant section that switches a rule off leaves it out of the plan', () => {
    const rules = rulesOf(ALL_COUNTERS.default, 'UTC', { acme: { card_per_day: null, duplicate: null } });
    const plan = planScreening(rules, null, facts());
    expect(plan.counters.map((c) => c.rule)).toEqual(['recipient_per_day', 'tenant_per_hour']);
    expect(plan.duplicate).toBeNull();
    expect(planScreening(rules, null, facts({ tenant: 'other' })).counters).toHaveLength(3);
  });

  it('no rules: nothing to count, and REVIEW_ABOVE still applies', () => {
    const plan = planScreening(null, 5_00, facts());
    expect(plan).toEqual({ breaches: [expect.objectContaining({ rule: 'review_above' })], counters: [], duplicate: null });
  });
});

describe('the words of a full counter, as the store judges it', () => {
  const [card, recipient, tenant] = planScreening(ALL_COUNTERS, null, facts()).counters as [CounterCheck, CounterCheck, CounterCheck];
  it.each<[string, CounterCheck, 'count' | 'sum', { count: number; sum: number }, number, Breach]>([
    [
      'card count',
      card,
      'count',
      { count: 10, sum: 5_000_00 },
      100_00,
      { rule: 'card_per_day.count', action: 'review', detail: '10 payouts to this card today already (limit 10 per day)' },
    ],
    [
      'card sum',
      card,
      'sum',
      { count: 3, sum: 999_950_00 },
      100_00,
      {
        rule: 'card_per_day.sum',
        action: 'review',
        detail: '999,950.00 RUB to this card today already; 100.00 RUB more would exceed the limit of 1,000,000.00 RUB per day',
      },
    ],
    [
      'recipient sum',
      recipient,
      'sum',
      { count: 1, sum: 2_000_000_00 },
      1,
      {
        rule: 'recipient_per_day.sum',
        action: 'reject',
        detail: '2,000,000.00 RUB to this recipient today already; 0.01 RUB more would exceed the limit of 2,000,000.00 RUB per day',
      },
    ],
    [
      'tenant count',
      tenant,
      'count',
      { count: 1000, sum: 0 },
      1,
      { rule: 'tenant_per_hour.count', action: 'reject', detail: '1000 payouts for this tenant this hour already (limit 1000 per hour)' },
    ],
    [
      'a limit of one',
      { ...card, count: 1 },
      'count',
      { count: 1, sum: 1 },
      1,
      { rule: 'card_per_day.count', action: 'review', detail: '1 payout to this card today already (limit 1 per day)' },
    ],
  ])('%s', (_what, check, which, current, amount, expected) => {
    expect(counterBreach(check, which, current, amount)).toEqual(expected);
  });

  it('a duplicate names its window', () => {
    const { duplicate } = planScreening(ALL_COUNTERS, null, facts());
    expect(duplicateBreach(duplicate!)).toEqual({
      rule: 'duplicate',
      action: 'review',
      detail: 'a payout of the same amount to this card within the last 10 minutes',
    });
    expect(duplicateBreach({ ...duplicate!, ttlMs: 60_000 }).detail).toBe(
      'a payout of the same amount to this card within the last minute',
    );
  });
});

describe('the verdict', () => {
  const b = (rule: Breach['rule'], action: Breach['action']): Breach => ({ rule, action, detail: rule });
  it.each<[string, Breach[], ReturnType<typeof decide>]>([
    ['nothing breached', [], { kind: 'pass' }],
    ['one review', [b('duplicate', 'review')], { kind: 'review', breaches: [b('duplicate', 'review')] }],
    [
      'reviews, all of them in rule order',
      [b('review_above', 'review'), b('max_amount', 'review'), b('card_per_day.sum', 'review')],
      { kind: 'review', breaches: [b('max_amount', 'review'), b('card_per_day.sum', 'review'), b('review_above', 'review')] },
    ],
    [
      'a reject beats any review',
      [b('max_amount', 'review'), b('allowed_hours', 'reject')],
      { kind: 'reject', breach: b('allowed_hours', 'reject') },
    ],
    [
      'of several rejects, the first in rule order',
      [b('duplicate', 'reject'), b('tenant_per_hour.count', 'reject'), b('card_per_day.sum', 'reject')],
      { kind: 'reject', breach: b('card_per_day.sum', 'reject') },
    ],
  ])('%s', (_what, breaches, verdict) => {
    expect(decide(breaches)).toEqual(verdict);
  });

  it('the rule order is the documented one', () => {
    expect(RULE_NAMES).toEqual([
      'max_amount',
      'card_per_day.count',
      'card_per_day.sum',
      'recipient_per_day.count',
      'recipient_per_day.sum',
      'tenant_per_hour.count',
      'tenant_per_hour.sum',
      'duplicate',
      'allowed_hours',
      'review_above',
    ]);
  });
});

describe('whether anything is screened at all', () => {
  it.each<[string, Rules | null, number | null, boolean]>([
    ['no rules file, no REVIEW_ABOVE', null, null, false],
    ['REVIEW_ABOVE alone', null, 1_00, true],
    ['a file with no rules', rulesOf({}), null, false],
    ['a file whose only rules are switched off', rulesOf({ duplicate: null }, 'UTC', { acme: { max_amount: null } }), null, false],
    ['a default rule', rulesOf({ max_amount: { above: 1, action: 'reject' } }), null, true],
    ['one tenant rule', rulesOf({}, 'UTC', { acme: { duplicate: { within_minutes: 5, action: 'review' } } }), null, true],
  ])('%s', (_what, rules, reviewAbove, expected) => {
    expect(screens(rules, reviewAbove)).toBe(expected);
  });
});

describe('who a payout pays, for recipient_per_day', () => {
  it.each<[string, Parameters<typeof recipientIdentity>[0], string | null | undefined, string | null]>([
    [
      'the order’s customer reference first',
      { recipient_id: 'rcp_0123456789abcdef', customer: { reference: 'cust-1' } },
      'saved-1',
      'ref:cust-1',
    ],
    ['else the saved recipient’s reference', { recipient_id: 'rcp_0123456789abcdef' }, 'saved-1', 'ref:saved-1'],
    ['else the saved recipient', { recipient_id: 'rcp_0123456789abcdef' }, null, 'id:rcp_0123456789abcdef'],
    [
      'else the full name, lower-cased, spaces collapsed',
      { recipient: { full_name: '  Иван   ПЕТРОВ\tСергеевич ' } },
      undefined,
      'name:иван петров сергеевич',
    ],
    [
      'or first, middle and last name',
      { recipient: { first_name: 'Ivan', middle_name: 'S.', last_name: 'Petrov' } },
      undefined,
      'name:ivan s. petrov',
    ],
    ['without a middle name', { recipient: { first_name: 'Ivan', last_name: 'Petrov' } }, undefined, 'name:ivan petrov'],
    [
      'full_name wins over the parts',
      { recipient: { full_name: 'Ivan Petrov', first_name: 'X', last_name: 'Y' } },
      undefined,
      'name:ivan petrov',
    ],
    ['nobody', {}, undefined, null],
    ['an empty reference counts as none', { customer: { reference: '' }, recipient: { full_name: 'A B' } }, '', 'name:a b'],
  ])('%s', (_what, order, saved, expected) => {
    expect(recipientIdentity(order, saved)).toBe(expected);
  });

  it('the same person written two ways is one identity', () => {
    expect(recipientIdentity({ recipient: { full_name: 'Ivan Petrov' } })).toBe(
      recipientIdentity({ recipient: { first_name: ' IVAN', last_name: 'petrov ' } }),
    );
  });
});
