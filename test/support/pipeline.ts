import type { FastifyInstance } from 'fastify';
import { Cluster } from 'ioredis';
import { pino, type Logger } from 'pino';
import type { KnobsPatch, RunningSandbox } from 'bank131-sandbox';
import { createRuntime, type Runtime } from '../../src/runtime.js';
import { startWeb } from '../../src/web-process.js';
import type { WebSettings } from '../../src/settings/web.js';
import type { WorkerSettings } from '../../src/settings/worker.js';
import type { PayoutState } from '../../src/payouts/state-machine.js';
import { DEFAULT_TIMING, type CrashPoints, type PipelineTiming } from '../../src/pipeline/pipeline-deps.js';
import { startWorkers, type RunningWorkers } from '../../workers/worker-process.js';
import { TEST_API_KEY, TEST_CALLBACK_SECRET, webSettings, workerSettings } from './settings.js';
import { keys } from './keys.js';
import { deleteKeys, redisUrl, testPrefix } from './redis.js';
import { PROJECT, eventually, startReceiver, startTestSandbox } from './sandbox.js';

export const API_KEY = TEST_API_KEY;
export const CALLBACK_SECRET = TEST_CALLBACK_SECRET;
const FAST_RETRY = { baseDelayMs: 20, maxDelayMs: 400, bankAttempts: 25, notifyAttempts: 10 };

export interface Pipeline {
  url: string;
  /** Where /metrics, /docs and the board are when the web was started with `admin`. */
  adminUrl: string | null;
  sandbox: RunningSandbox;
  runtime: Runtime;
  server: FastifyInstance;
  workerSets: RunningWorkers[];
  upstream: Awaited<ReturnType<typeof startReceiver>>;
  prefix: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read response bodies freely
  api(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<{ status: number; body: any }>;
  waitFor(ids: string[], states: PayoutState[], timeoutMs?: number): Promise<Record<string, PayoutState>>;
  close(): Promise<void>;
}

/**
 * The whole service against the sandbox bank: a real Redis (own key prefix), the real web server
 * on a free port, `workerSets` independent worker sets (as if several worker processes), and an
 * upstream receiver for callbacks. Retries are fast so faults resolve within a test.
 */
export async function startPipeline(
  options: {
    knobs?: KnobsPatch;
    workerSets?: number;
    concurrency?: number;
    bankTimeoutMs?: number;
    maxRps?: number;
    board?: { user: string; password: string; readOnly?: boolean };
    redisUrl?: string;
    /** `redisUrl` is one node of a Redis Cluster (REDIS_CLUSTER). */
    cluster?: boolean;
    /** Reconciler and wallet timings; by default the reconciler waits long enough to stay out of the way. */
    timing?: Partial<PipelineTiming>;
    /** Where a test makes a process "die" (src/pipeline/pipeline-deps.ts CrashPoints). */
    crashPoints?: CrashPoints;
    /** Where the web and workers log (silent unless TEST_LOG_LEVEL): a test that reads the lines passes its own. */
    logger?: Logger;
    /** CALLBACK_ALLOW_PRIVATE; on by default, since the test receiver is on 127.0.0.1. */
    allowPrivateCallbacks?: boolean;
    /** More of the web's settings (ADMIN_PORT, TRUST_PROXY, the operator console's users). */
    web?: Partial<Pick<WebSettings, 'admin' | 'trustProxy' | 'console' | 'bankProbeMs'>>;
    /** More of the workers' settings (per-queue concurrency, the callback deadline, approval rules and review). */
    worker?: Partial<Pick<WorkerSettings, 'concurrencyByQueue' | 'callbackTimeoutMs' | 'approval'>>;
  } = {},
): Promise<Pipeline> {
  const timing: PipelineTiming = { ...DEFAULT_TIMING, ...options.timing };
  const prefix = testPrefix('pipeline');
  const log = options.logger ?? pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
  const sandbox = await startTestSandbox({
    readyDelayMs: 5,
    finishDelayMs: 5,
    webhookRetryBaseMs: 20,
    webhookRetryMaxMs: 500,
    hangMs: 1_500,
    ...options.knobs,
  });
  const runtime = createRuntime({
    redisUrl: options.redisUrl ?? redisUrl(),
    cluster: options.cluster ?? false,
    prefix,
    maxRps: options.maxRps ?? 10_000,
    retry: FAST_RETRY,
    bank: { baseUrl: sandbox.url, project: PROJECT, privateKey: keys.partnerPrivate, timeoutMs: options.bankTimeoutMs ?? 2_000 },
  });
  // the upstream receiver runs on 127.0.0.1
  const callbackAllowPrivate = options.allowPrivateCallbacks ?? true;
  const web = webSettings({
    redisPrefix: prefix,
    board: options.board ? { readOnly: true, ...options.board } : null,
    timing,
    widgetUrl: sandbox.url,
    collectPayerName: 'Test Payer LLC',
    callbackAllowPrivate,
    ...options.web,
  });
  const { server, url, adminUrl } = await startWeb(runtime, web, {
    logger: log,
    ...(options.crashPoints ? { crashPoints: options.crashPoints } : {}),
  });
  sandbox.bank.setKnobs({ webhookUrl: `${url}/webhooks/bank131` });
  const upstream = await startReceiver();
  const worker = workerSettings({
    redisPrefix: prefix,
    callbackTimeoutMs: 2_000,
    payoutConcurrency: options.concurrency ?? 8,
    timing,
    callbackAllowPrivate,
    // a job abandoned by a crash is taken up within seconds, not BullMQ's default half minute
    stalled: { lockDurationMs: 4_000, stalledIntervalMs: 1_000 },
    ...options.worker,
  });
  const workerSets = Array.from({ length: options.workerSets ?? 1 }, () =>
    startWorkers(runtime, worker, { log, ...(options.crashPoints ? { crashPoints: options.crashPoints } : {}) }),
  );

  const api: Pipeline['api'] = async (method, path, body, headers = {}) => {
    const res = await fetch(`${url}${path}`, {
      method,
      headers: { authorization: `Bearer ${API_KEY}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // keep text
    }
    return { status: res.status, body: parsed };
  };

  return {
    url,
    adminUrl,
    sandbox,
    runtime,
    server,
    workerSets,
    upstream,
    prefix,
    api,
    async waitFor(ids, states, timeoutMs = 15_000) {
      return eventually(
        async () => {
          const records = await runtime.store.getMany(ids);
          if (records.every((r) => r && states.includes(r.state))) return Object.fromEntries(records.map((r) => [r!.id, r!.state]));
          return undefined;
        },
        timeoutMs,
        `${ids.length} payouts to reach ${states.join('|')}`,
      );
    },
    async close() {
      await Promise.all(workerSets.map((w) => w.close()));
      await server.close();
      await sandbox.close();
      await upstream.close();
      // SCAN walks one server: on a cluster, each master in turn
      for (const server of runtime.redis instanceof Cluster ? runtime.redis.nodes('master') : [runtime.redis])
        await deleteKeys(server, prefix);
      await runtime.close();
    },
  };
}

let counter = 0;
/** A valid payout order; `card` picks a sandbox test card. */
export function order(overrides: Record<string, unknown> = {}, card = 'sandbox_ok_4242') {
  counter += 1;
  return {
    id: `order-${Date.now().toString(36)}-${counter}`,
    amount_details: { amount: 10_000, currency: 'rub' },
    recipient: { full_name: 'Ivanov Ivan Ivanovich' },
    encrypted_card: { number_hash: card },
    metadata: `upstream-${counter}`,
    ...overrides,
  };
}
