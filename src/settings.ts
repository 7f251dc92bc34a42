import { readFileSync } from 'node:fs';
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { z } from 'zod';

/**
 * Helpers shared by every process's settings (web, worker, demo): read each setting once,
 * collect every problem, and report them all at once with the setting's name, so an operator
 * fixes a bad deployment in one pass instead of one restart per mistake.
 */

export type Env = Record<string, string | undefined>;

export class ConfigError extends Error {
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

/** Collects problems while settings are read; `finish()` throws them all together. */
export class SettingsReader {
  readonly problems: string[] = [];
  constructor(readonly env: Env) {}

  /** Parse one variable with a zod schema; an empty string counts as unset. */
  read<S extends z.ZodType>(name: string, schema: S): z.output<S> | undefined {
    const raw = this.env[name];
    const value = raw === '' ? undefined : raw;
    const parsed = schema.safeParse(value);
    if (parsed.success) return parsed.data;
    const issue = parsed.error.issues[0];
    const message = value === undefined && issue?.code === 'invalid_type' ? 'is required' : (issue?.message ?? 'is invalid');
    this.problems.push(`${name}: ${message}`);
    return undefined;
  }

  /** A PEM given inline as NAME or as a path in NAME_FILE; exactly one of the two. */
  pem(name: string, kind: 'private' | 'public', required: true): KeyObject | undefined;
  pem(name: string, kind: 'private' | 'public', required: false): KeyObject | null | undefined;
  pem(name: string, kind: 'private' | 'public', required: boolean): KeyObject | null | undefined {
    const result = readPem(this.env, name, kind);
    if (result.ok) {
      if (result.key === null && required) {
        this.problems.push(`${name}: is required (give the PEM inline, or a path in ${name}_FILE)`);
        return undefined;
      }
      return result.key;
    }
    this.problems.push(result.problem);
    return undefined;
  }

  finish(): void {
    if (this.problems.length > 0) throw new ConfigError(this.problems);
  }
}

type PemResult = { ok: true; key: KeyObject | null } | { ok: false; problem: string };

export function readPem(env: Env, name: string, kind: 'private' | 'public'): PemResult {
  const inline = env[name] || undefined;
  const file = env[`${name}_FILE`] || undefined;
  if (inline && file) return { ok: false, problem: `${name} and ${name}_FILE are both set; give only one` };
  let pem: string;
  let source: string;
  if (file) {
    try {
      pem = readFileSync(file, 'utf8');
    } catch (err) {
      return { ok: false, problem: `${name}_FILE: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? String(err)})` };
    }
    source = `${name}_FILE`;
  } else if (inline) {
    // Platforms that cannot hold multi-line values often store "\n" literally.
    pem = inline.includes('\\n') ? inline.replaceAll('\\n', '\n') : inline;
    source = name;
  } else {
    return { ok: true, key: null };
  }
  try {
    const key = kind === 'private' ? createPrivateKey(pem) : createPublicKey(pem);
    if (key.asymmetricKeyType !== 'rsa') {
      return { ok: false, problem: `${source}: expected an RSA key, got ${key.asymmetricKeyType ?? 'unknown'}` };
    }
    return { ok: true, key };
  } catch {
    return { ok: false, problem: `${source}: not a valid PEM ${kind} key` };
  }
}

export const port = z.coerce.number({ error: 'must be a port number' }).int('must be a whole number').min(0).max(65535, 'must be at most 65535');
const UNIT_MS = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
/** A duration such as `72h`, `30m`, `90s` or `7d`, in milliseconds. */
export const duration = z
  .string()
  .regex(/^[1-9]\d*(s|m|h|d)$/, 'must be a duration such as 72h, 30m, 90s or 7d')
  .transform((v) => Number(v.slice(0, -1)) * UNIT_MS[v.slice(-1) as keyof typeof UNIT_MS]);

export const positiveInt = z.coerce.number({ error: 'must be a number' }).int('must be a whole number').positive('must be greater than 0');
export const httpUrl = z
  .url({ error: 'must be an absolute http(s) URL', protocol: /^https?$/ })
  .transform((u) => u.replace(/\/+$/, ''));
export const redisUrl = z.url({ error: 'must be a redis:// or rediss:// URL', protocol: /^rediss?$/ });
export const logLevel = z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], {
  error: 'must be one of fatal, error, warn, info, debug, trace, silent',
});

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

/** `redis://user:secret@host` as `redis://user:***@host`: a URL safe to print. */
export function maskUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString().replace(/\/$/, '');
  } catch {
    return url.replace(/\/\/([^:/@]*):[^@]*@/, '//$1:***@');
  }
}

/**
 * Print a ConfigError or StartupError without a stack trace and stop (78 EX_CONFIG, or the start-up
 * error's own code); rethrow anything else.
 */
export function exitOnConfigError(err: unknown): never {
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

/** The same, under the name that says what it now covers. */
export const exitOnStartupError = exitOnConfigError;
