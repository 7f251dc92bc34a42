import type { ChildProcess } from 'node:child_process';
import http from 'node:http';
import { startSandbox, type KnobsPatch, type RunningSandbox } from 'bank131-sandbox';
import { Redis } from 'ioredis';
import { Webhook } from 'standardwebhooks';
import { freePort, startLocalRedis, type LocalRedis } from '../../src/local-redis.js';
import { bankMetadataFor, type PayoutRecord } from '../../src/payouts/schemas.js';
import { TERMINAL_STATES, type PayoutState } from '../../src/payouts/state-machine.js';
import { PayoutStore } from '../../src/store/payout-store.js';
import { keyPath, keys } from '../support/keys.js';
import { eventually, sleep } from '../support/wait.js';
import { ROOT, runEntry } from '../support/processes.js';

/**
 * The chaos harness: the service as an operator runs it (a web process and several worker
 * processes, each `node --import tsx <entry>`, never npm or npx, so signals reach them), a Redis of
 * its own (redis-server, AOF fsync'd on every write), the sandbox bank over HTTP (in this process,
 * or as a process of its own when a scenario kills it; its bank in a second redis-server, so a
 * scenario that kills the service's Redis leaves the bank alone), and an upstream receiver that
 * verifies every callback's Standard Webhooks signature. A scenario sends payouts, injects faults,
 * waits for everything to settle and then checks the invariants (`check`) against the sandbox's
 * ledger, the payout store in Redis and what the receiver heard.
 */

export { ROOT };
export const API_KEY = 'chaos-api-key-0123456789';
/** Standard Webhooks form: whsec_ + base64 of 32 bytes (the same as test/support/pipeline.ts). */
export const CALLBACK_SECRET = 'whsec_a3iS1HBpNNtA8EuicVqomG22FE2tSUDSW1Ltk2V+7yo=';
export const PROJECT = 'chaos-project';
const PREFIX = '{chaos}';

export { eventually, sleep };
export const rand = (min: number, max: number) => min + Math.floor(Math.random() * (max - min + 1));

// ------------------------------------------------------------------ processes

export interface Proc {
  name: string;
  child: ChildProcess;
  /** The last 64 KB of stdout. */
  tail(): string;
  stderr(): string;
  ready: boolean;
  /** Killed on purpose: its exit is not a finding. */
  expectedExit: boolean;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function spawnProc(name: string, entry: string, env: Record<string, string>, readyLine: string): Proc {
  let seen = '';
  const running = runEntry(
    entry,
    { LOG_LEVEL: 'info', ...env },
    {
      keep: 64 * 1024,
      onStdout: (chunk) => {
        if (proc.ready) return;
        seen = (seen + chunk).slice(-4 * 1024);
        if (seen.includes(readyLine)) proc.ready = true;
      },
    },
  );
  const proc: Proc = {
    name,
    child: running.child,
    tail: running.stdout,
    stderr: running.stderr,
    ready: false,
    expectedExit: false,
    exit: running.exit,
  };
  return proc;
}

async function whenReady(p: Proc, timeoutMs = 30_000): Promise<void> {
  let exited = false;
  void p.exit.then(() => (exited = true));
  await eventually(
    () => {
      if (exited && !p.ready)
        throw new Error(`${p.name} exited before it was ready; stderr: ${p.stderr().slice(-2000)}; stdout: ${p.tail().slice(-2000)}`);
      return p.ready;
    },
    timeoutMs,
    `${p.name} to be ready`,
    50,
  );
}

const alive = (p: Proc) => p.child.exitCode === null && p.child.signalCode === null;

// ------------------------------------------------------------------ the upstream receiver

export interface Receiver {
  url: string;
  /** Answer 503 to every callback while true: the upstream endpoint is down. */
  down: boolean;
  /** Every outcome each payout was reported with (verified deliveries, whatever we answered). */
  outcomes: Map<string, string[]>;
  /** Payouts whose callback we acknowledged (answered 2xx). */
  acknowledged: Set<string>;
  /** Callbacks whose payout view disagrees with the order, by payout id. */
  payloads: Map<string, { amount: number; metadata: string | null; status: string }>;
  badSignatures: number;
  requests: number;
  close(): Promise<void>;
}

export async function startReceiver(): Promise<Receiver> {
  const verifier = new Webhook(CALLBACK_SECRET);
  const receiver: Receiver = {
    url: '',
    down: false,
    outcomes: new Map(),
    acknowledged: new Set(),
    payloads: new Map(),
    badSignatures: 0,
    requests: 0,
    close: async () => undefined,
  };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      receiver.requests += 1;
      const body = Buffer.concat(chunks).toString('utf8');
      let event: { type: string; payout: { id: string; status: string; amount_details: { amount: number }; metadata: string | null } };
      try {
        event = verifier.verify(body, req.headers as Record<string, string>) as typeof event;
      } catch {
        receiver.badSignatures += 1;
        res.statusCode = 400;
        res.end();
        return;
      }
      const id = event.payout.id;
      receiver.outcomes.set(id, [...(receiver.outcomes.get(id) ?? []), event.type]);
      receiver.payloads.set(id, {
        amount: event.payout.amount_details.amount,
        metadata: event.payout.metadata,
        status: event.payout.status,
      });
      if (receiver.down) {
        res.statusCode = 503;
      } else {
        receiver.acknowledged.add(id);
        res.statusCode = 200;
      }
      res.end();
    });
  });
  server.keepAliveTimeout = 1_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  receiver.url = `http://127.0.0.1:${(server.address() as { port: number }).port}/callbacks`;
  receiver.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return receiver;
}

// ------------------------------------------------------------------ the sandbox bank

export interface LedgerView {
  sessions: Array<{ session_id: string; metadata: unknown; movements: Array<{ session_id: string; amount: number; metadata: unknown }> }>;
  movements: number;
  sessions_paid_more_than_once: string[];
}

export interface Bank {
  url: string;
  /** Knobs over HTTP (PATCH /sandbox/knobs), as an operator would turn them. */
  setKnobs(patch: KnobsPatch): Promise<void>;
  ledger(): Promise<LedgerView>;
  /** session/confirm calls that acted (answered 200), per session; null where only the ledger can tell. */
  confirmsBySession(): Map<string, number> | null;
  /** POST /sandbox/webhooks/send: a webhook signed with the bank's key, for any body. */
  sendWebhook(body: unknown): Promise<number>;
  /** GET /sandbox/sessions/:id: the session as the bank shows it. */
  session(id: string): Promise<Record<string, unknown> | null>;
  /** What GET /sandbox/webhooks shows: deliveries by kind. */
  webhookStats(): Promise<{
    original: number;
    duplicate: number;
    stale: number;
    manual: number;
    lost: number;
    attempts: number;
    refused: number;
  }>;
  /** API calls answered 500, and held without an answer (timeouts, before or after acting); null where only the process knows. */
  callStats(): { calls: number; answered5xx: number; unanswered: number } | null;
  /** The sandbox process killed (SIGKILL) and started again on the same port; only for `process` sandboxes. */
  restart?(downMs: number): Promise<void>;
  close(): Promise<void>;
}

const BASE_KNOBS: KnobsPatch = {
  readyDelayMs: 20,
  finishDelayMs: 20,
  webhookRetryBaseMs: 50,
  webhookRetryMaxMs: 1_000,
  webhookMaxAttempts: 1_000,
  hangMs: 1_500,
};

async function bankOverHttp(url: string): Promise<Omit<Bank, 'confirmsBySession' | 'callStats' | 'close' | 'restart'>> {
  return {
    url,
    async setKnobs(patch) {
      const res = await fetch(`${url}/sandbox/knobs`, {
        method: 'PATCH',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(patch),
      });
      if (res.status !== 200) throw new Error(`PATCH /sandbox/knobs answered ${res.status}: ${await res.text()}`);
    },
    async ledger() {
      const res = await fetch(`${url}/sandbox/ledger`);
      if (res.status !== 200) throw new Error(`GET /sandbox/ledger answered ${res.status}`);
      return (await res.json()) as LedgerView;
    },
    async sendWebhook(body) {
      const res = await fetch(`${url}/sandbox/webhooks/send`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ body }),
      });
      await res.arrayBuffer();
      return res.status;
    },
    async session(id) {
      const res = await fetch(`${url}/sandbox/sessions/${encodeURIComponent(id)}`);
      if (res.status !== 200) return null;
      return ((await res.json()) as { session: Record<string, unknown> }).session;
    },
    async webhookStats() {
      const res = await fetch(`${url}/sandbox/webhooks`);
      const records = (await res.json()) as Array<{ copy: string; attempts: number; statuses: Array<number | string>; lost: boolean }>;
      const stats = { original: 0, duplicate: 0, stale: 0, manual: 0, lost: 0, attempts: 0, refused: 0 };
      for (const r of records) {
        stats[r.copy as 'original'] += 1;
        if (r.lost) stats.lost += 1;
        stats.attempts += r.attempts;
        stats.refused += r.statuses.filter((s) => s !== 200).length;
      }
      return stats;
    },
  };
}

const SANDBOX_PREFIX = '{chaos-sandbox}';

async function inProcessBank(webhookUrl: string, knobs: KnobsPatch, redisUrl: string): Promise<Bank> {
  const sandbox: RunningSandbox = await startSandbox({
    partnerPublicKey: keys.partnerPublic,
    bankPrivateKey: keys.bankPrivate,
    project: PROJECT,
    knobs: { ...BASE_KNOBS, ...knobs, webhookUrl },
    redisUrl,
    redisPrefix: SANDBOX_PREFIX,
  });
  return {
    ...(await bankOverHttp(sandbox.url)),
    confirmsBySession() {
      const counts = new Map<string, number>();
      for (const c of sandbox.bank.calls) {
        if (c.endpoint === 'session/confirm' && c.httpStatus === 200 && c.sessionId)
          counts.set(c.sessionId, (counts.get(c.sessionId) ?? 0) + 1);
      }
      return counts;
    },
    callStats() {
      const calls = sandbox.bank.calls;
      return {
        calls: calls.length,
        answered5xx: calls.filter((c) => c.httpStatus === 500).length,
        unanswered: calls.filter((c) => c.httpStatus === 0).length,
      };
    },
    close: () => sandbox.close(),
  };
}

/** `node --import tsx sandbox/src/main.ts` (the bank131-sandbox package's entry) on a fixed port, its bank in Redis (SANDBOX_REDIS_URL). */
async function processBank(
  webhookUrl: string,
  knobs: KnobsPatch,
  redisUrl: string,
  onExit: (p: Proc) => void,
): Promise<Bank & { procs: Proc[] }> {
  const port = await freePort();
  const env = {
    SANDBOX_HOST: '127.0.0.1',
    SANDBOX_PORT: String(port),
    SANDBOX_WEBHOOK_URL: webhookUrl,
    SANDBOX_PROJECT: PROJECT,
    SANDBOX_PARTNER_PUBLIC_KEY_FILE: keyPath('partner-public'),
    SANDBOX_BANK_PRIVATE_KEY_FILE: keyPath('bank-private'),
    SANDBOX_REDIS_URL: redisUrl,
    SANDBOX_REDIS_PREFIX: SANDBOX_PREFIX,
    LOG_LEVEL: 'warn',
  };
  const procs: Proc[] = [];
  const url = `http://127.0.0.1:${port}`;
  const http = await bankOverHttp(url);
  const launch = async () => {
    const p = spawnProc('sandbox', 'sandbox/src/main.ts', env, 'Bank 131 sandbox listening on');
    procs.push(p);
    void p.exit.then(() => onExit(p));
    await whenReady(p);
    await http.setKnobs({ ...BASE_KNOBS, ...knobs, webhookUrl });
  };
  await launch();
  const current = () => procs[procs.length - 1]!;
  return {
    ...http,
    procs,
    confirmsBySession: () => null,
    callStats: () => null,
    async restart(downMs) {
      const p = current();
      p.expectedExit = true;
      p.child.kill('SIGKILL');
      await p.exit;
      await sleep(downMs);
      await launch();
    },
    async close() {
      const p = current();
      p.expectedExit = true;
      if (alive(p)) p.child.kill('SIGTERM');
      await p.exit;
    },
  };
}

// ------------------------------------------------------------------ the cluster

export interface ClusterOptions {
  workers?: number;
  knobs?: KnobsPatch;
  /** Run the sandbox as a process of its own (needed to kill it). */
  sandboxProcess?: boolean;
  /** Extra settings for the web and the workers. */
  env?: Record<string, string>;
  concurrency?: number;
}

export interface Order {
  id: string;
  amount_details: { amount: number; currency: 'rub' };
  recipient: { full_name: string };
  encrypted_card: { number_hash: string };
  metadata: string;
  callback_url: string;
}

export class Cluster {
  readonly workers: Proc[] = [];
  web!: Proc;
  /** Processes that ended without being told to: each one a finding, restarted as a supervisor would. */
  readonly unexpectedExits: string[] = [];
  private closing = false;
  private workerSeq = 0;
  private settings!: { web: Record<string, string>; worker: Record<string, string> };
  readonly store: PayoutStore;

  private constructor(
    readonly redis: LocalRedis,
    /** The sandbox bank's own Redis, apart from the service's. */
    readonly bankRedis: LocalRedis,
    private readonly client: Redis,
    readonly bank: Bank,
    readonly receiver: Receiver,
    readonly webUrl: string,
  ) {
    this.store = new PayoutStore(client, PREFIX);
  }

  static async start(options: ClusterOptions = {}): Promise<Cluster> {
    const redis = await startLocalRedis({ appendfsync: 'always' });
    const bankRedis = await startLocalRedis({ appendfsync: 'always' });
    const client = new Redis(redis.url, { maxRetriesPerRequest: null, retryStrategy: () => 200 });
    client.on('error', () => undefined);
    const receiver = await startReceiver();
    const webPort = await freePort();
    const webUrl = `http://127.0.0.1:${webPort}`;
    const webhookUrl = `${webUrl}/webhooks/bank131`;
    const holder: { cluster?: Cluster } = {};
    const bank = options.sandboxProcess
      ? await processBank(webhookUrl, options.knobs ?? {}, bankRedis.url, (p) => holder.cluster?.exited(p))
      : await inProcessBank(webhookUrl, options.knobs ?? {}, bankRedis.url);
    const cluster = new Cluster(redis, bankRedis, client, bank, receiver, webUrl);
    holder.cluster = cluster;
    const common = {
      REDIS_URL: redis.url,
      REDIS_PREFIX: PREFIX,
      BANK131_BASE_URL: bank.url,
      BANK131_PROJECT: PROJECT,
      BANK131_PRIVATE_KEY_FILE: keyPath('partner-private'),
      BANK131_PUBLIC_KEY_FILE: keyPath('bank-public'),
      BANK131_MAX_RPS: '5000',
      BANK131_TIMEOUT_MS: '1000',
      CALLBACK_ALLOW_PRIVATE: 'true',
      SHUTDOWN_TIMEOUT_MS: '10000',
      RECONCILE_INTERVAL_MS: '200',
      RECONCILE_AFTER_MS: '1000',
      ...options.env,
    };
    cluster.settings = {
      web: { ...common, HOST: '127.0.0.1', PORT: String(webPort), API_KEYS: API_KEY },
      worker: {
        ...common,
        CALLBACK_SECRET,
        METRICS_PORT: '0',
        PAYOUT_CONCURRENCY: String(options.concurrency ?? 16),
        JOB_LOCK_MS: '3000',
        STALLED_INTERVAL_MS: '1000',
      },
    };
    await Promise.all([cluster.startWeb(), ...Array.from({ length: options.workers ?? 3 }, () => cluster.startWorker())]);
    return cluster;
  }

  private exited(p: Proc): void {
    if (this.closing || p.expectedExit) return;
    this.unexpectedExits.push(`${p.name} (${p.child.exitCode ?? p.child.signalCode}): ${p.stderr().slice(-500) || p.tail().slice(-500)}`);
    // a supervisor (compose's restart: on-failure, systemd) starts it again
    if (p.name.startsWith('worker')) {
      const at = this.workers.indexOf(p);
      if (at >= 0) this.workers.splice(at, 1);
      void this.startWorker().catch(() => undefined);
    } else if (p === this.web) {
      void this.startWeb().catch(() => undefined);
    }
  }

  async startWeb(): Promise<Proc> {
    const p = spawnProc('web', 'src/web-process.ts', this.settings.web, 'web process ready');
    this.web = p;
    void p.exit.then(() => this.exited(p));
    await whenReady(p);
    return p;
  }

  async startWorker(): Promise<Proc> {
    const p = spawnProc(`worker-${++this.workerSeq}`, 'workers/worker-process.ts', this.settings.worker, 'worker process ready');
    this.workers.push(p);
    void p.exit.then(() => this.exited(p));
    await whenReady(p);
    return p;
  }

  /** Kill (or stop) a process on purpose; resolves when it has exited. */
  async signal(p: Proc, sig: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    p.expectedExit = true;
    if (alive(p)) p.child.kill(sig);
    const ended = await p.exit;
    const at = this.workers.indexOf(p);
    if (at >= 0) this.workers.splice(at, 1);
    return ended;
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- response bodies are read freely
  async api(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
    const res = await fetch(`${this.webUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${API_KEY}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(30_000),
    });
    const text = await res.text();
    try {
      return { status: res.status, body: JSON.parse(text) };
    } catch {
      return { status: res.status, body: text };
    }
  }

  /**
   * Sends a batch as an upstream system would: until it is answered 200, it is sent again (a dead
   * web process, a Redis outage: 5xx or no answer). Every item must then be `created` or `existing`.
   */
  async sendBatch(
    orders: Order[],
    deadlineMs = 60_000,
  ): Promise<{ attempts: number; created: number; existing: number; refused: string[] }> {
    const deadline = Date.now() + deadlineMs;
    for (let attempts = 1; ; attempts++) {
      try {
        const res = await this.api('POST', '/v1/payouts/batch', { payouts: orders });
        if (res.status === 200) {
          const results = res.body.results as Array<{ id: string; status: string }>;
          return {
            attempts,
            created: res.body.counts.created,
            existing: res.body.counts.existing,
            refused: results.filter((r) => r.status !== 'created' && r.status !== 'existing').map((r) => `${r.id}: ${r.status}`),
          };
        }
        if (res.status < 500 && res.status !== 429)
          throw new Error(`batch refused with ${res.status}: ${JSON.stringify(res.body).slice(0, 500)}`);
      } catch (err) {
        if ((err as Error).message.startsWith('batch refused')) throw err;
      }
      if (Date.now() > deadline) throw new Error(`a batch of ${orders.length} was not accepted within ${deadlineMs} ms`);
      await sleep(250);
    }
  }

  async records(ids: string[]): Promise<Array<PayoutRecord | null>> {
    const out: Array<PayoutRecord | null> = [];
    for (let i = 0; i < ids.length; i += 500) out.push(...(await this.store.getMany(ids.slice(i, i + 500))));
    return out;
  }

  /**
   * Waits until every payout is in a terminal state and upstream acknowledged a callback for each;
   * resolves to when that was first true (ms since epoch), or null if it never was.
   */
  async settle(ids: string[], timeoutMs: number): Promise<number | null> {
    try {
      await eventually(
        async () => {
          if (ids.some((id) => !this.receiver.acknowledged.has(id))) return false;
          const records = await this.records(ids);
          return records.every((r) => r && TERMINAL_STATES.includes(r.state));
        },
        timeoutMs,
        'every payout final and reported',
        250,
      );
      return Date.now();
    } catch {
      return null;
    }
  }

  async close(): Promise<void> {
    this.closing = true;
    const procs = [this.web, ...this.workers].filter((p) => p && alive(p));
    for (const p of procs) p.child.kill('SIGKILL');
    await Promise.all(procs.map((p) => p.exit));
    await this.bank.close().catch(() => undefined);
    await this.receiver.close();
    this.client.disconnect();
    await this.redis.stop();
    await this.bankRedis.stop();
  }
}

// ------------------------------------------------------------------ orders and invariants

let seq = 0;
/** `count` distinct orders: amounts and metadata vary, so a mix-up between two shows. */
export function makeOrders(count: number, callbackUrl: string, tag: string): Order[] {
  const run = `${tag}-${Date.now().toString(36)}`;
  return Array.from({ length: count }, () => {
    seq += 1;
    return {
      id: `${run}-${seq}`,
      amount_details: { amount: 100 + ((seq * 7919) % 1_000_000), currency: 'rub' as const },
      recipient: { full_name: 'Ivanov Ivan Ivanovich' },
      encrypted_card: { number_hash: 'sandbox_ok_4242' },
      metadata: `order ${seq} of ${run}`,
      callback_url: callbackUrl,
    };
  });
}

export interface Verdict {
  payouts: number;
  outcomes: Partial<Record<PayoutState, number>>;
  /** Why the payouts that did not succeed ended so: error code → count. */
  errorCodes: Record<string, number>;
  /** Not in the store, or not in a terminal state at the end. */
  lost: number;
  /** Payouts with more than one ledger movement. */
  paidTwice: number;
  violations: string[];
  ledgerMovements: number;
  callbacksReceived: number;
}

/** The invariants, checked against the sandbox ledger, the payout store and the receiver. */
export async function check(cluster: Cluster, orders: Order[], extra: string[] = []): Promise<Verdict> {
  const violations: string[] = [...extra];
  const ids = orders.map((o) => o.id);
  const byId = new Map(orders.map((o) => [o.id, o]));
  const records = await cluster.records(ids);
  const ledger = await cluster.bank.ledger();
  const outcomes: Partial<Record<PayoutState, number>> = {};
  const errorCodes: Record<string, number> = {};
  let lost = 0;
  let paidTwice = 0;

  // money moved, by payout (our metadata names it) and by session
  const moves = new Map<string, Array<{ session: string; amount: number; metadata: unknown }>>();
  for (const s of ledger.sessions) {
    for (const m of s.movements) {
      const id = typeof m.metadata === 'string' && m.metadata.startsWith('payout:') ? m.metadata.slice('payout:'.length) : null;
      if (!id || !byId.has(id)) {
        violations.push(`ledger: session ${s.session_id} moved ${m.amount} for no payout of ours (metadata ${JSON.stringify(m.metadata)})`);
        continue;
      }
      moves.set(id, [...(moves.get(id) ?? []), { session: s.session_id, amount: m.amount, metadata: m.metadata }]);
    }
  }
  for (const s of ledger.sessions_paid_more_than_once) violations.push(`ledger: session ${s} moved money more than once`);
  const confirms = cluster.bank.confirmsBySession();
  if (confirms) for (const [session, n] of confirms) if (n > 1) violations.push(`sandbox: session ${session} confirmed ${n} times`);

  records.forEach((r, i) => {
    const order = orders[i]!;
    const paid = moves.get(order.id) ?? [];
    if (paid.length > 1) {
      paidTwice += 1;
      const sessions = new Set(paid.map((p) => p.session));
      violations.push(
        `${order.id}: paid ${paid.length} times${sessions.size > 1 ? ` by ${sessions.size} sessions (${[...sessions].join(', ')})` : ''}`,
      );
    }
    for (const p of paid) {
      if (p.amount !== order.amount_details.amount || p.metadata !== bankMetadataFor(order.id)) {
        violations.push(
          `${order.id}: the bank paid ${p.amount} with metadata ${JSON.stringify(p.metadata)}, the order says ${order.amount_details.amount}`,
        );
      }
    }
    if (!r) {
      lost += 1;
      violations.push(`${order.id}: accepted, but not in the payout store`);
      return;
    }
    outcomes[r.state] = (outcomes[r.state] ?? 0) + 1;
    if (r.state !== 'succeeded' && r.errorCode) errorCodes[r.errorCode] = (errorCodes[r.errorCode] ?? 0) + 1;
    if (!TERMINAL_STATES.includes(r.state)) {
      lost += 1;
      violations.push(`${order.id}: still ${r.state} at the end`);
      return;
    }
    if (r.order.amount_details.amount !== order.amount_details.amount || r.order.metadata !== order.metadata) {
      violations.push(`${order.id}: the store holds another amount or metadata than the order`);
    }
    if (r.state === 'succeeded' && paid.length === 0) violations.push(`${order.id}: succeeded, but the bank moved no money for it`);
    if (r.state !== 'succeeded' && paid.length > 0) violations.push(`${order.id}: ${r.state}, but the bank paid it`);
    if (r.state === 'succeeded' && paid.length > 0 && paid[0]!.session !== r.sessionId) {
      violations.push(`${order.id}: the money moved in session ${paid[0]!.session}, the payout records ${r.sessionId}`);
    }
    const told = cluster.receiver.outcomes.get(order.id) ?? [];
    if (!cluster.receiver.acknowledged.has(order.id)) violations.push(`${order.id}: ${r.state}, never reported upstream`);
    const others = told.filter((t) => t !== `payout.${r.state}`);
    if (others.length) violations.push(`${order.id}: ${r.state}, but upstream was told ${[...new Set(others)].join(', ')}`);
    const payload = cluster.receiver.payloads.get(order.id);
    if (payload && (payload.amount !== order.amount_details.amount || payload.metadata !== order.metadata)) {
      violations.push(`${order.id}: the callback reports ${payload.amount} / ${JSON.stringify(payload.metadata)}, not the order's`);
    }
  });
  if (cluster.receiver.badSignatures > 0) violations.push(`receiver: ${cluster.receiver.badSignatures} callbacks with a bad signature`);
  return {
    payouts: orders.length,
    outcomes,
    errorCodes,
    lost,
    paidTwice,
    violations,
    ledgerMovements: ledger.movements,
    callbacksReceived: cluster.receiver.requests,
  };
}
