import { readFileSync } from 'node:fs';
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { z } from 'zod';

/**
 * Settings come from the environment, once, at start-up: each process declares its own as one
 * zod object over the variables it reads (src/settings/web.ts, src/settings/worker.ts), and its
 * settings type is what that object outputs. Reading reports every problem at once, each naming its
 * variable, so an operator fixes a bad deployment in one pass instead of one restart per mistake.
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

/** A key given inline as NAME or as a path in NAME_FILE: what `pem()` reads, made into one value first. */
interface PemSource {
  inline?: string | undefined;
  file?: string | undefined;
}

/**
 * Reads `env` with `schema`. An empty variable counts as unset; a PEM setting named in `pems` is
 * read from NAME or NAME_FILE; `pairs` are variables given together or not at all, judged on what
 * was given. Throws a ConfigError naming every problem.
 */
export function readEnv<S extends z.ZodType>(
  schema: S,
  env: Env,
  options: { pems?: readonly string[]; pairs?: ReadonlyArray<{ names: readonly [string, string]; problem: string }> } = {},
): z.output<S> {
  const given: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(env)) if (value !== undefined && value !== '') given[name] = value;
  for (const name of options.pems ?? []) {
    const source: PemSource = { inline: given[name] as string | undefined, file: given[`${name}_FILE`] as string | undefined };
    delete given[`${name}_FILE`];
    given[name] = source;
  }
  const problems: string[] = [];
  for (const {
    names: [a, b],
    problem,
  } of options.pairs ?? []) {
    if (Boolean(given[a]) !== Boolean(given[b])) problems.push(`${a} and ${b}: ${problem}`);
  }
  const parsed = schema.safeParse(given);
  if (!parsed.success) problems.unshift(...parsed.error.issues.map((issue) => problemOf(issue, given)));
  if (problems.length > 0) throw new ConfigError(problems);
  return (parsed as { data: z.output<S> }).data;
}

/** `NAME: what is wrong`; a message that names its own variables is kept as it is. */
function problemOf(issue: z.core.$ZodIssue, given: Record<string, unknown>): string {
  const name = String(issue.path[0] ?? '(settings)');
  if (/^[A-Z][A-Z0-9_]*( and [A-Z][A-Z0-9_]*)?:? /.test(issue.message) && issue.message.startsWith(name)) return issue.message;
  return `${name}: ${given[name] === undefined ? 'is required' : issue.message}`;
}

// ---------------------------------------------------------------- the kinds of value settings take

export const port = z.coerce
  .number({ error: 'must be a port number' })
  .int('must be a whole number')
  .min(0)
  .max(65535, 'must be at most 65535');
export const positiveInt = z.coerce.number({ error: 'must be a number' }).int('must be a whole number').positive('must be greater than 0');
export const nonNegativeInt = z.coerce.number({ error: 'must be a number' }).int('must be a whole number').min(0, 'must be 0 or more');
/** An interval in ms that 0 turns off; when on, at least `min` (a tighter loop would only load the bank). */
export const intervalOrOff = (min: number) => nonNegativeInt.refine((v) => v === 0 || v >= min, `must be 0 (off) or at least ${min}`);
export const httpUrl = z.url({ error: 'must be an absolute http(s) URL', protocol: /^https?$/ }).transform((u) => u.replace(/\/+$/, ''));
export const redisUrl = z.url({ error: 'must be a redis:// or rediss:// URL', protocol: /^rediss?$/ });
export const logLevel = z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], {
  error: 'must be one of fatal, error, warn, info, debug, trace, silent',
});
export const bool = (fallback: 'true' | 'false') =>
  z
    .enum(['true', 'false', '1', '0'], { error: 'must be true or false' })
    .default(fallback)
    .transform((v) => v === 'true' || v === '1');

const UNIT_MS = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
/** A duration such as `72h`, `30m`, `90s` or `7d`, in milliseconds. */
export const duration = z
  .string()
  .regex(/^[1-9]\d*(s|m|h|d)$/, 'must be a duration such as 72h, 30m, 90s or 7d')
  .transform((v) => Number(v.slice(0, -1)) * UNIT_MS[v.slice(-1) as keyof typeof UNIT_MS]);

/** An RSA key in PEM, inline (a literal `\n` for each newline is accepted) or from a file. */
export function pem(name: string, kind: 'private' | 'public') {
  return z.custom<PemSource>().transform((source, ctx): KeyObject => {
    const read = readPem(name, kind, source ?? {});
    if ('problem' in read) {
      ctx.addIssue({ code: 'custom', message: read.problem });
      return z.NEVER;
    }
    return read.key;
  });
}

function readPem(name: string, kind: 'private' | 'public', { inline, file }: PemSource): { key: KeyObject } | { problem: string } {
  if (inline && file) return { problem: `${name} and ${name}_FILE are both set; give only one` };
  if (!inline && !file) return { problem: `is required (give the PEM inline, or a path in ${name}_FILE)` };
  let text: string;
  let source = name;
  if (file) {
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      return { problem: `${name}_FILE: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? String(err)})` };
    }
    source = `${name}_FILE`;
  } else {
    // Platforms that cannot hold multi-line values often store "\n" literally.
    text = inline!.includes('\\n') ? inline!.replaceAll('\\n', '\n') : inline!;
  }
  const prefix = source === name ? '' : `${source}: `;
  try {
    const key = kind === 'private' ? createPrivateKey(text) : createPublicKey(text);
    if (key.asymmetricKeyType !== 'rsa') return { problem: `${prefix}expected an RSA key, got ${key.asymmetricKeyType ?? 'unknown'}` };
    return { key };
  } catch {
    return { problem: `${prefix}not a valid PEM ${kind} key` };
  }
}
