import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { sendWebhook } from 'bank131-sandbox';
import { bankMetadataFor, isMove } from '../../src/payouts/schemas.js';
import type { PayoutState } from '../../src/payouts/state-machine.js';
import { crashSwitch } from '../support/crash.js';
import { order, startPipeline, type Pipeline } from '../support/pipeline.js';
import { eventually } from '../support/sandbox.js';
import { readyToConfirm } from '../support/webhooks.js';

/**
 * For every non-terminal state, the step that should move the payout on is lost (a job
 * that dies at the exact line, a webhook that never arrives, a web request that dies mid-batch,
 * an empty wallet), and the payout still reaches its terminal state, paid at most once, with
 * upstream told exactly once. The reconciler runs fast here (RECONCILE_AFTER_MS 400 ms).
 */
const crash = crashSwitch();
let p: Pipeline;
beforeAll(async () => {
  p = await startPipeline({
    crashPoints: crash.points,
    timing: { reconcileIntervalMs: 150, reconcileAfterMs: 400, walletRetryMs: 150, walletWaitMs: 2_000 },
  });
});
afterAll(() => p?.close());
afterEach(() => {
  p.sandbox.bank.setKnobs({ readyDelayMs: 5, finishDelayMs: 5, loseWebhooks: null, nullFields: false, errorSessions: null });
  p.sandbox.bank.walletBalance = 1_000_000_000_00;
});

const FINAL: PayoutState[] = ['succeeded', 'failed', 'cancelled', 'expired'];
const withCallback = (overrides: Record<string, unknown> = {}, card?: string) =>
  order({ callback_url: p.upstream.url, ...overrides }, card);
const ledgerFor = (id: string) => p.sandbox.bank.ledger.filter((e) => e.metadata === bankMetadataFor(id));
const callbacksFor = (id: string) =>
  p.upstream.received
    .map((r) => JSON.parse(r.body.toString('utf8')) as { type: string; payout: { id: string } })
    .filter((c) => c.payout.id === id)
    .map((c) => c.type);
const state = async (id: string) => (await p.runtime.store.get(id))?.state;
const whys = async (id: string) => (await p.runtime.store.audit(id)).map((e) => e.why);
const callsFor = (sessionId: string, endpoint: string) =>
  p.sandbox.bank.calls.filter((c) => c.sessionId === sessionId && c.endpoint === endpoint);

/** A payout the bank has started, whose ready_to_confirm comes only 2.5 s later: time to send our own webhooks first. */
async function startedPayout() {
  p.sandbox.bank.setKnobs({ readyDelayMs: 2_500 });
  const o = withCallback();
  await post(o);
  const payout = await reaches(o.id, 'started');
  return { o, sessionId: payout.sessionId! };
}

/** The payout ends in `final`, paid `paid` times, and upstream heard of it exactly once, with that outcome. */
async function endsOnce(id: string, final: PayoutState, paid: 0 | 1) {
  expect((await p.waitFor([id], FINAL, 20_000))[id]).toBe(final);
  expect(ledgerFor(id)).toHaveLength(paid);
  await eventually(() => callbacksFor(id).length > 0, 10_000, `the callback for ${id}`);
  // due index empty for it once the callback is acknowledged: nothing more will be sent
  await eventually(async () => (await p.runtime.redis.zscore(p.runtime.store.dueKey, id)) === null, 5_000, `${id} to leave the due index`);
  expect(callbacksFor(id)).toEqual([`payout.${final}`]);
}

async function post(o: Record<string, unknown>) {
  const res = await p.api('POST', '/v1/payouts', o);
  expect(res.status).toBe(202);
}

async function reaches(id: string, s: PayoutState) {
  await p.waitFor([id], [s], 10_000);
  return (await p.runtime.store.get(id))!;
}

describe('a lost job is enqueued again by the reconciler', () => {
  it('queued: the web process dies mid-batch after recording, before enqueueing (case 6)', async () => {
    const orders = Array.from({ length: 5 }, () => withCallback());
    for (const o of orders) crash.afterRecord(o.id);
    const res = await p.api('POST', '/v1/payouts/batch', { payouts: orders });
    expect(res.status).toBeGreaterThanOrEqual(500); // the request died
    expect(await state(orders[0]!.id)).toBe('queued');
    expect(await p.runtime.queues.start.getJob(`start-${orders[0]!.id}`)).toBeUndefined();
    for (const o of orders) await endsOnce(o.id, 'succeeded', 1);
  });

  it('session_created: the start job dies after recording the session, before start/payout', async () => {
    const o = withCallback();
    crash.afterStep('recordSession', o.id);
    await post(o);
    const { sessionId } = await reaches(o.id, 'session_created');
    await endsOnce(o.id, 'succeeded', 1);
    expect((await p.runtime.store.get(o.id))!.sessionId).toBe(sessionId); // the same session, never a second one
    expect(crash.fired).toContain(`recordSession:${o.id}`);
  });

  it('awaiting_confirmation: the worker dies between ready_to_confirm and the confirm job (case 2)', async () => {
    const o = withCallback();
    crash.afterStep('awaitConfirmation', o.id);
    await post(o);
    await endsOnce(o.id, 'succeeded', 1);
    expect(crash.fired).toContain(`awaitConfirmation:${o.id}`);
    const sessionId = (await p.runtime.store.get(o.id))!.sessionId!;
    expect(callsFor(sessionId, 'session/confirm')).toHaveLength(1);
  });

  it('confirming: the worker dies after the policy approved, before session/confirm was sent', async () => {
    const o = withCallback();
    crash.afterStep('decideConfirm', o.id);
    await post(o);
    await endsOnce(o.id, 'succeeded', 1);
    const sessionId = (await p.runtime.store.get(o.id))!.sessionId!;
    expect(callsFor(sessionId, 'session/confirm')).toHaveLength(1);
    expect((await p.runtime.store.audit(o.id)).filter(isMove).filter((e) => e.to === 'confirming')).toHaveLength(1);
  });

  it('cancelling: the worker dies after the policy refused, before session/cancel was sent', async () => {
    const o = withCallback({}, 'sandbox_mismatch_amount');
    crash.afterStep('decideCancel', o.id);
    await post(o);
    await endsOnce(o.id, 'cancelled', 0);
    const sessionId = (await p.runtime.store.get(o.id))!.sessionId!;
    expect(callsFor(sessionId, 'session/confirm')).toHaveLength(0);
    expect(callsFor(sessionId, 'session/cancel').length).toBeGreaterThanOrEqual(1);
    expect((await p.runtime.store.get(o.id))!.errorCode).toBe('policy_amount_mismatch');
  });

  it('cancelling: the worker dies after upstream cancelled, before the cancel job was enqueued', async () => {
    const o = withCallback();
    crash.afterStep('awaitConfirmation', o.id); // park it where upstream may still cancel
    crash.afterStep('requestCancel', o.id);
    await post(o);
    const { sessionId } = await reaches(o.id, 'awaiting_confirmation');
    expect((await p.api('POST', `/v1/payouts/${o.id}/cancel`)).status).toBeGreaterThanOrEqual(500); // the web process "died"
    expect(await state(o.id)).toBe('cancelling');
    await endsOnce(o.id, 'cancelled', 0);
    expect(callsFor(sessionId!, 'session/cancel').length).toBeGreaterThanOrEqual(1);
    expect(callsFor(sessionId!, 'session/confirm')).toHaveLength(0);
  });

  it('succeeded: the worker dies between the final state and the callback job (case 5)', async () => {
    const o = withCallback();
    crash.afterStep('succeed', o.id);
    await post(o);
    await endsOnce(o.id, 'succeeded', 1);
    expect(crash.fired).toContain(`succeed:${o.id}`);
  });
});

describe('a lost webhook is made up for by session/status', () => {
  it('started: ready_to_confirm never arrives; the reconciler finds the bank waiting and decides afresh', async () => {
    p.sandbox.bank.setKnobs({ loseWebhooks: { types: ['ready_to_confirm'] } });
    const o = withCallback();
    await post(o);
    await reaches(o.id, 'started');
    await endsOnce(o.id, 'succeeded', 1);
    expect(await whys(o.id)).toContain(
      'session/status: session in_progress, next_action confirm, payout pending: the bank waits for our confirm',
    );
  });

  it('confirmed: payment_finished never arrives (case 4)', async () => {
    p.sandbox.bank.setKnobs({ loseWebhooks: { types: ['payment_finished'] } });
    const o = withCallback();
    await post(o);
    await reaches(o.id, 'confirmed');
    await endsOnce(o.id, 'succeeded', 1);
    expect(await whys(o.id)).toContain('session/status: session accepted, payout succeeded: paid');
  });

  it('a session status of accepted means paid, also when the confirm answer was lost too (case 10)', async () => {
    p.sandbox.bank.setKnobs({ loseWebhooks: { types: ['payment_finished'] } });
    p.sandbox.bank.addFaults([{ endpoint: 'session/confirm', kind: 'timeout_after_effect', times: 1 }]);
    const o = withCallback();
    await post(o);
    await endsOnce(o.id, 'succeeded', 1);
    expect((await p.runtime.store.audit(o.id)).filter(isMove).map((e) => e.to)).not.toContain('confirmed');
  });

  it('a session in status error is not final: the payout waits, visibly, until the bank decides', async () => {
    p.sandbox.bank.setKnobs({
      loseWebhooks: { types: ['payment_finished'] },
      errorSessions: { after: 'confirm', resolveTo: 'succeeded', resolveAfterMs: 1_200, remaining: 1 },
    });
    const o = withCallback();
    await post(o);
    await endsOnce(o.id, 'succeeded', 1);
    expect((await whys(o.id)).some((w) => w.startsWith('session/status: the bank reports session status error'))).toBe(true);
  });
});

describe('an empty partner wallet (case 1)', () => {
  it('holds the payout in awaiting_funds and pays it in the same session once topped up', async () => {
    p.sandbox.bank.walletBalance = 0;
    const o = withCallback();
    await post(o);
    const waiting = await reaches(o.id, 'awaiting_funds');
    const view = (await p.api('GET', `/v1/payouts/${o.id}`)).body;
    expect(view).toMatchObject({ status: 'awaiting_funds', error: { code: 'insufficient_wallet_balance' } });
    // posting the same order again changes nothing and answers what it is
    expect(await p.api('POST', '/v1/payouts', o)).toMatchObject({ status: 200, body: { status: 'awaiting_funds' } });
    p.sandbox.bank.walletBalance = 1_000_000_000_00;
    await endsOnce(o.id, 'succeeded', 1);
    const done = (await p.runtime.store.get(o.id))!;
    expect(done.sessionId).toBe(waiting.sessionId);
    expect(done.errorCode).toBeNull();
    // every try was in that session, with one idempotency key
    const starts = callsFor(waiting.sessionId!, 'session/start/payout');
    expect(starts.length).toBeGreaterThanOrEqual(2);
    expect(new Set(starts.map((c) => c.idempotencyKey))).toEqual(new Set([`${waiting.sessionId}-start`]));
  });

  it('a lost retry job is re-driven too', async () => {
    p.sandbox.bank.walletBalance = 0;
    const o = withCallback();
    crash.afterStep('awaitFunds', o.id);
    await post(o);
    await reaches(o.id, 'awaiting_funds');
    p.sandbox.bank.walletBalance = 1_000_000_000_00;
    await endsOnce(o.id, 'succeeded', 1);
  });

  it('fails with insufficient_wallet_balance when no top-up comes within WALLET_WAIT_MS', async () => {
    p.sandbox.bank.walletBalance = 0;
    const o = withCallback();
    await post(o);
    await endsOnce(o.id, 'failed', 0);
    expect((await p.runtime.store.get(o.id))!.errorCode).toBe('insufficient_wallet_balance');
  });
});

describe('cancel and ready_to_confirm as the bank really sends them', () => {
  it('upstream cancel while a confirm job already exists for the session still reaches the bank (case 3)', async () => {
    const o = withCallback();
    crash.afterStep('awaitConfirmation', o.id);
    await post(o);
    const { sessionId } = await reaches(o.id, 'awaiting_confirmation');
    // the confirm job under its usual id exists (as after a retry backoff): cancel must not collide with it
    await p.runtime.queues.confirm.add(
      'confirm',
      { payoutId: o.id, sessionId: sessionId! },
      { jobId: `confirm-${sessionId}`, delay: 60_000 },
    );
    expect((await p.api('POST', `/v1/payouts/${o.id}/cancel`)).body).toEqual({ id: o.id, status: 'cancelling' });
    await endsOnce(o.id, 'cancelled', 0);
    expect(callsFor(sessionId!, 'session/cancel').length).toBeGreaterThanOrEqual(1);
    expect(callsFor(sessionId!, 'session/confirm')).toHaveLength(0);
    await p.runtime.queues.confirm.remove(`confirm-${sessionId}`);
  });

  it.each([
    [
      'the session is already cancelled',
      { status: 'cancelled', error: { code: 'confirm_timeout', description: 'late' } },
      {},
      'confirm_timeout',
    ],
    ['its payout has failed', {}, { status: 'failed', error: { code: 'declined_by_issuer_bank' } }, 'declined_by_issuer_bank'],
  ] as const)(
    'ready_to_confirm where %s is never confirmed: the payout ends as the session says (case 7)',
    async (_what, session, payout, code) => {
      const { o, sessionId } = await startedPayout();
      const delivery = sendWebhook(p.sandbox, readyToConfirm(sessionId, { metadata: bankMetadataFor(o.id), payout, session }));
      await endsOnce(o.id, 'failed', 0);
      expect(delivery.statuses[0]).toBe(200);
      expect((await p.runtime.store.get(o.id))!.errorCode).toBe(code);
      expect(callsFor(sessionId, 'session/confirm')).toHaveLength(0);
      expect((await whys(o.id)).some((w) => w.startsWith('webhook ready_to_confirm:'))).toBe(true);
    },
  );

  it('ready_to_confirm without next_action confirm is left to the bank: nothing is confirmed, the audit says why', async () => {
    const { o, sessionId } = await startedPayout();
    sendWebhook(p.sandbox, readyToConfirm(sessionId, { metadata: bankMetadataFor(o.id), session: { next_action: null } }));
    await eventually(
      async () => (await whys(o.id)).includes('webhook ready_to_confirm: session in_progress, payout pending'),
      5_000,
      'the audit entry',
    );
    expect(await state(o.id)).toBe('started');
    expect(callsFor(sessionId, 'session/confirm')).toHaveLength(0);
    // the bank's real ready_to_confirm, when it comes, is confirmed as usual
    await endsOnce(o.id, 'succeeded', 1);
  });
});

describe('every correctly signed webhook gets 200 and an audit entry (case 8)', () => {
  it('null fields from the bank pay out as usual', async () => {
    p.sandbox.bank.setKnobs({ nullFields: true });
    const o = withCallback();
    await post(o);
    await endsOnce(o.id, 'succeeded', 1);
    const sessionId = (await p.runtime.store.get(o.id))!.sessionId!;
    const deliveries = p.sandbox.webhooks.deliveries().filter((d) => d.sessionId === sessionId);
    expect(deliveries.length).toBeGreaterThanOrEqual(2);
    for (const d of deliveries) expect(d.statuses).toEqual([200]);
  });

  it.each(['action_required', 'ready_to_capture', 'payment_refunded', 'transaction_registration'])(
    '%s is kept and leads to a session/status check',
    async (type) => {
      const { o, sessionId } = await startedPayout();
      const statusChecks = callsFor(sessionId, 'session/status').length;
      const delivery = sendWebhook(p.sandbox, {
        type,
        session: {
          id: sessionId,
          status: 'in_progress',
          finished_at: null,
          payout_list: [{ id: 'po_1', status: 'teleported', error: null }],
        },
      });
      await eventually(
        async () => (await whys(o.id)).includes(`webhook ${type}: session in_progress, payout teleported`),
        5_000,
        'the audit entry',
      );
      expect(delivery.statuses).toEqual([200]);
      await eventually(() => callsFor(sessionId, 'session/status').length > statusChecks, 5_000, 'a session/status check');
      expect(await state(o.id)).toBe('started');
      await endsOnce(o.id, 'succeeded', 1);
    },
  );

  it('a payout status we do not know leads to a check, never to a failure', async () => {
    const { o, sessionId } = await startedPayout();
    const before = callsFor(sessionId, 'session/status').length;
    const delivery = sendWebhook(p.sandbox, {
      type: 'payment_finished',
      session: { id: sessionId, status: 'in_progress', payout_list: [{ id: 'po_1', status: 'on_hold' }] },
    });
    await eventually(() => callsFor(sessionId, 'session/status').length > before, 5_000, 'a session/status check');
    expect(delivery.statuses).toEqual([200]);
    expect(await state(o.id)).toBe('started');
    await endsOnce(o.id, 'succeeded', 1);
  });
});

describe('idempotency keys (case 9)', () => {
  it.each([
    ['session/start/payout', 'start'],
    ['session/confirm', 'confirm'],
  ] as const)(
    'idempotency_key_already_exists on %s that never acted: session/status says so, and the next try uses a new key',
    async (endpoint, action) => {
      // as a bank that remembers the key of a refused call would answer
      p.sandbox.bank.addFaults([{ endpoint, kind: 'error', code: 'idempotency_key_already_exists', times: 1 }]);
      const o = withCallback();
      await post(o);
      await endsOnce(o.id, 'succeeded', 1);
      const sessionId = (await p.runtime.store.get(o.id))!.sessionId!;
      expect(callsFor(sessionId, endpoint).map((c) => [c.idempotencyKey, c.httpStatus])).toEqual([
        [`${sessionId}-${action}`, 400],
        [`${sessionId}-${action}-2`, 200],
      ]);
      expect((await whys(o.id)).some((w) => w.includes('idempotency_key_already_exists') && w.includes('new idempotency key'))).toBe(true);
    },
  );

  it('one key per session and action, the same on every try', async () => {
    p.sandbox.bank.addFaults([
      { endpoint: 'session/start/payout', kind: '5xx', times: 2 },
      { endpoint: 'session/confirm', kind: '5xx', times: 2 },
    ]);
    const o = withCallback();
    await post(o);
    await endsOnce(o.id, 'succeeded', 1);
    const sessionId = (await p.runtime.store.get(o.id))!.sessionId!;
    expect(callsFor(sessionId, 'session/start/payout').map((c) => c.idempotencyKey)).toEqual(Array(3).fill(`${sessionId}-start`));
    expect(callsFor(sessionId, 'session/confirm').map((c) => c.idempotencyKey)).toEqual(Array(3).fill(`${sessionId}-confirm`));
  });
});
