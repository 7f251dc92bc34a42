import type { Job } from 'bullmq';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Fault } from 'bank131-sandbox';
import { bankMetadataFor, isMove } from '../../src/payouts/schemas.js';
import { confirmProcessor } from '../../workers/payout-confirm.js';
import { startProcessor } from '../../workers/payout-start.js';
import { DEFAULT_TIMING, type PipelineDeps } from '../../src/pipeline/pipeline-deps.js';
import { CALLBACK_SECRET, order, startPipeline, type Pipeline } from '../support/pipeline.js';
import { crashSwitch } from '../support/crash.js';
import { clientFor, eventually } from '../support/sandbox.js';
import { keys } from '../support/keys.js';

let p: Pipeline;
const crash = crashSwitch();
beforeAll(async () => {
  // Client timeout well under the sandbox's hang, so "timeout" faults surface as unknown outcomes.
  p = await startPipeline({ bankTimeoutMs: 300, crashPoints: crash.points });
});
afterAll(() => p?.close());

const paidOnce = (id: string) => expect(p.sandbox.bank.ledger.filter((e) => e.metadata === bankMetadataFor(id))).toHaveLength(1);
/** How many times an endpoint was called for the payout's session (answered or not). */
const bankCalls = (id: string, endpoint: string) => {
  const sessionIds = new Set(p.sandbox.bank.ledger.filter((e) => e.metadata === bankMetadataFor(id)).map((e) => e.session_id));
  return p.sandbox.bank.calls.filter((c) => c.endpoint === endpoint && c.sessionId && sessionIds.has(c.sessionId)).length;
};
const whys = async (id: string) => (await p.runtime.store.audit(id)).map((e) => e.why);

async function payWith(faults: Array<Omit<Fault, 'times'> & { times?: number }>) {
  p.sandbox.bank.addFaults(faults.map((f) => ({ times: 1, ...f })));
  const o = order();
  expect((await p.api('POST', '/v1/payouts', o)).status).toBe(202);
  await p.waitFor([o.id], ['succeeded', 'failed', 'cancelled']);
  expect((await p.runtime.store.get(o.id))!.state).toBe('succeeded');
  paidOnce(o.id);
  return o.id;
}

describe('transient faults are retried and the payout succeeds exactly once', () => {
  it.each(['session/create', 'session/start/payout', 'session/confirm'] as const)('5xx on %s', async (endpoint) => {
    await payWith([{ endpoint, kind: '5xx', times: 2 }]);
  });

  it.each(['session/create', 'session/start/payout', 'session/confirm'] as const)('a timeout (nothing done) on %s', async (endpoint) => {
    await payWith([{ endpoint, kind: 'timeout' }]);
  });

  it('a timeout on session/status while resolving is retried too', async () => {
    await payWith([
      { endpoint: 'session/start/payout', kind: 'timeout' },
      { endpoint: 'session/status', kind: '5xx' },
    ]);
  });
});

describe('an answer lost after the bank acted is resolved through session/status, never by paying again', () => {
  it('start/payout acted, answer lost', async () => {
    p.sandbox.bank.setKnobs({ readyDelayMs: 1_000 }); // status, not the webhook, must settle it
    try {
      const id = await payWith([{ endpoint: 'session/start/payout', kind: 'timeout_after_effect' }]);
      expect(await whys(id)).toContain('session/status: session in_progress, payout in_progress: the payout started');
      expect((await p.runtime.store.get(id))!.startAttempts).toBe(1);
      expect(bankCalls(id, 'session/start/payout')).toBe(1);
    } finally {
      p.sandbox.bank.setKnobs({ readyDelayMs: 5 });
    }
  });

  it('confirm acted, answer lost', async () => {
    p.sandbox.bank.setKnobs({ finishDelayMs: 1_000 }); // status, not the webhook, must settle it
    try {
      const id = await payWith([{ endpoint: 'session/confirm', kind: 'timeout_after_effect' }]);
      expect(await whys(id)).toContain('session/status: session in_progress, payout in_progress: our confirm landed');
      expect(bankCalls(id, 'session/confirm')).toBe(1);
      expect(bankCalls(id, 'session/status')).toBeGreaterThanOrEqual(1);
    } finally {
      p.sandbox.bank.setKnobs({ finishDelayMs: 5 });
    }
  });

  it('under random 5xx, timeouts and lost answers, 60 payouts are each paid exactly once', async () => {
    p.sandbox.bank.setKnobs({ errorRate: 0.15, timeoutRate: 0.05, timeoutAfterEffectRate: 0.1, hangMs: 600 });
    try {
      const orders = Array.from({ length: 60 }, () => order());
      expect((await p.api('POST', '/v1/payouts/batch', { payouts: orders })).status).toBe(200);
      const ids = orders.map((o) => o.id);
      const states = await p.waitFor(ids, ['succeeded', 'failed', 'cancelled'], 60_000);
      expect(Object.values(states).filter((s) => s !== 'succeeded')).toEqual([]);
      for (const id of ids) {
        paidOnce(id);
        expect(bankCalls(id, 'session/start/payout')).toBeGreaterThanOrEqual(1);
        // a start is re-sent only after session/status showed it never landed
        expect(bankCalls(id, 'session/start/payout')).toBeLessThanOrEqual(1 + bankCalls(id, 'session/status'));
      }
    } finally {
      p.sandbox.bank.setKnobs({ errorRate: 0, timeoutRate: 0, timeoutAfterEffectRate: 0, hangMs: 1_500 });
    }
  }, 90_000);
});

describe('a job that runs twice at once (lost lock, second worker) moves money once', () => {
  const deps = (): PipelineDeps => ({
    store: p.runtime.store,
    queues: p.runtime.queues,
    bank: p.runtime.bank,
    bankPublicKey: keys.bankPublic,
    log: pino({ level: 'silent' }),
    callbackSecret: CALLBACK_SECRET,
    timing: DEFAULT_TIMING,
  });
  const fakeJob = <T>(data: T) => ({ data, attemptsMade: 0, opts: { attempts: 5 } }) as unknown as Job<T>;

  it('two concurrent runs of payout-start and payout-confirm', async () => {
    // Record the payout without enqueueing, then play the worker twice over by hand.
    const o = order();
    const [created] = await p.runtime.store.createMany([o as never], () => 'queued', Date.now() + 60_000);
    expect(created!.status).toBe('created');
    const start = startProcessor(deps());
    const runs = await Promise.allSettled([start(fakeJob({ payoutId: o.id })), start(fakeJob({ payoutId: o.id }))]);
    expect(runs.some((r) => r.status === 'fulfilled')).toBe(true);
    // however the two runs interleaved, one session is recorded and the payout reaches the bank once
    const record = await eventually(async () => {
      const r = await p.runtime.store.get(o.id);
      return r && ['awaiting_confirmation', 'confirming', 'confirmed', 'succeeded'].includes(r.state) ? r : undefined;
    });
    const sessionId = record.sessionId!;
    await p.waitFor([o.id], ['succeeded']);
    // the real confirm job already ran; run two more copies of it concurrently
    const confirm = confirmProcessor(deps());
    const again = await Promise.all([confirm(fakeJob({ payoutId: o.id, sessionId })), confirm(fakeJob({ payoutId: o.id, sessionId }))]);
    expect(again).toEqual([
      { outcome: 'nothing_to_do', state: 'succeeded' },
      { outcome: 'nothing_to_do', state: 'succeeded' },
    ]);
    paidOnce(o.id);
    expect((await p.runtime.store.audit(o.id)).filter(isMove).filter((e) => e.to === 'confirming')).toHaveLength(1);
  });

  it('two decisions raced on the same payout: only one confirm is sent', async () => {
    p.sandbox.bank.setKnobs({ readyDelayMs: 5 });
    const o = order();
    const [created] = await p.runtime.store.createMany([o as never], () => 'queued', Date.now() + 60_000);
    expect(created!.status).toBe('created');
    await startProcessor(deps())(fakeJob({ payoutId: o.id }));
    const record = await eventually(async () => {
      const r = await p.runtime.store.get(o.id);
      return r?.state === 'awaiting_confirmation' || r?.state === 'confirming' || r?.state === 'succeeded' ? r : undefined;
    });
    const confirm = confirmProcessor(deps());
    await Promise.allSettled(Array.from({ length: 5 }, () => confirm(fakeJob({ payoutId: o.id, sessionId: record.sessionId! }))));
    await p.waitFor([o.id], ['succeeded']);
    paidOnce(o.id);
    expect((await p.runtime.store.audit(o.id)).filter(isMove).filter((e) => e.to === 'confirming')).toHaveLength(1);
  });

  it('idempotency_key_already_exists on a retry is read as "the first one arrived": session/status decides, nothing is sent again', async () => {
    p.sandbox.bank.setKnobs({ finishDelayMs: 2_000 });
    try {
      const o = order();
      crash.afterStep('awaitConfirmation', o.id); // the payout waits for a decision, with no job to take it
      expect((await p.api('POST', '/v1/payouts', o)).status).toBe(202);
      await p.waitFor([o.id], ['awaiting_confirmation']);
      const sessionId = (await p.runtime.store.get(o.id))!.sessionId!;
      // an earlier confirm reached the bank, and its sender died before it heard back
      await clientFor(p.sandbox).confirmSession(sessionId, { idempotencyKey: `${sessionId}-confirm` });
      const confirm = confirmProcessor(deps());
      expect(await confirm(fakeJob({ payoutId: o.id, sessionId }))).toEqual({ outcome: 'confirmed' });
      expect(await whys(o.id)).toContain('session/status: session in_progress, payout in_progress: our confirm landed');
      await p.waitFor([o.id], ['succeeded']);
      paidOnce(o.id);
      const confirms = p.sandbox.bank.calls.filter((c) => c.sessionId === sessionId && c.endpoint === 'session/confirm');
      expect(confirms.map((c) => [c.idempotencyKey, c.httpStatus])).toEqual([
        [`${sessionId}-confirm`, 200],
        [`${sessionId}-confirm`, 409],
      ]);
    } finally {
      p.sandbox.bank.setKnobs({ finishDelayMs: 5 });
    }
  });
});
