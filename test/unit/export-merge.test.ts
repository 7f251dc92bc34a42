import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { IndexMerge, type MergeRange } from '../../src/store/payout-list.js';
import type { RedisClient } from '../../src/store/redis-client.js';

/**
 * The k-way merge of sorted sets that `GET /v1/payouts` (several states, newest first) and
 * `bank131-payouts export` (several tenants, oldest first) read, against sorted sets kept in memory
 * the way Redis orders them (by score, ties by member bytes; reversed for ZREVRANGEBYSCORE): every
 * member in range exactly once, in order, whatever the chunk size, the ties and the cursor.
 */

type Sets = Map<string, Map<string, number>>;

function bound(text: string): { value: number; exclusive: boolean } {
  if (text === '+inf') return { value: Infinity, exclusive: false };
  if (text === '-inf') return { value: -Infinity, exclusive: false };
  return text.startsWith('(') ? { value: Number(text.slice(1)), exclusive: true } : { value: Number(text), exclusive: false };
}

const byScoreThenMember = (a: [string, number], b: [string, number]) => a[1] - b[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0);

/** ZRANGEBYSCORE / ZREVRANGEBYSCORE key start end WITHSCORES LIMIT offset count, as Redis answers it. */
function range(sets: Sets, desc: boolean, args: Array<string | number>): string[] {
  const [key, start, end, , , offset, count] = args as [string, string, string, string, string, number, number];
  const lo = bound(desc ? end : start);
  const hi = bound(desc ? start : end);
  const members = [...(sets.get(key) ?? new Map<string, number>()).entries()]
    .filter(([, s]) => (lo.exclusive ? s > lo.value : s >= lo.value) && (hi.exclusive ? s < hi.value : s <= hi.value))
    .sort(byScoreThenMember);
  if (desc) members.reverse();
  return members.slice(offset, offset + count).flatMap(([m, s]) => [m, String(s)]);
}

/** Enough of a Redis client for IndexMerge: pipelines of range reads; counts its round trips. */
function fakeRedis(sets: Sets): RedisClient & { trips: number } {
  const fake = {
    trips: 0,
    pipeline() {
      const ops: Array<() => string[]> = [];
      const p = {
        zrangebyscore: (...args: Array<string | number>) => (ops.push(() => range(sets, false, args)), p),
        zrevrangebyscore: (...args: Array<string | number>) => (ops.push(() => range(sets, true, args)), p),
        exec: async () => {
          fake.trips += 1;
          return ops.map((op) => [null, op()]);
        },
      };
      return p;
    },
  };
  return fake as unknown as RedisClient & { trips: number };
}

/** What the merge must answer: every member of every set in range, in order, each (score, member) once. */
function expected(sets: Sets, keys: string[], r: MergeRange): Array<[string, number]> {
  const all = new Map<string, [string, number]>();
  for (const key of keys) for (const [m, s] of sets.get(key) ?? []) all.set(`${s}|${m}`, [m, s]);
  const desc = r.order === 'desc';
  const inRange = ([m, s]: [string, number]) => {
    if (
      r.start !== null &&
      (desc ? s > r.start || (r.startExclusive && s === r.start) : s < r.start || (r.startExclusive && s === r.start))
    )
      return false;
    if (r.end !== null && (desc ? s < r.end || (r.endExclusive && s === r.end) : s > r.end || (r.endExclusive && s === r.end)))
      return false;
    if (r.after) {
      const cmp = byScoreThenMember([m, s], [r.after.id, r.after.score]);
      if (desc ? cmp >= 0 : cmp <= 0) return false;
    }
    return true;
  };
  const out = [...all.values()].filter(inRange).sort(byScoreThenMember);
  return desc ? out.reverse() : out;
}

async function drain(merge: IndexMerge, step: number): Promise<Array<[string, number]>> {
  const out: Array<[string, number]> = [];
  for (;;) {
    const got = await merge.take(step);
    out.push(...got.map((e) => [e.id, e.score] as [string, number]));
    if (got.length < step) return out;
  }
}

describe('IndexMerge', () => {
  it('merges sets newest first, ties by member in reverse, across chunks smaller than a run of ties', async () => {
    const sets: Sets = new Map([
      [
        'a',
        new Map([
          ['p1', 5],
          ['p3', 5],
          ['p5', 5],
          ['p7', 3],
          ['p9', 1],
        ]),
      ],
      [
        'b',
        new Map([
          ['p2', 5],
          ['p4', 4],
          ['p6', 3],
          ['p8', 2],
        ]),
      ],
    ]);
    const merge = new IndexMerge(fakeRedis(sets), ['a', 'b'], { order: 'desc', start: null, end: null }, 2);
    expect((await drain(merge, 3)).map(([m]) => m)).toEqual(['p5', 'p3', 'p2', 'p1', 'p4', 'p7', 'p6', 'p8', 'p9']);
  });

  it('starts after a cursor that shares its score with others, and ends at an exclusive bound', async () => {
    const sets: Sets = new Map([
      [
        'a',
        new Map([
          ['x1', 10],
          ['x2', 10],
          ['x3', 10],
          ['x4', 11],
          ['x5', 20],
        ]),
      ],
      [
        'b',
        new Map([
          ['y1', 10],
          ['y2', 15],
          ['y3', 20],
        ]),
      ],
    ]);
    const asc = new IndexMerge(fakeRedis(sets), ['a', 'b'], { order: 'asc', start: 10, end: 20, endExclusive: true }, 1);
    expect((await drain(asc, 100)).map(([m]) => m)).toEqual(['x1', 'x2', 'x3', 'y1', 'x4', 'y2']);
    const desc = new IndexMerge(fakeRedis(sets), ['a', 'b'], { order: 'desc', start: 10, end: null, after: { score: 10, id: 'x3' } }, 1);
    expect((await drain(desc, 100)).map(([m]) => m)).toEqual(['x2', 'x1']);
  });

  it('reads a page of several indexes in one round trip when the chunk covers it', async () => {
    const sets: Sets = new Map(
      ['s1', 's2', 's3'].map((k, i) => [k, new Map(Array.from({ length: 30 }, (_, j) => [`${k}-${j}`, j * 3 + i]))]),
    );
    const redis = fakeRedis(sets);
    const page = await new IndexMerge(redis, ['s1', 's2', 's3'], { order: 'desc', start: null, end: null }, 11).take(11);
    expect(page.map((e) => e.score)).toEqual([89, 88, 87, 86, 85, 84, 83, 82, 81, 80, 79]);
    expect(redis.trips).toBe(1);
  });

  it('returns a member found in two indexes at the same score once (a payout that moved state while read)', async () => {
    const sets: Sets = new Map([
      [
        'queued',
        new Map([
          ['m', 7],
          ['n', 6],
        ]),
      ],
      [
        'failed',
        new Map([
          ['m', 7],
          ['o', 5],
        ]),
      ],
    ]);
    const merge = new IndexMerge(fakeRedis(sets), ['queued', 'failed'], { order: 'desc', start: null, end: null }, 1);
    expect((await drain(merge, 10)).map(([m]) => m)).toEqual(['m', 'n', 'o']);
  });

  it('any sets, range, cursor, chunk and step: every member in range once, in order', async () => {
    const member = fc.constantFrom(...'abcdefghijklmnop'.split('')).map((c) => `id-${c}`);
    const set = fc.dictionary(member, fc.integer({ min: 0, max: 12 }), { maxKeys: 16 });
    await fc.assert(
      fc.asyncProperty(
        fc.array(set, { minLength: 1, maxLength: 4 }),
        fc.record({
          order: fc.constantFrom('asc' as const, 'desc' as const),
          start: fc.option(fc.integer({ min: 0, max: 12 })),
          startExclusive: fc.boolean(),
          end: fc.option(fc.integer({ min: 0, max: 12 })),
          endExclusive: fc.boolean(),
        }),
        fc.option(fc.tuple(member, fc.integer({ min: 0, max: 12 }))),
        fc.integer({ min: 1, max: 7 }),
        fc.integer({ min: 1, max: 9 }),
        async (dicts, r, cursor, chunk, step) => {
          // a member is in several sets only at one score, as a payout is in its indexes
          const scoreOf = new Map<string, number>();
          const sets: Sets = new Map(
            dicts.map((d, i) => [
              `k${i}`,
              new Map(
                Object.entries(d).map(([m, s]) => {
                  if (!scoreOf.has(m)) scoreOf.set(m, s);
                  return [m, scoreOf.get(m)!];
                }),
              ),
            ]),
          );
          const keys = [...sets.keys()];
          // a cursor is a position: the merge starts at its score, inclusive
          const mr: MergeRange = cursor
            ? { order: r.order, start: cursor[1], end: r.end, endExclusive: r.endExclusive, after: { id: cursor[0], score: cursor[1] } }
            : r;
          const got = await drain(new IndexMerge(fakeRedis(sets), keys, mr, chunk), step);
          expect(got).toEqual(expected(sets, keys, mr));
        },
      ),
      { numRuns: 400 },
    );
  });
});
