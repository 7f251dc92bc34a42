import type { FastifyRequest } from 'fastify';
import { HttpError, type Issue } from './errors.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * The body field holding an array of independent items (`payouts` of the batch route): a
     * forbidden key inside one item refuses only that item (see `forbiddenKeysByItem`), not the body.
     */
    jsonItems?: string;
  }
}

/** What a forbidden key is refused for, in every answer that names one. */
export const FORBIDDEN_KEY_PROBLEM = 'is a forbidden key (it could change object prototypes): remove it';

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
 * A forbidden key refuses the body, 400 `invalid_json` naming where it was; on a route with
 * `config.jsonItems`, keys inside one item are kept for that item alone, so the handler answers
 * it `invalid` (with its index) and the other items go ahead.
 */
export function parseJsonBody(req: FastifyRequest, text: string): unknown {
  if (text === '') return undefined; // an empty body with a JSON content type is no body
  let body: unknown;
  try {
    body = JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  } catch (err) {
    throw new HttpError('invalid_json', `the body is not valid JSON: ${whyNotJson(err as Error)}`);
  }
  const forbidden = removeForbiddenKeys(body);
  if (forbidden.length === 0) return body;
  const itemsField = req.routeOptions.config?.jsonItems;
  const byItem = new Map<number, Issue[]>();
  for (const path of forbidden) {
    if (itemsField && path.length > 2 && path[0] === itemsField && typeof path[1] === 'number') {
      const issues = byItem.get(path[1]) ?? [];
      issues.push({ field: path.slice(2).join('.'), problem: FORBIDDEN_KEY_PROBLEM });
      byItem.set(path[1], issues);
      continue;
    }
    const issues = forbidden.map((p) => ({ field: p.join('.'), problem: FORBIDDEN_KEY_PROBLEM }));
    throw new HttpError('invalid_json', `the body holds a forbidden key: ${issues.map((i) => i.field).join(', ')} (keys that could change object prototypes are refused)`, { issues });
  }
  found.set(req, byItem);
  return body;
}

/**
 * V8's reason, without the excerpt of the body it quotes for some errors ("Unexpected token 'a',
 * "{a: card-hash…" is not valid JSON"): an answer or a log line must not repeat what was sent.
 */
function whyNotJson(err: Error): string {
  const reason = err.message.endsWith('is not valid JSON') ? err.message.replace(/^(Unexpected token '[^]{1,2}?').*$/su, '$1') : err.message;
  if (reason.endsWith('is not valid JSON')) return 'unexpected token';
  return reason.charAt(0).toLowerCase() + reason.slice(1, 200);
}

/** On a route with `config.jsonItems`: the items that held a forbidden key, by index, with where. */
export function forbiddenKeysByItem(req: FastifyRequest): ReadonlyMap<number, Issue[]> {
  return found.get(req) ?? new Map();
}

type Path = Array<string | number>;

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
