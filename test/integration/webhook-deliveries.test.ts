import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_CARDS } from 'bank131-sandbox';
import { jobsRefused } from '../../src/metrics.js';
import { CALLBACK_SECRET, order, startPipeline, type Pipeline } from '../support/pipeline.js';
import { eventually, startReceiver, type CapturedRequest, type Receiver } from '../support/sandbox.js';
import { sleep } from '../support/wait.js';

/**
 * A payout's outcome reaches its callback_url and every webhook endpoint of its tenant that takes
 * it, each delivery on its own (workers/payout-notify.ts): signed with that destination's secret
 * (verified here with the published Standard Webhooks library, as a receiver would), never to an
 * endpoint that does not take it, is disabled, or is another tenant's; a failing endpoint neither
 * holds back the others nor has them sent it again. The reconciler runs fast here.
 */
let p: Pipeline;
let acme: Record<string, string>;
const closing: Receiver[] = [];
beforeAll(async () => {
  p = await startPipeline({ timing: { reconcileIntervalMs: 200, reconcileAfterMs: 1_000 } });
  acme = { authorization: `Bearer ${(await p.runtime.tenants.store.createKey('acme', 'test')).secret}` };
});
afterAll(async () => {
  await Promise.all(closing.map((r) => r.close()));
  await p?.close();
});

async function receiver(answer?: (req: CapturedRequest, n: number) => number): Promise<Receiver> {
  const r = await startReceiver(answer);
  closing.push(r);
  return r;
}

type Body = { id: string; type: string; payout: { id: string; status: string } };
const bodyOf = (r: CapturedRequest) => JSON.parse(r.body.toString()) as Body;
/** What a receiver got for one payout (it is sent every outcome of its tenant). */
const forPayout = (r: Receiver, id: string) => r.received.filter((c) => bodyOf(c).payout.id === id);
const verify = (secret: string, c: CapturedRequest) => new Webhook(secret).verify(c.body, c.headers as Record<string, string>) as Body;

async function endpoint(body: Record<string, unknown>, headers: Record<string, string> = {}): Promise<{ id: string; secret: string }> {
  const res = await p.api('POST', '/v1/webhook-endpoints', body, headers);
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body as { id: string; secret: string };
}

async function paid(o: Record<string, unknown>, headers: Record<string, string> = {}, end = 'succeeded'): Promise<void> {
  const res = await p.api('POST', '/v1/payouts', o, headers);
  expect(res.status, JSON.stringify(res.body)).toBe(202);
  await eventually(
    async () => (await p.api('GET', `/v1/payouts/${o.id as string}`, undefined, headers)).body.status === end,
    15_000,
    `${o.id} ${end}`,
  );
}

describe('destinations', () => {
  it('the callback_url and each endpoint of the tenant that takes the type, each signed with its own secret; not the others', async () => {
    const [callback, all, failedOnly, disabled, theirs] = await Promise.all([receiver(), receiver(), receiver(), receiver(), receiver()]);
    const toAll = await endpoint({ url: all.url });
    const toFailed = await endpoint({ url: failedOnly.url, events: ['payout.failed'] });
    await endpoint({ url: disabled.url, disabled: true });
    const toAcme = await endpoint({ url: theirs.url }, acme);

    const ok = order({ callback_url: callback.url });
    await paid(ok);
    await eventually(() => forPayout(callback, ok.id).length === 1 && forPayout(all, ok.id).length === 1, 5_000, 'both deliveries');
    const [viaCallback] = forPayout(callback, ok.id);
    const [viaEndpoint] = forPayout(all, ok.id);
    // each destination's own secret: the tenant's callback secret (here CALLBACK_SECRET), the endpoint's
    expect(verify(CALLBACK_SECRET, viaCallback!)).toMatchObject({ id: `evt_${ok.id}_succeeded`, type: 'payout.succeeded' });
    expect(verify(toAll.secret, viaEndpoint!)).toMatchObject({ id: `evt_${ok.id}_succeeded`, payout: { id: ok.id, status: 'succeeded' } });
    expect(() => verify(toAll.secret, viaCallback!)).toThrow();
    expect(() => verify(CALLBACK_SECRET, viaEndpoint!)).toThrow();
    // one event: the same webhook-id and the same bytes to each
    expect(viaCallback!.headers['webhook-id']).toBe(viaEndpoint!.headers['webhook-id']);
    expect(viaCallback!.body.equals(viaEndpoint!.body)).toBe(true);

    const declined = order({}, TEST_CARDS.declinedByIssuer);
    await paid(declined, {}, 'failed');
    await eventually(
      () => forPayout(failedOnly, declined.id).length === 1 && forPayout(all, declined.id).length === 1,
      5_000,
      'payout.failed',
    );
    expect(verify(toFailed.secret, forPayout(failedOnly, declined.id)[0]!).type).toBe('payout.failed');

    const ofAcme = order();
    await paid(ofAcme, acme);
    await eventually(() => forPayout(theirs, ofAcme.id).length === 1, 5_000, "acme's delivery");
    expect(verify(toAcme.secret, forPayout(theirs, ofAcme.id)[0]!).payout.id).toBe(ofAcme.id);

    await sleep(300);
    expect(forPayout(failedOnly, ok.id)).toEqual([]); // it takes payout.failed only
    expect(disabled.received).toEqual([]);
    expect(theirs.received.map((c) => bodyOf(c).payout.id)).toEqual([ofAcme.id]); // never the default tenant's
    expect(forPayout(all, ofAcme.id)).toEqual([]); // and acme's never to the default tenant's
    expect(forPayout(callback, ofAcme.id)).toEqual([]);
    expect((await p.api('GET', `/v1/payouts/${ok.id}`)).body.notification).toEqual({
      event_id: `evt_${ok.id}_succeeded`,
      status: 'delivered',
      delivered_at: expect.any(String),
    });
    for (const id of [toAll.id, toFailed.id]) await p.api('DELETE', `/v1/webhook-endpoints/${id}`);
  });
});

describe('what a job may carry', () => {
  it("a notify job added by hand naming another tenant's endpoint sends nothing there, and is counted as refused", async () => {
    const theirs = await receiver();
    const made = await endpoint({ url: theirs.url }, acme);
    const o = order();
    await paid(o);
    const before = (await jobsRefused.get()).values.find((v) => v.labels.reason === 'foreign_endpoint')?.value ?? 0;
    const jobId = `x-${o.id}`;
    await p.runtime.queues.notify.add(
      'notify',
      { payoutId: o.id, event: 'succeeded', destination: made.id },
      { jobId, removeOnComplete: false },
    );
    const job = await eventually(
      async () => {
        const j = await p.runtime.queues.notify.getJob(jobId);
        return j && (await j.getState()) === 'completed' ? j : undefined;
      },
      5_000,
      'the hand-added job to finish',
    );
    expect(job.returnvalue).toEqual({ outcome: 'refused', reason: 'foreign_endpoint', claimed: 'succeeded', state: 'succeeded' });
    expect((await jobsRefused.get()).values.find((v) => v.labels.reason === 'foreign_endpoint')?.value).toBe(before + 1);
    await sleep(200);
    expect(theirs.received).toEqual([]);
    await p.api('DELETE', `/v1/webhook-endpoints/${made.id}`, undefined, acme);
  });
});

describe('secret rotation', () => {
  it('during the overlap a receiver holding the old secret and one holding the new both verify every delivery; after it only the new', async () => {
    const r = await receiver();
    const made = await endpoint({ url: r.url });
    const rotated = await p.api('POST', `/v1/webhook-endpoints/${made.id}/rotate-secret`, { overlap_seconds: 3 });
    const fresh = rotated.body.secret as string;
    const overlapEnds = Date.parse(rotated.body.previous_secret_expires_at);

    const during = [order(), order()];
    for (const o of during) await paid(o);
    await eventually(() => during.every((o) => forPayout(r, o.id).length === 1), 5_000, 'deliveries during the overlap');
    for (const o of during) {
      const [c] = forPayout(r, o.id);
      expect(String(c!.headers['webhook-signature']).split(' ')).toHaveLength(2);
      expect(verify(made.secret, c!).payout.id).toBe(o.id);
      expect(verify(fresh, c!).payout.id).toBe(o.id);
    }

    await sleep(Math.max(0, overlapEnds - Date.now()) + 100);
    const after = order();
    await paid(after);
    await eventually(() => forPayout(r, after.id).length === 1, 5_000, 'the delivery after the overlap');
    const [c] = forPayout(r, after.id);
    expect(String(c!.headers['webhook-signature']).split(' ')).toHaveLength(1);
    expect(verify(fresh, c!).payout.id).toBe(after.id);
    expect(() => verify(made.secret, c!)).toThrow();
    expect((await p.api('GET', `/v1/webhook-endpoints/${made.id}`)).body.previous_secret_expires_at).toBeNull();
    await p.api('DELETE', `/v1/webhook-endpoints/${made.id}`);
  });
});

describe('each destination on its own', () => {
  it('a failing endpoint is retried, then re-driven by the reconciler, and the payout stays due until it acknowledges; the callback_url is told once', async () => {
    const callback = await receiver();
    const perPayout = new Map<string, number>();
    // refuses each payout's first 12 deliveries: more than a job's attempts (10 here), so the reconciler must take over
    const failing = await receiver((req) => {
      const id = bodyOf(req).payout.id;
      perPayout.set(id, (perPayout.get(id) ?? 0) + 1);
      return perPayout.get(id)! <= 12 ? 503 : 200;
    });
    const flaky = await endpoint({ url: failing.url });
    const o = order({ callback_url: callback.url });
    await paid(o);
    await eventually(() => forPayout(callback, o.id).length === 1, 5_000, 'the callback');
    // told already, yet still due: an endpoint owes its acknowledgement
    expect(await p.runtime.redis.zscore(p.runtime.store.dueKey, o.id)).not.toBeNull();
    expect((await p.api('GET', `/v1/payouts/${o.id}`)).body.notification.status).toBe('pending');
    const job = await eventually(
      async () => {
        const j = await p.runtime.queues.notify.getJob(`notify-${o.id}-succeeded-${flaky.id}`);
        return j && (await j.getState()) === 'failed' ? j : undefined;
      },
      15_000,
      'the endpoint job to fail for good',
    );
    expect(job.attemptsMade).toBe(10);
    await eventually(() => forPayout(failing, o.id).length >= 13, 15_000, 'the reconciler to re-drive the endpoint');
    await eventually(
      async () => (await p.runtime.redis.zscore(p.runtime.store.dueKey, o.id)) === null,
      5_000,
      'the payout to leave the due index',
    );
    await sleep(1_500); // a reconcile round more: nothing else is sent
    expect(forPayout(callback, o.id)).toHaveLength(1);
    expect(forPayout(failing, o.id)).toHaveLength(13);
    expect(new Set(forPayout(failing, o.id).map((c) => c.headers['webhook-id']))).toEqual(new Set([`evt_${o.id}_succeeded`]));

    const event = (await p.api('GET', `/v1/events/evt_${o.id}_succeeded`)).body;
    const byDestination = Object.fromEntries(event.destinations.map((d: { destination: string }) => [d.destination, d]));
    expect(byDestination.callback_url).toMatchObject({ status: 'delivered', attempts: [{ status: 200, error: null }] });
    expect(byDestination[flaky.id]).toMatchObject({ status: 'delivered', url: failing.url });
    expect(byDestination[flaky.id].attempts.map((a: { status: number }) => a.status)).toEqual([...Array(12).fill(503), 200]);
    expect(event.delivery).toEqual({ status: 'delivered', delivered_at: expect.any(String) });
    await p.api('DELETE', `/v1/webhook-endpoints/${flaky.id}`);
  });

  it('an endpoint deleted while an event is owed to it is dropped: the payout no longer waits for it', async () => {
    const down = await receiver(() => 503);
    const gone = await endpoint({ url: down.url });
    const o = order();
    await paid(o);
    await eventually(() => forPayout(down, o.id).length >= 1, 5_000, 'a first refused delivery');
    await p.api('DELETE', `/v1/webhook-endpoints/${gone.id}`);
    await eventually(
      async () => (await p.runtime.redis.zscore(p.runtime.store.dueKey, o.id)) === null,
      15_000,
      'the payout to leave the due index',
    );
    const event = (await p.api('GET', `/v1/events/evt_${o.id}_succeeded`)).body;
    expect(event.delivery.status).toBe('dropped');
    expect(event.destinations).toMatchObject([
      { destination: gone.id, status: 'dropped', dropped_reason: 'the webhook endpoint was deleted', url: null },
    ]);
  });
});
