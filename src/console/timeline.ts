import type { Attempt } from '../payouts/event-delivery.js';
import type { AuditEvent } from '../payouts/schemas.js';
import type { BankCall } from '../store/payout-store.js';

/**
 * A payout's one timeline: its audit trail (each change of state, each note), every call we made
 * to the bank about it, and every delivery attempt of each of its events (the callback_url's and
 * each webhook endpoint's), merged by time. Entries at the same moment keep the order they came in,
 * audit first: a step is recorded before the calls and deliveries it leads to. Pure.
 */
export type { BankCall };

export type TimelineEntry =
  | { kind: 'state'; at: string; from: string | null; to: string; why: string; by: string | null }
  | { kind: 'note'; at: string; state: string; why: string }
  | { kind: 'bank'; at: string; call: string; ok: boolean; outcome: string; ms: number }
  | {
      kind: 'delivery';
      at: string;
      event: string;
      destination: string;
      status: number | null;
      ms: number;
      error: string | null;
    };

const msOf = (at: string) => {
  const t = Date.parse(at);
  return Number.isNaN(t) ? Number.POSITIVE_INFINITY : t;
};

export function timelineOf(
  audit: readonly AuditEvent[],
  bankCalls: readonly BankCall[],
  deliveries: ReadonlyArray<{ event: string; attempts: readonly Attempt[] }>,
): TimelineEntry[] {
  const entries: TimelineEntry[] = [
    ...audit.map((e): TimelineEntry =>
      'to' in e
        ? { kind: 'state', at: e.at, from: e.from, to: e.to, why: e.why, by: e.by ?? null }
        : { kind: 'note', at: e.at, state: e.state, why: e.why },
    ),
    ...bankCalls.map((c): TimelineEntry => ({ kind: 'bank', at: c.at, call: c.call, ok: c.ok, outcome: c.outcome, ms: c.ms })),
    ...deliveries.flatMap(({ event, attempts }) =>
      attempts.map((a): TimelineEntry => ({
        kind: 'delivery',
        at: a.at,
        event,
        destination: a.destination,
        status: a.status,
        ms: a.latency_ms,
        error: a.error,
      })),
    ),
  ];
  // sort is stable: ties keep the order above
  return entries
    .map((e) => ({ e, t: msOf(e.at) }))
    .sort((a, b) => a.t - b.t)
    .map(({ e }) => e);
}
