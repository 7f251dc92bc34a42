import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { eventually, sleep } from '../test/support/wait.js';

/** Helpers shared by bench/run.ts and its child processes. */

export const ROOT = fileURLToPath(new URL('../', import.meta.url));
export { eventually, sleep };

// ------------------------------------------------------------------ processes

export interface Proc {
  name: string;
  child: ChildProcess;
  pid: number;
  logFile: string;
  /** What it has written so far (stdout and stderr go to one file, so the parent spends nothing reading them). */
  log(): string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  alive(): boolean;
  /** Resolves once `line` appears in its output; rejects if it exits first. */
  ready(line: string, timeoutMs?: number): Promise<void>;
  /** SIGTERM, then SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

/** `node [nodeArgs] --import tsx <entry>`: the TypeScript entry run by node itself, as an operator runs it. */
export function startNode(
  name: string,
  entry: string,
  env: Record<string, string>,
  options: { logDir: string; nodeArgs?: string[]; args?: string[] },
): Proc {
  const logFile = join(options.logDir, `${name}.log`);
  const fd = openSync(logFile, 'w');
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), '--import', 'tsx', entry, ...(options.args ?? [])], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
    stdio: ['ignore', fd, fd],
  });
  closeSync(fd);
  if (child.pid === undefined) throw new Error(`${name}: could not start ${entry}`);
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const alive = () => child.exitCode === null && child.signalCode === null;
  const log = () => {
    try {
      return readFileSync(logFile, 'utf8');
    } catch {
      return '';
    }
  };
  return {
    name,
    child,
    pid: child.pid,
    logFile,
    log,
    exit,
    alive,
    async ready(line, timeoutMs = 30_000) {
      await eventually(
        () => {
          if (log().includes(line)) return true;
          if (!alive())
            throw new Error(`${name} exited (${child.exitCode ?? child.signalCode}) before "${line}"; its output:\n${log().slice(-3000)}`);
          return false;
        },
        timeoutMs,
        `${name}: "${line}"`,
        50, // reads the log file: no need to poll faster
      );
    },
    async stop(graceMs = 15_000) {
      if (!alive()) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => alive() && child.kill('SIGKILL'), graceMs);
      await exit;
      clearTimeout(timer);
    },
  };
}

/** Resident set size of a process, in bytes (VmRSS of /proc/<pid>/status). */
export function rssOf(pid: number): number {
  const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : NaN;
}

/** CPU time (user + system) a process has used so far, in milliseconds (/proc/<pid>/stat). */
export function cpuMsOf(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields[0] is field 3 (state); utime and stime are fields 14 and 15
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // USER_HZ is 100 on Linux
  } catch {
    return NaN;
  }
}

// ------------------------------------------------------------------ numbers

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

export const round = (n: number, digits = 1) => (Number.isFinite(n) ? Math.round(n * 10 ** digits) / 10 ** digits : n);
export const mb = (bytes: number) => round(bytes / 1024 / 1024, 1);

/** The most timestamps (ms) that fall in any window [t, t + windowMs). */
export function maxInWindow(timestamps: number[], windowMs = 1000): { max: number; at: number } {
  const t = [...timestamps].sort((a, b) => a - b);
  let best = { max: 0, at: t[0] ?? 0 };
  let lo = 0;
  for (let hi = 0; hi < t.length; hi++) {
    while (t[hi]! - t[lo]! >= windowMs) lo++;
    if (hi - lo + 1 > best.max) best = { max: hi - lo + 1, at: t[lo]! };
  }
  return best;
}

// ------------------------------------------------------------------ HTTP

export const keepAlive = new http.Agent({ keepAlive: true, maxSockets: 64 });

/** One JSON request over keep-alive; answers the status and the parsed body. */
export function request(
  url: string,
  method: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body);
    const req = http.request(
      url,
      {
        method,
        agent: keepAlive,
        headers: {
          ...(payload !== undefined ? { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(payload)) } : {}),
          ...headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown = text;
          try {
            parsed = JSON.parse(text);
          } catch {
            // not JSON: keep the text
          }
          resolve({ status: res.statusCode ?? 0, body: parsed });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    if (payload !== undefined) req.write(payload);
    req.end();
  });
}

/** The last line of a child's output that parses as JSON: how the load generators report. */
export function lastJsonLine<T>(text: string): T {
  const lines = text.trim().split('\n').reverse();
  for (const line of lines) {
    if (!line.startsWith('{')) continue;
    try {
      return JSON.parse(line) as T;
    } catch {
      // not this one
    }
  }
  throw new Error(`no JSON result in the output:\n${text.slice(-2000)}`);
}

/** A figure measured more than once: each run's value, the median that goals are judged by, and how far apart the runs were. */
export interface Spread {
  runs: number[];
  median: number;
  min: number;
  max: number;
  /** (max − min) / median: 0.05 means the runs lie within 5% of the median of one another. */
  spread: number;
}

export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export function spreadOf(values: number[], digits = 1): Spread {
  const m = median(values);
  const min = Math.min(...values);
  const max = Math.max(...values);
  return {
    runs: values.map((v) => round(v, digits)),
    median: round(m, digits),
    min: round(min, digits),
    max: round(max, digits),
    spread: round((max - min) / m, 3),
  };
}

/** "runs 198–214" (or the one value when there was one run). */
export const runsText = (s: Spread) => (s.runs.length > 1 ? `runs ${s.min}–${s.max}` : `one run`);

// ------------------------------------------------------------------ jobs as Redis sees them

export interface JobCount {
  total: number;
  byQueue: Record<string, number>;
}

/**
 * Counts BullMQ jobs created, as Redis sees them: each new job hash (`<prefix>:<queue>:<job id>`)
 * announced by a keyspace notification for new keys (Redis 7), whoever added it (a route, a
 * script, a worker). A job added again under an id that is still there creates nothing and is not
 * counted, nor are a job's lock or log keys. Only the keys of the queues named are announced, so
 * the rest of Redis's writes cost nothing here. Turns the notifications back to what they were on stop.
 */
export async function watchNewJobs(
  url: string,
  qualifiedQueues: Record<string, string>,
): Promise<{ snapshot(): JobCount; stop(): Promise<JobCount> }> {
  const { Redis } = await import('ioredis');
  const { QueueKeys } = await import('bullmq');
  const reserved = new Set(Object.keys(new QueueKeys('').getKeys('q')));
  const admin = new Redis(url, { maxRetriesPerRequest: null });
  const sub = new Redis(url, { maxRetriesPerRequest: null });
  const previous = ((await admin.config('GET', 'notify-keyspace-events')) as string[])[1] ?? '';
  await admin.config('SET', 'notify-keyspace-events', `${previous.replace(/[Kn]/g, '')}Kn`);
  const byQueue: Record<string, number> = {};
  let total = 0;
  const names = new Map(Object.entries(qualifiedQueues));
  sub.on('pmessage', (_pattern: string, channel: string) => {
    const key = channel.slice(channel.indexOf('__:') + 3);
    const cut = key.lastIndexOf(':');
    const queue = names.get(key.slice(0, cut));
    if (queue === undefined || reserved.has(key.slice(cut + 1))) return;
    byQueue[queue] = (byQueue[queue] ?? 0) + 1;
    total += 1;
  });
  // Glob characters in a prefix such as {bench} are taken literally by escaping them.
  const glob = (s: string) => s.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
  await sub.psubscribe(...[...names.keys()].map((q) => `__keyspace@*__:${glob(q)}:*`));
  const snapshot = () => ({ total, byQueue: { ...byQueue } });
  return {
    snapshot,
    async stop() {
      await sleep(200); // notifications already sent are read
      await admin.config('SET', 'notify-keyspace-events', previous);
      sub.disconnect();
      admin.disconnect();
      return snapshot();
    },
  };
}
