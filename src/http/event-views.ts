import { CALLBACK_URL, eventBody, parseEventId } from '../payouts/events.js';
import { deliveryOf, destinationReports } from '../payouts/event-delivery.js';
import type { EventRecord } from '../store/event-store.js';
import type { PayoutStore } from '../store/payout-store.js';
import { tenantOf } from '../tenants/identity.js';
import { EventBody } from './webhook-schemas.js';

/**
 * Events as `GET /v1/events` and `GET /v1/events/{id}` show them (src/http/webhook-schemas.ts).
 * The body shown is the one every delivery sends: stored with the event the first time it is
 * needed, here or by a delivery, and read from there ever after.
 */
export async function eventViews(store: PayoutStore, events: EventRecord[]) {
  const missing = events.filter((e) => e.payload === null);
  const records = await store.getMany(missing.map((e) => e.payoutId));
  const bodies = new Map<string, string>();
  await Promise.all(
    missing.map(async (e, i) => {
      const payout = records[i];
      const outcome = parseEventId(e.id)?.event;
      if (!payout || !outcome) return;
      const made = eventBody(payout, outcome);
      bodies.set(e.id, (await store.events.storePayload(e.id, made)) ?? made);
    }),
  );
  return events.flatMap((e) => {
    const body = e.payload ?? bodies.get(e.id);
    if (body === undefined) return []; // its payout is gone meanwhile (retention): so is the event
    return [
      {
        id: e.id,
        type: e.type,
        created_at: e.createdAt,
        payout: tenantOf(e.payoutId).orderId,
        data: EventBody.parse(JSON.parse(body)),
        delivery: deliveryOf(e),
      },
    ];
  });
}

/** One event with each destination's status and attempts, and where it is sent now. */
export async function eventDetail(store: PayoutStore, event: EventRecord) {
  const [[view], attempts, payout] = await Promise.all([
    eventViews(store, [event]),
    store.events.attempts(event.id),
    store.get(event.payoutId),
  ]);
  if (!view) return null;
  const reports = destinationReports(event, attempts);
  const urls = await Promise.all(
    reports.map(async (r) =>
      r.destination === CALLBACK_URL
        ? (payout?.order.callback_url ?? null)
        : ((await store.endpoints.ofTenant(event.tenant, r.destination))?.url ?? null),
    ),
  );
  return { ...view, destinations: reports.map((r, i) => ({ ...r, url: urls[i] ?? null })) };
}
