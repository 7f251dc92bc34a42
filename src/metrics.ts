import client from 'prom-client';
import type { CallRecord } from './bank131/client.js';
import { PAYOUT_STATES, isTerminal, type PayoutState } from './payouts/state-machine.js';
import type { Queues } from './queues.js';
import type { PayoutStore } from './store/payout-store.js';
import type { StoredBalance } from './funding/wallets.js';
import { DEFAULT_TENANT } from './tenants/identity.js';

/**
 * Prometheus metrics, one registry per process: the web serves it at /metrics, a worker on
 * METRICS_PORT. Names carry their units (`_seconds`, `_total`). Gauges that describe Redis (what
 * waits in which state, queue depths) are read at scrape time, so any process shows the whole
 * system's backlog; counters and histograms count what this process did.
 */
export const registry = new client.Registry();
client.collectDefaultMetrics({ register: registry });
// Gauges whose names end in _total break Prometheus's naming rules (promtool refuses them); the
// same facts remain in nodejs_active_handles and nodejs_active_requests.
for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'])
  registry.removeSingleMetric(name);

/** A counter of this process's own events, on the registry. */
const counter = <L extends string>(name: string, help: string, labelNames: readonly L[]) =>
  new client.Counter<L>({ name, help, labelNames, registers: [registry] });

export const stateChanges = counter('payouts_state_changes_total', 'Payout state changes, by step and the state reached.', ['step', 'to']);
export const payoutsFinished = counter('payouts_finished_total', 'Payouts that reached a final state, by outcome and tenant.', [
  'outcome',
  'tenant',
]);
export const webhooksReceived = counter('bank131_webhooks_received_total', 'Bank 131 webhooks accepted (signature verified), by type.', [
  'type',
]);
export const webhooksRefused = counter(
  'bank131_webhooks_refused_total',
  'Bank 131 webhooks refused, by reason (missing, malformed or mismatched signature).',
  ['reason'],
);
// tenants are few (each made by an operator), and a destination is only its kind: the labels stay bounded
export const callbackDeliveries = counter(
  'callback_deliveries_total',
  'Deliveries of payout events to upstream, by result (delivered, refused: non-2xx, failed: no answer, refused_address: a private address), tenant and destination (callback_url or endpoint).',
  ['result', 'tenant', 'destination'],
);
export const callbackDeferrals = counter(
  'callback_deliveries_deferred_total',
  'Deliveries put back for later because their destination or their tenant held its share of the notify slots, by which.',
  ['limit'],
);
/** Labelled by the check's outcome kind (src/pipeline/job-outcome.ts): a closed set, whatever the text says. */
export const reconcilerActions = counter(
  'reconciler_actions_total',
  'What the reconciler did for each payout it checked, by outcome kind.',
  ['action'],
);
export const jobsRefused = counter(
  'jobs_refused_total',
  'Jobs that changed nothing because their data was not to be believed: a webhook job whose signature does not verify, a callback job that contradicts its payout. Each is an alarm: someone added or edited a job by hand.',
  ['queue', 'reason'],
);
export const payoutsRetired = counter(
  'payouts_retired_total',
  'Finished payouts removed after PAYOUT_RETENTION_DAYS (each leaves a tombstone).',
  [],
);

export const payoutDuration = new client.Histogram({
  name: 'payout_duration_seconds',
  help: 'Time from acceptance to a final state, by outcome.',
  labelNames: ['outcome'] as const,
  buckets: [0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600, 4 * 3600, 24 * 3600],
  registers: [registry],
});

export const bankCallDuration = new client.Histogram({
  name: 'bank131_request_duration_seconds',
  help: 'Calls to Bank 131, by method and result (ok, a refusal code, or transport_error).',
  labelNames: ['method', 'result'] as const,
  buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
  registers: [registry],
});

/** The Redis-backed gauges read from whichever store and queues this process runs on. */
let sources: { store: PayoutStore; queues: Queues } | null = null;
export function observeSystem(store: PayoutStore, queues: Queues): void {
  sources = { store, queues };
}

/** How long a scrape waits for Redis: a scrape during an outage still answers, without these gauges. */
const SCRAPE_REDIS_TIMEOUT_MS = 1_000;

export const redisUp = new client.Gauge({
  name: 'redis_up',
  help: 'Whether Redis answered the last scrape (1) or not (0).',
  registers: [registry],
});

/** Runs `read` within the bound; on failure or timeout the gauge is left out of this scrape. */
async function fromRedis<T>(read: () => Promise<T>): Promise<T | null> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), SCRAPE_REDIS_TIMEOUT_MS)));
  try {
    const value = await Promise.race([read().catch(() => null), late]);
    redisUp.set(value === null ? 0 : 1);
    return value;
  } finally {
    clearTimeout(timer);
  }
}

const WAITING_STATES = PAYOUT_STATES.filter((s) => !isTerminal(s));

/** One read of the state indexes per scrape, shared by the two gauges that use it. */
let byState: { at: number; value: Promise<Awaited<ReturnType<PayoutStore['countByState']>> | null> } | null = null;
function countsForScrape(store: PayoutStore) {
  if (!byState || Date.now() - byState.at > 500) byState = { at: Date.now(), value: fromRedis(() => store.countByState(WAITING_STATES)) };
  return byState.value;
}

/** A gauge per non-final state, read from the state indexes once per scrape. */
function perStateGauge(
  name: string,
  help: string,
  value: (c: { count: number; oldestCreatedMs: number | null } | undefined, now: number) => number,
): void {
  new client.Gauge({
    name,
    help,
    labelNames: ['state'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      const counts = sources ? await countsForScrape(sources.store) : null;
      if (!counts) return;
      const now = Date.now();
      for (const state of WAITING_STATES) this.set({ state }, value(counts[state], now));
    },
  });
}

perStateGauge('payouts_waiting', 'Payouts in each non-final state now.', (c) => c?.count ?? 0);
perStateGauge('payouts_oldest_waiting_seconds', 'Age of the oldest payout in each non-final state (0 when none waits).', (c, now) =>
  c?.oldestCreatedMs ? Math.max(0, (now - c.oldestCreatedMs) / 1000) : 0,
);

const JOB_STATES = ['waiting', 'active', 'delayed', 'failed', 'completed', 'prioritized'] as const;
new client.Gauge({
  name: 'queue_jobs',
  help: 'BullMQ jobs per queue and job state.',
  labelNames: ['queue', 'state'] as const,
  registers: [registry],
  async collect() {
    this.reset();
    if (!sources) return;
    const queues = sources.queues.all();
    const all = await fromRedis(() => Promise.all(queues.map((q) => q.getJobCounts(...JOB_STATES))));
    if (!all) return;
    queues.forEach((queue, i) => {
      for (const state of JOB_STATES) this.set({ queue: queue.name, state }, all[i]![state] ?? 0);
    });
  },
});

new client.Gauge({
  name: 'reconciler_last_sweep_age_seconds',
  help: 'Seconds since the reconciler last swept for lost jobs and webhooks (it runs every RECONCILE_INTERVAL_MS); absent before the first sweep.',
  registers: [registry],
  async collect() {
    this.reset();
    // wrapped: no sweep yet is an answer, not Redis failing to give one
    const swept = sources ? await fromRedis(async () => ({ at: await sources!.store.lastSwept() })) : null;
    if (swept?.at != null) this.set(Math.max(0, (Date.now() - swept.at) / 1000));
  },
});

/** Where the partner wallet's last polled balance is read (src/funding/funding-store.ts). */
let funding: { balance(): Promise<StoredBalance | null> } | null = null;
/** The web's funding routes and the workers set it (src/http/funding.ts, workers/worker-process.ts). */
export function observeFunding(source: { balance(): Promise<StoredBalance | null> }): void {
  funding = source;
}

/** One read of the kept balance per scrape, shared by the two gauges that use it; `value` null: none kept yet. */
let balanceRead: { at: number; value: Promise<{ value: StoredBalance | null } | null> } | null = null;
function balanceForScrape(source: NonNullable<typeof funding>) {
  if (!balanceRead || Date.now() - balanceRead.at > 500)
    balanceRead = { at: Date.now(), value: fromRedis(async () => ({ value: await source.balance() })) };
  return balanceRead.value;
}

new client.Gauge({
  name: 'bank131_wallet_balance_kopecks',
  help: "The partner wallet's balance at Bank 131 (minor units: kopecks for rub) by wallet and currency, as the workers last asked the bank (every BALANCE_POLL_MS); absent before the first answer.",
  labelNames: ['wallet', 'currency'] as const,
  registers: [registry],
  async collect() {
    this.reset();
    const kept = funding ? await balanceForScrape(funding) : null;
    for (const w of kept?.value?.wallets ?? []) this.set({ wallet: w.id, currency: w.currency }, w.amount);
  },
});

new client.Gauge({
  name: 'bank131_wallet_balance_age_seconds',
  help: 'Seconds since the bank last told the wallet balance that bank131_wallet_balance_kopecks shows; absent before the first answer.',
  registers: [registry],
  async collect() {
    this.reset();
    const kept = funding ? await balanceForScrape(funding) : null;
    const at = kept?.value ? Date.parse(kept.value.fetched_at) : NaN;
    if (Number.isFinite(at)) this.set(Math.max(0, (Date.now() - at) / 1000));
  },
});

new client.Gauge({
  name: 'payouts_waiting_for_funds_kopecks',
  help: 'The sum of the amounts of the payouts waiting for a top-up (state awaiting_funds, every tenant), in kopecks; how many is payouts_waiting{state="awaiting_funds"}.',
  registers: [registry],
  async collect() {
    this.reset();
    const waiting = sources ? await fromRedis(() => sources!.store.awaitingFunds()) : null;
    if (waiting) this.set(waiting.amount);
  },
});

/** The Bank 131 client's onCall hook. */
export function observeBankCall(call: CallRecord): void {
  const method = call.endpoint.replace(/^v\d\//, '');
  bankCallDuration.observe({ method, result: call.result === 'refused' ? (call.code ?? 'refused') : call.result }, call.durationMs / 1000);
}

/** A step landed: count it, and time the payout's life when it ended. */
export function observeStep(step: string, to: PayoutState, createdAt?: string, tenant = DEFAULT_TENANT): void {
  stateChanges.inc({ step, to });
  if (!isTerminal(to)) return;
  // tenants are few (each made by an operator), so the label stays bounded
  payoutsFinished.inc({ outcome: to, tenant });
  const started = createdAt ? Date.parse(createdAt) : NaN;
  if (Number.isFinite(started)) payoutDuration.observe({ outcome: to }, Math.max(0, (Date.now() - started) / 1000));
}

export const METRICS_CONTENT_TYPE = registry.contentType;
