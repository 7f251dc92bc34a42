import { URL } from 'node:url';
import { pino, type Logger, type LoggerOptions } from 'pino';

/**
 * Card hashes, recipients' names, keys and signatures must never reach a log line. They are
 * redacted by key name (any case) at any depth, because log objects nest (job data, payout
 * records, request bodies, errors).
 */
export const REDACTED_KEYS = [
  'encrypted_card',
  'collectedCard',
  'collected_card',
  'number_hash',
  'expiration_date_hash',
  'security_code_hash',
  'cardholder_name_hash',
  'recipient',
  'full_name',
  'first_name',
  'last_name',
  'middle_name',
  'participant_details',
  'authorization',
  'proxy-authorization',
  'cookie',
  'x-partner-sign',
  'bank131-payouts-signature',
  'signature',
  'password',
  'privateKey',
  'callbackSecret',
  'apiKeys',
];

export const CENSOR = '[redacted]';
const SECRET = new Set(REDACTED_KEYS.map((k) => k.toLowerCase()));
/** Deeper than any log object of ours; a hostile body logged by mistake stops here. */
const MAX_DEPTH = 10;
const MAX_ITEMS = 1_000;
const MAX_STRING = 8_192;

/**
 * Why not pino's own `redact` paths: they clone every object on a wildcard path with its
 * prototype, and a cloned Buffer throws when it is serialised ("Method get TypedArray.prototype.buffer
 * called on incompatible receiver"). Node's HTTP parse errors carry the raw bytes (`rawPacket`), so
 * one malformed request logged at trace level threw out of the logger and killed the process.
 * Here every value is copied into plain JSON data instead: bytes are described, never written
 * (raw packets hold Authorization headers), errors keep type, message and stack, cycles and
 * throwing getters are survived, and the copy is made once, before pino serialises it.
 */
export function safeLogValue(value: unknown, depth = 0, ancestors: Set<object> = new Set()): unknown {
  switch (typeof value) {
    case 'string':
      return value.length > MAX_STRING ? `${value.slice(0, MAX_STRING)}…[${value.length - MAX_STRING} more characters]` : value;
    case 'bigint':
      return value.toString();
    case 'function':
    case 'symbol':
      return undefined;
    case 'object':
      break;
    default:
      return value;
  }
  if (value === null) return null;
  if (ancestors.has(value)) return '[Circular]';
  if (depth >= MAX_DEPTH) return '[too deep]';
  try {
    if (ArrayBuffer.isView(value)) return `[${value.constructor?.name ?? 'bytes'} of ${value.byteLength} bytes]`;
    if (value instanceof ArrayBuffer || (typeof SharedArrayBuffer !== 'undefined' && value instanceof SharedArrayBuffer)) return `[ArrayBuffer of ${value.byteLength} bytes]`;
    if (value instanceof Date) return Number.isNaN(value.getTime()) ? 'Invalid Date' : value.toISOString();
    if (value instanceof URL) return withoutCredentials(value);
    ancestors.add(value);
    try {
      if (value instanceof Error) return plainObject(pino.stdSerializers.err(value), depth, ancestors);
      if (Array.isArray(value)) {
        const items = value.slice(0, MAX_ITEMS).map((v) => safeLogValue(v, depth + 1, ancestors) ?? null);
        if (value.length > MAX_ITEMS) items.push(`[${value.length - MAX_ITEMS} more items]`);
        return items;
      }
      if (value instanceof Map) return plainObject(Object.fromEntries([...value.entries()].slice(0, MAX_ITEMS).map(([k, v]) => [String(k), v])), depth, ancestors);
      if (value instanceof Set) return safeLogValue([...value], depth, ancestors);
      const toJSON = (value as { toJSON?: unknown }).toJSON;
      if (typeof toJSON === 'function') return safeLogValue(toJSON.call(value), depth, ancestors);
      return plainObject(value, depth, ancestors);
    } finally {
      ancestors.delete(value);
    }
  } catch {
    return '[unserialisable]';
  }
}

/** Sets an own property: a `__proto__` key stays a key, never the copy's prototype. */
function put(out: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
}

/** Own enumerable keys, each secret one censored. */
function plainObject(source: object, depth: number, ancestors: Set<object>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  let n = 0;
  for (const key of Object.keys(source)) {
    if (n++ >= MAX_ITEMS) {
      put(out, '[more keys]', Object.keys(source).length - MAX_ITEMS);
      break;
    }
    if (SECRET.has(key.toLowerCase())) {
      put(out, key, CENSOR);
      continue;
    }
    let v: unknown;
    try {
      v = safeLogValue((source as Record<string, unknown>)[key], depth + 1, ancestors);
    } catch {
      v = '[unserialisable]';
    }
    if (v !== undefined) put(out, key, v);
  }
  return out;
}

function withoutCredentials(url: URL): string {
  if (!url.username && !url.password) return url.href;
  const copy = new URL(url.href);
  copy.username = '';
  copy.password = '';
  return copy.href;
}

/** Keys that have a serializer of their own below: pino applies it, and it picks only safe fields. */
const SERIALIZED = new Set(['req', 'res']);

function safeLogObject(obj: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (obj === null || typeof obj !== 'object') return out;
  const ancestors = new Set<object>([obj]);
  for (const key of Object.keys(obj)) {
    let v: unknown;
    try {
      v = SECRET.has(key.toLowerCase()) ? CENSOR : SERIALIZED.has(key) ? obj[key] : safeLogValue(obj[key], 1, ancestors);
    } catch {
      v = '[unserialisable]';
    }
    put(out, key, v);
  }
  return out;
}

/** A request as Fastify logs it (method, url, host, address): never its headers or body. */
function requestFields(req: unknown): unknown {
  if (req === null || typeof req !== 'object') return safeLogValue(req);
  try {
    const r = req as { method?: unknown; url?: unknown; host?: unknown; ip?: unknown; socket?: { remotePort?: unknown } | null; headers?: Record<string, unknown> };
    return safeLogValue({ method: r.method, url: r.url, version: r.headers?.['accept-version'], host: r.host, remoteAddress: r.ip, remotePort: r.socket?.remotePort });
  } catch {
    return '[unserialisable]';
  }
}

function responseFields(res: unknown): unknown {
  try {
    return { statusCode: (res as { statusCode?: unknown } | null)?.statusCode };
  } catch {
    return '[unserialisable]';
  }
}

/** JSON lines by default; `pretty` (LOG_PRETTY) renders them for a terminal, redacted all the same. */
export function createLogger(options: LoggerOptions & { pretty?: boolean } = {}, destination?: pino.DestinationStream): Logger {
  const { pretty, ...rest } = options;
  const opts: LoggerOptions = {
    level: 'info',
    ...rest,
    // Every logged object and every child binding is made safe before pino serialises it. The
    // serializers win over Fastify's (it merges ours last) and over pino's default `err`.
    formatters: { ...rest.formatters, log: safeLogObject, bindings: safeLogObject },
    serializers: {
      ...rest.serializers,
      err: (err: unknown) => (err instanceof Error ? safeLogValue(err) : err),
      req: requestFields,
      res: responseFields,
    },
    ...(pretty && !destination ? { transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' } } } : {}),
  };
  const logger = destination ? pino(opts, destination) : pino(opts);
  // pino applies the bindings formatter to the root's bindings only: a child's bindings
  // (log.child({ payout })) are made safe here. Children inherit these methods from the root.
  const child = logger.child as unknown as (this: Logger, bindings: pino.Bindings, options?: pino.ChildLoggerOptions) => Logger;
  const setBindings = logger.setBindings as unknown as (this: Logger, bindings: pino.Bindings) => void;
  logger.child = function (this: Logger, bindings: pino.Bindings, childOptions?: pino.ChildLoggerOptions) {
    return child.call(this, safeLogObject(bindings), childOptions);
  } as unknown as Logger['child'];
  logger.setBindings = function (this: Logger, bindings: pino.Bindings) {
    setBindings.call(this, safeLogObject(bindings));
  };
  return logger;
}

export type { Logger };
