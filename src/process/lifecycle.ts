import type { Logger } from 'pino';

/** Waits for `work` to settle, but no longer than `ms`: a stop must not wait on a Redis that is gone. */
export async function within(ms: number, work: Promise<unknown>): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)));
  try {
    await Promise.race([
      work.then(
        () => undefined,
        () => undefined,
      ),
      late,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * SIGTERM and SIGINT: run `close` (log, stop taking work, close connections), then exit 0; if it
 * has not finished within `timeoutMs` (Redis away, a job that will not end), say so and exit 1
 * anyway. A second signal exits at once.
 */
export function exitOnSignals(close: () => Promise<void>, options: { timeoutMs: number; log: Logger }): void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      options.log.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    options.log.info({ signal, timeoutMs: options.timeoutMs }, 'shutting down');
    const timer = setTimeout(() => {
      options.log.warn(`could not close cleanly within ${options.timeoutMs} ms (SHUTDOWN_TIMEOUT_MS); exiting anyway`);
      process.exit(1);
    }, options.timeoutMs);
    close().then(
      () => {
        clearTimeout(timer);
        process.exit(0);
      },
      (err: Error) => {
        clearTimeout(timer);
        options.log.error({ err: err.message }, 'error while shutting down');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}
