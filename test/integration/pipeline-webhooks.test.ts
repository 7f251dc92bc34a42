import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signBody } from '../../src/bank131/signature.js';
import { bankMetadataFor, isMove, webhookBytes, type WebhookJob } from '../../src/payouts/schemas.js';
import { jobId, QUEUE } from '../../src/queues.js';
import { keys } from '../support/keys.js';
import { order, startPipeline, type Pipeline } from '../support/pipeline.js';
import { eventually } from '../support/sandbox.js';
import { sleep } from '../support/wait.js';
import { readyToConfirm } from '../support/webhooks.js';

let p: Pipeline;
beforeAll(async () => {
  p = await startPipeline();
});
afterAll(() => p?.close());

const postWebhook = (body: string | Buffer, signature?: string) =>
  fetch(`${p.url}/webhooks/bank131`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(signature !== undefined ? { 'x-partner-sign': signature } : {}) },
    body,
  });

/** The session a webhook job's signed body names. */
const sessionOf = (data: WebhookJob): string => (JSON.parse(webhookBytes(data).toString('utf8')) as { session: { id: string } }).session.id;

/**
 * Every webhook job the workers finish, with its outcome, as it happens: finished jobs are removed
 * at once (src/queues.ts), so they cannot be looked up afterwards. The web puts a webhook on the
 * queue of the step it feeds (src/queues.ts webhookQueueOf): ready_to_confirm on payout-confirm,
 * payment_finished on payout-finish, any other on bank-webhooks.
 */
const WEBHOOK_QUEUES: string[] = [QUEUE.webhooks, QUEUE.confirm, QUEUE.finish];
const isWebhookJob = (job: { name: string }) => job.name !== 'confirm' && job.name !== 'cancel';
const finishedWebhooks: Array<{ jobId: string; sessionId: string; result: unknown }> = [];
beforeAll(() => {
  for (const set of p.workerSets)
    for (const w of set.workers)
      if (WEBHOOK_QUEUES.includes(w.name))
        w.on('completed', (job, result) => {
          if (isWebhookJob(job)) finishedWebhooks.push({ jobId: job.id!, sessionId: sessionOf(job.data as WebhookJob), result });
        });
});

/** Webhook jobs enqueued for a session by our own posts, counted by the ids BullMQ gave back. */
const webhookJobsFor = async (sessionId: string) => {
  const states = ['waiting', 'active', 'completed', 'failed', 'delayed', 'prioritized'] as const;
  const { webhooks, confirm, finish } = p.runtime.queues;
  const found = (await Promise.all([webhooks.getJobs([...states]), confirm.getJobs([...states]), finish.getJobs([...states])]))
    .flat()
    .filter(isWebhookJob) as Array<{ id?: string; data: WebhookJob }>;
  const ids = new Set([
    ...found.filter((j) => sessionOf(j.data) === sessionId).map((j) => j.id!),
    ...finishedWebhooks.filter((f) => f.sessionId === sessionId).map((f) => f.jobId),
  ]);
  return ids.size;
};

const outcomeOf = (sessionId: string, what: string) =>
  eventually(async () => finishedWebhooks.find((f) => f.sessionId === sessionId)?.result, 5_000, what);

const readyBody = (sessionId: string, amount = 10_000, metadata = 'x') => JSON.stringify(readyToConfirm(sessionId, { amount, metadata }));

describe('webhooks that arrive twice, late or out of order', () => {
  it('duplicates and stale re-sends confirm nothing twice', async () => {
    p.sandbox.bank.setKnobs({ duplicateWebhookRate: 1, outOfOrderWebhooks: true });
    try {
      const orders = Array.from({ length: 25 }, () => order());
      await p.api('POST', '/v1/payouts/batch', { payouts: orders });
      const ids = orders.map((o) => o.id);
      await p.waitFor(ids, ['succeeded']);
      // every webhook was delivered twice, and each stale ready_to_confirm came after payment_finished
      await p.sandbox.webhooks.idle();
      expect(p.sandbox.webhooks.deliveries().filter((d) => d.copy === 'stale').length).toBeGreaterThanOrEqual(25);
      for (const id of ids) {
        expect(p.sandbox.bank.ledger.filter((e) => e.metadata === bankMetadataFor(id))).toHaveLength(1);
        const audit = (await p.runtime.store.audit(id)).filter(isMove);
        expect(audit.filter((e) => e.to === 'confirming')).toHaveLength(1);
        expect(audit.filter((e) => e.to === 'awaiting_confirmation')).toHaveLength(1);
        expect(audit.at(-1)!.to).toBe('succeeded');
      }
    } finally {
      p.sandbox.bank.setKnobs({ duplicateWebhookRate: 0, outOfOrderWebhooks: false });
    }
  });

  it('a replayed, correctly signed webhook for a finished payout changes nothing', async () => {
    const o = order();
    await p.api('POST', '/v1/payouts', o);
    await p.waitFor([o.id], ['succeeded']);
    const record = (await p.runtime.store.get(o.id))!;
    const before = (await p.runtime.store.audit(o.id)).filter(isMove);
    // a new body (other bytes, so not deduplicated by job id) that would confirm again if it could
    const body = readyBody(record.sessionId!, 10_000, bankMetadataFor(o.id));
    const res = await postWebhook(body, signBody(body, keys.bankPrivate));
    expect(res.status).toBe(200);
    const outcome = await eventually(
      async () => finishedWebhooks.find((f) => f.jobId === jobId.webhook(Buffer.from(body)))?.result,
      5_000,
      'the replayed webhook to be processed',
    );
    expect(outcome).toEqual({ outcome: 'nothing_to_do', state: 'succeeded' });
    expect((await p.runtime.store.audit(o.id)).filter(isMove)).toEqual(before);
    // seen, and said so in the audit trail
    expect((await p.runtime.store.audit(o.id)).at(-1)).toMatchObject({
      state: 'succeeded',
      why: 'webhook ready_to_confirm: session in_progress, next_action confirm, payout pending',
    });
    expect(p.sandbox.bank.ledger.filter((e) => e.metadata === bankMetadataFor(o.id))).toHaveLength(1);
  });

  it('the same bytes twice are enqueued once', async () => {
    const body = readyBody('ps_replayed_bytes');
    for (let i = 0; i < 3; i++) expect((await postWebhook(body, signBody(body, keys.bankPrivate))).status).toBe(200);
    expect(await outcomeOf('ps_replayed_bytes', 'the first copy to be processed')).toEqual({ outcome: 'unknown_session' });
    // and again once the first copy's job is finished and gone: the deduplication key still holds
    expect((await postWebhook(body, signBody(body, keys.bankPrivate))).status).toBe(200);
    expect(await p.runtime.queues.confirm.getDeduplicationJobId(jobId.webhook(Buffer.from(body)))).toBe(jobId.webhook(Buffer.from(body)));
    await sleep(300); // a second job, had one been added, would have finished by now
    // every run of a job is one completed event, whatever its id
    expect(finishedWebhooks.filter((f) => f.sessionId === 'ps_replayed_bytes')).toHaveLength(1);
  });

  it('a webhook for an unknown session is acknowledged and changes nothing', async () => {
    const o = order();
    await p.api('POST', '/v1/payouts', o);
    await p.waitFor([o.id], ['succeeded']);
    const before = (await p.runtime.store.audit(o.id)).filter(isMove);
    const body = readyBody('ps_nobody_knows', 10_000, bankMetadataFor(o.id));
    expect((await postWebhook(body, signBody(body, keys.bankPrivate))).status).toBe(200);
    expect(await outcomeOf('ps_nobody_knows', 'the webhook to be processed')).toEqual({ outcome: 'unknown_session' });
    expect((await p.runtime.store.audit(o.id)).filter(isMove)).toEqual(before);
  });
});

describe('forged and malformed webhooks', () => {
  it('a webhook signed with another key, or unsigned, is refused with 401 and enqueues nothing', async () => {
    const body = readyBody('ps_forged');
    for (const signature of [signBody(body, keys.partnerPrivate), undefined, 'broken_signature', '']) {
      const res = await postWebhook(body, signature);
      expect(res.status).toBe(401);
      expect(await res.json()).toMatchObject({ error: { code: 'invalid_signature' } });
    }
    // the right signature over other bytes (body tampered in transit)
    const res = await postWebhook(body.replace('ps_forged', 'ps_forge2'), signBody(body, keys.bankPrivate));
    expect(res.status).toBe(401);
    expect(await webhookJobsFor('ps_forged')).toBe(0);
    expect(await webhookJobsFor('ps_forge2')).toBe(0);
  });

  it('a correctly signed webhook is never refused for its content: unreadable, null-filled or of a new type, it gets 200', async () => {
    // refused, the bank would re-send it forever; what we can read of it is still acted on
    const notJson = 'not json';
    expect((await postWebhook(notJson, signBody(notJson, keys.bankPrivate))).status).toBe(200);
    const noStatus = JSON.stringify({
      type: 'payment_finished',
      session: { id: 'ps_no_status', status: null, finished_at: null, next_action: null, error: null },
    });
    expect((await postWebhook(noStatus, signBody(noStatus, keys.bankPrivate))).status).toBe(200);
    await eventually(async () => (await webhookJobsFor('ps_no_status')) === 1, 5_000, 'one job for ps_no_status');
    const unknown = JSON.stringify({ type: 'transaction_registration', session: { id: 'ps_unknown_type' } });
    expect((await postWebhook(unknown, signBody(unknown, keys.bankPrivate))).status).toBe(200);
    await eventually(async () => (await webhookJobsFor('ps_unknown_type')) === 1, 5_000, 'one job for ps_unknown_type');
    const unreadableSession = JSON.stringify({ type: 'ready_to_confirm', session: { id: 'ps_unreadable', payout_list: 'not a list' } });
    expect((await postWebhook(unreadableSession, signBody(unreadableSession, keys.bankPrivate))).status).toBe(200);
    await eventually(async () => (await webhookJobsFor('ps_unreadable')) === 1, 5_000, 'one job for ps_unreadable');
  });

  it('a signed webhook nested 5,000 deep is acknowledged and noted on its payout: the job carries the text, not a parsed tree', async () => {
    const o = order();
    await p.api('POST', '/v1/payouts', o);
    await p.waitFor([o.id], ['succeeded']);
    const sessionId = (await p.runtime.store.get(o.id))!.sessionId!;
    const deep = `${'['.repeat(5_000)}${']'.repeat(5_000)}`;
    const body = `{"type":"action_required","session":{"id":"${sessionId}","status":"in_progress","extra":${deep}}}`;
    expect(body.length).toBeGreaterThan(10_000);
    const res = await postWebhook(body, signBody(body, keys.bankPrivate));
    expect(res.status).toBe(200);
    await eventually(
      async () => (await p.runtime.store.audit(o.id)).some((e) => e.why.startsWith('webhook action_required')),
      5_000,
      'the webhook noted on its payout',
    );
    expect((await p.runtime.store.get(o.id))!.state).toBe('succeeded');
  });
});
