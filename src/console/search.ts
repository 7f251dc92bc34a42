import { z } from 'zod';
import { PayoutId, RecipientId, type PayoutRecord } from '../payouts/schemas.js';
import { PAYOUT_STATES, type PayoutState } from '../payouts/state-machine.js';
import type { ListQuery } from '../store/payout-list.js';
import type { PayoutStore } from '../store/payout-store.js';
import { TenantId, payoutKeyOf } from '../tenants/identity.js';

/**
 * The payout search: one query box and a few filters, answered from the list indexes (never a
 * scan). The query is read as what it looks like unless the operator says what it is: four digits
 * are a card's last 4, `rcp_…` a saved recipient, anything else a payout id (exact, in every tenant)
 * and the tenant's reference for the person, or, when no reference matches, the order's metadata.
 * Over all tenants, each tenant's list is read from its own cursor and the pages merged newest
 * first; the page link carries every tenant's cursor, so no payout is skipped or shown twice.
 */
export const SEARCH_FIELDS = ['any', 'id', 'reference', 'metadata', 'recipient', 'last4'] as const;
export type SearchField = (typeof SEARCH_FIELDS)[number];
export const FIELD_LABELS: Record<SearchField, string> = {
  any: 'Anything',
  id: 'Payout id',
  reference: 'Customer reference',
  metadata: 'Metadata',
  recipient: 'Saved recipient id',
  last4: 'Card last 4',
};

const day = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'must be a date (YYYY-MM-DD)');
const one = (v: unknown) => (Array.isArray(v) ? v[0] : v);
export const SearchForm = z.object({
  q: z.preprocess(one, z.string().trim().max(256, 'must be at most 256 characters').default('')),
  field: z.preprocess(one, z.enum(SEARCH_FIELDS, { error: 'is not a field the console searches' }).default('any')),
  tenant: z.preprocess(one, z.union([z.literal(''), TenantId]).default('')),
  state: z.preprocess(one, z.union([z.literal(''), z.enum(PAYOUT_STATES)], { error: 'is not a payout state' }).default('')),
  from: z.preprocess(one, z.union([z.literal(''), day]).default('')),
  to: z.preprocess(one, z.union([z.literal(''), day]).default('')),
  after: z.preprocess(one, z.string().max(16_384, 'is too long').optional()),
});
export type SearchForm = z.output<typeof SearchForm>;

export type FilterKind = 'reference' | 'metadata' | 'recipient' | 'last4';
export interface SearchPlan {
  /** Look the query up as a payout id. */
  ids: boolean;
  /** Read the lists, with this filter (null: by the other filters alone); false: no list. */
  filter: { kind: FilterKind; value: string } | null | false;
  /** What the query is tried as when `filter` finds nothing on the first page. */
  fallback: { kind: FilterKind; value: string } | null;
}

const LAST4 = /^\d{4}$/;

/** What a query is searched as; a problem when it cannot be what the operator said it is. Pure. */
export function planSearch(form: Pick<SearchForm, 'q' | 'field'>): SearchPlan | { problem: string } {
  const { q, field } = form;
  if (q === '') return { ids: false, filter: null, fallback: null };
  switch (field) {
    case 'id':
      return { ids: true, filter: false, fallback: null };
    case 'last4':
      return LAST4.test(q)
        ? { ids: false, filter: { kind: 'last4', value: q }, fallback: null }
        : { problem: 'a card’s last 4 are four digits' };
    case 'recipient':
      return RecipientId.safeParse(q).success
        ? { ids: false, filter: { kind: 'recipient', value: q }, fallback: null }
        : { problem: 'a saved recipient id is rcp_ followed by 16 hexadecimal digits' };
    case 'reference':
    case 'metadata':
      return { ids: false, filter: { kind: field, value: q }, fallback: null };
    case 'any':
      if (LAST4.test(q)) return { ids: true, filter: { kind: 'last4', value: q }, fallback: null };
      if (RecipientId.safeParse(q).success) return { ids: true, filter: { kind: 'recipient', value: q }, fallback: null };
      return { ids: true, filter: { kind: 'reference', value: q }, fallback: { kind: 'metadata', value: q } };
  }
}

/** The service ids a query may be: `<tenant>~<order>` as it is, or an order id in each of `tenants`. Pure. */
export function idCandidates(q: string, tenants: readonly string[]): string[] {
  const at = q.indexOf('~');
  if (at >= 0) {
    const [tenant, order] = [q.slice(0, at), q.slice(at + 1)];
    return TenantId.safeParse(tenant).success && PayoutId.safeParse(order).success && tenants.includes(tenant) ? [q] : [];
  }
  return PayoutId.safeParse(q).success ? tenants.map((t) => payoutKeyOf(t, q)) : [];
}

/** Where each tenant's list goes on from: a payout id, '' from its start, null when it is read to its end. */
const Cursor = z.object({
  f: z.enum(['reference', 'metadata', 'recipient', 'last4']).nullable(),
  c: z.record(z.string(), z.string().nullable()),
});
type Cursor = z.infer<typeof Cursor>;

export function encodeCursor(c: Cursor): string {
  return Buffer.from(JSON.stringify(c), 'utf8').toString('base64url');
}
export function decodeCursor(s: string): Cursor | null {
  try {
    const parsed = Cursor.safeParse(JSON.parse(Buffer.from(s, 'base64url').toString('utf8')));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

/**
 * Newest first, keeping each list's own order (a list is already newest first, by its index's
 * score; the merge never reorders within one, so each list's shown payouts are a prefix of it).
 */
export function mergeNewestFirst<T extends { createdAt: string }>(lists: ReadonlyArray<readonly T[]>, limit: number): T[] {
  const at = lists.map(() => 0);
  const out: T[] = [];
  while (out.length < limit) {
    let best = -1;
    lists.forEach((list, i) => {
      const head = list[at[i]!];
      if (head && (best < 0 || head.createdAt > lists[best]![at[best]!]!.createdAt)) best = i;
    });
    if (best < 0) break;
    out.push(lists[best]![at[best]!++]!);
  }
  return out;
}

export type SearchStore = Pick<PayoutStore, 'tenants' | 'list' | 'getMany'>;

export interface SearchResult {
  rows: PayoutRecord[];
  /** How the query was matched: as an id (rows found by id come first), through which filter, or not at all (no query). */
  matchedAs: { id: boolean; filter: FilterKind | null };
  /** The next page's `after`, or null on the last page. */
  next: string | null;
  /** The page link named a payout no longer there (removed after retention): start again. */
  cursorLost: boolean;
}

const PAGE = 25;

export async function runSearch(
  store: SearchStore,
  form: SearchForm,
  plan: SearchPlan,
  limit = PAGE,
): Promise<SearchResult | { problem: string }> {
  const all = await store.tenants();
  const tenants = form.tenant ? all.filter((t) => t === form.tenant) : all;
  const createdGte = form.from ? new Date(`${form.from}T00:00:00.000Z`) : undefined;
  const createdLte = form.to ? new Date(`${form.to}T23:59:59.999Z`) : undefined;
  const states: PayoutState[] | undefined = form.state ? [form.state] : undefined;
  const cursor = form.after ? decodeCursor(form.after) : null;
  if (form.after && !cursor) return { problem: 'the page link is broken: search again' };

  const fits = (r: PayoutRecord) =>
    (!states || states.includes(r.state)) &&
    (!createdGte || Date.parse(r.createdAt) >= createdGte.getTime()) &&
    (!createdLte || Date.parse(r.createdAt) <= createdLte.getTime());
  const byId =
    plan.ids && !cursor ? (await store.getMany(idCandidates(form.q, tenants))).filter((r): r is PayoutRecord => r !== null && fits(r)) : [];
  const first = plan.filter;
  if (first === false) return { rows: byId, matchedAs: { id: byId.length > 0, filter: null }, next: null, cursorLost: false };

  const allowed = [first?.kind ?? null, plan.fallback?.kind ?? null];
  if (cursor && !allowed.includes(cursor.f)) return { problem: 'the page link is for another search: search again' };
  const filterOf = (kind: FilterKind | null) => (kind === null ? null : kind === plan.fallback?.kind ? plan.fallback : first);

  const readPage = async (filter: { kind: FilterKind; value: string } | null) => {
    const from = (t: string): string | null => (cursor ? (cursor.c[t] ?? null) : '');
    const going = tenants.filter((t) => from(t) !== null);
    const pages = await Promise.all(
      going.map((t) => {
        const q: ListQuery = { tenant: t, limit, states, createdGte, createdLte, startingAfter: from(t) || undefined };
        if (filter) q[filter.kind] = filter.value;
        return store.list(q);
      }),
    );
    let lost = false;
    const lists = pages.map((p) => {
      if ('unknownCursor' in p) {
        lost = true;
        return [];
      }
      return p.payouts;
    });
    const rows = mergeNewestFirst(lists, limit);
    const c: Record<string, string | null> = {};
    going.forEach((t, i) => {
      const page = pages[i]!;
      if ('unknownCursor' in page) return;
      const shown = rows.filter((r) => r.tenant === t);
      // every payout of this page shown: on from where the list says; else from the last one shown
      c[t] = shown.length === page.payouts.length ? (page.hasMore ? page.next : null) : (shown.at(-1)?.id ?? from(t));
    });
    const more = Object.values(c).some((v) => v !== null);
    return { rows, lost, next: more ? encodeCursor({ f: filter?.kind ?? null, c }) : null };
  };

  let filter = cursor ? filterOf(cursor.f) : first;
  let page = await readPage(filter);
  if (!cursor && page.rows.length === 0 && plan.fallback) {
    filter = plan.fallback;
    page = await readPage(filter);
  }
  const seen = new Set(byId.map((r) => r.id));
  return {
    rows: [...byId, ...page.rows.filter((r) => !seen.has(r.id))],
    matchedAs: { id: byId.length > 0, filter: page.rows.length > 0 || !byId.length ? (filter?.kind ?? null) : null },
    next: page.next,
    cursorLost: page.lost,
  };
}
