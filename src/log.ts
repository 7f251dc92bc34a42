import { pino, type Logger, type LoggerOptions } from 'pino';
import { CENSOR, SECRET, put, safeLogValue, safeString } from './log-redaction.js';

/**
 * The processes' logger: pino, JSON lines, with every logged object, child binding and message made
 * safe first (src/log-redaction.ts says what is redacted and why).
 */
export { CENSOR, CENSOR_EMAIL, CENSOR_PHONE, REDACTED_KEYS, redactText, safeLogValue } from './log-redaction.js';

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
    const r = req as {
      method?: unknown;
      url?: unknown;
      host?: unknown;
      ip?: unknown;
      socket?: { remotePort?: unknown } | null;
      headers?: Record<string, unknown>;
    };
    return safeLogValue({
      method: r.method,
      url: r.url,
      version: r.headers?.['accept-version'],
      host: r.host,
      remoteAddress: r.ip,
      remotePort: r.socket?.remotePort,
    });
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

type LogMethodHook = NonNullable<NonNullable<LoggerOptions['hooks']>['logMethod']>;

/**
 * A log call's message and format arguments, made safe: text redacted by value, objects copied as
 * any logged object is. With no message, pino takes the error's own message, unredacted; it is
 * given here, redacted, instead.
 */
function safeMessage(errorKey: string, messageKey: string, next: LogMethodHook | undefined): LogMethodHook {
  return function (this: Logger, args, method, level) {
    const safe: unknown[] = args.map((a, i) =>
      typeof a === 'string' ? safeString(a) : i > 0 && a !== null && typeof a === 'object' ? safeLogValue(a) : a,
    );
    if (args.length === 1 || (args.length === 2 && args[1] === undefined)) {
      const message = errorMessage(args[0], errorKey, messageKey);
      if (message !== undefined) safe[1] = typeof message === 'string' ? safeString(message) : safeLogValue(message);
    }
    const call = safe as Parameters<LogMethodHook>[0];
    if (next) next.call(this, call, method, level);
    else method.apply(this, call);
  };
}

/** The message pino would take from `{ err }` or an error logged alone; one it cannot read must not throw out of pino either. */
function errorMessage(first: unknown, errorKey: string, messageKey: string): unknown {
  if (first === null || typeof first !== 'object') return undefined;
  try {
    const obj = first as Record<string, unknown>;
    if (!(first instanceof Error) && (obj[messageKey] !== undefined || !obj[errorKey])) return undefined;
    return (first instanceof Error ? first : (obj[errorKey] as { message?: unknown })).message;
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
    // The message is no part of the logged object: a formatter never sees it.
    hooks: { ...rest.hooks, logMethod: safeMessage(rest.errorKey ?? 'err', rest.messageKey ?? 'msg', rest.hooks?.logMethod) },
    serializers: {
      ...rest.serializers,
      err: (err: unknown) => (err instanceof Error ? safeLogValue(err) : err),
      req: requestFields,
      res: responseFields,
    },
    ...(pretty && !destination
      ? { transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' } } }
      : {}),
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
