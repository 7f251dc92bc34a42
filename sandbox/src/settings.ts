import { readFileSync } from 'node:fs';
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { resolve } from 'node:path';
import { z } from 'zod';
import { DEFAULT_SANDBOX_PREFIX } from './store.js';

/**
 * `npm run sandbox`'s settings (sandbox/README.md, "Settings"), read from the environment once.
 * Every bad one is reported at once, each with its name, so a deployment is fixed in one pass.
 */
export interface SandboxSettings {
  host: string;
  port: number;
  webhookUrl: string | undefined;
  project: string | undefined;
  keysDir: string;
  /** Given keys; null: made (and kept) in keysDir. */
  partnerPublicKey: KeyObject | null;
  bankPrivateKey: KeyObject | null;
  redisUrl: string;
  redisPrefix: string;
  /** Where browsers reach it, when not where it listens: the base of the links it hands out. */
  publicUrl: string | undefined;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
  constructor(readonly problems: readonly string[]) {
    super(`invalid sandbox configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

const port = z.coerce.number({ error: 'must be a port number' }).int('must be a whole number').min(0).max(65535, 'must be at most 65535');
const httpUrl = z.url({ error: 'must be an absolute http(s) URL', protocol: /^https?$/ }).transform((u) => u.replace(/\/+$/, ''));
const redisUrl = z.url({ error: 'must be a redis:// or rediss:// URL', protocol: /^rediss?$/ });
// Each change is one script over several keys, which must share a Redis Cluster slot.
const hashTag = z.string().regex(/^\{[^{}]+\}$/, 'must be a Redis hash tag such as {b131sandbox}');

type Env = Record<string, string | undefined>;

export function readSettings(env: Env): SandboxSettings {
  const problems: string[] = [];
  /** One variable through its schema; an empty string counts as unset. */
  const read = <S extends z.ZodType>(name: string, schema: S): z.output<S> => {
    const parsed = schema.safeParse(env[name] === '' ? undefined : env[name]);
    if (parsed.success) return parsed.data;
    problems.push(`${name}: ${parsed.error.issues[0]?.message ?? 'is invalid'}`);
    return undefined as z.output<S>;
  };
  const key = (name: string, kind: 'private' | 'public'): KeyObject | null => {
    const result = readKey(env, name, kind);
    if (typeof result === 'string') problems.push(result);
    return typeof result === 'string' ? null : result;
  };
  const settings: SandboxSettings = {
    host: read('SANDBOX_HOST', z.string().default('127.0.0.1')),
    port: read('SANDBOX_PORT', port.default(8131)),
    webhookUrl: read('SANDBOX_WEBHOOK_URL', httpUrl.optional()),
    project: read('SANDBOX_PROJECT', z.string().optional()),
    keysDir: resolve(read('SANDBOX_KEYS_DIR', z.string().default('.sandbox/keys')) ?? '.sandbox/keys'),
    partnerPublicKey: key('SANDBOX_PARTNER_PUBLIC_KEY', 'public'),
    bankPrivateKey: key('SANDBOX_BANK_PRIVATE_KEY', 'private'),
    redisUrl: read('SANDBOX_REDIS_URL', redisUrl.default('redis://127.0.0.1:6379')),
    redisPrefix: read('SANDBOX_REDIS_PREFIX', hashTag.default(DEFAULT_SANDBOX_PREFIX)),
    publicUrl: read('SANDBOX_PUBLIC_URL', httpUrl.optional()),
  };
  if (problems.length > 0) throw new ConfigError(problems);
  return settings;
}

/** An RSA key given inline as NAME or as a file in NAME_FILE (not both): the key, null when neither, or the problem. */
function readKey(env: Env, name: string, kind: 'private' | 'public'): KeyObject | null | string {
  const inline = env[name] || undefined;
  const file = env[`${name}_FILE`] || undefined;
  if (inline && file) return `${name} and ${name}_FILE are both set; give only one`;
  if (!inline && !file) return null;
  let pem: string;
  try {
    // Platforms that cannot hold multi-line values often store "\n" literally.
    pem = file ? readFileSync(file, 'utf8') : inline!.replaceAll('\\n', '\n');
  } catch (err) {
    return `${name}_FILE: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? String(err)})`;
  }
  const source = file ? `${name}_FILE` : name;
  try {
    const key = kind === 'private' ? createPrivateKey(pem) : createPublicKey(pem);
    return key.asymmetricKeyType === 'rsa' ? key : `${source}: expected an RSA key, got ${key.asymmetricKeyType ?? 'unknown'}`;
  } catch {
    return `${source}: not a valid PEM ${kind} key`;
  }
}
