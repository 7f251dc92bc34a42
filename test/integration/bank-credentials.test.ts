import { afterAll, beforeAll, expect, it } from 'vitest';
import { order, startPipeline, type Pipeline } from '../support/pipeline.js';
import { eventually } from '../support/sandbox.js';

/**
 * A deployment mistake (a wrong partner key or project) must not burn customers' payouts: the bank
 * refuses our credentials, nothing moves, so the payouts are held, the service says it is not
 * ready and why, and everything resumes once the credentials are right again.
 */
let p: Pipeline;
beforeAll(async () => {
  p = await startPipeline({ timing: { reconcileIntervalMs: 150, reconcileAfterMs: 400 } });
});
afterAll(() => p?.close());

it.each(['authentication_error', 'authorization_error', 'identification_error'] as const)(
  '%s holds payouts (never failed), /readyz names it, and a fixed deployment pays them',
  async (code) => {
    p.sandbox.bank.setKnobs({ refuseCredentials: code });
    const orders = [order({ callback_url: p.upstream.url }), order({ callback_url: p.upstream.url })];
    for (const o of orders) expect((await p.api('POST', '/v1/payouts', o)).status).toBe(202);
    const ready = await eventually(
      async () => {
        const res = await fetch(`${p.url}/readyz`);
        return res.status === 503 ? ((await res.json()) as { error: { code: string; message: string } }) : undefined;
      },
      10_000,
      '/readyz to say the bank refuses us',
    );
    expect(ready.error.code).toBe('unavailable');
    expect(ready.error.message).toContain(code);
    expect(ready.error.message).toContain('BANK131_PRIVATE_KEY');
    const held = (await p.runtime.store.audit(orders[0]!.id)).map((e) => e.why);
    expect(held.some((w) => w.startsWith(`held: Bank 131 refuses our credentials (${code})`))).toBe(true);
    for (const o of orders) expect((await p.runtime.store.get(o.id))!.state).toBe('queued');
    expect(p.upstream.received.filter((r) => orders.some((o) => r.body.toString().includes(o.id)))).toEqual([]);

    p.sandbox.bank.setKnobs({ refuseCredentials: null });
    await p.waitFor(
      orders.map((o) => o.id),
      ['succeeded'],
      20_000,
    );
    await eventually(async () => (await fetch(`${p.url}/readyz`)).status === 200, 5_000, '/readyz to recover');
  },
);
