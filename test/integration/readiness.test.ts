import { afterAll, describe, expect, it } from 'vitest';
import { order, startPipeline, type Pipeline } from '../support/pipeline.js';
import { eventually } from '../support/wait.js';

/**
 * /readyz names each dependency it needs: a web started with a key the bank refuses says so, and
 * names the setting, within one probe interval and before any payout is made; a bank that does not
 * answer is named too, and readiness comes back when it answers again.
 */
type Ready = {
  ok?: true;
  checks?: Record<string, { ok: boolean; detail: string }>;
  error?: { message: string; checks: Record<string, { ok: boolean; detail: string }> };
};
const readyz = async (p: Pipeline) => {
  const res = await fetch(`${p.url}/readyz`);
  return { status: res.status, body: (await res.json()) as Ready };
};

const running: Pipeline[] = [];
afterAll(async () => {
  await Promise.all(running.map((p) => p.close()));
});

describe('/readyz', () => {
  it('a key the bank refuses: 503 naming BANK131_PRIVATE_KEY within one probe interval of start, no payout needed', async () => {
    const p = await startPipeline({ knobs: { refuseCredentials: 'authentication_error' }, web: { bankProbeMs: 500 }, workerSets: 0 });
    running.push(p);
    const started = Date.now();
    const refused = await eventually(
      async () => {
        const r = await readyz(p);
        return r.status === 503 ? r.body : undefined;
      },
      5_000,
      '/readyz to name the refused key',
    );
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(refused.error!.message).toContain('BANK131_PRIVATE_KEY');
    expect(refused.error!.message).toContain('authentication_error');
    expect(refused.error!.checks).toMatchObject({ redis: { ok: true }, bank: { ok: false }, reconciler: { ok: true } });
  });

  it('a bank that does not answer: 503 naming BANK131_BASE_URL within one interval, ready again once it answers', async () => {
    const p = await startPipeline({ web: { bankProbeMs: 300 }, bankTimeoutMs: 200, workerSets: 0 });
    running.push(p);
    await eventually(async () => (await readyz(p)).status === 200, 5_000, '/readyz to be ready first');
    const ok = await readyz(p);
    expect(ok.body).toMatchObject({ ok: true, checks: { redis: { ok: true }, bank: { ok: true }, reconciler: { ok: true } } });

    p.sandbox.bank.setKnobs({ faults: [{ endpoint: 'wallet/balance', kind: 'timeout', times: 1_000 }] });
    const down = await eventually(
      async () => {
        const r = await readyz(p);
        return r.status === 503 ? r.body : undefined;
      },
      3_000,
      '/readyz to name the bank',
    );
    expect(down.error!.message).toMatch(/Bank 131 cannot be reached .*BANK131_BASE_URL/);
    expect(down.error!.checks.bank).toMatchObject({ ok: false });

    p.sandbox.bank.setKnobs({ faults: [] });
    await eventually(async () => (await readyz(p)).status === 200, 5_000, '/readyz to recover');
  });
});

describe('a payout while the bank does not answer', () => {
  it('says so in its own audit trail, not only in the worker log, and is paid once the bank answers', async () => {
    const p = await startPipeline({ bankTimeoutMs: 200 });
    running.push(p);
    p.sandbox.bank.setKnobs({ faults: [{ endpoint: 'session/create', kind: '5xx', times: 2 }] });
    const o = order();
    expect((await p.api('POST', '/v1/payouts', o)).status).toBe(202);
    await p.waitFor([o.id], ['succeeded'], 15_000);
    const story = (await p.api('GET', `/v1/payouts/${o.id}`)).body.audit as Array<{ why: string }>;
    expect(story.filter((e) => e.why.startsWith('waiting: Bank 131 did not answer session/create'))).toHaveLength(1);
  });
});
