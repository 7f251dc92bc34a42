import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface RunningEntry {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * `node --import tsx <entry>` with only the given settings (and PATH): the TypeScript entry point
 * run by node itself, never through npm or npx, so a signal reaches the process as in production.
 * `keep` bounds how much output is kept (the chaos suite runs long); `onStdout` sees every chunk.
 */
export function runEntry(
  entry: string,
  env: Record<string, string>,
  options: { keep?: number; onStdout?: (chunk: string) => void } = {},
): RunningEntry {
  const child = spawn(process.execPath, ['--import', 'tsx', entry], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const keep = options.keep ?? Number.POSITIVE_INFINITY;
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => {
    const chunk = d.toString();
    options.onStdout?.(chunk);
    out += chunk;
    if (out.length > keep * 2) out = out.slice(-keep);
  });
  child.stderr!.on('data', (d: Buffer) => {
    err += d.toString();
    if (err.length > keep) err = err.slice(-keep / 2);
  });
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return { child, stdout: () => out, stderr: () => err, exit };
}
