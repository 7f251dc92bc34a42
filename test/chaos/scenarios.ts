import { randomBytes } from 'node:crypto';
import { Cluster, check, makeOrders, rand, sleep, type ClusterOptions, type Order, type Verdict } from './harness.js';

/**
 * The chaos scenarios. Each one starts its own cluster (test/chaos/harness.ts), sends its payouts
 * while it injects its faults, stops the faults once most payouts are done (or its time is up),
 * waits for every payout to end and be reported upstream, and checks the invariants.
 */

export interface Context {
  cluster: Cluster;
  orders: Order[];
  /** Share of payouts upstream has acknowledged a callback for: how far the run has got. */
  progress(): number;
  /** Records `n` injected faults of a kind. */
  fault(kind: string, n?: number): void;
  /** Sends the orders in batches of `size`, one every `everyMs`, re-sending a batch until it is answered. */
  submit(size?: number, everyMs?: number): Promise<void>;
  /** Whether faults should go on: until `until` of the payouts are done, or `maxMs` have passed since the start. */
  busy(until?: number, maxMs?: number): boolean;
  /** Problems seen during the run (a batch item refused, a process that did not drain). */
  problems: string[];
  notes: string[];
}

export interface Scenario {
  name: string;
  title: string;
  /** What is done to the service, in words, for the published table. */
  faults: string;
  cluster?: ClusterOptions;
  /** A reason to skip, or null to run. */
  skip?(): string | null;
  /** Sends the payouts and injects the faults; resolves when the last fault is over. */
  drive(ctx: Context): Promise<void>;
}

export interface ScenarioResult extends Omit<Verdict, 'violations'> {
  scenario: string;
  title: string;
  faultsDescribed: string;
  faults: Record<string, number>;
  violations: number;
  violationSamples: string[];
  processFindings: string[];
  notes: string[];
  /** From the end of the last fault until every payout was final and acknowledged upstream. */
  settleMs: number | null;
  durationMs: number;
  skipped?: string;
}

// ------------------------------------------------------------------ the scenarios

const workerSigkill: Scenario = {
  name: 'worker-sigkill',
  title: 'Workers killed with SIGKILL at random moments, over and over, while others go on',
  faults: 'SIGKILL to a random one of 3 worker processes every 1–2.5 s (a new one started each time)',
  async drive(ctx) {
    const sending = ctx.submit();
    while (ctx.busy(0.9, 60_000)) {
      await sleep(rand(1_000, 2_500));
      const ready = ctx.cluster.workers.filter((w) => w.ready);
      const victim = ready[rand(0, ready.length - 1)];
      if (!victim) continue;
      await ctx.cluster.signal(victim, 'SIGKILL');
      ctx.fault('worker SIGKILL');
      void ctx.cluster.startWorker().catch((err: Error) => ctx.problems.push(`a replacement worker did not start: ${err.message}`));
    }
    await sending;
  },
};

const redisRestart: Scenario = {
  name: 'redis-restart',
  title: 'Redis killed (SIGKILL) and restarted, AOF fsync always',
  faults: 'kill -9 of redis-server and a restart on the same port and AOF, 0.3–1 s into the run and then every 3–5 s',
  async drive(ctx) {
    const sending = ctx.submit();
    // the first kill comes early, so that even a small run (the CI slice) has payouts in flight
    await sleep(rand(300, 1_000));
    do {
      await ctx.cluster.redis.restart({ hard: true });
      ctx.fault('Redis kill -9 + restart');
      await sleep(rand(3_000, 5_000));
    } while (ctx.busy(0.85, 45_000));
    await sending;
  },
};

const sandboxRestart: Scenario = {
  name: 'sandbox-restart',
  title: 'The sandbox bank killed (SIGKILL) and restarted, its state in Redis',
  faults: 'kill -9 of the sandbox process, 1 s down, restarted on the same port (SANDBOX_REDIS_URL), every 3–5 s',
  cluster: { sandboxProcess: true },
  async drive(ctx) {
    const sending = ctx.submit();
    while (ctx.busy(0.85, 45_000)) {
      await sleep(rand(3_000, 5_000));
      if (!ctx.busy(0.85, 45_000)) break;
      await ctx.cluster.bank.restart!(1_000);
      ctx.fault('sandbox kill -9 + restart');
    }
    await sending;
  },
};

const bankFaults: Scenario = {
  name: 'bank-faults',
  title: 'The bank answers 5xx, times out before and after acting, and is slow',
  faults:
    'errorRate 5%, timeoutRate 3%, timeoutAfterEffectRate 5% (start, init, confirm act, then no answer), latency 40 ms on every call, hang 1.5 s against BANK131_TIMEOUT_MS 1 s',
  cluster: { knobs: { errorRate: 0.05, timeoutRate: 0.03, timeoutAfterEffectRate: 0.05, latencyMs: 40, hangMs: 1_500 } },
  async drive(ctx) {
    await ctx.submit();
    while (ctx.busy(0.9, 60_000)) await sleep(200);
    await ctx.cluster.bank.setKnobs({ errorRate: 0, timeoutRate: 0, timeoutAfterEffectRate: 0, latencyMs: 0 });
    const stats = ctx.cluster.bank.callStats();
    if (stats) {
      ctx.fault('bank 5xx', stats.answered5xx);
      ctx.fault('bank call held unanswered (timeout before or after acting)', stats.unanswered);
      ctx.notes.push(`${stats.calls} signed bank calls until the faults stopped`);
    }
  },
};

const webhookMayhem: Scenario = {
  name: 'webhooks-hostile',
  title: 'Webhooks duplicated, delayed, out of order and lost',
  faults:
    "duplicateWebhookRate 30%, every webhook delayed 200 ms, a stale ready_to_confirm after each payment_finished, 10% of the payouts' webhooks lost (ready_to_confirm and payment_finished)",
  cluster: { knobs: { duplicateWebhookRate: 0.3, webhookDelayMs: 200, outOfOrderWebhooks: true } },
  async drive(ctx) {
    await ctx.cluster.bank.setKnobs({
      loseWebhooks: { types: ['ready_to_confirm', 'payment_finished'], remaining: Math.ceil(ctx.orders.length / 10) },
    });
    await ctx.submit();
    while (ctx.busy(0.95, 60_000)) await sleep(200);
    await ctx.cluster.bank.setKnobs({ duplicateWebhookRate: 0, webhookDelayMs: 0, outOfOrderWebhooks: false, loseWebhooks: null });
    const w = await ctx.cluster.bank.webhookStats();
    ctx.fault('webhook duplicated', w.duplicate);
    ctx.fault('stale webhook out of order', w.stale);
    ctx.fault('webhook lost', w.lost);
    ctx.fault('webhook delayed', w.original);
  },
};

const webhooksEarly: Scenario = {
  name: 'webhooks-early',
  title: 'Webhooks arriving before the call that caused them returned',
  faults: 'readyDelayMs 0 and finishDelayMs 0 (the webhook is sent as the bank acts), latency 30 ms, 20% duplicated',
  cluster: { knobs: { readyDelayMs: 0, finishDelayMs: 0, latencyMs: 30, duplicateWebhookRate: 0.2 } },
  async drive(ctx) {
    await ctx.submit();
    while (ctx.busy(0.95, 60_000)) await sleep(200);
    const w = await ctx.cluster.bank.webhookStats();
    ctx.fault('webhook sent as the bank acted', w.original);
    ctx.fault('webhook duplicated', w.duplicate);
  },
};

const forgedWebhooks: Scenario = {
  name: 'webhooks-unknown-sessions',
  title: 'Bank-signed webhooks for sessions we never made',
  faults:
    'POST /sandbox/webhooks/send: ready_to_confirm and payment_finished for random ps_ ids, copied from real sessions (so naming our payouts in metadata), 5 at a time, every 20 ms',
  async drive(ctx) {
    const sending = ctx.submit();
    let template: Record<string, unknown> | null = null;
    while (ctx.busy(0.9, 60_000)) {
      if (!template) {
        const records = await ctx.cluster.records(ctx.orders.slice(0, 50).map((o) => o.id));
        const sessionId = records.find((r) => r?.sessionId)?.sessionId;
        template = sessionId ? await ctx.cluster.bank.session(sessionId) : null;
        if (!template) {
          await sleep(100);
          continue;
        }
      }
      const session = template;
      await Promise.all(
        Array.from({ length: 5 }, async () => {
          const id = `ps_${BigInt(`0x${randomBytes(6).toString('hex')}`)}`;
          const type = Math.random() < 0.5 ? 'ready_to_confirm' : 'payment_finished';
          const status = await ctx.cluster.bank.sendWebhook({ type, session: { ...session, id } });
          ctx.fault(status === 200 ? `forged ${type}` : `forged ${type} (send answered HTTP ${status})`);
        }),
      );
      await sleep(20);
    }
    await sending;
  },
};

const callbackDown: Scenario = {
  name: 'callback-endpoint-down',
  title: 'The upstream callback endpoint down for a while',
  faults: 'the receiver answers 503 to every callback for 10 s, from 1 s after the first batch',
  async drive(ctx) {
    const sending = ctx.submit();
    await sleep(1_000);
    ctx.cluster.receiver.down = true;
    const before = ctx.cluster.receiver.requests;
    await sleep(10_000);
    ctx.cluster.receiver.down = false;
    ctx.fault('callback refused with 503', ctx.cluster.receiver.requests - before);
    await sending;
  },
};

const webKilledMidBatch: Scenario = {
  name: 'web-killed-mid-batch',
  title: 'The web process killed (SIGKILL) while a batch is being accepted',
  faults:
    'the payouts sent in 4 batches (at most 1,000 each); each time the web SIGKILLed 5–300 ms after the batch was sent, then restarted and the batch re-sent',
  async drive(ctx) {
    const { cluster, orders } = ctx;
    const size = Math.min(1_000, Math.ceil(orders.length / 4));
    for (let i = 0; i < orders.length; i += size) {
      const batch = orders.slice(i, i + size);
      const web = cluster.web;
      const sent = cluster.api('POST', '/v1/payouts/batch', { payouts: batch }).catch((err: Error) => ({ status: 0, body: err.message }));
      await sleep(rand(5, 300));
      await cluster.signal(web, 'SIGKILL');
      ctx.fault('web SIGKILL mid-batch');
      const answer = await sent;
      // each item is accepted whole or not at all
      const records = await cluster.records(batch.map((o) => o.id));
      let accepted = 0;
      records.forEach((r, j) => {
        if (!r) return;
        accepted += 1;
        const o = batch[j]!;
        if (JSON.stringify(r.order) !== JSON.stringify(o))
          ctx.problems.push(`${o.id}: accepted by the killed request with another order than sent`);
      });
      ctx.notes.push(
        `batch ${i / size + 1}: ${answer.status === 200 ? 'answered before the kill' : 'no answer'}, ${accepted} of ${batch.length} recorded`,
      );
      await cluster.startWeb();
      const again = await cluster.sendBatch(batch);
      for (const r of again.refused) ctx.problems.push(`re-sent batch: ${r}`);
      if (again.created + again.existing !== batch.length)
        ctx.problems.push(`re-sent batch: ${again.created} created + ${again.existing} existing of ${batch.length}`);
      if (again.existing < accepted)
        ctx.problems.push(`re-sent batch: ${accepted} were recorded, only ${again.existing} answered existing`);
    }
  },
};

const sigterm: Scenario = {
  name: 'sigterm-mid-run',
  title: 'SIGTERM in the middle of a run: every worker and the web, one after another',
  faults:
    'SIGTERM to each worker in turn (a new one started after it exits) and to the web while batches are being sent; each must drain and exit 0',
  async drive(ctx) {
    const { cluster } = ctx;
    const sending = ctx.submit(200, 400);
    const stopOne = async (p: NonNullable<typeof cluster.web>) => {
      const started = Date.now();
      const ended = await cluster.signal(p, 'SIGTERM');
      ctx.fault(`SIGTERM to ${p.name.replace(/-\d+$/, '')}`);
      if (ended.code !== 0) ctx.problems.push(`${p.name} exited ${ended.code ?? ended.signal} after SIGTERM: ${p.tail().slice(-800)}`);
      ctx.notes.push(`${p.name} exited ${ended.code ?? ended.signal} ${Date.now() - started} ms after SIGTERM`);
    };
    await sleep(1_500);
    await stopOne(cluster.web);
    await cluster.startWeb();
    for (const w of [...cluster.workers]) {
      if (!ctx.busy(0.9, 60_000)) break;
      await sleep(rand(500, 1_500));
      await stopOne(w);
      await cluster.startWorker();
    }
    await sending;
  },
};

export const SCENARIOS: Scenario[] = [
  workerSigkill,
  redisRestart,
  bankFaults,
  webhookMayhem,
  webhooksEarly,
  forgedWebhooks,
  callbackDown,
  webKilledMidBatch,
  sigterm,
  sandboxRestart,
];

// ------------------------------------------------------------------ running one

export async function runScenario(
  scenario: Scenario,
  payouts: number,
  options: { settleTimeoutMs?: number; log?: (line: string) => void } = {},
): Promise<ScenarioResult> {
  const log = options.log ?? (() => undefined);
  const base = { scenario: scenario.name, title: scenario.title, faultsDescribed: scenario.faults };
  const skipped = scenario.skip?.();
  if (skipped) {
    return {
      ...base,
      payouts: 0,
      outcomes: {},
      errorCodes: {},
      lost: 0,
      paidTwice: 0,
      ledgerMovements: 0,
      callbacksReceived: 0,
      faults: {},
      violations: 0,
      violationSamples: [],
      processFindings: [],
      notes: [],
      settleMs: null,
      durationMs: 0,
      skipped,
    };
  }
  const started = Date.now();
  const cluster = await Cluster.start(scenario.cluster);
  try {
    const orders = makeOrders(payouts, cluster.receiver.url, scenario.name);
    const faults: Record<string, number> = {};
    const problems: string[] = [];
    const notes: string[] = [];
    let submitted = 0;
    const ctx: Context = {
      cluster,
      orders,
      problems,
      notes,
      progress: () => cluster.receiver.acknowledged.size / orders.length,
      fault(kind, n = 1) {
        faults[kind] = (faults[kind] ?? 0) + n;
      },
      async submit(size = 250, everyMs = 250) {
        for (let i = 0; i < orders.length; i += size) {
          const batch = orders.slice(i, i + size);
          const answer = await cluster.sendBatch(batch);
          for (const r of answer.refused) problems.push(`batch: ${r}`);
          submitted += batch.length;
          await sleep(everyMs);
        }
      },
      busy(until = 0.9, maxMs = 60_000) {
        return (submitted < orders.length || ctx.progress() < until) && Date.now() - started < maxMs;
      },
    };
    log(`${scenario.name}: ${payouts} payouts`);
    await scenario.drive(ctx);
    const lastFault = Date.now();
    log(`${scenario.name}: faults over after ${((lastFault - started) / 1000).toFixed(1)} s (${JSON.stringify(faults)}); settling`);
    const settledAt = await cluster.settle(
      orders.map((o) => o.id),
      options.settleTimeoutMs ?? 90_000,
    );
    // a little longer, so that a late duplicate callback or a stray payment would be seen too
    await sleep(1_000);
    const verdict = await check(cluster, orders, problems);
    const result: ScenarioResult = {
      ...base,
      ...verdict,
      faults,
      violations: verdict.violations.length,
      violationSamples: verdict.violations.slice(0, 20),
      processFindings: [...cluster.unexpectedExits],
      notes,
      settleMs: settledAt === null ? null : Math.max(0, settledAt - lastFault),
      durationMs: Date.now() - started,
    };
    log(
      `${scenario.name}: ${JSON.stringify({ outcomes: result.outcomes, errorCodes: result.errorCodes, lost: result.lost, paidTwice: result.paidTwice, violations: result.violations, settleMs: result.settleMs })}`,
    );
    for (const v of result.violationSamples) log(`  violation: ${v}`);
    for (const f of result.processFindings) log(`  process: ${f.slice(0, 300)}`);
    return result;
  } finally {
    await cluster.close();
  }
}
