import { afterAll, beforeAll, expect, it } from 'vitest';
import { order, startPipeline, type Pipeline } from '../support/pipeline.js';
import { eventually } from '../support/sandbox.js';

/** CALLBACK_ALLOW_PRIVATE off, as in production: callbacks never go to our own network. */
let p: Pipeline;
beforeAll(async () => {
  p = await startPipeline({ allowPrivateCallbacks: false });
});
afterAll(() => p?.close());

it('a callback_url with credentials, or on a private, loopback or metadata address, is refused at acceptance with the field named', async () => {
  for (const [url, problem] of [
    ['http://user:secret@upstream.example/cb', /^must not carry a user name or password/],
    ['http://169.254.169.254/latest/meta-data/', /^must not point at 169\.254\.169\.254/],
    [p.upstream.url, /^must not point at 127\.0\.0\.1/],
  ] as const) {
    const res = await p.api('POST', '/v1/payouts', order({ callback_url: url }));
    expect(res.status).toBe(400);
    expect(res.body.error.issues).toEqual([{ field: 'callback_url', problem: expect.stringMatching(problem) }]);
    expect(JSON.stringify(res.body)).not.toContain('secret');
  }
  const ok = order({ callback_url: 'https://upstream.example/cb' });
  const batch = await p.api('POST', '/v1/payouts/batch', { payouts: [ok, order({ callback_url: 'http://10.0.0.5/cb' })] });
  expect(batch.body.counts).toEqual({ created: 1, existing: 0, conflict: 0, invalid: 1 });
  expect(batch.body.results[1]).toMatchObject({ index: 1, status: 'invalid', issues: [{ field: 'callback_url' }] });
});

it('checked again at delivery: a payout whose callback points inward is paid, but no callback is sent there', async () => {
  // recorded around the API's check, as a payout accepted before the setting changed would be
  const o = order({ callback_url: p.upstream.url });
  await p.runtime.store.createMany([o as never], () => 'queued', Date.now() + 60_000);
  await p.runtime.queues.start.add('start', { payoutId: o.id }, { jobId: `start-${o.id}` });
  await p.waitFor([o.id], ['succeeded']);
  const job = await eventually(
    async () => {
      const j = await p.runtime.queues.notify.getJob(`notify-${o.id}-succeeded`);
      return j && (await j.getState()) === 'failed' ? j : undefined;
    },
    10_000,
    'the callback to be refused',
  );
  expect(job.failedReason).toMatch(/^callback_url must not point at 127\.0\.0\.1/);
  expect(p.upstream.received.filter((r) => r.body.toString().includes(o.id))).toEqual([]);
});
