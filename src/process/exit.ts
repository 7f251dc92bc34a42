import { ConfigError } from '../settings/env.js';

/** Exit codes of sysexits.h that the processes use. */
export const EXIT = {
  /** A setting is wrong: fix the configuration before restarting. */
  config: 78, // EX_CONFIG
  /** Something the process needs (Redis, its port) is not available now: a restart may succeed. */
  unavailable: 69, // EX_UNAVAILABLE
} as const;

/**
 * A start-up failure that is not a bug: said in one line that names the setting involved, with no
 * stack trace, and ended with a sysexits code.
 */
export class StartupError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
    this.name = 'StartupError';
  }
}

/**
 * Print a ConfigError or StartupError without a stack trace and stop (78 EX_CONFIG, or the start-up
 * error's own code); rethrow anything else.
 */
export function exitOnStartupError(err: unknown): never {
  if (err instanceof ConfigError) {
    process.stderr.write(`${err.message}\n`);
    process.exit(EXIT.config);
  }
  if (err instanceof StartupError) {
    process.stderr.write(`${err.message}\n`);
    process.exit(err.exitCode);
  }
  throw err;
}
