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
