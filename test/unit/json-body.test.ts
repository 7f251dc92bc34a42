import fc from 'fast-check';
import type { FastifyRequest } from 'fastify';
import { describe, expect, it } from 'vitest';
import { HttpError } from '../../src/http/errors.js';
import {
  DUPLICATE_KEY_PROBLEM,
  FORBIDDEN_KEY_PROBLEM,
  duplicateKeys,
  forbiddenKeysByItem,
  parseJsonBody,
} from '../../src/http/json-body.js';

/** What parseJsonBody reads of a request: the route's `config.jsonItems`. */
const request = (jsonItems?: string) => ({ routeOptions: { config: jsonItems ? { jsonItems } : {} } }) as unknown as FastifyRequest;

function refusal(text: string, jsonItems?: string): HttpError {
  try {
    parseJsonBody(request(jsonItems), text);
  } catch (err) {
    return err as HttpError;
  }
  throw new Error(`accepted: ${text}`);
}

describe('duplicateKeys: keys given twice in one object, read from the text', () => {
  it('names the path of each, at any depth, through objects and arrays', () => {
    expect(duplicateKeys('{"amount":1,"amount":100000}')).toEqual([['amount']]);
    expect(duplicateKeys('{"amount_details":{"amount":1,"currency":"rub","amount":100000}}')).toEqual([['amount_details', 'amount']]);
    const contacts = '{"customer":{"contacts":[{"email":"a@b.cc"},{"email":"c@d.ee","phone":"1","email":"x@y.zz"}]}}';
    expect(duplicateKeys(contacts)).toEqual([['customer', 'contacts', 1, 'email']]);
    expect(duplicateKeys('[{"a":1},[{"b":1,"b":2}]]')).toEqual([[1, 0, 'b']]);
    expect(duplicateKeys(' { "a" : 1 ,\n\t"b" : { } , "a" : [ ] } ')).toEqual([['a']]);
    expect(duplicateKeys('{"a":{"x":1},"a":{"x":1,"x":2}}')).toEqual([['a'], ['a', 'x']]);
  });

  it('finds none in keys that differ, in the same key in different objects, or in text that only looks like keys', () => {
    expect(duplicateKeys('{"a":1,"A":2,"a ":3,"b":{"a":1},"c":[{"a":1},{"a":2}]}')).toEqual([]);
    expect(duplicateKeys('{"x":"{\\"a\\":1,\\"a\\":2}","y":"a\\\\","z":["a","a"]}')).toEqual([]);
    expect(duplicateKeys('{"a":"}","b":"{","c":"]","d":",\\"a\\":"}')).toEqual([]);
    for (const scalar of ['1', '"a"', 'null', 'true', '[]', '{}', '[1,"a",null]']) expect(duplicateKeys(scalar)).toEqual([]);
  });

  it('compares keys as decoded: escapes (\\uXXXX, \\", \\\\, surrogate pairs) name the same key as the plain text', () => {
    expect(duplicateKeys('{"a":1,"\\u0061":2}')).toEqual([['a']]);
    expect(duplicateKeys('{"\\u0061mount":1,"amount":2}')).toEqual([['amount']]);
    expect(duplicateKeys('{"q\\"":1,"q\\u0022":2}')).toEqual([['q"']]);
    expect(duplicateKeys('{"b\\\\":1,"b\\u005c":2,"b\\\\\\\\":3}')).toEqual([['b\\']]);
    expect(duplicateKeys('{"😀":1,"\\ud83d\\ude00":2}')).toEqual([['😀']]);
    expect(duplicateKeys('{"a\\/b":1,"a/b":2}')).toEqual([['a/b']]);
  });

  it('names a key given three times once; finds one among many keys (past the short-list size)', () => {
    expect(duplicateKeys('{"a":1,"a":2,"a":3}')).toEqual([['a']]);
    const many = Array.from({ length: 40 }, (_, i) => `"k${i}":${i}`);
    expect(duplicateKeys(`{${many.join(',')},"k3":0,"k39":0}`)).toEqual([['k3'], ['k39']]);
  });

  it('bodies nested 10,000 deep (no recursion), with the path to the bottom', () => {
    const depth = 10_000;
    const text = `${'{"d":'.repeat(depth)}{"x":1,"x":2}${'}'.repeat(depth)}`;
    const paths = duplicateKeys(text);
    expect(paths).toHaveLength(1);
    expect(paths[0]).toHaveLength(depth + 1);
    expect(paths[0]!.at(-1)).toBe('x');
    expect(duplicateKeys(`${'['.repeat(depth)}${']'.repeat(depth)}`)).toEqual([]);
  });

  // Objects written from lists of entries, so that keys may repeat: the scan must find exactly the repeats.
  const key = fc.oneof(fc.constantFrom('a', 'b', 'amount', '__proto__', '"', '\\', '\u0000', '😀'), fc.string({ maxLength: 3 }));
  const tree = fc.letrec<{ node: unknown }>((tie) => ({
    node: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      fc.oneof(fc.integer(), fc.string(), fc.constant(null), fc.boolean()),
      fc.array(tie('node'), { maxLength: 4 }),
      fc.array(fc.tuple(key, tie('node')), { maxLength: 5 }).map((entries) => ({ entries })),
    ),
  })).node;
  type Node = unknown;
  /** Every UTF-16 unit of the key as \uXXXX, surrogates one by one. */
  const escaped = (k: string) =>
    `"${Array.from({ length: k.length }, (_, i) => `\\u${k.charCodeAt(i).toString(16).padStart(4, '0')}`).join('')}"`;
  const write = (n: Node, escapeKeys: boolean): string => {
    if (Array.isArray(n)) return `[${n.map((v) => write(v, escapeKeys)).join(',')}]`;
    if (n !== null && typeof n === 'object') {
      const entries = (n as { entries: Array<[string, Node]> }).entries;
      return `{${entries.map(([k, v]) => `${escapeKeys ? escaped(k) : JSON.stringify(k)}:${write(v, escapeKeys)}`).join(',')}}`;
    }
    return JSON.stringify(n);
  };
  const repeats = (n: Node, path: Array<string | number> = []): Array<Array<string | number>> => {
    if (Array.isArray(n)) return n.flatMap((v, i) => repeats(v, [...path, i]));
    if (n === null || typeof n !== 'object') return [];
    const entries = (n as { entries: Array<[string, Node]> }).entries;
    const seen = new Set<string>();
    const out: Array<Array<string | number>> = [];
    const reported = new Set<string>();
    for (const [k, v] of entries) {
      if (seen.has(k) && !reported.has(k)) {
        reported.add(k);
        out.push([...path, k]);
      }
      seen.add(k);
      out.push(...repeats(v, [...path, k]));
    }
    return out;
  };
  const byPath = (paths: Array<Array<string | number>>) => paths.map((p) => JSON.stringify(p)).sort();

  it('property: exactly the repeated keys are found, whatever the keys, values and escapes', () => {
    fc.assert(
      fc.property(tree, fc.boolean(), (n, escapeKeys) => {
        const text = write(n, escapeKeys);
        JSON.parse(text); // valid JSON, as the scan may assume
        expect(byPath(duplicateKeys(text))).toEqual(byPath(repeats(n)));
      }),
      { seed: 131, numRuns: 500 },
    );
  });

  it('property: JSON.stringify never gives a key twice, so nothing is found in what it writes', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        expect(duplicateKeys(JSON.stringify(v))).toEqual([]);
      }),
      { seed: 131, numRuns: 300 },
    );
  });
});

describe('parseJsonBody refuses a key given twice', () => {
  it('400 invalid_json, the message and the issues naming each path', () => {
    const err = refusal('{"id":"order-1","amount_details":{"amount":1,"amount":100000},"metadata":"m","metadata":"n"}');
    expect(err).toBeInstanceOf(HttpError);
    expect(err.code).toBe('invalid_json');
    expect(err.status).toBe(400);
    expect(err.message).toBe(
      'the body gives a key more than once in one object: amount_details.amount, metadata (which one counts is ambiguous)',
    );
    expect(err.details).toEqual({
      issues: [
        { field: 'amount_details.amount', problem: DUPLICATE_KEY_PROBLEM },
        { field: 'metadata', problem: DUPLICATE_KEY_PROBLEM },
      ],
    });
  });

  it('after a byte order mark too; a body without repeats parses as before', () => {
    expect(refusal('\ufeff{"a":1,"a":2}').details).toEqual({ issues: [{ field: 'a', problem: DUPLICATE_KEY_PROBLEM }] });
    const req = request('payouts');
    expect(parseJsonBody(req, '\ufeff{"payouts":[{"a":1},{"a":2}]}')).toEqual({ payouts: [{ a: 1 }, { a: 2 }] });
    expect(forbiddenKeysByItem(req).size).toBe(0);
  });

  it('with a forbidden key as well: one refusal naming both', () => {
    const err = refusal('{"__proto__":{},"a":1,"a":2}');
    expect(err.message).toBe(
      'the body holds a forbidden key: __proto__ (keys that could change object prototypes are refused); ' +
        'the body gives a key more than once in one object: a (which one counts is ambiguous)',
    );
    expect(err.details).toEqual({
      issues: [
        { field: '__proto__', problem: FORBIDDEN_KEY_PROBLEM },
        { field: 'a', problem: DUPLICATE_KEY_PROBLEM },
      ],
    });
  });

  it('on a route with items: a repeat inside one item is kept for that item (with the forbidden keys), the body goes ahead', () => {
    const req = request('payouts');
    const body = parseJsonBody(
      req,
      '{"payouts":[{"id":"a"},{"id":"b","amount_details":{"amount":1,"amount":2}},{"id":"c","__proto__":{},"id":"d"}]}',
    );
    expect(body).toEqual({ payouts: [{ id: 'a' }, { id: 'b', amount_details: { amount: 2 } }, { id: 'd' }] });
    expect(Object.fromEntries(forbiddenKeysByItem(req))).toEqual({
      1: [{ field: 'amount_details.amount', problem: DUPLICATE_KEY_PROBLEM }],
      2: [
        { field: '__proto__', problem: FORBIDDEN_KEY_PROBLEM },
        { field: 'id', problem: DUPLICATE_KEY_PROBLEM },
      ],
    });
  });

  it('on a route with items: a repeat outside the items (the items field itself, a key beside it) refuses the whole body, naming all', () => {
    expect(refusal('{"payouts":[{"a":1,"a":2}],"payouts":[]}', 'payouts').details).toEqual({
      issues: [
        { field: 'payouts.0.a', problem: DUPLICATE_KEY_PROBLEM },
        { field: 'payouts', problem: DUPLICATE_KEY_PROBLEM },
      ],
    });
    expect(refusal('{"payouts":[{}],"x":1,"x":2}', 'payouts').details).toEqual({
      issues: [{ field: 'x', problem: DUPLICATE_KEY_PROBLEM }],
    });
    // without `config.jsonItems` a repeat inside an item is the body's
    expect(refusal('{"payouts":[{"a":1,"a":2}]}').details).toEqual({ issues: [{ field: 'payouts.0.a', problem: DUPLICATE_KEY_PROBLEM }] });
  });
});
