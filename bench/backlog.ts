import { spawn, type ChildProcess, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { TEST_CARDS, ensureKeyPair } from 'bank131-sandbox';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { freePort, waitForPing } from '../src/local-redis.js';
import { MAX_BATCH } from '../src/payouts/schemas.js';
import { PAYOUT_STATES, TERMINAL_STATES } from '../src/payouts/state-machine.js';
import { QUEUE } from '../src/queues.js';
import { PayoutStore } from '../src/store/payout-store.js';
import {
  BACKLOG_RESULTS,
  DRAIN_GOAL,
  WARM_S,
  writeBacklogSection,
  type BacklogResults,
  type DrainResult,
  type DrainWindow,
  type PhaseResult,
} from './backlog-report.js';
import { ROOT, cpuMsOf, mb, request, round, rssOf, sleep, startNode, watchNewJobs, type JobCount, type Proc } from './lib.js';

/**
 * `npm run bench:backlog`: a million payouts waiting, then drained by one worker process. Not run
 * in CI: minutes to accept, over an hour to drain all of it on 2 cores.
 *
 * 1. BENCH_BACKLOG_N payouts go in through POST /v1/payouts/batch (MAX_BATCH at a time) with no
 *    worker running: the acceptance time and rate, then Redis used_memory per waiting payout and
 *    the web's RSS.
 * 2. One worker process drains BENCH_BACKLOG_DRAIN of them while the store's state indexes (how
 *    many not started, in flight, final), the callbacks upstream and every process are sampled
 *    twice a second: the rate at which payouts become final over the first and the last 10% of what
 *    was drained (goal: last ≥ 0.9× first; the worker's first WARM_S seconds and its final rush
 *    through what is in flight once nothing is left to start are left out), CPU per payout by
 *    process and jobs created per payout by queue over the same windows, RSS at the start, middle
 *    and end.
 * 3. When only part is drained, the last 10% still has most of the backlog waiting behind it, so
 *    first against last cannot say whether the rate depends on the backlog's size. A small backlog
 *    (BENCH_BACKLOG_SMALL) is then accepted and drained the same way from scratch (fresh Redis, bank,
 *    web and worker) before the large one and again after it, and the large backlog's rate over its
 *    first payouts compared with theirs over as many: the two differ only in how much waits
 *    behind them.
 *
 * Environment (defaults in brackets): BENCH_BACKLOG_N [1000000], BENCH_BACKLOG_DRAIN [all of it],
 * BENCH_BACKLOG_SMALL [20000; 0 for none; only when draining fewer than all],
 * BENCH_CONCURRENCY [50] (PAYOUT_CONCURRENCY), BENCH_BACKLOG_LOG_LEVEL [info, as npm run bench],
 * BENCH_BACKLOG_MAXMEMORY [16gb] for the service's redis-server, BENCH_BACKLOG_JOBS [1]: 0 stops
 * counting jobs by queue (a keyspace notification per job created), BENCH_KEEP=1 keeps the logs.
 * Writes bench/backlog-results.json and its section of bench/results.md.
 */

const env = process.env;
const N = Number(env.BENCH_BACKLOG_N ?? 1_000_000);
const DRAIN = Math.min(N, Number(env.BENCH_BACKLOG_DRAIN ?? N));
const SMALL = DRAIN < N ? Math.min(DRAIN, Number(env.BENCH_BACKLOG_SMALL ?? 20_000)) : 0;
const CONCURRENCY = Number(env.BENCH_CONCURRENCY ?? 50);
const LOG_LEVEL = env.BENCH_BACKLOG_LOG_LEVEL ?? 'info';
const MAXMEMORY = env.BENCH_BACKLOG_MAXMEMORY ?? '16gb';
const COUNT_JOBS = env.BENCH_BACKLOG_JOBS !== '0';
/** The most a drain may go without a payout finishing before the run gives up. */
const STALL_MS = 180_000;

const PROJECT = 'bench-project';
const API_KEY = 'bench-api-key-0123456789abcdef';
const PREFIX = '{bench}';
const CALLBACK_SECRET = `whsec_${randomBytes(32).toString('base64')}`;
const FINAL = new Set(['payout.succeeded', 'payout.failed', 'payout.cancelled', 'payout.expired', 'payout.rejected']);

const startedAt = Date.now();
const dir = mkdtempSync(join(tmpdir(), 'b131-backlog-'));
const procs: Proc[] = [];
const redisChildren: ChildProcess[] = [];
// Whatever happens, no process of the run outlives it.
process.on('exit', () => {
  for (const p of procs) if (p.alive()) p.child.kill('SIGKILL');
  for (const c of redisChildren) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});
// Ctrl-C in the middle of an hour's drain: the exit handler above still runs.
process.once('SIGINT', () => process.exit(130));
process.once('SIGTERM', () => process.exit(143));
const say = (line: string) => process.stdout.write(`[${((Date.now() - startedAt) / 1000).toFixed(0).padStart(5)} s] ${line}\n`);

if (!Number.isInteger(N) || N < 10 || DRAIN < 10) throw new Error('BENCH_BACKLOG_N and BENCH_BACKLOG_DRAIN must be at least 10');
// A rough guide, from smaller runs: about 3 KB in Redis per waiting payout and 8 KB once final
// (kept for retention), and per session the bank stand-in holds about 5 KB of heap and 1–2 KB in
// its Redis. Only a warning: the figures move with the code.
const needGb = (N * 3 + DRAIN * 12) / 1024 / 1024;
if (needGb > (totalmem() / 1024 ** 3) * 0.8)
  process.stdout.write(
    `warning: this run may need about ${needGb.toFixed(1)} GB of memory, more than 80% of this machine's ${(totalmem() / 1024 ** 3).toFixed(1)} GB\n`,
  );

// ------------------------------------------------------------------ Redis without persistence

/**
 * A redis-server of this run's own: no append-only file and no snapshots (a rewrite of gigabytes
 * would fork and stall every client in the middle of the drain it measures), maxmemory large
 * enough for the backlog and noeviction, so that running out fails loudly instead of losing keys.
 */
async function throwawayRedis(name: string, maxmemory: string): Promise<{ url: string; pid: number; client: Redis; child: ChildProcess }> {
  const port = await freePort();
  const child = spawn(
    'redis-server',
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--dir',
      dir,
      '--appendonly',
      'no',
      '--save',
      '',
      '--maxmemory',
      maxmemory,
      '--maxmemory-policy',
      'noeviction',
      '--logfile',
      join(dir, `${name}.log`),
    ],
    { stdio: 'ignore' },
  );
  redisChildren.push(child);
  const url = `redis://127.0.0.1:${port}`;
  await waitForPing(url, 10_000);
  const client = new Redis(url, { maxRetriesPerRequest: null });
  return { url, pid: child.pid!, client, child };
}

const redis = await throwawayRedis('redis', MAXMEMORY);
const bankRedis = await throwawayRedis('bank-redis', '0');
const info = async (section: string) => redis.client.info(section);
const usedMemory = async () => Number(/used_memory:(\d+)/.exec(await info('memory'))?.[1]);

// ------------------------------------------------------------------ the upstream receiver

/** The callbacks upstream: how many payouts have been told of, apart from how many are final in the store. */
interface Tally {
  /** Which payouts have been called back (by their number), so a callback delivered twice counts once. */
  seen: Uint8Array;
  calledBack: number;
  outcomes: Record<string, number>;
}
const tallies = new Map<string, Tally>();
const receiver = http.createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    res.writeHead(200).end();
    const tally = tallies.get((req.url ?? '').split('/')[2] ?? '');
    if (!tally) return;
    try {
      const event = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { type: string; payout: { id: string } };
      tally.outcomes[event.type] = (tally.outcomes[event.type] ?? 0) + 1;
      if (!FINAL.has(event.type)) return;
      const i = Number(event.payout.id.slice(event.payout.id.lastIndexOf('-') + 1));
      if (tally.seen[i] === 1) return;
      tally.seen[i] = 1;
      tally.calledBack += 1;
    } catch {
      tally.outcomes.unreadable = (tally.outcomes.unreadable ?? 0) + 1;
    }
  });
});
const receiverPort = await freePort();
await new Promise<void>((resolve) => receiver.listen(receiverPort, '127.0.0.1', resolve));

// ------------------------------------------------------------------ the bank, the web, the worker

const partner = ensureKeyPair(dir, 'partner');
const bank = ensureKeyPair(dir, 'bank');

async function startBank(): Promise<{ proc: Proc; url: string }> {
  const port = await freePort();
  const proc = startNode(
    `sandbox-${procs.length}`,
    'bench/sandbox-proc.ts',
    {
      BENCH_SANDBOX_PORT: String(port),
      BENCH_SANDBOX_REDIS_URL: bankRedis.url,
      BENCH_PARTNER_PUBLIC_KEY_FILE: partner.publicPath,
      BENCH_BANK_PRIVATE_KEY_FILE: bank.privatePath,
      BENCH_PROJECT: PROJECT,
      BENCH_READY_DELAY_MS: '1',
      BENCH_FINISH_DELAY_MS: '1',
      BENCH_RECORD_CALLS: '0',
    },
    // The sandbox keeps every session it has seen in memory: room for a million of them, and its
    // heap measured after a full collection (GET /bench/memory).
    { logDir: dir, nodeArgs: ['--max-old-space-size=16384', '--expose-gc'] },
  );
  procs.push(proc);
  await proc.ready('bench sandbox listening on');
  return { proc, url: `http://127.0.0.1:${port}` };
}

/** The bank stand-in's live heap, MB, after a full collection. */
const bankHeapMb = async (bankUrl: string) => mb(((await request(`${bankUrl}/bench/memory`, 'GET')).body as { heapUsed: number }).heapUsed);

function serviceEnv(bankUrl: string): Record<string, string> {
  return {
    REDIS_URL: redis.url,
    REDIS_PREFIX: PREFIX,
    BANK131_BASE_URL: bankUrl,
    BANK131_PROJECT: PROJECT,
    BANK131_PRIVATE_KEY_FILE: partner.privatePath,
    BANK131_PUBLIC_KEY_FILE: bank.publicPath,
    BANK131_MAX_RPS: '100000',
    CALLBACK_ALLOW_PRIVATE: 'true',
    SHUTDOWN_TIMEOUT_MS: '10000',
    LOG_LEVEL,
  };
}

const queues = Object.values(QUEUE).map((q) => new Queue(q, { connection: redis.client, prefix: PREFIX }));
/**
 * Jobs still to run in all the service's queues: waiting, prioritized or delayed (a job put off
 * for later, such as a delivery waiting for its destination's share).
 */
const waitingJobs = async () =>
  (await Promise.all(queues.map((q) => q.getJobCountByTypes('waiting', 'prioritized', 'delayed')))).reduce((a, b) => a + b, 0);

/**
 * Payouts by state, from the store's own state indexes (a payout is in one at a time): how many
 * have not started yet (`queued`), are in flight (started, not final) and are final, whatever
 * jobs carry them. Final is what the drain is counted by: the payout is paid (or refused) then,
 * while its callback upstream is one more job, which may lag behind.
 */
const store = new PayoutStore(redis.client, PREFIX);
async function payoutsByState(): Promise<{ queued: number; inFlight: number; final: number }> {
  const pipeline = redis.client.pipeline();
  for (const state of PAYOUT_STATES) pipeline.zcard(store.listKey(state));
  const counts = ((await pipeline.exec()) ?? []).map(([, n]) => Number(n));
  const by = { queued: 0, inFlight: 0, final: 0 };
  PAYOUT_STATES.forEach((state, i) => {
    if (state === 'queued') by.queued += counts[i] ?? 0;
    else if (TERMINAL_STATES.includes(state)) by.final += counts[i] ?? 0;
    else by.inFlight += counts[i] ?? 0;
  });
  return by;
}

// ------------------------------------------------------------------ one backlog: accept, then drain

interface Sample {
  t: number;
  final: number;
  calledBack: number;
  cpu: Record<string, number>;
  rss: Record<string, number>;
  waiting: number;
  queued: number;
  inFlight: number;
  jobs: JobCount | null;
}
/** How often the processes, Redis and the store's state indexes are sampled while draining. */
const SAMPLE_MS = 500;

/**
 * Accepts `count` payouts, then drains `drain` of them. Also answers `windowOf`, for the window
 * over the first payouts that the comparison between backlogs settles on once all have run.
 */
async function backlog(
  name: string,
  count: number,
  drain: number,
): Promise<{ result: PhaseResult; windowOf: (from: number, to: number) => DrainWindow }> {
  const tally: Tally = { seen: new Uint8Array(count), calledBack: 0, outcomes: {} };
  tallies.set(name, tally);
  const bankProc = await startBank();
  const webPort = await freePort();
  const webUrl = `http://127.0.0.1:${webPort}`;
  const web = startNode(
    `web-${name}`,
    'src/web-process.ts',
    { ...serviceEnv(bankProc.url), HOST: '127.0.0.1', PORT: String(webPort), API_KEYS: API_KEY },
    { logDir: dir },
  );
  procs.push(web);
  await web.ready('web process ready');
  const knobs = await request(`${bankProc.url}/sandbox/knobs`, 'PATCH', { webhookUrl: `${webUrl}/webhooks/bank131` });
  const bankHeapAtStart = await bankHeapMb(bankProc.url);
  if (knobs.status !== 200) throw new Error(`PATCH /sandbox/knobs answered ${knobs.status}`);

  // 1. acceptance, no worker running
  say(`${name}: accepting ${count.toLocaleString('en')} payouts in batches of ${MAX_BATCH.toLocaleString('en')}, no worker running`);
  await sleep(1_000);
  const memBefore = await usedMemory();
  const keysBefore = await redis.client.dbsize();
  const webRssBefore = rssOf(web.pid);
  const callback = `http://127.0.0.1:${receiverPort}/cb/${name}`;
  const batchMs: number[] = [];
  const acceptStart = performance.now();
  for (let from = 0; from < count; from += MAX_BATCH) {
    const size = Math.min(MAX_BATCH, count - from);
    const body = JSON.stringify({
      payouts: Array.from({ length: size }, (_, k) => ({
        id: `${name}-${from + k}`,
        amount_details: { amount: 10_000, currency: 'rub' },
        recipient: { full_name: 'Ivanov Ivan Ivanovich' },
        encrypted_card: { number_hash: TEST_CARDS.ok },
        metadata: `bench ${name}-${from + k}`,
        callback_url: callback,
      })),
    });
    const t = performance.now();
    const res = await request(`${webUrl}/v1/payouts/batch`, 'POST', body, { authorization: `Bearer ${API_KEY}` });
    batchMs.push(performance.now() - t);
    const created = (res.body as { counts?: { created?: number } }).counts?.created;
    if (res.status !== 200 || created !== size)
      throw new Error(`batch at ${from} answered ${res.status}, created ${created} of ${size}: ${JSON.stringify(res.body).slice(0, 500)}`);
    if (batchMs.length % 20 === 0)
      say(`   ${(from + size).toLocaleString('en')} accepted (the last batch ${round(batchMs.at(-1)!, 0)} ms)`);
  }
  const acceptS = (performance.now() - acceptStart) / 1000;
  await sleep(2_000);
  const memAfter = await usedMemory();
  const keysAfter = await redis.client.dbsize();
  const webRssAfter = rssOf(web.pid);
  const waiting = await waitingJobs();
  const { queued } = await payoutsByState();
  // The store's state index is what tells queued from in flight below: it must see this backlog.
  if (queued < count * 0.99) throw new Error(`${name}: the store's queued index (${store.listKey('queued')}) holds ${queued} of ${count}`);
  const mean = (xs: number[]) => round(xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length), 0);
  const accept: PhaseResult['accept'] = {
    payouts: count,
    seconds: round(acceptS, 1),
    perS: round(count / acceptS, 0),
    batches: batchMs.length,
    batchMs: {
      mean: mean(batchMs),
      firstTenMean: mean(batchMs.slice(0, 10)),
      lastTenMean: mean(batchMs.slice(-10)),
      max: round(Math.max(...batchMs), 0),
    },
  };
  const waitingResult: PhaseResult['waiting'] = {
    jobs: waiting,
    queued,
    usedMemoryBefore: memBefore,
    usedMemoryAfter: memAfter,
    bytesPerPayout: round((memAfter - memBefore) / count, 0),
    keysPerPayout: round((keysAfter - keysBefore) / count, 2),
    webRssMb: { before: mb(webRssBefore), after: mb(webRssAfter) },
    sandboxRssMb: mb(rssOf(bankProc.proc.pid)),
  };
  say(
    `   accepted in ${accept.seconds} s (${accept.perS}/s; batches ${accept.batchMs.firstTenMean} ms over the first ten, ${accept.batchMs.lastTenMean} over the last ten); ${waiting.toLocaleString('en')} jobs waiting, ${waitingResult.bytesPerPayout} bytes and ${waitingResult.keysPerPayout} keys per payout in Redis; web RSS ${waitingResult.webRssMb.before} → ${waitingResult.webRssMb.after} MB`,
  );

  // 2. the drain, one worker process
  say(`${name}: draining ${drain.toLocaleString('en')} with one worker process (PAYOUT_CONCURRENCY=${CONCURRENCY})`);
  const jobs = COUNT_JOBS
    ? await watchNewJobs(redis.url, Object.fromEntries(Object.values(QUEUE).map((q) => [`${PREFIX}:${q}`, q])))
    : null;
  const worker = startNode(
    `worker-${name}`,
    'workers/worker-process.ts',
    { ...serviceEnv(bankProc.url), CALLBACK_SECRET, METRICS_PORT: '0', PAYOUT_CONCURRENCY: String(CONCURRENCY) },
    { logDir: dir },
  );
  procs.push(worker);
  const pids: Record<string, number> = {
    worker: worker.pid,
    web: web.pid,
    redis: redis.pid,
    sandbox: bankProc.proc.pid,
    'sandbox redis': bankRedis.pid,
  };
  const sample = async (): Promise<Sample> => {
    const own = process.cpuUsage();
    return {
      t: Date.now(),
      calledBack: tally.calledBack,
      cpu: {
        ...Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, cpuMsOf(pid)])),
        'bench (receiver)': (own.user + own.system) / 1000,
      },
      rss: { worker: rssOf(worker.pid), web: rssOf(web.pid), sandbox: rssOf(bankProc.proc.pid) },
      waiting: await waitingJobs(),
      ...(await payoutsByState()),
      jobs: jobs?.snapshot() ?? null,
    };
  };
  await worker.ready('worker process ready', 60_000);
  const samples: Sample[] = [await sample()];
  const readyAt = samples[0]!.t;
  // All of the backlog drained: until every callback is in, too (the drain's end as upstream sees it).
  const drained = (s: Sample) => s.final >= drain && (drain < count || s.calledBack >= count);
  let lastProgress = { t: readyAt, at: 0 };
  let lastSay = readyAt;
  for (;;) {
    await sleep(SAMPLE_MS);
    const s = await sample();
    samples.push(s);
    if (s.final + s.calledBack > lastProgress.at) lastProgress = { t: s.t, at: s.final + s.calledBack };
    else if (s.t - lastProgress.t > STALL_MS)
      throw new Error(
        `${name}: no payout finished for ${STALL_MS / 1000} s (${s.final} of ${drain} final, ${s.calledBack} called back); see ${dir}`,
      );
    if (drained(s)) break;
    if (s.t - lastSay >= 30_000) {
      const back = samples.find((x) => x.t >= s.t - 30_000)!;
      say(
        `   ${s.final.toLocaleString('en')} of ${drain.toLocaleString('en')} final (${round(((s.final - back.final) * 1000) / Math.max(1, s.t - back.t), 0)}/s over the last 30 s), ${s.calledBack.toLocaleString('en')} called back; ${s.queued.toLocaleString('en')} not started, ${s.inFlight.toLocaleString('en')} in flight; worker RSS ${mb(s.rss.worker!)} MB`,
      );
      lastSay = s.t;
    }
  }
  // What had arrived by the last sample: the worker still finishes the jobs in hand as it stops.
  const outcomes = { ...tally.outcomes };
  await jobs?.stop();
  await worker.stop();

  /** When the k-th payout became final: between the two samples around it, in proportion. */
  const timeOf = (k: number): number => {
    const i = samples.findIndex((s) => s.final >= k);
    if (i <= 0) return samples[Math.max(0, i)]!.t;
    const [a, b] = [samples[i - 1]!, samples[i]!];
    return a.t + ((b.t - a.t) * (k - a.final)) / Math.max(1, b.final - a.final);
  };
  const lastSampleAtOrBefore = (at: number) => samples.filter((s) => s.t <= at).at(-1) ?? samples[0]!;
  const firstSampleAtOrAfter = (at: number) => samples.find((s) => s.t >= at) ?? samples.at(-1)!;
  /** The `from`-th to the `to`-th payout to become final (1-based, inclusive). */
  const windowOf = (from: number, to: number): DrainWindow => {
    const [tFrom, tTo] = [timeOf(from), timeOf(to)];
    const seconds = (tTo - tFrom) / 1000;
    const a = lastSampleAtOrBefore(tFrom);
    const b = firstSampleAtOrAfter(tTo);
    const done = Math.max(1, b.final - a.final);
    const jobsPer =
      a.jobs && b.jobs
        ? {
            total: round((b.jobs.total - a.jobs.total) / done, 2),
            byQueue: Object.fromEntries(
              Object.keys(b.jobs.byQueue).map((q) => [q, round((b.jobs!.byQueue[q]! - (a.jobs!.byQueue[q] ?? 0)) / done, 2)]),
            ),
          }
        : null;
    return {
      fromPayout: from,
      toPayout: to,
      seconds: round(seconds, 1),
      perS: round((to - from) / seconds, 1),
      cpuMsPerPayout: Object.fromEntries(Object.keys(b.cpu).map((k) => [k, round((b.cpu[k]! - a.cpu[k]!) / done, 2)])),
      jobsPerPayout: jobsPer,
      waiting: [a.waiting, b.waiting],
      queued: [a.queued, b.queued],
      inFlight: [a.inFlight, b.inFlight],
      calledBack: [a.calledBack, b.calledBack],
    };
  };
  // The first and the last 10% of what was drained, with neither end's transient in them: the
  // first WARM_S seconds (code compiled, the pipeline filling) are left out of the first window,
  // and the last window ends with the last payout that became final while some of the backlog
  // still waited to start (past that the worker only finishes what is in flight, all at once).
  const w = Math.max(2, Math.round(drain / 10));
  const finishedWhileQueued = samples.filter((s) => s.queued > 0).at(-1)?.final ?? 0;
  const skipped = Math.min(lastSampleAtOrBefore(readyAt + WARM_S * 1000).final, Math.max(0, drain - w));
  const lastEnd = Math.max(skipped + w, Math.min(drain, finishedWhileQueued));
  const first = windowOf(skipped + 1, skipped + w);
  const last = windowOf(lastEnd - w + 1, lastEnd);
  const mid = samples.find((s) => s.final >= drain / 2) ?? samples.at(-1)!;
  const end = samples.at(-1)!;
  const rssMb: DrainResult['rssMb'] = Object.fromEntries(
    Object.keys(samples[0]!.rss).map((k) => [
      k,
      {
        start: mb(samples[0]!.rss[k]!),
        middle: mb(mid.rss[k]!),
        end: mb(end.rss[k]!),
        max: mb(Math.max(...samples.map((s) => s.rss[k]!))),
      },
    ]),
  );
  const step = Math.max(1, Math.ceil(samples.length / 100));
  const timeline = samples
    .filter((_, i) => i % step === 0 || i === samples.length - 1)
    .map((s, i, all) => {
      const prev = all[i - 1];
      return {
        t_s: round((s.t - readyAt) / 1000, 0),
        final: s.final,
        called_back: s.calledBack,
        per_s: prev ? round(((s.final - prev.final) * 1000) / Math.max(1, s.t - prev.t), 0) : 0,
        waiting: s.waiting,
        queued: s.queued,
        in_flight: s.inFlight,
        worker_rss_mb: mb(s.rss.worker!),
      };
    });
  const seconds = (timeOf(drain) - readyAt) / 1000;
  const allStarted = samples.find((s) => s.queued === 0);
  const result: DrainResult = {
    payouts: drain,
    seconds: round(seconds, 0),
    perS: round(drain / seconds, 1),
    windowPayouts: w,
    first,
    last,
    ratio: round(last.perS / first.perS, 2),
    skippedAtStart: skipped,
    firstAll: windowOf(1, w),
    lastAll: windowOf(drain - w + 1, drain),
    allStartedAfterS: allStarted ? round((allStarted.t - readyAt) / 1000, 0) : null,
    finishedWhileQueued,
    maxInFlight: Math.max(...samples.map((s) => s.inFlight)),
    rssMb,
    calledBackAfterS: round((samples.at(-1)!.t - readyAt) / 1000, 0),
    maxCallbackLag: Math.max(...samples.map((s) => s.final - s.calledBack)),
    calledBackAtEnd: samples.at(-1)!.calledBack,
    finalAtEnd: samples.at(-1)!.final,
    redisUsedMemory: { start: memAfter, end: await usedMemory() },
    sandboxHeapMb: { start: bankHeapAtStart, end: await bankHeapMb(bankProc.url) },
    outcomes,
    timeline,
  };
  say(
    `   drained ${drain.toLocaleString('en')} in ${result.seconds} s (${result.perS}/s): first 10% ${first.perS}/s, last 10% ${last.perS}/s (${result.ratio}×); at most ${result.maxInFlight.toLocaleString('en')} in flight${allStarted ? `, all started after ${result.allStartedAfterS} s` : ''}; worker RSS ${rssMb.worker!.start} / ${rssMb.worker!.middle} / ${rssMb.worker!.end} MB`,
  );

  // A fresh start for whatever runs next: nothing of this backlog is left behind it.
  await web.stop();
  await bankProc.proc.stop();
  await redis.client.flushall();
  await bankRedis.client.flushall();
  tallies.delete(name);
  return { result: { backlog: count, accept, waiting: waitingResult, drain: result }, windowOf };
}

// ------------------------------------------------------------------ the run

say(
  `working in ${dir}; ${cpus().length} CPU(s), node ${process.version}; ${N.toLocaleString('en')} payouts, ${DRAIN.toLocaleString('en')} drained${SMALL > 0 ? `, and a small backlog of ${SMALL.toLocaleString('en')} before and after` : ''}`,
);
// The small backlog before and after the large one: minutes each, a broken setup shows before the
// long part, and a slow spell of the shared machine during one of them shows as the two disagreeing.
const smallBefore = SMALL > 0 ? await backlog('small1', SMALL, SMALL) : null;
const largeRun = await backlog('bl', N, DRAIN);
const smallAfter = SMALL > 0 ? await backlog('small2', SMALL, SMALL) : null;
const large = largeRun.result;
const smalls = [smallBefore, smallAfter].filter((r) => r !== null);

// Compared over as many first payouts on each side: those of a small backlog that became final
// while some of it still waited to start. Past that point a small backlog only finishes what is in
// flight, which goes faster than starting and finishing alike, so comparing all of it with the
// large backlog's start would flatter the small one.
const compared = Math.min(...smalls.map((r) => r.result.drain.finishedWhileQueued));
let largeVsSmall: BacklogResults['large_vs_small'] = null;
if (smalls.length > 0 && compared >= 2) {
  for (const r of [largeRun, ...smalls]) r.result.drain.firstN = r.windowOf(1, compared);
  const smallPerS = smalls.map((r) => r.result.drain.firstN!.perS);
  const mean = smallPerS.reduce((x, y) => x + y, 0) / smallPerS.length;
  largeVsSmall = { payouts: compared, largePerS: large.drain.firstN!.perS, smallPerS, ratio: round(large.drain.firstN!.perS / mean, 2) };
}

function gitHead(): string {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src', 'workers'], { cwd: ROOT, encoding: 'utf8' }).trim();
    return dirty ? `${head} (with uncommitted changes in src/ or workers/)` : head;
  } catch {
    return 'unknown';
  }
}

const d = large.drain;
// The service's own CPU per payout (worker, web, Redis) says whether a change in rate is the
// service's doing: other work on a shared machine slows the rate but leaves this as it was.
const own = (w: DrainWindow) => round((w.cpuMsPerPayout.worker ?? 0) + (w.cpuMsPerPayout.web ?? 0) + (w.cpuMsPerPayout.redis ?? 0), 2);
const goals: BacklogResults['goals'] = [
  {
    goal: `Acceptance of ${N.toLocaleString('en')} payouts (batches of ${MAX_BATCH.toLocaleString('en')}, no worker)`,
    measured: `${large.accept.seconds} s, ${large.accept.perS} payouts/s`,
    target: '',
    met: true,
  },
  {
    goal: 'Redis per waiting payout',
    measured: `${large.waiting.bytesPerPayout} bytes, ${large.waiting.keysPerPayout} keys`,
    target: '',
    met: true,
  },
  {
    goal: `Drain rate, last 10% ÷ first 10% of ${DRAIN.toLocaleString('en')} drained`,
    measured: `${d.last.perS} ÷ ${d.first.perS} payouts/s = ${d.ratio}×`,
    target: `≥ ${DRAIN_GOAL}×`,
    met: d.ratio >= DRAIN_GOAL,
  },
  ...(largeVsSmall
    ? [
        {
          goal: `Drain rate over the first ${largeVsSmall.payouts.toLocaleString('en')} payouts to become final: from a backlog of ${N.toLocaleString('en')} ÷ from a backlog of ${SMALL.toLocaleString('en')}`,
          measured: `${largeVsSmall.largePerS} ÷ ${largeVsSmall.smallPerS.join(' and ')} payouts/s (before and after) = ${largeVsSmall.ratio}×`,
          target: `≥ ${DRAIN_GOAL}×`,
          met: largeVsSmall.ratio >= DRAIN_GOAL,
        },
      ]
    : []),
  {
    goal: "The service's CPU per payout (worker + web + Redis), last 10% ÷ first 10%",
    measured: `${own(d.last)} ÷ ${own(d.first)} ms = ${round(own(d.last) / own(d.first), 2)}× (Redis ${d.last.cpuMsPerPayout.redis} ÷ ${d.first.cpuMsPerPayout.redis})`,
    target: '',
    met: true,
  },
  ...(largeVsSmall && large.drain.firstN
    ? [
        {
          goal: "The service's CPU per payout over those first payouts, large backlog ÷ small",
          measured: `${own(large.drain.firstN)} ÷ ${smalls.map((r) => own(r.result.drain.firstN!)).join(' and ')} ms`,
          target: '',
          met: true,
        },
      ]
    : []),
  {
    goal: 'Callbacks upstream',
    measured:
      DRAIN === N
        ? `all ${N.toLocaleString('en')} in by ${d.calledBackAfterS} s, ${round(d.calledBackAfterS - d.seconds, 0)} s after the last payout became final; at most ${d.maxCallbackLag.toLocaleString('en')} final and not yet called back`
        : `${d.calledBackAtEnd.toLocaleString('en')} of the ${d.finalAtEnd.toLocaleString('en')} final called back when the drain stopped; at most ${d.maxCallbackLag.toLocaleString('en')} final and not yet called back`,
    target: '',
    met: true,
  },
  {
    goal: 'Worker RSS over the drain',
    measured: `${d.rssMb.worker!.start} MB at the start, ${d.rssMb.worker!.middle} in the middle, ${d.rssMb.worker!.end} at the end (max ${d.rssMb.worker!.max})`,
    target: '',
    met: true,
  },
  {
    goal: 'Total drain',
    measured: `${DRAIN.toLocaleString('en')} payouts in ${d.seconds} s (${d.perS} payouts/s)`,
    target: '',
    met: true,
  },
];

const results: BacklogResults = {
  when: new Date().toISOString(),
  commit: gitHead(),
  machine: {
    cpus: cpus().length,
    cpu: cpus()[0]?.model ?? 'unknown',
    node: process.version,
    redis: /redis_version:(\S+)/.exec(await info('server'))?.[1],
  },
  took_s: Math.round((Date.now() - startedAt) / 1000),
  sizes: {
    backlog: N,
    drained: DRAIN,
    batch: MAX_BATCH,
    concurrency: CONCURRENCY,
    small_backlog: SMALL || null,
    log_level: LOG_LEVEL,
    jobs_counted: COUNT_JOBS,
  },
  large,
  small: smalls.map((r) => r.result),
  large_vs_small: largeVsSmall,
  goals,
};
writeFileSync(BACKLOG_RESULTS, `${JSON.stringify(results, null, 2)}\n`);
writeBacklogSection(results);
process.stdout.write(
  `\n${goals.map((g) => `${g.goal}: ${g.measured}${g.target ? ` (target ${g.target}: ${g.met ? 'met' : 'MISSED'})` : ''}`).join('\n')}\n`,
);
process.stdout.write(
  `\nwritten: bench/backlog-results.json, the backlog section of bench/results.md (${Math.round(results.took_s / 60)} min)\n`,
);

// ------------------------------------------------------------------ cleanup

await Promise.all(queues.map((q) => q.close()));
for (const p of procs) if (p.alive()) await p.stop(5_000);
for (const r of [redis, bankRedis]) {
  r.client.disconnect();
  const exited = new Promise((resolve) => r.child.once('exit', resolve));
  r.child.kill('SIGTERM'); // nothing to save: no persistence
  await exited;
}
receiver.close();
if (env.BENCH_KEEP === '1') say(`logs kept in ${dir}`);
else rmSync(dir, { recursive: true, force: true });
process.exit(0);
