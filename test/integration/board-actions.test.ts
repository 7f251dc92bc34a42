import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signBody } from '../../src/bank131/signature.js';
import { bankMetadataFor, type PayoutRecord } from '../../src/payouts/schemas.js';
import { PAYOUT_STATES, isTerminal, type PayoutState } from '../../src/payouts/state-machine.js';
import { QUEUE } from '../../src/queues.js';
import { keys } from '../support/keys.js';
import { order, startPipeline, type Pipeline } from '../support/pipeline.js';
import { eventually } from '../support/sandbox.js';
import { sleep } from '../support/wait.js';

/**
 * Bull Board with its actions allowed (BOARD_READ_ONLY=false), driven through its own HTTP API as an
 * operator (or an attacker with its password) would: every action it offers, against payouts held
 * in every non-terminal state. A job is a pointer, never a witness (docs/architecture.md): none of
 * these actions may pay twice, contradict an outcome, skip the confirmation policy or strand a
 * payout; at worst they delay one until the reconciler drives it on.
 */
const BOARD = { user: 'ops', password: 'board-password-123', readOnly: false };
const AUTH = `Basic ${Buffer.from(`${BOARD.user}:${BOARD.password}`).toString('base64')}`;
let p: Pipeline;
beforeAll(async () => {
  p = await startPipeline({
    board: BOARD,
    workerSets: 2,
    // quick to look again, so what an action strands is found within the test
    timing: { reconcileIntervalMs: 200, reconcileAfterMs: 1_000, walletRetryMs: 2_000, walletWaitMs: 600_000 },
    // above 50,000 kopecks a payout waits for a reviewer: no board action may send it on
    worker: { approval: { rules: null, reviewAbove: 50_000, reviewTtlMs: 600_000 } },
  });
});
afterAll(() => p?.close());

/** The board's own HTTP API, as its pages call it. */
const board = (method: string, path: string, body?: unknown) => p.api(method, `/admin/queues/api${path}`, body, { authorization: AUTH });

/** The jobs the board lists for a queue in one status. */
async function jobsOn(queue: string, status: string): Promise<Array<{ id: string; name: string; data: Record<string, unknown> }>> {
  const res = await board('GET', `/queues?activeQueue=${queue}&status=${status}&page=1&jobsPerPage=200`);
  expect(res.status).toBe(200);
  return (res.body.queues as Array<{ name: string; jobs: Array<{ id: string; name: string; data: Record<string, unknown> }> }>).find(
    (q) => q.name === queue,
  )!.jobs;
}

const ALL_QUEUES = Object.values(QUEUE);
const withCallback = (overrides: Record<string, unknown> = {}, card?: string) =>
  order({ callback_url: p.upstream.url, ...overrides }, card);
const record = async (id: string) => (await p.runtime.store.get(id)) as PayoutRecord;
const ledgerFor = (id: string) => p.sandbox.bank.ledger.filter((e) => e.metadata === bankMetadataFor(id));
const callbacksFor = (id: string) =>
  p.upstream.received
    .map((r) => JSON.parse(r.body.toString('utf8')) as { type: string; payout: { id: string; status: string } })
    .filter((c) => c.payout.id === id);
const refusedJobs = async () => {
  const text = await (await fetch(`${p.url}/metrics`)).text();
  return [...text.matchAll(/^jobs_refused_total\{[^}]*\} (\d+)/gm)].reduce((n, m) => n + Number(m[1]), 0);
};

async function post(o: Record<string, unknown>): Promise<string> {
  const res = await p.api('POST', '/v1/payouts', o);
  expect(res.status, JSON.stringify(res.body)).toBe(202);
  return o.id as string;
}

/**
 * What must hold of every payout once it has ended, whatever was done to its jobs: paid at most
 * once, recorded as the bank moved the money, told upstream its own outcome and nothing else.
 */
async function expectIntact(ids: string[], neverPaid: string[] = []): Promise<void> {
  const ends = await p.waitFor(ids, ['succeeded', 'failed', 'cancelled', 'expired', 'rejected'], 45_000).catch(async (err: Error) => {
    const stuck = (await Promise.all(ids.map(record))).filter((r) => !isTerminal(r.state));
    const stories = await Promise.all(
      stuck.map(
        async (r) =>
          `${r.id} ${r.state} last_job=${await p.runtime.store.lastJob(r.id)}\n  ${(await p.runtime.store.audit(r.id)).map((e) => `${'to' in e ? `${e.from}->${e.to}` : e.state}: ${e.why}`).join('\n  ')}`,
      ),
    );
    throw new Error(`${err.message}\n${stories.join('\n')}`);
  });
  // upstream has been told each outcome (the reconciler re-sends until it is acknowledged)
  await eventually(
    async () => (await Promise.all(ids.map(record))).every((r) => r.notified === r.state),
    30_000,
    'every outcome acknowledged',
  );
  for (const id of ids) {
    const paid = ledgerFor(id);
    expect(paid.length, `${id} paid at most once`).toBeLessThanOrEqual(1);
    expect(paid.length === 1, `${id} ended ${ends[id]}: succeeded exactly when the bank paid`).toBe(ends[id] === 'succeeded');
    const told = callbacksFor(id);
    expect(told.length, `${id} told upstream`).toBeGreaterThan(0);
    for (const c of told)
      expect([c.type, c.payout.status], `${id}: a callback contradicting the payout`).toEqual([`payout.${ends[id]}`, ends[id]]);
  }
  for (const id of neverPaid) {
    expect(ledgerFor(id), `${id} must never be paid`).toEqual([]);
    expect(
      (await p.runtime.store.audit(id)).some((e) => 'to' in e && e.to === 'confirming'),
      `${id} must never be confirmed`,
    ).toBe(false);
  }
}

/** What the bank reports when it is about to pay exactly this order: what an edited job would claim. */
const flattering = (r: PayoutRecord) => ({
  sessionId: r.sessionId,
  sessionStatus: 'in_progress',
  nextAction: 'confirm',
  payouts: [{ status: 'pending', amount: r.order.amount_details.amount, currency: 'rub', metadata: bankMetadataFor(r.id) }],
});
/** A payment_finished the bank never sent, saying the payout failed, under a signature of other bytes. */
const forgedFinish = (sessionId: string) => ({
  type: 'payment_finished',
  body: JSON.stringify({
    type: 'payment_finished',
    session: {
      id: sessionId,
      status: 'cancelled',
      payout_list: [{ id: 'po_x', status: 'failed', error: { code: 'declined_by_issuer_bank' } }],
    },
  }),
  encoding: 'utf8',
  signature: signBody('{"something":"else"}', keys.bankPrivate),
  receivedAt: new Date().toISOString(),
});

describe('targeted: the examples of docs/reliability.md', () => {
  it('a confirm job edited to report the right amount cannot confirm what the bank reports wrongly', async () => {
    expect((await board('PUT', `/queues/${QUEUE.confirm}/pause`)).status).toBe(200);
    try {
      p.sandbox.bank.setKnobs({ mismatch: { amountDelta: 100, remaining: 1 } });
      const id = await post(withCallback());
      await p.waitFor([id], ['awaiting_confirmation']);
      const r = await record(id);
      const job = (await jobsOn(QUEUE.confirm, 'waiting')).find((j) => j.data.payoutId === id)!;
      expect(job).toBeDefined();
      const edited = await board('PATCH', `/queues/${QUEUE.confirm}/${job.id}/update-data`, {
        jobData: { payoutId: id, sessionId: r.sessionId, reported: flattering(r) },
      });
      expect(edited.status).toBe(200);
      expect((await board('PUT', `/queues/${QUEUE.confirm}/resume`)).status).toBe(200);
      const [end] = Object.values(await p.waitFor([id], ['cancelled', 'succeeded', 'failed']));
      expect(end).toBe('cancelled');
      expect((await p.runtime.store.audit(id)).map((e) => e.why).join('\n')).toMatch(
        /policy: amount check failed: bank reports 10100, order is 10000/,
      );
      await expectIntact([id], [id]);
    } finally {
      await board('PUT', `/queues/${QUEUE.confirm}/resume`);
      p.sandbox.bank.setKnobs({ mismatch: null });
    }
  });

  it('a webhook job added on the board is not the bank’s word: it changes nothing, and is counted', async () => {
    p.sandbox.bank.setKnobs({ errorSessions: { after: 'confirm', remaining: 1 } });
    const id = await post(withCallback());
    await p.waitFor([id], ['confirmed']);
    p.sandbox.bank.setKnobs({ errorSessions: null });
    const { sessionId } = await record(id);
    const before = await refusedJobs();
    // the signed-body shape with a signature of other bytes, and the shape jobs had before
    expect(
      (await board('POST', `/queues/${QUEUE.webhooks}/add`, { name: 'payment_finished', data: forgedFinish(sessionId!) })).status,
    ).toBe(200);
    const legacy = {
      type: 'payment_finished',
      session: { id: sessionId, status: 'cancelled', payout_list: [{ status: 'failed' }] },
      receivedAt: new Date().toISOString(),
    };
    expect((await board('POST', `/queues/${QUEUE.webhooks}/add`, { name: 'payment_finished', data: legacy })).status).toBe(200);
    await eventually(async () => (await refusedJobs()) >= before + 2, 5_000, 'both forged webhook jobs refused');
    expect((await record(id)).state).toBe('confirmed');
    await p.sandbox.bank.resolveSessionError(sessionId!, 'succeeded');
    await p.waitFor([id], ['succeeded']);
    await expectIntact([id]);
  });

  it('a notify job added on the board cannot tell upstream another outcome than the payout’s', async () => {
    const id = await post(withCallback());
    await p.waitFor([id], ['succeeded']);
    await eventually(async () => (await record(id)).notified === 'succeeded', 5_000, 'the true callback');
    const before = await refusedJobs();
    for (const event of ['failed', 'cancelled', 'expired']) {
      expect((await board('POST', `/queues/${QUEUE.notify}/add`, { name: 'notify', data: { payoutId: id, event } })).status).toBe(200);
    }
    await eventually(async () => (await refusedJobs()) >= before + 3, 5_000, 'three contradicting callbacks refused');
    await sleep(300);
    expect(callbacksFor(id).map((c) => c.type)).toEqual(['payout.succeeded']);
  });

  it('a removed or changed reconciler schedule is put back, and a lost webhook is still found', async () => {
    expect((await board('PUT', `/queues/${QUEUE.reconcile}/job-schedulers/payout-reconcile-sweep/remove`)).status).toBeLessThan(300);
    expect((await board('PUT', `/queues/${QUEUE.reconcile}/job-schedulers/payout-retention/remove`)).status).toBeLessThan(300);
    p.sandbox.bank.setKnobs({ loseWebhooks: { types: ['payment_finished'], remaining: 1 } });
    try {
      const id = await post(withCallback());
      await eventually(
        async () => (await p.runtime.queues.reconcile.getJobScheduler('payout-reconcile-sweep')) !== undefined,
        5_000,
        'the sweep schedule put back',
      );
      await eventually(
        async () => (await p.runtime.queues.reconcile.getJobScheduler('payout-retention')) !== undefined,
        5_000,
        'the retention schedule put back',
      );
      await p.waitFor([id], ['succeeded'], 15_000);
      await expectIntact([id]);
      // an interval changed on the board is set back too
      expect(
        (await board('PATCH', `/queues/${QUEUE.reconcile}/job-schedulers/payout-reconcile-sweep`, { every: 3_600_000 })).status,
      ).toBeLessThan(300);
      await eventually(
        async () => Number((await p.runtime.queues.reconcile.getJobScheduler('payout-reconcile-sweep'))?.every) === 200,
        5_000,
        'the interval set back',
      );
    } finally {
      p.sandbox.bank.setKnobs({ loseWebhooks: null });
    }
  });

  it('a paused reconciler shows on /readyz and in its metric until it is resumed', async () => {
    const ready = async () => {
      const res = await fetch(`${p.url}/readyz`);
      return { status: res.status, body: (await res.json()) as { error?: { message: string } } };
    };
    expect((await ready()).status).toBe(200);
    expect((await board('PUT', `/queues/${QUEUE.reconcile}/pause`)).status).toBeLessThan(300);
    try {
      const stale = await eventually(
        async () => {
          const r = await ready();
          return r.status === 503 ? r : undefined;
        },
        5_000,
        '/readyz to notice the reconciler stopped',
      );
      expect(stale.body.error!.message).toMatch(/the reconciler has not swept for \d+ s .*payout-reconcile queue resumed/);
      const age = /^reconciler_last_sweep_age_seconds (\S+)$/m.exec(await (await fetch(`${p.url}/metrics`)).text())?.[1];
      expect(Number(age)).toBeGreaterThan(0.6);
    } finally {
      await board('PUT', `/queues/${QUEUE.reconcile}/resume`);
    }
    await eventually(async () => (await ready()).status === 200, 5_000, '/readyz to recover');
  });
});

describe('every board action, against payouts in every non-terminal state', () => {
  it('pays none twice, contradicts no outcome, skips no policy check and strands nothing', async () => {
    const groups: Record<string, string[]> = {};
    const hold = async (name: string, expected: PayoutState, make: () => Record<string, unknown>, count = 2) => {
      const made = Array.from({ length: count }, make);
      for (const o of made) await post(o);
      groups[name] = made.map((o) => o.id as string);
      await p.waitFor(groups[name]!, [expected], 20_000);
    };

    // Later states first: each hold uses what the next one must not.
    // confirmed: the bank leaves each confirmed session in status `error` until it is resolved by hand
    p.sandbox.bank.setKnobs({ errorSessions: { after: 'confirm', remaining: 2 } });
    await hold('confirmed', 'confirmed', () => withCallback());
    // started: the session goes to `error` in place of ready_to_confirm
    p.sandbox.bank.setKnobs({ errorSessions: { after: 'start', remaining: 2 } });
    await hold('started', 'started', () => withCallback());
    p.sandbox.bank.setKnobs({ errorSessions: null });
    // confirming: every confirm fails with a 5xx (the decision is taken; the call is retried)
    p.sandbox.bank.setKnobs({ faults: [{ endpoint: 'session/confirm', kind: '5xx', times: 100_000 }] });
    await hold('confirming', 'confirming', () => withCallback());
    // awaiting_confirmation (one of them reported with the wrong amount) and cancelling: the confirm queue paused
    expect((await board('PUT', `/queues/${QUEUE.confirm}/pause`)).status).toBe(200);
    await hold('awaiting_confirmation', 'awaiting_confirmation', () => withCallback());
    const wrongAmount = withCallback({}, 'sandbox_mismatch_amount');
    await post(wrongAmount);
    groups.awaiting_confirmation!.push(wrongAmount.id);
    await hold('cancelling', 'awaiting_confirmation', () => withCallback());
    await p.waitFor(groups.awaiting_confirmation!, ['awaiting_confirmation']);
    for (const id of groups.cancelling!) expect((await p.api('POST', `/v1/payouts/${id}/cancel`)).status).toBe(202);
    await p.waitFor(groups.cancelling!, ['cancelling']);
    // awaiting_funds: the partner wallet is empty
    p.sandbox.bank.walletBalance = 0;
    await hold('awaiting_funds', 'awaiting_funds', () => withCallback());
    // session_created: every start/payout fails with a 5xx
    p.sandbox.bank.setKnobs({
      faults: [
        { endpoint: 'session/confirm', kind: '5xx', times: 100_000 },
        { endpoint: 'session/start/payout', kind: '5xx', times: 100_000 },
      ],
    });
    await hold('session_created', 'session_created', () => withCallback());
    // awaiting_review: over REVIEW_ABOVE (screened before any bank call, so the faults above do not matter)
    await hold('awaiting_review', 'awaiting_review', () => withCallback({ amount_details: { amount: 60_000, currency: 'rub' } }));
    // queued: the start queue paused
    expect((await board('PUT', `/queues/${QUEUE.start}/pause`)).status).toBe(200);
    await hold('queued', 'queued', () => withCallback());
    // awaiting_card: no card given yet
    await hold('awaiting_card', 'awaiting_card', () => {
      const o = withCallback();
      delete (o as { encrypted_card?: unknown }).encrypted_card;
      return o;
    });

    const ids = Object.values(groups).flat();
    const held = new Set((await Promise.all(ids.map(record))).map((r) => r.state));
    expect([...held].sort(), 'a payout held in each non-terminal state').toEqual(PAYOUT_STATES.filter((s) => !isTerminal(s)).sort());

    // ---------------------------------------------------------------- the operator's storm
    const pick = (i: number) => ids[i % ids.length]!;
    const records = new Map((await Promise.all(ids.map(record))).map((r) => [r.id, r]));
    const forged: Record<string, (i: number) => Record<string, unknown>> = {
      [QUEUE.start]: (i) => ({ payoutId: pick(i) }),
      [QUEUE.confirm]: (i) => {
        const r = records.get(pick(i))!;
        return { payoutId: r.id, sessionId: r.sessionId ?? 'ps_none', reported: r.sessionId ? flattering(r) : undefined };
      },
      [QUEUE.webhooks]: (i) => forgedFinish(records.get(pick(i))!.sessionId ?? 'ps_none'),
      [QUEUE.finish]: (i) => forgedFinish(records.get(pick(i))!.sessionId ?? 'ps_none'),
      [QUEUE.notify]: (i) => ({ payoutId: pick(i), event: ['succeeded', 'failed', 'cancelled', 'expired'][i % 4] }),
      [QUEUE.reconcile]: (i) => ({ payoutId: pick(i), reason: 'due' }),
    };
    const names: Record<string, string> = {
      [QUEUE.start]: 'start',
      [QUEUE.confirm]: 'confirm',
      [QUEUE.webhooks]: 'payment_finished',
      [QUEUE.finish]: 'payment_finished',
      [QUEUE.notify]: 'notify',
      [QUEUE.reconcile]: 'check',
    };
    const actions: string[] = [];
    const act = async (what: string, method: string, path: string, body?: unknown) => {
      const res = await board(method, path, body);
      expect(res.status, `${what}: ${JSON.stringify(res.body)}`).toBeLessThan(300);
      actions.push(what);
    };

    for (const q of ALL_QUEUES) {
      // add: jobs an operator (or an attacker) makes up, for held payouts and one with a confirm-looking name
      for (let i = 0; i < 6; i++) await act(`add ${q}`, 'POST', `/queues/${q}/add`, { name: names[q], data: forged[q]!(i) });
      await act(`add ${q} confirm`, 'POST', `/queues/${q}/add`, { name: 'confirm', data: forged[QUEUE.confirm]!(3) });
      // edit data: every waiting, delayed or failed job made to say something else
      const listed = [
        ...(await jobsOn(q, 'waiting')),
        ...(await jobsOn(q, 'delayed')),
        ...(await jobsOn(q, 'failed')),
        ...(await jobsOn(q, 'paused')),
      ];
      for (const [i, job] of listed.entries()) {
        if (job.id.startsWith('repeat:')) continue;
        // a confirm job keeps its payout and is made to report that payout's order exactly; a
        // callback job keeps its payout and claims another outcome; any other points elsewhere
        const own = records.get(job.data.payoutId as string);
        const jobData =
          q === QUEUE.confirm && own?.sessionId
            ? { ...job.data, reported: flattering(own) }
            : q === QUEUE.notify && own
              ? { payoutId: own.id, event: own.state === 'failed' ? 'succeeded' : 'failed' }
              : forged[q]!(i + 1);
        const res = await board('PATCH', `/queues/${q}/${encodeURIComponent(job.id)}/update-data`, { jobData });
        if (res.status < 300) actions.push(`edit ${q}`);
      }
      // promote and retry: delayed work now, failed work again
      await act(`promote all ${q}`, 'PUT', `/queues/${q}/promote`);
      await act(`retry failed ${q}`, 'PUT', `/queues/${q}/retry/failed`);
      for (const job of (await jobsOn(q, 'delayed')).slice(0, 3)) {
        const res = await board('PUT', `/queues/${q}/${encodeURIComponent(job.id)}/promote`);
        if (res.status < 300) actions.push(`promote ${q}`);
      }
      // remove: half of what waits, one job at a time
      for (const job of (await jobsOn(q, 'waiting')).filter((_, i) => i % 2 === 0)) {
        const res = await board('PUT', `/queues/${q}/${encodeURIComponent(job.id)}/clean`);
        if (res.status < 300) actions.push(`remove ${q}`);
      }
    }
    // clean: whole statuses at once
    for (const q of [QUEUE.start, QUEUE.notify, QUEUE.reconcile]) {
      await act(`clean delayed ${q}`, 'PUT', `/queues/${q}/clean/delayed`);
      await act(`clean failed ${q}`, 'PUT', `/queues/${q}/clean/failed`);
    }
    // remove the schedulers, and pause the reconciler and the webhooks for a while
    await act('remove sweep', 'PUT', `/queues/${QUEUE.reconcile}/job-schedulers/payout-reconcile-sweep/remove`);
    await act('remove retention', 'PUT', `/queues/${QUEUE.reconcile}/job-schedulers/payout-retention/remove`);
    await act('pause reconcile', 'PUT', `/queues/${QUEUE.reconcile}/pause`);
    await act('pause webhooks', 'PUT', `/queues/${QUEUE.webhooks}/pause`);
    await act('pause finish', 'PUT', `/queues/${QUEUE.finish}/pause`);
    await sleep(500);
    for (const kind of ['add', 'edit', 'promote', 'retry', 'remove', 'clean', 'pause', 'remove sweep']) {
      expect(
        actions.some((a) => a.startsWith(kind)),
        `the storm took "${kind}"`,
      ).toBe(true);
    }

    // ---------------------------------------------------------------- release every hold
    await act('resume all', 'PUT', '/queues/resume');
    p.sandbox.bank.setKnobs({ faults: [], errorSessions: null });
    p.sandbox.bank.walletBalance = 1_000_000_000_00;
    for (const id of groups.confirmed!) await p.sandbox.bank.resolveSessionError((await record(id)).sessionId!, 'succeeded');
    for (const id of groups.started!) await p.sandbox.bank.resolveSessionError((await record(id)).sessionId!, 'failed');
    const [withLink, withdrawn] = groups.awaiting_card!;
    const link = (await p.api('GET', `/v1/payouts/${withLink}`)).body.collect_url as string;
    expect(
      (
        await fetch(`${link}/card`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: '{"number_hash":"sandbox_ok_4242"}',
        })
      ).status,
    ).toBe(202);
    expect((await p.api('POST', `/v1/payouts/${withdrawn}/cancel`)).status).toBe(202);
    // still held after the storm: only a reviewer sends it on, or ends it
    const [approved, refused] = groups.awaiting_review!;
    for (const id of [approved!, refused!]) expect((await record(id)).state).toBe('awaiting_review');
    const reviewer = await p.runtime.tenants.store.createKey('default', 'reviewer', { review: true });
    const asReviewer = { authorization: `Bearer ${reviewer.secret}` };
    expect((await p.api('POST', `/v1/payouts/${approved}/approve`, {}, asReviewer)).status).toBe(200);
    expect((await p.api('POST', `/v1/payouts/${refused}/reject`, { reason: 'not ours' }, asReviewer)).status).toBe(200);

    await expectIntact(ids, [wrongAmount.id, refused!]);
    const ends = Object.fromEntries((await Promise.all(ids.map(record))).map((r) => [r.id, r.state]));
    expect(ends[wrongAmount.id], 'the policy refused the wrong amount').toBe('cancelled');
    for (const id of groups.cancelling!) expect(ends[id], 'upstream cancelled before any confirm').toBe('cancelled');
    for (const id of groups.confirmed!) expect(ends[id]).toBe('succeeded');
    expect(ends[withdrawn!]).toBe('cancelled');
    expect([ends[approved!], ends[refused!]]).toEqual(['succeeded', 'rejected']);
  }, 180_000);
});
