import { describe, expect, it } from 'vitest';
import { FairSlots, MIN_WAIT_MS, sharesOf, type Claim } from '../../src/pipeline/fair-slots.js';

/** A clock the test moves, and no jitter (random 0.5 multiplies by exactly 1). */
function clock(start = 1_000_000) {
  const c = { t: start, now: () => c.t, random: () => 0.5 };
  return c;
}

const at = (tenant: string, destination: string): Claim => ({ tenant, destination });

describe('shares of the notify slots', () => {
  it.each([
    [1, { destination: 1, tenant: 1 }],
    [2, { destination: 1, tenant: 1 }],
    [4, { destination: 1, tenant: 2 }],
    [8, { destination: 2, tenant: 4 }],
    [16, { destination: 4, tenant: 8 }],
    [30, { destination: 7, tenant: 15 }],
  ])('%i slots: a quarter per destination, half per tenant', (slots, shares) => {
    expect(sharesOf(slots)).toEqual(shares);
  });
});

describe('taking a slot', () => {
  it('a destination holds at most its share, whoever the tenant', () => {
    const slots = new FairSlots({ destination: 1, tenant: 2 }, 1_000, clock());
    expect(slots.take(at('a', 'https://x'), 'j1')).toBe('taken');
    expect(slots.take(at('a', 'https://x'), 'j2')).toBe('destination');
    expect(slots.take(at('b', 'https://x'), 'j3')).toBe('destination');
    expect(slots.take(at('a', 'https://y'), 'j4')).toBe('taken');
  });

  it('a tenant holds at most its share across its destinations; another tenant still gets its place', () => {
    const slots = new FairSlots({ destination: 1, tenant: 2 }, 1_000, clock());
    expect(slots.take(at('a', 'https://1'), 'j1')).toBe('taken');
    expect(slots.take(at('a', 'https://2'), 'j2')).toBe('taken');
    expect(slots.take(at('a', 'https://3'), 'j3')).toBe('tenant');
    expect(slots.held(at('a', 'https://3'))).toEqual({ destination: 0, tenant: 2 });
    expect(slots.take(at('b', 'https://3'), 'j4')).toBe('taken');
  });

  it('a slot given back is free again, for the destination and the tenant both', () => {
    const slots = new FairSlots({ destination: 1, tenant: 1 }, 1_000, clock());
    expect(slots.take(at('a', 'https://1'), 'j1')).toBe('taken');
    expect(slots.take(at('a', 'https://2'), 'j2')).toBe('tenant');
    slots.give(at('a', 'https://1'), 10);
    expect(slots.held(at('a', 'https://1'))).toEqual({ destination: 0, tenant: 0 });
    expect(slots.take(at('a', 'https://2'), 'j2')).toBe('taken');
  });
});

describe('how long a delivery put back waits', () => {
  // A line is forgotten, pace and all, once nothing is held or waits in it: each case keeps one delivery in flight.
  it('at least MIN_WAIT_MS, then as long as the line ahead takes at the usual pace, at most twice the deadline', () => {
    const slots = new FairSlots({ destination: 2, tenant: 4 }, 1_000, clock());
    const slow = at('a', 'https://slow');
    slots.take(slow, 'first');
    slots.take(slow, 'second');
    // nothing known of the pace yet: the shortest wait
    expect(slots.waitFor(slow, 'w1')).toBe(MIN_WAIT_MS);
    // deliveries there take 850 ms: the smoothed pace moves a quarter of the way each time
    slots.give(slow, 850);
    slots.take(slow, 'third');
    const pace = MIN_WAIT_MS + (850 - MIN_WAIT_MS) / 4; // 250
    // w1 is still in line, so w2 waits for two turns, through a share of 2
    expect(slots.waitFor(slow, 'w2')).toBe((2 * pace) / 2);
    for (let i = 0; i < 20; i += 1) {
      slots.give(slow, 5_000);
      slots.take(slow, 'again');
    }
    expect(slots.waitFor(slow, 'w3')).toBe(2_000);
  });

  it('the line that is full sets the wait: a tenant at its share waits for its own line, not a destination’s', () => {
    const slots = new FairSlots({ destination: 2, tenant: 2 }, 10_000, clock());
    slots.take(at('a', 'https://1'), 'h1');
    slots.take(at('a', 'https://1'), 'h2');
    slots.give(at('a', 'https://1'), 4_050); // the tenant's pace: 50 + 4000/4 = 1050
    slots.take(at('a', 'https://1'), 'h3');
    expect(slots.take(at('a', 'https://2'), 'w')).toBe('tenant');
    expect(slots.waitFor(at('a', 'https://2'), 'w')).toBe(Math.round(1_050 / 2));
  });

  it('forgets jobs long overdue: they were taken by another process, or removed', () => {
    const c = clock();
    const slots = new FairSlots({ destination: 1, tenant: 4 }, 1_000, c);
    const d = at('a', 'https://d');
    slots.take(d, 'held');
    expect(slots.waitFor(d, 'w1')).toBe(MIN_WAIT_MS);
    expect(slots.waitFor(d, 'w2')).toBe(2 * MIN_WAIT_MS);
    c.t += 5_000;
    expect(slots.waitFor(d, 'w3')).toBe(MIN_WAIT_MS);
  });
});
