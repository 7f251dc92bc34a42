import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { RunningSandbox } from 'bank131-sandbox';
import { freePort } from '../../src/local-redis.js';
import { bankMetadataFor } from '../../src/payouts/schemas.js';
import { keyPath } from '../support/keys.js';
import { API_KEY, CALLBACK_SECRET, order } from '../support/pipeline.js';
import { connectRedis, deleteKeys, redisUrl, testPrefix } from '../support/redis.js';
import { PROJECT, eventually, startTestSandbox } from '../support/sandbox.js';
import { runEntry } from '../support/processes.js';

/**
 * The issue's "done when": the service as an operator runs it (one web process, two worker
 * processes, each `node` itself, as the Procfile and the Dockerfile start them, so SIGTERM reaches
 * it) against the sandbox bank. SIGTERM to a worker in the middle of a few hundred payouts: it
 * finishes the jobs in hand and exits 0 within SHUTDOWN_TIMEOUT_MS, a new worker takes its place,
 * and every payout ends succeeded, paid exactly once.
 */

const PAYOUTS = 300;
const SHUTDOWN_TIMEOUT_MS = 10_000;

interface Proc {
  name: string;
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const procs: Proc[] = [];

/** `node --import tsx <entry>`: the TypeScript entry point run by node itself, not npm or npx. */
function start(name: string, entry: string, env: Record<string, string>): Proc {
  const proc = { name, ...runEntry(entry, { LOG_LEVEL: 'info', ...env }) };
  procs.push(proc);
  return proc;
}

async function ready(p: Proc, line: string): Promise<void> {
  await Promise.race([
    eventually(() => p.stdout().includes(line), 20_000, `${p.name}: "${line}"`),
    p.exit.then(({ code, signal }) => {
      throw new Error(
        `${p.name} exited (${code ?? signal}) before it was ready; stderr: ${p.stderr()}; stdout: ${p.stdout().slice(-2000)}`,
      );
    }),
  ]);
}

/** SIGTERM, then how the process ended and how long it took. */
async function stop(p: Proc): Promise<{ code: number | null; signal: NodeJS.Signals | null; afterMs: number }> {
  const since = Date.now();
  p.child.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(new Error(`${p.name} still running ${SHUTDOWN_TIMEOUT_MS + 5_000} ms after SIGTERM; stdout: ${p.stdout().slice(-2000)}`)),
      SHUTDOWN_TIMEOUT_MS + 5_000,
    );
  });
  try {
    const ended = await Promise.race([p.exit, late]);
    return { ...ended, afterMs: Date.now() - since };
  } finally {
    clearTimeout(timer);
  }
}

let sandbox: RunningSandbox;
let web: string;
const prefix = testPrefix('graceful-stop');
let settings: { web: Record<string, string>; worker: Record<string, string> };

beforeAll(async () => {
  // Bank calls that take a while and sessions that take longer, so that many payouts are in
  // flight, and jobs in a worker's hands, when the SIGTERM comes.
  sandbox = await startTestSandbox({
    latencyMs: 40,
    readyDelayMs: 300,
    finishDelayMs: 300,
    webhookRetryBaseMs: 50,
    webhookRetryMaxMs: 500,
  });
  const port = await freePort();
  web = `http://127.0.0.1:${port}`;
  sandbox.bank.setKnobs({ webhookUrl: `${web}/webhooks/bank131` });
  const common = {
    REDIS_URL: redisUrl(),
    REDIS_PREFIX: prefix,
    BANK131_BASE_URL: sandbox.url,
    BANK131_PROJECT: PROJECT,
    BANK131_PRIVATE_KEY_FILE: keyPath('partner-private'),
    BANK131_PUBLIC_KEY_FILE: keyPath('bank-public'),
    BANK131_MAX_RPS: '2000',
    SHUTDOWN_TIMEOUT_MS: String(SHUTDOWN_TIMEOUT_MS),
  };
  settings = {
    web: { ...common, HOST: '127.0.0.1', PORT: String(port), API_KEYS: API_KEY },
    worker: { ...common, CALLBACK_SECRET, METRICS_PORT: '0', PAYOUT_CONCURRENCY: '8' },
  };
});

afterAll(async () => {
  for (const p of procs) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
  await Promise.all(procs.map((p) => p.exit));
  await sandbox?.close();
  const redis = connectRedis();
  await deleteKeys(redis, prefix);
  redis.disconnect();
});

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read answers freely
async function api(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(`${web}${path}`, {
    method,
    headers: { authorization: `Bearer ${API_KEY}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

/** Ids of every payout in a state, through the list API (newest first, 100 a page). */
async function idsIn(status: string): Promise<Set<string>> {
  const ids = new Set<string>();
  let after: string | null = null;
  do {
    const page = await api('GET', `/v1/payouts?status=${status}&limit=100${after ? `&starting_after=${encodeURIComponent(after)}` : ''}`);
    expect(page.status).toBe(200);
    for (const p of page.body.data as Array<{ id: string }>) ids.add(p.id);
    after = page.body.has_more ? page.body.next_starting_after : null;
  } while (after);
  return ids;
}

it(`SIGTERM to a worker in the middle of ${PAYOUTS} payouts: it drains and exits 0, and every payout ends succeeded, paid once`, async () => {
  const webProc = start('web', 'src/web-process.ts', settings.web);
  const workers = [
    start('worker-1', 'workers/worker-process.ts', settings.worker),
    start('worker-2', 'workers/worker-process.ts', settings.worker),
  ];
  await Promise.all([ready(webProc, 'web process ready'), ...workers.map((w) => ready(w, 'worker process ready'))]);

  const orders = Array.from({ length: PAYOUTS }, () => order());
  const ids = orders.map((o) => o.id);
  const accepted = await api('POST', '/v1/payouts/batch', { payouts: orders });
  expect(accepted.status).toBe(200);
  expect(accepted.body.counts).toMatchObject({ created: PAYOUTS });

  // The middle: the bank has paid some, and many more are on their way.
  await eventually(() => sandbox.bank.ledger.length >= PAYOUTS / 5, 30_000, `${PAYOUTS / 5} payouts paid`);
  expect(sandbox.bank.ledger.length).toBeLessThan(PAYOUTS);

  const stopped = await stop(workers[0]!);
  expect({ code: stopped.code, signal: stopped.signal }, workers[0]!.stdout().slice(-3000)).toEqual({ code: 0, signal: null });
  expect(stopped.afterMs).toBeLessThan(SHUTDOWN_TIMEOUT_MS);
  expect(workers[0]!.stdout()).toContain('finishing jobs in hand, then stopping');
  expect(workers[0]!.stdout()).not.toContain('could not close cleanly');
  expect(sandbox.bank.ledger.length, 'the stop came mid-flight').toBeLessThan(PAYOUTS);
  // It had payouts in hand when the signal came, and moved them on before it exited.
  const afterSignal = workers[0]!.stdout().split('"msg":"shutting down"')[1] ?? '';
  expect(afterSignal.split('\n').filter((l) => l.includes('"msg":"payout moved"')).length).toBeGreaterThan(0);

  // A rolling restart: a new worker takes the place of the stopped one.
  const replacement = start('worker-3', 'workers/worker-process.ts', settings.worker);
  await ready(replacement, 'worker process ready');

  await eventually(async () => (await idsIn('succeeded')).size === PAYOUTS || undefined, 40_000, `all ${PAYOUTS} payouts succeeded`);
  const succeeded = await idsIn('succeeded');
  expect(ids.filter((id) => !succeeded.has(id))).toEqual([]);

  // Paid exactly once: one ledger movement per payout, no session paid twice.
  const ledger = (await (await fetch(`${sandbox.url}/sandbox/ledger`)).json()) as {
    sessions_paid_more_than_once: string[];
    movements: number;
  };
  expect(ledger.sessions_paid_more_than_once).toEqual([]);
  expect(ledger.movements).toBe(PAYOUTS);
  for (const id of ids)
    expect(
      sandbox.bank.ledger.filter((e) => e.metadata === bankMetadataFor(id)),
      id,
    ).toHaveLength(1);

  // The rest stop cleanly too, the web included.
  for (const p of [webProc, workers[1]!, replacement]) {
    const ended = await stop(p);
    expect({ name: p.name, code: ended.code, signal: ended.signal }).toEqual({ name: p.name, code: 0, signal: null });
    expect(p.stderr(), p.name).toBe('');
  }
}, 90_000);
