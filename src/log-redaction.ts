import { URL } from 'node:url';
import { pino } from 'pino';

/**
 * Card hashes, recipients' names and contacts, keys and signatures must never reach a log line.
 * They are redacted by key name (any case) at any depth, because log objects nest (job data, payout
 * records, request bodies, errors); and by value (`redactText`), where no key name can help.
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
  'email',
  'phone',
  'contacts',
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
export const CENSOR_EMAIL = '[redacted email]';
export const CENSOR_PHONE = '[redacted phone]';
export const SECRET = new Set(REDACTED_KEYS.map((k) => k.toLowerCase()));
/** Deeper than any log object of ours; a hostile body logged by mistake stops here. */
const MAX_DEPTH = 10;
const MAX_ITEMS = 1_000;
const MAX_STRING = 8_192;
/** Past MAX_STRING, how far contacts are still looked for: an address cut in two at the limit is still one. */
const CONTACT_REACH = 1_024;

// ------------------------------------------------------------------ by value: text that holds an order

/**
 * Text that names one of these as a key holds an order, a card or a person: a Redis command's
 * arguments (the order JSON a script received), a body quoted in an error message. It is replaced
 * whole, since what sits beside the key is as much the order as the key's own value. `customer`
 * stays readable as a field (its `reference` is the caller's id) but any order written out names it.
 */
const TEXT_KEYS = [...REDACTED_KEYS, 'customer'].map((k) => k.replace(/[-.*+?^${}()|[\]\\]/g, '\\$&')).join('|');
/**
 * A key, not a word: quoted and followed by a colon (JSON, also escaped inside JSON: `\"phone\":`),
 * or bare and followed by a colon and the start of a value, as `util.inspect` writes objects.
 */
const KEY_IN_TEXT = new RegExp(`["'](?:${TEXT_KEYS})\\\\*["']\\s*:|\\b(?:${TEXT_KEYS})\\s*:\\s*["'{[]`, 'i');
const EMAIL = /[\w.%+-]{1,64}@[a-z0-9-]{1,63}(?:\.[a-z0-9-]{1,63}){0,8}\.[a-z]{2,24}/gi;
/**
 * Phone numbers in free text: 10 to 15 digits after a `+` (spaces, hyphens and brackets between
 * them allowed, as people write them: `+7 (999) 123-45-67`); or bare and unbroken, standing alone
 * (not part of an id, a version, a path or a decimal: `order-79991234567` stays). A bare run that
 * starts with 1 is taken for a phone only at 11 digits (country code 1 numbers have exactly 11),
 * so times written as text, in seconds or milliseconds (10 and 13 digits, starting with 1 until
 * 2033), stay. Numbers are never touched: only text.
 */
const PHONE = /(?<![\w+])\+\d(?:[ ()-]{0,2}\d){9,14}(?!\d)|(?<![\w./+-])(?:[02-9]\d{9,14}|1\d{10})(?![\w/]|[.-]\d)/g;
/** Cheap first look, true for nearly nothing a log line carries: every pattern above needs one of these. */
const MAY_HOLD_SECRET = /[:@+]|\d{10}/;

/** `text` with what it may not show replaced: all of it if it names a secret key, else each e-mail address and phone number. */
export function redactText(text: string): string {
  if (text.length < 6 || !MAY_HOLD_SECRET.test(text)) return text;
  if (KEY_IN_TEXT.test(text)) return CENSOR;
  return maskContacts(text);
}

function maskContacts(text: string): string {
  const masked = text.includes('@') ? text.replace(EMAIL, CENSOR_EMAIL) : text;
  return masked.replace(PHONE, CENSOR_PHONE);
}

/** Redacted, then cut to MAX_STRING: the key test reads it all, since a key late in the text marks what came before it. */
export function safeString(text: string): string {
  if (text.length <= MAX_STRING) return redactText(text);
  if (KEY_IN_TEXT.test(text)) return CENSOR;
  return `${maskContacts(text.slice(0, MAX_STRING + CONTACT_REACH)).slice(0, MAX_STRING)}…[${text.length - MAX_STRING} more characters]`;
}

const FRAME = /^\s+at \S/;

/**
 * An error's stack repeats its message: when that quotes an order, the frames (where it failed)
 * are kept and every other line (the message, a cause's message) becomes CENSOR.
 */
function safeStack(stack: string): string {
  if (!KEY_IN_TEXT.test(stack)) return safeString(stack);
  const kept: string[] = [];
  for (const line of stack.split('\n')) {
    if (FRAME.test(line)) kept.push(line);
    else if (kept.at(-1) !== CENSOR) kept.push(CENSOR);
  }
  return safeString(kept.join('\n'));
}

// ------------------------------------------------------------------ by structure: what errors carry

/**
 * What clients hang on their errors beside the message: what was sent or received. ioredis (and
 * BullMQ through it) `command.args`, a script's arguments (see `commandOf`); node:http `rawPacket`,
 * the request's bytes; undici `body`, `headers`, `data` (HTTPParserError: the bytes as text);
 * axios `config`, `request`, `response`; got `options`, `request`, `response`; others `req`, `res`,
 * `payload`. None is kept; bytes are described by size only, as everywhere.
 */
const ERROR_PAYLOAD_KEYS = new Set([
  'args',
  'body',
  'data',
  'headers',
  'rawheaders',
  'trailers',
  'config',
  'request',
  'response',
  'req',
  'res',
  'options',
  'rawpacket',
  'payload',
]);

/** An ioredis error's command, by name only: its arguments are the data it wrote. */
function commandOf(command: unknown): { name: string } | undefined {
  const name = command !== null && typeof command === 'object' ? (command as { name?: unknown }).name : undefined;
  return typeof name === 'string' ? { name } : undefined;
}

/** One field of an error, `key` in lower case. */
function errorField(key: string, value: unknown, depth: number, ancestors: Set<object>): unknown {
  if (key === 'command') return commandOf(value);
  if (ERROR_PAYLOAD_KEYS.has(key)) return ArrayBuffer.isView(value) ? safeLogValue(value) : undefined;
  if (key === 'stack' && typeof value === 'string') return safeStack(value);
  return safeLogValue(value, depth + 1, ancestors);
}

/** What pino's error serializer makes of an error (nested errors too, `aggregateErrors`, ioredis's `lastNodeError`). */
const SERIALIZED_ERROR = Object.getPrototypeOf(pino.stdSerializers.err(new Error('probe'))) as object;

/**
 * Why not pino's own `redact` paths: they clone every object on a wildcard path with its
 * prototype, and a cloned Buffer throws when it is serialised ("Method get TypedArray.prototype.buffer
 * called on incompatible receiver"). Node's HTTP parse errors carry the raw bytes (`rawPacket`), so
 * one malformed request logged at trace level threw out of the logger and killed the process.
 * Here every value is copied into plain JSON data instead: bytes are described, never written
 * (raw packets hold Authorization headers), errors keep type, message, stack and their own plain
 * fields (never what they sent or received), text is redacted by value, cycles and throwing getters
 * are survived, and the copy is made once, before pino serialises it.
 */
export function safeLogValue(value: unknown, depth = 0, ancestors: Set<object> = new Set()): unknown {
  switch (typeof value) {
    case 'string':
      return safeString(value);
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
    if (value instanceof ArrayBuffer || (typeof SharedArrayBuffer !== 'undefined' && value instanceof SharedArrayBuffer))
      return `[ArrayBuffer of ${value.byteLength} bytes]`;
    if (value instanceof Date) return Number.isNaN(value.getTime()) ? 'Invalid Date' : value.toISOString();
    if (value instanceof URL) return redactText(withoutCredentials(value));
    ancestors.add(value);
    try {
      if (value instanceof Error) return plainObject(serializedError(value), depth, ancestors, true);
      if (Object.getPrototypeOf(value) === SERIALIZED_ERROR) return plainObject(value, depth, ancestors, true);
      if (Array.isArray(value)) {
        const items = value.slice(0, MAX_ITEMS).map((v) => safeLogValue(v, depth + 1, ancestors) ?? null);
        if (value.length > MAX_ITEMS) items.push(`[${value.length - MAX_ITEMS} more items]`);
        return items;
      }
      if (value instanceof Map)
        return plainObject(Object.fromEntries([...value.entries()].slice(0, MAX_ITEMS).map(([k, v]) => [String(k), v])), depth, ancestors);
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

/** pino's error serializer, or the type, message and stack where it fails. */
function serializedError(err: Error): object {
  try {
    const serialized: object = pino.stdSerializers.err(err);
    // an error whose message is not text comes back as it is
    if (serialized !== err) return serialized;
  } catch {
    // it reads every field: one throwing getter throws it
  }
  return { type: readField(err, 'name'), message: readField(err, 'message'), stack: readField(err, 'stack') };
}

function readField(err: Error, field: 'name' | 'message' | 'stack'): unknown {
  try {
    return err[field];
  } catch {
    return '[unserialisable]';
  }
}

/** Sets an own property: a `__proto__` key stays a key, never the copy's prototype. */
export function put(out: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
}

/** Own enumerable keys, each secret one censored; an error's fields pass `errorField`. */
function plainObject(source: object, depth: number, ancestors: Set<object>, isError = false): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  let n = 0;
  for (const key of Object.keys(source)) {
    if (n++ >= MAX_ITEMS) {
      put(out, '[more keys]', Object.keys(source).length - MAX_ITEMS);
      break;
    }
    const lower = key.toLowerCase();
    if (SECRET.has(lower)) {
      put(out, key, CENSOR);
      continue;
    }
    let v: unknown;
    try {
      const raw = (source as Record<string, unknown>)[key];
      v = isError ? errorField(lower, raw, depth, ancestors) : safeLogValue(raw, depth + 1, ancestors);
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
