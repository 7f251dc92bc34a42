import { describe, expect, it } from 'vitest';
import type { PayoutRecord } from '../../src/payouts/schemas.js';
import {
  SearchForm,
  decodeCursor,
  encodeCursor,
  idCandidates,
  mergeNewestFirst,
  planSearch,
  runSearch,
  type SearchStore,
} from '../../src/console/search.js';
import type { ListQuery } from '../../src/store/payout-list.js';

describe('what a query is searched as', () => {
  it('guesses from its look: four digits, a recipient id, anything else', () => {
    expect(planSearch({ q: '', field: 'any' })).toEqual({ ids: false, filter: null, fallback: null });
    expect(planSearch({ q: '4242', field: 'any' })).toEqual({ ids: true, filter: { kind: 'last4', value: '4242' }, fallback: null });
    expect(planSearch({ q: 'rcp_0123456789abcdef', field: 'any' })).toEqual({
      ids: true,
      filter: { kind: 'recipient', value: 'rcp_0123456789abcdef' },
      fallback: null,
    });
    expect(planSearch({ q: 'cust-1', field: 'any' })).toEqual({
      ids: true,
      filter: { kind: 'reference', value: 'cust-1' },
      fallback: { kind: 'metadata', value: 'cust-1' },
    });
  });
  it('takes the operator’s word, when it can be so', () => {
    expect(planSearch({ q: '4242', field: 'id' })).toEqual({ ids: true, filter: false, fallback: null });
    expect(planSearch({ q: '4242', field: 'metadata' })).toEqual({
      ids: false,
      filter: { kind: 'metadata', value: '4242' },
      fallback: null,
    });
    expect(planSearch({ q: '424', field: 'last4' })).toEqual({ problem: 'a card’s last 4 are four digits' });
    expect(planSearch({ q: 'rcp_x', field: 'recipient' })).toMatchObject({ problem: expect.stringContaining('rcp_') });
  });
});

describe('the ids a query may be', () => {
  it('an order id in each tenant, or a service id as it is', () => {
    expect(idCandidates('order-1', ['default', 'acme'])).toEqual(['order-1', 'acme~order-1']);
    expect(idCandidates('acme~order-1', ['default', 'acme'])).toEqual(['acme~order-1']);
    expect(idCandidates('other~order-1', ['default', 'acme'])).toEqual([]);
    expect(idCandidates('not an id', ['default'])).toEqual([]);
  });
});

describe('the form', () => {
  it('takes the first of a repeated field, defaults the rest, and refuses what is not a filter', () => {
    expect(SearchForm.parse({ q: [' a ', 'b'], state: 'succeeded' })).toEqual({
      q: 'a',
      field: 'any',
      tenant: '',
      state: 'succeeded',
      from: '',
      to: '',
      after: undefined,
    });
    expect(SearchForm.safeParse({ state: 'paid' }).success).toBe(false);
    expect(SearchForm.safeParse({ from: '01.03.2025' }).success).toBe(false);
    expect(SearchForm.safeParse({ tenant: 'Not A Tenant' }).success).toBe(false);
  });
});

describe('cursors', () => {
  it('round-trip, and a broken one is none', () => {
    const c = { f: 'last4' as const, c: { default: 'p-9', acme: null } };
    expect(decodeCursor(encodeCursor(c))).toEqual(c);
    expect(decodeCursor('not-base64-json')).toBeNull();
    expect(decodeCursor(Buffer.from('{"f":"x","c":{}}').toString('base64url'))).toBeNull();
  });
});

describe('mergeNewestFirst', () => {
  it('keeps each list’s order, even where times tie', () => {
    const a = [
      { id: 'a1', createdAt: '2025-01-01T00:00:03Z' },
      { id: 'a2', createdAt: '2025-01-01T00:00:01Z' },
    ];
    const b = [
      { id: 'b1', createdAt: '2025-01-01T00:00:02Z' },
      { id: 'b2', createdAt: '2025-01-01T00:00:01Z' },
    ];
    expect(mergeNewestFirst([a, b], 10).map((r) => r.id)).toEqual(['a1', 'b1', 'a2', 'b2']);
    expect(mergeNewestFirst([a, b], 3).map((r) => r.id)).toEqual(['a1', 'b1', 'a2']);
  });
});

/** A store of `n` payouts per tenant, a second apart, listed newest first like the real one. */
function fakeStore(perTenant: Record<string, number>): SearchStore & { calls: ListQuery[] } {
  const all: PayoutRecord[] = Object.entries(perTenant).flatMap(([tenant, n]) =>
    Array.from(
      { length: n },
      (_, i) =>
        ({
          id: tenant === 'default' ? `p-${i}` : `${tenant}~p-${i}`,
          tenant,
          state: i % 2 ? 'failed' : 'succeeded',
          // the tenants' payouts interleave in time
          createdAt: new Date(Date.UTC(2025, 0, 1) + (i * 2 + (tenant === 'default' ? 0 : 1)) * 1000).toISOString(),
        }) as unknown as PayoutRecord,
    ),
  );
  const calls: ListQuery[] = [];
  return {
    calls,
    tenants: async () => Object.keys(perTenant),
    getMany: async (ids) => ids.map((id) => all.find((r) => r.id === id) ?? null),
    list: async (q) => {
      calls.push(q);
      const mine = all
        .filter((r) => r.tenant === (q.tenant ?? 'default') && (!q.states?.length || q.states.includes(r.state)))
        .sort((x, y) => (x.createdAt < y.createdAt ? 1 : -1));
      let from = 0;
      if (q.startingAfter) {
        from = mine.findIndex((r) => r.id === q.startingAfter) + 1;
        if (from === 0) return { unknownCursor: true };
      }
      const payouts = mine.slice(from, from + q.limit);
      const hasMore = from + q.limit < mine.length;
      return { payouts, hasMore, next: hasMore ? payouts.at(-1)!.id : null };
    },
  };
}

describe('runSearch over every tenant', () => {
  it('pages through every payout of every tenant once, newest first', async () => {
    const store = fakeStore({ default: 23, acme: 17 });
    const seen: string[] = [];
    let after: string | undefined;
    for (let page = 0; page < 10; page++) {
      const form = SearchForm.parse({ after });
      const r = await runSearch(store, form, { ids: false, filter: null, fallback: null }, 7);
      if ('problem' in r) throw new Error(r.problem);
      expect(r.rows.length).toBeLessThanOrEqual(7);
      seen.push(...r.rows.map((x) => x.id));
      if (!r.next) break;
      after = r.next;
    }
    expect(seen).toHaveLength(40);
    expect(new Set(seen).size).toBe(40);
    // the two tenants' payouts interleave: newest first over both
    expect(seen.slice(5, 9)).toEqual(['p-17', 'acme~p-16', 'p-16', 'acme~p-15']);
  });

  it('one tenant, one state', async () => {
    const store = fakeStore({ default: 10, acme: 10 });
    const r = await runSearch(store, SearchForm.parse({ tenant: 'acme', state: 'failed' }), { ids: false, filter: null, fallback: null });
    if ('problem' in r) throw new Error(r.problem);
    expect(r.rows.map((x) => x.id)).toEqual(['acme~p-9', 'acme~p-7', 'acme~p-5', 'acme~p-3', 'acme~p-1']);
    expect(store.calls.every((q) => q.tenant === 'acme' && q.states?.[0] === 'failed')).toBe(true);
  });

  it('an id first, then what the filter finds; the metadata when no reference matches', async () => {
    const store = fakeStore({ default: 3, acme: 3 });
    const r = await runSearch(store, SearchForm.parse({ q: 'p-1' }), planSearch({ q: 'p-1', field: 'any' }) as never);
    if ('problem' in r) throw new Error(r.problem);
    expect(r.rows.slice(0, 2).map((x) => x.id)).toEqual(['p-1', 'acme~p-1']);
    expect(r.matchedAs.id).toBe(true);
    expect(store.calls.filter((q) => q.reference === 'p-1')).toHaveLength(2);
    // the fake lists ignore filters: the reference's page is not empty, so no fallback
    expect(store.calls.some((q) => q.metadata !== undefined)).toBe(false);
  });

  it('a page link that is broken, or for another search, is said to be', async () => {
    const store = fakeStore({ default: 3 });
    expect(await runSearch(store, SearchForm.parse({ after: 'garbage' }), { ids: false, filter: null, fallback: null })).toEqual({
      problem: 'the page link is broken: search again',
    });
    const other = encodeCursor({ f: 'last4', c: { default: '' } });
    expect(await runSearch(store, SearchForm.parse({ after: other }), { ids: false, filter: null, fallback: null })).toMatchObject({
      problem: expect.stringContaining('another search'),
    });
    const gone = encodeCursor({ f: null, c: { default: 'p-removed' } });
    expect(await runSearch(store, SearchForm.parse({ after: gone }), { ids: false, filter: null, fallback: null })).toMatchObject({
      cursorLost: true,
    });
  });
});
