import { Writable } from 'node:stream';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { TEST_CARDS } from 'bank131-sandbox';
import { createLogger } from '../../src/log.js';
import { order, startPipeline, type Pipeline } from '../support/pipeline.js';
import { eventually } from '../support/wait.js';

/**
 * An operator follows one payout through the logs by its id alone: acceptance, each state change
 * (with its tenant), the request that accepted it, and its callback; a card the bank declines is
 * an `info` outcome like any other, never an error line or a failed job.
 */
type Line = { level: number; msg: string; payoutId?: string; tenant?: string; to?: string; step?: string; path?: string; status?: number };
const lines: Line[] = [];
const sink = new Writable({
  write: (chunk: Buffer, _enc, done) => {
    for (const text of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(text) as Line);
    done();
  },
});
let p: Pipeline;
beforeAll(async () => {
  p = await startPipeline({ logger: createLogger({ level: 'info' }, sink) });
});
afterAll(() => p?.close());

const about = (id: string) => lines.filter((l) => l.payoutId === id);

it('one payout from acceptance to its callback, by id alone', async () => {
  const o = order({ callback_url: p.upstream.url });
  expect((await p.api('POST', '/v1/payouts', o)).status).toBe(202);
  await eventually(() => about(o.id).some((l) => l.msg === 'callback delivered'), 15_000, 'the callback line');
  const story = about(o.id);
  // the request that accepted it, then every state change, in order, each with its tenant
  expect(story.find((l) => l.msg === 'request')).toMatchObject({ path: '/v1/payouts', status: 202, tenant: 'default' });
  const moves = story.filter((l) => l.msg === 'payout moved');
  expect(moves.map((l) => l.to)).toEqual([
    'queued',
    'session_created',
    'started',
    'awaiting_confirmation',
    'confirming',
    'confirmed',
    'succeeded',
  ]);
  expect(moves[0]).toMatchObject({ step: 'accept', tenant: 'default' });
  for (const m of moves) expect(m.tenant).toBe('default');
  expect(story.at(-1)).toMatchObject({ msg: 'callback delivered', status: 200 });
  // and nothing about it above info
  expect(story.filter((l) => l.level > 30)).toEqual([]);
});

it.each([
  ['refused at start/payout', TEST_CARDS.rejectNoSuchCard],
  ['declined by the card’s bank', TEST_CARDS.declinedByIssuer],
])('a card %s is logged at info as the payout’s outcome, and leaves no failed job', async (_how, card) => {
  const o = order({ callback_url: p.upstream.url }, card);
  await p.api('POST', '/v1/payouts', o);
  await p.waitFor([o.id], ['failed']);
  await eventually(() => about(o.id).some((l) => l.msg === 'callback delivered'), 15_000, 'the callback line');
  expect(about(o.id).filter((l) => l.level > 30)).toEqual([]);
  expect(lines.filter((l) => l.msg === 'job failed for good')).toEqual([]);
  expect(await p.runtime.queues.start.getFailedCount()).toBe(0);
  expect(about(o.id).find((l) => l.to === 'failed')).toMatchObject({ level: 30, tenant: 'default' });
});

it('a card page’s access line names its payout, never the link’s token', async () => {
  const o = order({ encrypted_card: undefined });
  const made = await p.api('POST', '/v1/payouts', o);
  const link = made.body.collect_url as string;
  const token = link.split('/').at(-1)!;
  expect((await fetch(link)).status).toBe(200);
  await eventually(() => lines.some((l) => l.msg === 'request' && l.path === '/collect/:token' && l.payoutId === o.id), 5_000, 'the line');
  expect(lines.some((l) => JSON.stringify(l).includes(token))).toBe(false);
});
