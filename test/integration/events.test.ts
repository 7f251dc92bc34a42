import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_CARDS } from 'bank131-sandbox';
import { CALLBACK_SECRET, order, startPipeline, type Pipeline } from '../support/pipeline.js';
import { eventually, startReceiver, type CapturedRequest, type Receiver } from '../support/sandbox.js';
import { sleep } from '../support/wait.js';

/**
 * Events through the API (src/http/events.ts): every outcome recorded, whether or not anyone is to
 * be told; the tenant's own listed newest first with the cursor pagination of GET /v1/payouts and
 * filters; one shown with its delivery attempts per destination; sent again under the same
 * webhook-id. Another tenant's event does not exist for a tenant.
 */
let p: Pipeline;
let acme: Record<string, string>;
let upstream: Receiver;
/** Payout id → deliveries to refuse first. */
const refuseFirst = new Map<string, number>();
beforeAll(async () => {
  p = await startPipeline();
  acme = { authorization: `Bearer ${(await p.runtime.tenants.store.createKey('acme', 'test')).secret}` };
  const seen = new Map<string, number>();
  upstream = await startReceiver((req) => {
    const id = bodyOf(req).payout.id;
    seen.set(id, (seen.get(id) ?? 0) + 1);
    return seen.get(id)! <= (refuseFirst.get(id) ?? 0) ? 503 : 200;
  });
});
afterAll(async () => {
  await upstream?.close();
  await p?.close();
});

type Body = { id: string; type: string; created_at: string; payout: { id: string; status: string } };
const bodyOf = (r: CapturedRequest) => JSON.parse(r.body.toString()) as Body;
const deliveriesOf = (r: Receiver, id: string) => r.received.filter((c) => bodyOf(c).payout.id === id);

async function ended(o: Record<string, unknown>, end = 'succeeded', headers: Record<string, string> = {}): Promise<string> {
  expect((await p.api('POST', '/v1/payouts', o, headers)).status).toBe(202);
  await eventually(async () => (await p.api('GET', `/v1/payouts/${o.id as string}`, undefined, headers)).body.status === end, 15_000, end);
  return `evt_${o.id as string}_${end}`;
}

const told = (id: string) => eventually(async () => (await p.runtime.store.get(id))?.notified != null, 10_000, `${id} told`);

describe('every outcome is an event', () => {
  it('a payout with no destination still has its event, owed to nobody', async () => {
    const o = order(); // no callback_url, and the default tenant has no endpoint yet
    const evt = await ended(o);
    const listed = await p.api('GET', `/v1/events?payout=${o.id}`);
    expect(listed.body).toEqual({
      data: [
        {
          id: evt,
          type: 'payout.succeeded',
          created_at: expect.any(String),
          payout: o.id,
          data: {
            id: evt,
            type: 'payout.succeeded',
            created_at: expect.any(String),
            payout: expect.objectContaining({ id: o.id, status: 'succeeded' }),
          },
          delivery: { status: 'no_destination', delivered_at: null },
        },
      ],
      has_more: false,
      next_starting_after: null,
    });
    expect((await p.api('GET', `/v1/events/${evt}`)).body).toMatchObject({ id: evt, destinations: [] });
    const payout = (await p.api('GET', `/v1/payouts/${o.id}`)).body;
    expect(payout.notification).toEqual({ event_id: evt, status: 'no_destination', delivered_at: null });
    expect(listed.body.data[0].created_at).toBe(payout.updated_at); // when it ended
    expect(await p.runtime.redis.zscore(p.runtime.store.dueKey, o.id)).toBeNull();
    // nowhere to send it again
    expect(await p.api('POST', `/v1/events/${evt}/resend`)).toMatchObject({ status: 409, body: { error: { code: 'no_destination' } } });
  });

  it('one event shows its body and its attempts per destination: a refused one, then the delivered one', async () => {
    const o = order({ callback_url: upstream.url });
    refuseFirst.set(o.id, 1);
    const evt = await ended(o);
    await told(o.id);
    const shown = await p.api('GET', `/v1/events/${evt}`);
    expect(shown.status).toBe(200);
    expect(shown.body).toMatchObject({
      id: evt,
      type: 'payout.succeeded',
      payout: o.id,
      delivery: { status: 'delivered', delivered_at: expect.any(String) },
      destinations: [
        {
          destination: 'callback_url',
          url: upstream.url,
          status: 'delivered',
          delivered_at: expect.any(String),
          dropped_reason: null,
          attempts: [
            {
              destination: 'callback_url',
              at: expect.any(String),
              status: 503,
              latency_ms: expect.any(Number),
              error: 'answered HTTP 503',
            },
            { destination: 'callback_url', at: expect.any(String), status: 200, latency_ms: expect.any(Number), error: null },
          ],
        },
      ],
    });
    // the body shown is the body sent, every time
    const sent = deliveriesOf(upstream, o.id).map((c) => c.body.toString());
    expect(new Set(sent).size).toBe(1);
    expect(shown.body.data).toEqual(JSON.parse(sent[0]!));
    expect((await p.api('GET', `/v1/payouts/${o.id}`)).body.notification).toEqual({
      event_id: evt,
      status: 'delivered',
      delivered_at: shown.body.delivery.delivered_at,
    });
  });
});

describe('the list', () => {
  it('newest first, paged by cursor as GET /v1/payouts is, filtered by type and by payout', async () => {
    const orders = [
      order({ callback_url: upstream.url }),
      order(),
      order({}, TEST_CARDS.declinedByIssuer),
      order({ callback_url: upstream.url }),
    ];
    const ids: string[] = [];
    for (const [i, o] of orders.entries()) ids.push(await ended(o, i === 2 ? 'failed' : 'succeeded'));
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page = await p.api('GET', `/v1/events?limit=2${cursor ? `&starting_after=${cursor}` : ''}`);
      expect(page.status).toBe(200);
      expect(page.body.data.length).toBeLessThanOrEqual(2);
      seen.push(...page.body.data.map((e: { id: string }) => e.id));
      cursor = page.body.next_starting_after;
      expect(page.body.has_more).toBe(cursor !== null);
    } while (cursor);
    // every event of the tenant, newest first: these four, the newest
    expect(seen.slice(0, 4)).toEqual([...ids].reverse());
    expect(new Set(seen).size).toBe(seen.length);

    const failed = await p.api('GET', '/v1/events?type=payout.failed&limit=100');
    expect(failed.body.data.map((e: { id: string }) => e.id)).toContain(ids[2]);
    expect(failed.body.data.every((e: { type: string }) => e.type === 'payout.failed')).toBe(true);
    expect((await p.api('GET', `/v1/events?payout=${orders[1]!.id}`)).body.data.map((e: { id: string }) => e.id)).toEqual([ids[1]]);
    expect((await p.api('GET', `/v1/events?payout=${orders[1]!.id}&type=payout.failed`)).body.data).toEqual([]);
    expect((await p.api('GET', `/v1/events?payout=${orders[1]!.id}&starting_after=${ids[1]}`)).body.data).toEqual([]);
    expect((await p.api('GET', '/v1/events?payout=never-was')).body.data).toEqual([]);
    expect((await p.api('GET', '/v1/events?type=payout.paid')).status).toBe(400);
    const unknown = await p.api('GET', '/v1/events?starting_after=evt_never-was_succeeded');
    expect(unknown).toMatchObject({
      status: 400,
      body: { error: { issues: [{ field: 'query.starting_after', problem: 'no event evt_never-was_succeeded' }] } },
    });
  });
});

describe('resend', () => {
  it('again to the callback_url with the same webhook-id and body, a new timestamp; to one endpoint with its own secret', async () => {
    const o = order({ callback_url: upstream.url });
    const evt = await ended(o);
    await told(o.id);
    await sleep(1_100); // a second later, so that the timestamp must differ
    const again = await p.api('POST', `/v1/events/${evt}/resend`);
    expect(again).toMatchObject({ status: 202, body: { id: evt, destinations: ['callback_url'] } });
    await eventually(() => deliveriesOf(upstream, o.id).length === 2, 5_000, 'the resend');
    const [first, second] = deliveriesOf(upstream, o.id);
    expect(second!.headers['webhook-id']).toBe(evt);
    expect(second!.headers['webhook-id']).toBe(first!.headers['webhook-id']);
    expect(second!.body.equals(first!.body)).toBe(true);
    expect(Number(second!.headers['webhook-timestamp'])).toBeGreaterThan(Number(first!.headers['webhook-timestamp']));
    expect(second!.headers['webhook-signature']).not.toBe(first!.headers['webhook-signature']);
    expect(new Webhook(CALLBACK_SECRET).verify(second!.body, second!.headers as Record<string, string>)).toMatchObject({ id: evt });

    const hooks = await startReceiver();
    try {
      const made = await p.api('POST', '/v1/webhook-endpoints', { url: hooks.url, events: ['payout.succeeded'] });
      const one = await p.api('POST', `/v1/events/${evt}/resend`, { endpoint: made.body.id });
      expect(one).toMatchObject({ status: 202, body: { destinations: [made.body.id] } });
      await eventually(() => deliveriesOf(hooks, o.id).length === 1, 5_000, 'the resend to the endpoint');
      const [c] = deliveriesOf(hooks, o.id);
      expect(new Webhook(made.body.secret).verify(c!.body, c!.headers as Record<string, string>)).toMatchObject({ id: evt });
      expect(deliveriesOf(upstream, o.id)).toHaveLength(2); // only the endpoint asked for
      await eventually(
        async () =>
          (await p.api('GET', `/v1/events/${evt}`)).body.destinations.some(
            (d: { destination: string; status: string }) => d.destination === made.body.id && d.status === 'delivered',
          ),
        5_000,
        'the endpoint’s delivery shown',
      );
      const bad = await p.api('POST', `/v1/events/${evt}/resend`, { endpoint: 'we_0000000000000000' });
      expect(bad).toMatchObject({
        status: 400,
        body: { error: { issues: [{ field: 'endpoint', problem: 'is not one of your webhook endpoints' }] } },
      });
      await p.api('DELETE', `/v1/webhook-endpoints/${made.body.id}`);
    } finally {
      await hooks.close();
    }
  });
});

describe('each tenant its own', () => {
  it("another tenant's event is a 404 on every route, and is in none of its lists", async () => {
    const mine = await ended(order());
    const o = order();
    await ended(o, 'succeeded', acme);
    const theirs = `evt_acme~${o.id}_succeeded`; // the service's id of acme's payout is acme~<order id>
    const notFound = { status: 404, body: { error: { code: 'not_found', message: `no event ${mine}` } } };
    expect(await p.api('GET', `/v1/events/${mine}`, undefined, acme)).toMatchObject(notFound);
    expect(await p.api('POST', `/v1/events/${mine}/resend`, {}, acme)).toMatchObject(notFound);
    expect((await p.api('GET', `/v1/events/${theirs}`)).status).toBe(404);
    const listed = (await p.api('GET', '/v1/events?limit=100', undefined, acme)).body.data.map((e: { id: string }) => e.id);
    expect(listed).toEqual([theirs]);
    expect((await p.api('GET', '/v1/events?limit=100')).body.data.map((e: { id: string }) => e.id)).not.toContain(theirs);
    // its payout filter names its own order ids, and a cursor of another's is unknown
    expect((await p.api('GET', `/v1/events?payout=${o.id}`, undefined, acme)).body.data[0]).toMatchObject({ id: theirs, payout: o.id });
    expect((await p.api('GET', `/v1/events?starting_after=${mine}`, undefined, acme)).status).toBe(400);
  });
});
