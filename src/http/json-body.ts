import type { FastifyRequest } from 'fastify';
import { HttpError, type Issue } from './errors.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * The body field holding an array of independent items (`payouts` of the batch route): a
     * forbidden or repeated key inside one item refuses only that item (see `forbiddenKeysByItem`),
     * not the body.
     */
    jsonItems?: string;
  }
}

/** What a forbidden key is refused for, in every answer that names one. */
export const FORBIDDEN_KEY_PROBLEM = 'is a forbidden key (it could change object prototypes): remove it';
/** What a key given twice in one object is refused for: `JSON.parse` keeps the last silently; other parsers keep the first, or refuse. */
export const DUPLICATE_KEY_PROBLEM = 'is given more than once in its object (which one counts is ambiguous): give it once';

const found = new WeakMap<FastifyRequest, Map<number, Issue[]>>();

/**
 * JSON bodies, parsed for the routes of this service.
 *
 * Fastify's default parser (secure-json-parse with protoAction 'error') refuses a whole body
 * with a `__proto__` key, in its words, and cannot tell which item of a batch held it. This one:
 * `JSON.parse` (which never sets a prototype: a `__proto__` in JSON text becomes an ordinary own
 * property), then one iterative pass (bodies may nest 10,000 deep) that deletes the keys
 * secure-json-parse forbids, `__proto__` anywhere and `constructor` holding a `prototype`, and
 * records where each was. So no handler ever sees them. Other `constructor` or `prototype` keys
 * are ordinary unknown fields, which the strict schemas refuse by name.
 *
 * A key given twice in one object (`{"amount":1,"amount":100000}`) is refused too: `JSON.parse`
 * keeps the last one without a word, so what we act on could differ from what the caller's own
 * checks read (parsers differ). It is found in the text (`duplicateKeys`), once it has parsed.
 *
 * Either refuses the body, 400 `invalid_json` naming where it was; on a route with
 * `config.jsonItems`, one inside an item is kept for that item alone, so the handler answers it
 * `invalid` (with its index) and the other items go ahead.
 */
export function parseJsonBody(req: FastifyRequest, text: string): unknown {
  if (text === '') return undefined; // an empty body with a JSON content type is no body
  const json = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  let body: unknown;
  try {
    body = JSON.parse(json);
  } catch (err) {
    throw new HttpError('invalid_json', `the body is not valid JSON: ${whyNotJson(err as Error)}`);
  }
  const refused: Refused[] = [
    ...removeForbiddenKeys(body).map((path) => ({ path, problem: FORBIDDEN_KEY_PROBLEM })),
    ...duplicateKeys(json).map((path) => ({ path, problem: DUPLICATE_KEY_PROBLEM })),
  ];
  if (refused.length === 0) return body;
  const itemsField = req.routeOptions.config?.jsonItems;
  const item = (path: Path) =>
    itemsField && path.length > 2 && path[0] === itemsField && typeof path[1] === 'number' ? path[1] : undefined;
  if (refused.some((r) => item(r.path) === undefined)) throw bodyRefused(refused);
  const byItem = new Map<number, Issue[]>();
  for (const { path, problem } of refused) {
    const at = item(path)!;
    const issues = byItem.get(at) ?? [];
    issues.push({ field: path.slice(2).join('.'), problem });
    byItem.set(at, issues);
  }
  found.set(req, byItem);
  return body;
}

type Path = Array<string | number>;
type Refused = { path: Path; problem: string };

/** The whole body refused, naming every key refused, inside items too. */
function bodyRefused(refused: Refused[]): HttpError {
  const issues = refused.map(({ path, problem }) => ({ field: path.join('.'), problem }));
  const fields = (problem: string) => issues.filter((i) => i.problem === problem).map((i) => i.field);
  const forbidden = fields(FORBIDDEN_KEY_PROBLEM);
  const twice = fields(DUPLICATE_KEY_PROBLEM);
  const says = [
    ...(forbidden.length
      ? [`the body holds a forbidden key: ${forbidden.join(', ')} (keys that could change object prototypes are refused)`]
      : []),
    ...(twice.length ? [`the body gives a key more than once in one object: ${twice.join(', ')} (which one counts is ambiguous)`] : []),
  ];
  return new HttpError('invalid_json', says.join('; '), { issues });
}

/**
 * V8's reason, without the excerpt of the body it quotes for some errors ("Unexpected token 'a',
 * "{a: card-hash…" is not valid JSON"): an answer or a log line must not repeat what was sent.
 */
function whyNotJson(err: Error): string {
  const reason = err.message.endsWith('is not valid JSON')
    ? err.message.replace(/^(Unexpected token '[^]{1,2}?').*$/su, '$1')
    : err.message;
  if (reason.endsWith('is not valid JSON')) return 'unexpected token';
  return reason.charAt(0).toLowerCase() + reason.slice(1, 200);
}

/** On a route with `config.jsonItems`: the items that held a forbidden or a repeated key, by index, with where. */
export function forbiddenKeysByItem(req: FastifyRequest): ReadonlyMap<number, Issue[]> {
  return found.get(req) ?? new Map();
}

/** Deletes `__proto__`, and `constructor` holding `prototype`, at any depth; returns their paths. */
function removeForbiddenKeys(root: unknown): Path[] {
  const paths: Path[] = [];
  // parent links instead of path copies: a path is built only for a key that is found
  type Frame = { value: unknown; key: string | number; parent: Frame | null };
  const pathOf = (frame: Frame | null, last: string): Path => {
    const path: Path = [last];
    for (let f = frame; f && f.parent; f = f.parent) path.unshift(f.key);
    return path;
  };
  const stack: Frame[] = [{ value: root, key: '', parent: null }];
  while (stack.length > 0) {
    const frame = stack.pop()!;
    const value = frame.value;
    if (value === null || typeof value !== 'object') continue;
    if (Array.isArray(value)) {
      for (let i = value.length - 1; i >= 0; i--) stack.push({ value: value[i], key: i, parent: frame });
      continue;
    }
    const obj = value as Record<string, unknown>;
    if (Object.prototype.hasOwnProperty.call(obj, '__proto__')) {
      paths.push(pathOf(frame, '__proto__'));
      delete obj['__proto__'];
    }
    const ctor = Object.prototype.hasOwnProperty.call(obj, 'constructor') ? obj['constructor'] : undefined;
    if (ctor !== null && typeof ctor === 'object' && Object.prototype.hasOwnProperty.call(ctor, 'prototype')) {
      paths.push(pathOf(frame, 'constructor'));
      delete obj['constructor'];
    }
    const keys = Object.keys(obj);
    for (let i = keys.length - 1; i >= 0; i--) stack.push({ value: obj[keys[i]!], key: keys[i]!, parent: frame });
  }
  return paths;
}

/** An object or array open in `duplicateKeys`: where it sits in its parent, and what it holds so far. */
interface Open {
  at: string | number;
  /** Keys of an object so far (a list while short, a set once long); null for an array. */
  keys: string[] | null;
  set: Set<string> | null;
  /** The last key read: the place of a value that opens next. */
  key: string;
  /** An array's current index. */
  index: number;
  /** Keys already reported for this object: a key given three times is named once. */
  reported: Set<string> | null;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
/** Past this many keys an object's keys are kept in a set; below it a list is faster. */
const LIST_KEYS = 16;

/**
 * The paths of keys given more than once in one object, read from the text of valid JSON (only
 * ever called once `JSON.parse` took it). One pass, no recursion (bodies may nest 10,000 deep):
 * string contents are skipped with `indexOf`, and a key is compared as it decodes (`"a"` and
 * `"\u0061"` are one key).
 */
export function duplicateKeys(json: string): Path[] {
  const paths: Path[] = [];
  const stack: Open[] = [];
  let top: Open | undefined;
  let expectKey = false;
  for (let i = 0; i < json.length; i++) {
    const c = json.charCodeAt(i);
    if (c === QUOTE) {
      const end = stringEnd(json, i);
      if (expectKey && top) {
        const raw = json.slice(i + 1, end);
        const key = raw.includes('\\') ? (JSON.parse(json.slice(i, end + 1)) as string) : raw;
        if (givenBefore(top, key)) reportOnce(paths, stack, top, key);
        top.key = key;
        expectKey = false;
      }
      i = end;
    } else if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
      const at = top ? (top.keys ? top.key : top.index) : '';
      top = { at, keys: c === OPEN_OBJECT ? [] : null, set: null, key: '', index: 0, reported: null };
      stack.push(top);
      expectKey = c === OPEN_OBJECT;
    } else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) {
      stack.pop();
      top = stack[stack.length - 1];
      expectKey = false;
    } else if (c === COMMA && top) {
      if (top.keys) expectKey = true;
      else top.index += 1;
    }
  }
  return paths;
}

/** The closing quote of the string opening at `open`: the first quote not escaped by an odd run of backslashes. */
function stringEnd(json: string, open: number): number {
  let at = json.indexOf('"', open + 1);
  for (;;) {
    let backslashes = 0;
    while (json.charCodeAt(at - 1 - backslashes) === BACKSLASH) backslashes += 1;
    if (backslashes % 2 === 0) return at;
    at = json.indexOf('"', at + 1);
  }
}

/** Records `key` in its object; true if it was there already. */
function givenBefore(object: Open, key: string): boolean {
  if (object.set) {
    if (object.set.has(key)) return true;
    object.set.add(key);
    return false;
  }
  const keys = object.keys!;
  if (keys.includes(key)) return true;
  keys.push(key);
  if (keys.length > LIST_KEYS) object.set = new Set(keys);
  return false;
}

function reportOnce(paths: Path[], stack: Open[], object: Open, key: string): void {
  object.reported ??= new Set();
  if (object.reported.has(key)) return;
  object.reported.add(key);
  const path: Path = [];
  for (let d = 1; d < stack.length; d++) path.push(stack[d]!.at);
  path.push(key);
  paths.push(path);
}
