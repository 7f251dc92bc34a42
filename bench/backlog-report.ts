import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './lib.js';

/**
 * What `npm run bench:backlog` (bench/backlog.ts) writes to bench/backlog-results.json, and its
 * section of bench/results.md: written by the backlog run itself, and carried over by
 * `npm run bench` (which rewrites the rest of the file) from the JSON.
 */

export const BACKLOG_RESULTS = join(ROOT, 'bench/backlog-results.json');
export const BACKLOG_HEADING = '## A million-payout backlog';
export const DRAIN_GOAL = 0.9;
/** Seconds of the drain's start left out of its first window: the worker's code compiles and its pipeline fills. */
export const WARM_S = 10;

/** A stretch of the drain between two completions: its rate, and what each process spent per payout over it. */
export interface DrainWindow {
  /** 1-based, inclusive: the window spans the `fromPayout`-th to the `toPayout`-th payout to become final (the store's state indexes). */
  fromPayout: number;
  toPayout: number;
  seconds: number;
  perS: number;
  /** CPU (user + system, /proc) per payout finished, by process, between the samples (½ s apart) just outside the window's ends. */
  cpuMsPerPayout: Record<string, number>;
  /** BullMQ job hashes created per payout finished, by queue, over the same samples (null when not counted). */
  jobsPerPayout: { total: number; byQueue: Record<string, number> } | null;
  /** Jobs still to run (waiting, prioritized or delayed; all the service's queues) at the window's ends. */
  waiting: [number, number];
  /** Payouts not started yet (the store's `queued` index), and started but not final, at the window's ends. */
  queued: [number, number];
  inFlight: [number, number];
  /** Payouts called back upstream at the window's ends. */
  calledBack: [number, number];
}

export interface DrainResult {
  payouts: number;
  /** From the worker being ready to the last of them becoming final. */
  seconds: number;
  /** When the sampling stopped (all of the backlog drained: every callback in as well), and how many were called back by then. */
  calledBackAfterS: number;
  calledBackAtEnd: number;
  finalAtEnd: number;
  /** The most payouts final in the store and not yet called back, at any sample. */
  maxCallbackLag: number;
  perS: number;
  windowPayouts: number;
  /**
   * 10% of what was drained at each end, without either end's transient: the first starts after
   * the payouts that became final in the drain's first seconds (`skippedAtStart`: code compiling,
   * the pipeline filling), the last ends with the last payout that became final while some of the
   * backlog still waited to start (after that the worker only finishes what is in flight).
   */
  first: DrainWindow;
  last: DrainWindow;
  /** last.perS ÷ first.perS: the goal. */
  ratio: number;
  skippedAtStart: number;
  /** The first and the last 10% as they are, transients and all. */
  firstAll: DrainWindow;
  lastAll: DrainWindow;
  /** The first completions compared between the two backlogs. */
  firstN?: DrainWindow;
  /** When no payout was left waiting to start, from the worker being ready (null: some still were at the end). */
  allStartedAfterS: number | null;
  /** Completions while some of the backlog still waited to start. */
  finishedWhileQueued: number;
  /** The most payouts started and not final at once: the worker starts payouts while it finishes others. */
  maxInFlight: number;
  rssMb: Record<string, { start: number; middle: number; end: number; max: number }>;
  redisUsedMemory: { start: number; end: number };
  /** The bank stand-in's live heap after a full collection, before the backlog and after its drain: it keeps every session in memory. */
  sandboxHeapMb: { start: number; end: number };
  outcomes: Record<string, number>;
  timeline: Array<{
    t_s: number;
    final: number;
    called_back: number;
    per_s: number;
    waiting: number;
    queued: number;
    in_flight: number;
    worker_rss_mb: number;
  }>;
}

export interface PhaseResult {
  backlog: number;
  accept: {
    payouts: number;
    seconds: number;
    perS: number;
    batches: number;
    batchMs: { mean: number; firstTenMean: number; lastTenMean: number; max: number };
  };
  waiting: {
    jobs: number;
    /** Payouts in the store's `queued` index. */
    queued: number;
    usedMemoryBefore: number;
    usedMemoryAfter: number;
    bytesPerPayout: number;
    keysPerPayout: number;
    webRssMb: { before: number; after: number };
    sandboxRssMb: number;
  };
  drain: DrainResult;
}

export interface BacklogResults {
  when: string;
  commit: string;
  machine: { cpus: number; cpu: string; node: string; redis: string | undefined };
  took_s: number;
  sizes: {
    backlog: number;
    drained: number;
    batch: number;
    concurrency: number;
    small_backlog: number | null;
    log_level: string;
    jobs_counted: boolean;
  };
  large: PhaseResult;
  /** A fresh small backlog drained the same way, before and after the large one: whether the rate depends on how much is waiting. */
  small: PhaseResult[];
  /**
   * Over the same first payouts to become final (those of the small backlogs while some of them
   * waited to start): the large backlog's rate ÷ the small ones' mean.
   */
  large_vs_small: { payouts: number; largePerS: number; smallPerS: number[]; ratio: number } | null;
  goals: Array<{ goal: string; measured: string; target: string; met: boolean }>;
}

export function readBacklogResults(): BacklogResults | null {
  if (!existsSync(BACKLOG_RESULTS)) return null;
  try {
    return JSON.parse(readFileSync(BACKLOG_RESULTS, 'utf8')) as BacklogResults;
  } catch {
    return null;
  }
}

const n = (v: number) => v.toLocaleString('en');
const byName = (r: Record<string, number>) =>
  Object.entries(r)
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');

/** The section of bench/results.md, from its heading on. */
export function backlogSection(r: BacklogResults): string[] {
  const large = r.large;
  const d = large.drain;
  const partial = r.sizes.drained < r.sizes.backlog;
  const procs = [...new Set([...Object.keys(d.first.cpuMsPerPayout), ...Object.keys(d.last.cpuMsPerPayout)])];
  const queues = [...new Set([...Object.keys(d.first.jobsPerPayout?.byQueue ?? {}), ...Object.keys(d.last.jobsPerPayout?.byQueue ?? {})])];
  const rss = (name: string) => {
    const m = d.rssMb[name];
    return m ? `${m.start} / ${m.middle} / ${m.end} MB (max ${m.max})` : '';
  };
  return [
    BACKLOG_HEADING,
    '',
    `\`npm run bench:backlog\` (not in CI), run ${r.when} on ${r.commit}: ${r.machine.cpus} CPU(s) (${r.machine.cpu}), Node ${r.machine.node}, Redis ${r.machine.redis}; took ${Math.round(r.took_s / 60)} min.` +
      (r.sizes.backlog < 1_000_000 ? ` **This run was smaller than a million: ${n(r.sizes.backlog)} payouts (BENCH_BACKLOG_N).**` : ''),
    `${n(r.sizes.backlog)} payouts accepted through \`POST /v1/payouts/batch\` in batches of ${n(r.sizes.batch)} with no worker running, then ${partial ? `${n(r.sizes.drained)} of them (BENCH_BACKLOG_DRAIN)` : 'all of them'} drained by one worker process (PAYOUT_CONCURRENCY=${r.sizes.concurrency}) against the sandbox bank in its own process, on a throwaway redis-server without persistence (the bank on another); LOG_LEVEL=${r.sizes.log_level}. A payout counts as drained when it is final in the store (its state indexes, sampled every ½ s); its callback upstream is one more job after that, counted apart.`,
    '',
    '| | Measured | Target | |',
    '|---|---|---|---|',
    ...r.goals.map((g) => `| ${g.goal} | ${g.measured} | ${g.target} | ${g.target ? (g.met ? 'met' : '**missed**') : ''} |`),
    '',
    `Acceptance: ${n(large.accept.payouts)} payouts in ${large.accept.seconds} s (${large.accept.perS} payouts/s), ${large.accept.batches} batch${large.accept.batches === 1 ? '' : 'es'}: ${large.accept.batchMs.mean} ms each on average, ${large.accept.batchMs.firstTenMean} ms over the first ten and ${large.accept.batchMs.lastTenMean} ms over the last ten (the slowest ${large.accept.batchMs.max} ms).`,
    `Waiting: ${n(large.waiting.jobs)} jobs to run; Redis used_memory ${Math.round(large.waiting.usedMemoryBefore / 1048576)} → ${Math.round(large.waiting.usedMemoryAfter / 1048576)} MB, ${large.waiting.bytesPerPayout} bytes and ${large.waiting.keysPerPayout} keys per waiting payout; web RSS ${large.waiting.webRssMb.before} → ${large.waiting.webRssMb.after} MB; the bank stand-in ${large.waiting.sandboxRssMb} MB.`,
    `Drain: ${n(d.payouts)} payouts in ${d.seconds} s (${d.perS} payouts/s); RSS at the start / middle / end of it: worker ${rss('worker')}, web ${rss('web')}, the bank stand-in ${rss('sandbox')}; Redis used_memory ${Math.round(d.redisUsedMemory.start / 1048576)} → ${Math.round(d.redisUsedMemory.end / 1048576)} MB; the bank stand-in's live heap ${d.sandboxHeapMb.start} → ${d.sandboxHeapMb.end} MB (${Math.round(((d.sandboxHeapMb.end - d.sandboxHeapMb.start) * 1024) / Math.max(1, d.payouts))} KB per payout drained: it keeps every session). Callbacks upstream: ${n(d.calledBackAtEnd)} by ${d.calledBackAfterS} s (${byName(d.outcomes)}). At most ${n(d.maxInFlight)} payouts were in flight at once (started, not final: the worker takes new payouts from the backlog while it finishes others)${d.allStartedAfterS !== null ? `, and every payout had been started ${d.allStartedAfterS} s into the drain` : ''}.`,
    '',
    `The first 10% of the drain (payouts ${n(d.first.fromPayout)}–${n(d.first.toPayout)} to become final, after the ${n(d.skippedAtStart)} of its first ${WARM_S} s) against the last 10% (${n(d.last.fromPayout)}–${n(d.last.toPayout)}, up to the last payout that became final while some still waited to start); counted from the very first payout and to the very last instead, ${d.firstAll.perS} and ${d.lastAll.perS} payouts/s. CPU, and jobs created (start jobs were created at acceptance), per payout that became final:`,
    '',
    `| Window | payouts final/s | not started → | in flight → | called back → | jobs to run → | ${procs.map((p) => `${p} CPU`).join(' | ')} |${queues.length > 0 ? ` jobs created per payout (${queues.join(', ')}) |` : ''}`,
    `|---|---|---|---|---|---|${procs.map(() => '---').join('|')}|${queues.length > 0 ? '---|' : ''}`,
    ...[
      ['first 10%', d.first],
      ['last 10%', d.last],
    ].map(([label, w]) => {
      const win = w as DrainWindow;
      return `| ${label as string} | ${win.perS} | ${n(win.queued[0])} → ${n(win.queued[1])} | ${n(win.inFlight[0])} → ${n(win.inFlight[1])} | ${n(win.calledBack[0])} → ${n(win.calledBack[1])} | ${n(win.waiting[0])} → ${n(win.waiting[1])} | ${procs.map((p) => win.cpuMsPerPayout[p] ?? '').join(' | ')} |${queues.length > 0 ? ` ${win.jobsPerPayout?.total ?? ''} (${queues.map((q) => win.jobsPerPayout?.byQueue[q] ?? 0).join(', ')}) |` : ''}`;
    }),
    '',
    ...(r.large_vs_small && r.small.length > 0
      ? [
          `The small backlog: ${n(r.sizes.small_backlog ?? 0)} payouts accepted and drained the same way from scratch (fresh Redis, bank, web and worker), once before the large one and once after. The first ${n(r.large_vs_small.payouts)} payouts of each became final while some of it still waited to start (every one had started ${r.small.map((s) => `${s.drain.allStartedAfterS ?? '?'} s`).join(' and ')} in; past that the worker only finishes what is in flight, faster than it both starts and finishes): ${r.large_vs_small.smallPerS.join(' and ')} payouts/s over them, against ${r.large_vs_small.largePerS}/s over the large backlog's first ${n(r.large_vs_small.payouts)}: ${r.large_vs_small.ratio}× their mean. Over all of each small backlog: ${r.small.map((s) => `${s.drain.perS} payouts/s (first 10% ${s.drain.first.perS}, last 10% ${s.drain.last.perS})`).join('; ')}.`,
          '',
        ]
      : []),
    "How to read it: the rate over each window is counted between the payouts becoming final that bound it (the time of each interpolated between the samples around it). Neither end's transient is in the windows compared: at the start the worker compiles its code and fills its pipeline, and at the end, with nothing left to start, it finishes everything in flight at once, which would flatter the last window." +
      (partial
        ? " Only part of the backlog was drained, so the last 10% still had most of it waiting: first against last says whether the rate drifts over time as finished payouts pile up (records, audit, indexes, the reconciler's look at payouts waiting longer than RECONCILE_AFTER_MS, the bank stand-in's own sessions), not whether it depends on the backlog's size. That is what the small backlog is for: the same start from scratch with few payouts waiting, compared over the same first completions, all while payouts still wait to start on both sides; the only difference between the two is how much waits behind them."
        : ' The whole backlog was drained, so the first 10% ran with nearly all of it waiting and the last with little left: first against last says whether the rate depends on how much waits, together with any drift over time.') +
      " The CPU and jobs are per payout finished over the window: while the number in flight grows, they include work on payouts that finish later. The CPU table says which process a change in rate comes from, and the service's own CPU per payout (worker, web, Redis) whether it is the service's doing at all: other work on the machine slows the rate and leaves that as it was; the bank stand-in keeps every session it has seen in memory, so its cost per payout may grow over a long drain without the service being the cause. The machine is shared, so absolute rates are noisy; the ratios, measured within one run, much less so.",
  ];
}

/** Writes the section into bench/results.md: in place of the one there, or at the end. */
export function writeBacklogSection(r: BacklogResults): void {
  const file = join(ROOT, 'bench/results.md');
  const section = backlogSection(r).join('\n');
  const md = existsSync(file) ? readFileSync(file, 'utf8').trimEnd() : '';
  const at = md.indexOf(`\n${BACKLOG_HEADING}\n`);
  if (at < 0) {
    writeFileSync(file, `${md}${md ? '\n\n' : ''}${section}\n`);
    return;
  }
  const next = md.indexOf('\n## ', at + BACKLOG_HEADING.length + 1);
  writeFileSync(file, `${md.slice(0, at)}\n${section}${next < 0 ? '' : `\n${md.slice(next)}`}\n`);
}
