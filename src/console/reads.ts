import { eventIdOf, eventsOf } from '../payouts/events.js';
import type { PayoutRecord } from '../payouts/schemas.js';
import { PAYOUT_STATES, type PayoutState } from '../payouts/state-machine.js';
import type { PayoutStore } from '../store/payout-store.js';
import type { HourStat } from './charts.js';
import { timelineOf, type TimelineEntry } from './timeline.js';

/**
 * What each console page is made from, read from the store (handed in): the only I/O the pages
 * have. Everything here is read from the indexes and records the pipeline keeps; nothing scans.
 */
export type ConsoleStore = Pick<PayoutStore, 'get' | 'getMany' | 'audit' | 'list' | 'countByState' | 'tenants' | 'events'> &
  Pick<PayoutStore, 'bankCalls' | 'hourlyStats'>;

export interface OverviewData {
  now: number;
  hours: HourStat[];
  /** Payouts in each state now, over every tenant. */
  counts: Array<{ state: PayoutState; count: number; oldestCreatedMs: number | null }>;
  held: number;
}

export async function overviewData(store: ConsoleStore, now: number): Promise<OverviewData> {
  const [hours, counts] = await Promise.all([store.hourlyStats(24, now), store.countByState(PAYOUT_STATES)]);
  return {
    now,
    hours,
    counts: PAYOUT_STATES.map((state) => ({
      state,
      count: counts[state]?.count ?? 0,
      oldestCreatedMs: counts[state]?.oldestCreatedMs ?? null,
    })),
    held: counts.awaiting_review?.count ?? 0,
  };
}

/** How many held payouts are read per tenant for the queue: more wait than are shown when a tenant has more. */
export const REVIEW_PAGE = 100;

export interface ReviewQueue {
  /** Oldest first: the first held is the first to expire. */
  held: PayoutRecord[];
  /** Some tenant has more held than are shown. */
  more: boolean;
}

export async function reviewQueue(store: ConsoleStore): Promise<ReviewQueue> {
  const tenants = await store.tenants();
  const pages = await Promise.all(tenants.map((tenant) => store.list({ tenant, limit: REVIEW_PAGE, states: ['awaiting_review'] })));
  const held = pages.flatMap((p) => ('payouts' in p ? p.payouts : [])).filter((r) => r.state === 'awaiting_review');
  held.sort((a, b) => (a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : 0));
  return { held, more: pages.some((p) => 'hasMore' in p && p.hasMore) };
}

export interface PayoutPageData {
  payout: PayoutRecord;
  timeline: TimelineEntry[];
}

export async function payoutPageData(store: ConsoleStore, id: string): Promise<PayoutPageData | null> {
  const payout = await store.get(id);
  if (!payout) return null;
  const events = eventsOf(payout);
  const [audit, calls, attempts] = await Promise.all([
    store.audit(id),
    store.bankCalls(id),
    Promise.all(events.map((event) => store.events.attempts(eventIdOf(id, event)))),
  ]);
  return {
    payout,
    timeline: timelineOf(
      audit,
      calls,
      events.map((event, i) => ({ event, attempts: attempts[i]! })),
    ),
  };
}
