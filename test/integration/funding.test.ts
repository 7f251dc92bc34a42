import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log.js';
import { payoutKeyOf } from '../../src/tenants/identity.js';
import { startWeb, type RunningWeb } from '../../src/web-process.js';
import { startWorkers } from '../../workers/worker-process.js';
import { API_KEY, order, startPipeline, type Pipeline } from '../support/pipeline.js';
import { eventually } from '../support/sandbox.js';
import { webSettings, workerSettings } from '../support/settings.js';

/**
 * Funding (docs/api.md, "Funding"): the wallet balance is visible (`GET /v1/balance`, the metrics), and a
 * top-up pays the payouts waiting for funds at once, through `POST /v1/payouts/resume` or the
 * workers' balance poll, never twice. WALLET_RETRY_MS is a minute here, so within a test only
 * resume or the poll can pay a waiting payout.
 */
const WALLET_RETRY_MS = 60_000;
const AMOUNT = 10_000;
let p: Pipeline;
let acme: string;
/** A second web on the same runtime whose balance cache is short and whose log is read. */
let web: RunningWeb;
const lines: string[] = [];
beforeAll(async () => {
  p = await startPipeline({ timing: { walletRetryMs: WALLET_RETRY_MS } });
  acme = (await p.runtime.tenants.store.createKey('acme', 'billing')).secret;
  const logger = createLogger({ level: 'info' }, new Writable({ write: (chunk, _enc, done) => (lines.push(String(chunk)), done()) }));
  web = await startWeb(p.runtime, webSettings({ apiKeys: [API_KEY], redisPrefix: p.prefix, balanceCacheMs: 300 }), { logger });
});
afterAll(async () => {
  await web?.server.close();
  await p?.close();
});

const as = (key: string) => ({ authorization: `Bearer ${key}` });
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the sandbox's control answers, read freely
async function sandbox(method: string, path: string, body?: unknown): Promise<any> {
  const res = await fetch(`${p.sandbox.url}${path}`, {
    method,
    ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
  });
  expect(res.status, `${method} ${path}`).toBe(200);
  return res.json();
}
const setWallet = (amount: number) => sandbox('PUT', '/sandbox/wallet', { amount });
const paidSessions = async () =>
  new Set(((await sandbox('GET', '/sandbox/ledger')).sessions as Array<{ session_id: string }>).map((s) => s.session_id));
const balanceCalls = () => p.sandbox.bank.calls.filter((c) => c.endpoint === 'wallet/balance').length;
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read response bodies freely
const onWeb = async (method: string, path: string, key = API_KEY): Promise<{ status: number; headers: Headers; body: any }> => {
  const res = await fetch(`${web.url}${path}`, { method, headers: as(key) });
  return { status: res.status, headers: res.headers, body: await res.json() };
};

/** Three payouts (two of the default tenant, one of acme) held in awaiting_funds by an empty wallet; their ids and sessions. */
async function waitingForFunds(): Promise<{ ids: string[]; sessions: string[] }> {
  await setWallet(0);
  const mine = [order(), order()];
  const theirs = order();
  for (const o of mine) expect((await p.api('POST', '/v1/payouts', o)).status).toBe(202);
  expect((await p.api('POST', '/v1/payouts', theirs, as(acme))).status).toBe(202);
  const ids = [...mine.map((o) => o.id), payoutKeyOf('acme', theirs.id)];
  await p.waitFor(ids, ['awaiting_funds']);
  const records = await p.runtime.store.getMany(ids);
  return { ids, sessions: records.map((r) => r!.sessionId!) };
}

describe('GET /v1/balance', () => {
  it("answers the bank's wallet, reused within BALANCE_CACHE_MS, beside what waits for funds", async () => {
    await setWallet(123_456);
    const before = balanceCalls();
    const first = await p.api('GET', '/v1/balance');
    expect(first.status).toBe(200);
    expect(first.body).toEqual({
      wallets: [{ id: 'wlt_sandbox', amount: 123_456, currency: 'rub' }],
      fetched_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      waiting_for_funds: { count: 0, amount: 0 },
    });
    expect(balanceCalls()).toBe(before + 1);
    // within BALANCE_CACHE_MS (5 s by default) the same answer, without asking the bank
    await setWallet(1);
    const second = await p.api('GET', '/v1/balance');
    expect(second.body).toEqual(first.body);
    expect(balanceCalls()).toBe(before + 1);
  });

  it('requests meanwhile share one call; after BALANCE_CACHE_MS the bank is asked again', async () => {
    await setWallet(777);
    await new Promise((r) => setTimeout(r, 350));
    const before = balanceCalls();
    const answers = await Promise.all([1, 2, 3, 4].map(() => onWeb('GET', '/v1/balance')));
    expect(answers.map((a) => a.body.wallets[0].amount)).toEqual([777, 777, 777, 777]);
    expect(balanceCalls()).toBe(before + 1);
  });

  it('answers 503 unavailable, saying why, when the bank fails, and does not remember the failure', async () => {
    await new Promise((r) => setTimeout(r, 350));
    await setWallet(555);
    for (const fault of [
      { endpoint: 'wallet/balance', kind: '5xx', times: 1 },
      { endpoint: 'wallet/balance', kind: 'error', code: 'wallet_internal_error', times: 1 },
    ]) {
      await sandbox('POST', '/sandbox/faults', [fault]);
      const refused = await onWeb('GET', '/v1/balance');
      expect(refused.status).toBe(503);
      expect(refused.headers.get('retry-after')).toBe('5');
      expect(refused.body.error.code).toBe('unavailable');
      expect(refused.body.error.message).toMatch(/Bank 131 did not tell the wallet balance .*wallet\/balance/);
      // the next request asks the bank again, and it answers
      const again = await onWeb('GET', '/v1/balance');
      expect(again.status).toBe(200);
      expect(again.body.wallets[0].amount).toBe(555);
      await new Promise((r) => setTimeout(r, 350));
    }
  });

  it("is the operator's only: a tenant's key is answered 403 operator_only, and the bank is not asked", async () => {
    const before = balanceCalls();
    for (const [method, path] of [
      ['GET', '/v1/balance'],
      ['POST', '/v1/payouts/resume'],
    ] as const) {
      const refused = await p.api(method, path, undefined, as(acme));
      expect(refused.status).toBe(403);
      expect(refused.body.error.code).toBe('operator_only');
      expect((await p.api(method, path, undefined, { authorization: 'Bearer nope-nope-nope-nope' })).status).toBe(401);
    }
    expect(balanceCalls()).toBe(before);
  });
});

describe('POST /v1/payouts/resume', () => {
  it('after a top-up pays every payout waiting for funds, of every tenant, within a second; resumed twice, each is paid once', async () => {
    const { ids, sessions } = await waitingForFunds();
    expect((await p.api('GET', '/v1/balance')).body.waiting_for_funds).toEqual({ count: 3, amount: 3 * AMOUNT });
    expect([...(await paidSessions())].filter((s) => sessions.includes(s))).toEqual([]);

    await setWallet(10_000_000);
    const asked = Date.now();
    const first = await p.api('POST', '/v1/payouts/resume');
    expect(first).toEqual({ status: 202, body: { resumed: 3 } });
    // at once again: whatever still waits gets another start job, which pays nothing twice
    const second = await p.api('POST', '/v1/payouts/resume');
    expect(second.status).toBe(202);
    expect(second.body.resumed).toBeLessThanOrEqual(3);

    await eventually(
      async () => {
        const paid = await paidSessions();
        return sessions.every((s) => paid.has(s));
      },
      5_000,
      'the ledger to show all three paid',
    );
    const took = Date.now() - asked;
    expect(took, `paid ${took} ms after resume`).toBeLessThan(1_000);
    await p.waitFor(ids, ['succeeded']);
    const ledger = await sandbox('GET', '/sandbox/ledger');
    expect(ledger.sessions_paid_more_than_once).toEqual([]);
    for (const s of sessions) expect(ledger.sessions.find((e: { session_id: string }) => e.session_id === s).movements).toHaveLength(1);
    expect(await p.runtime.store.awaitingFunds()).toEqual({ count: 0, amount: 0 });
    // nothing waits now: resume finds nothing
    expect(await p.api('POST', '/v1/payouts/resume')).toEqual({ status: 202, body: { resumed: 0 } });
  });

  it('resumed while the wallet is still short: each payout keeps one chain of retries, however often it is resumed', async () => {
    const { ids } = await waitingForFunds();
    const delayedFor = async (id: string) =>
      (await p.runtime.queues.start.getDelayed()).filter((j) => (j.data as { payoutId: string }).payoutId === id).length;
    for (const id of ids) expect(await delayedFor(id)).toBe(1);
    const attempts = async () => (await p.runtime.store.getMany(ids)).map((r) => r!.startAttempts);
    for (let i = 0; i < 3; i++) {
      const before = await attempts();
      expect((await p.api('POST', '/v1/payouts/resume')).body.resumed).toBe(3);
      // the promoted retry runs (start/payout is sent again), meets the empty wallet, and waits again: one delayed retry each
      await eventually(async () => {
        const now = await attempts();
        if (!now.every((n, k) => n > before[k]!)) return undefined;
        return (await Promise.all(ids.map(delayedFor))).every((n) => n === 1) ? true : undefined;
      }, 5_000);
      await p.waitFor(ids, ['awaiting_funds']);
      for (const id of ids) expect(await delayedFor(id), id).toBe(1);
    }
    await p.waitFor(ids, ['awaiting_funds']);
    await setWallet(10_000_000);
    expect((await p.api('POST', '/v1/payouts/resume')).body.resumed).toBe(3);
    await p.waitFor(ids, ['succeeded']);
  });

  it('logs one line with how many were resumed and the key that asked', async () => {
    expect(await onWeb('POST', '/v1/payouts/resume')).toMatchObject({ status: 202, body: { resumed: 0 } });
    const line = lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.resumed !== undefined);
    expect(line).toMatchObject({ level: 30, resumed: 0, by: 'api_keys#1', msg: 'resumed 0 payouts waiting for funds' });
  });
});

describe("the workers' balance poll (BALANCE_POLL_MS)", () => {
  it('keeps the balance for the metrics, and a top-up pays the waiting payouts without anyone calling resume', async () => {
    const metric = async (name: string, labels = '') => {
      const text = await (await fetch(`${p.url}/metrics`)).text();
      const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `));
      return line === undefined ? undefined : Number(line.split(' ').pop());
    };
    const wallet = '{wallet="wlt_sandbox",currency="rub"}';
    const { ids, sessions } = await waitingForFunds();
    // a worker process that polls every 200 ms
    const polling = startWorkers(
      p.runtime,
      workerSettings({ redisPrefix: p.prefix, balancePollMs: 200, timing: { walletRetryMs: WALLET_RETRY_MS } }),
      { log: pino({ level: 'silent' }) },
    );
    try {
      // the metrics: the empty wallet as polled, and what waits for it
      await eventually(async () => (await metric('bank131_wallet_balance_kopecks', wallet)) === 0, 3_000, 'the polled balance 0');
      expect(await metric('payouts_waiting_for_funds_kopecks')).toBe(3 * AMOUNT);
      expect(await metric('payouts_waiting', '{state="awaiting_funds"}')).toBe(3);
      expect(await metric('bank131_wallet_balance_age_seconds')).toBeLessThan(5);
      // still waiting: nothing was paid
      expect((await p.runtime.store.getMany(ids)).map((r) => r!.state)).toEqual(['awaiting_funds', 'awaiting_funds', 'awaiting_funds']);

      await setWallet(5_000_000);
      await p.waitFor(ids, ['succeeded'], 5_000);
      const ledger = await sandbox('GET', '/sandbox/ledger');
      expect(ledger.sessions_paid_more_than_once).toEqual([]);
      for (const s of sessions) expect(ledger.sessions.find((e: { session_id: string }) => e.session_id === s).movements).toHaveLength(1);
      // the gauges follow: the balance as the bank tells it now (less what was paid), and nothing waits
      const now = (await p.runtime.bank.walletBalance())[0]!.amount_details.amount;
      expect(now).toBeLessThanOrEqual(5_000_000 - 3 * AMOUNT);
      await eventually(
        async () => (await metric('bank131_wallet_balance_kopecks', wallet)) === now,
        3_000,
        'the polled balance after the payouts',
      );
      expect(await metric('payouts_waiting_for_funds_kopecks')).toBe(0);
    } finally {
      await polling.close();
    }
  });
});
