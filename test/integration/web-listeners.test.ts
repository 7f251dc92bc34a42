import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { order, startPipeline, type Pipeline } from '../support/pipeline.js';

/**
 * ADMIN_PORT puts what operators use (/metrics, /docs, the queue board) on a listener of its own,
 * so the public port serves only the API, Bank 131's webhooks and the recipients' pages; TRUST_PROXY
 * makes the client's address the one X-Forwarded-For gives, so recipients behind one proxy do not
 * share one rate-limit bucket.
 */
const BOARD = { user: 'ops', password: 'board-password-123' };
let p: Pipeline;
beforeAll(async () => {
  p = await startPipeline({ board: BOARD, web: { admin: { port: 0, host: '127.0.0.1' }, trustProxy: '127.0.0.1' } });
});
afterAll(() => p?.close());

const basic = `Basic ${Buffer.from(`${BOARD.user}:${BOARD.password}`).toString('base64')}`;

describe('ADMIN_PORT', () => {
  it('serves /metrics, /docs and the board there, and not on the public port', async () => {
    expect(p.adminUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(p.adminUrl).not.toBe(p.url);
    for (const path of ['/metrics', '/docs', '/docs/json', '/admin/queues']) {
      const res = await fetch(`${p.url}${path}`, { headers: { authorization: basic } });
      expect(res.status, `${path} on the public port`).toBe(404);
      expect((await res.json()) as unknown).toMatchObject({ error: { code: 'not_found' } });
    }
    expect((await fetch(`${p.adminUrl}/metrics`)).status).toBe(200);
    expect((await fetch(`${p.adminUrl}/admin/queues`)).status).toBe(401);
    expect((await fetch(`${p.adminUrl}/admin/queues`, { headers: { authorization: basic } })).status).toBe(200);
    const doc = (await (await fetch(`${p.adminUrl}/docs/json`)).json()) as { paths: Record<string, unknown> };
    // the document describes the public API, which the admin listener does not serve
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/v1/payouts', '/webhooks/bank131', '/readyz']));
    expect((await fetch(`${p.adminUrl}/docs`)).status).toBe(200);
    expect((await fetch(`${p.adminUrl}/v1/payouts`)).status).toBe(404);
  });

  it('the public port still serves the API and health; both answer readiness', async () => {
    const o = order();
    expect((await p.api('POST', '/v1/payouts', o)).status).toBe(202);
    await p.waitFor([o.id], ['succeeded']);
    for (const base of [p.url, p.adminUrl!]) {
      expect((await fetch(`${base}/healthz`)).status).toBe(200);
      expect((await fetch(`${base}/readyz`)).status).toBe(200);
    }
  });
});

describe('TRUST_PROXY', () => {
  it('rate-limits recipients by the address the proxy forwards, not the proxy’s own', async () => {
    const page = (client: string) => fetch(`${p.url}/collect/${'x'.repeat(32)}`, { headers: { 'x-forwarded-for': client } });
    const answers: number[] = [];
    for (let i = 0; i < 61; i++) answers.push((await page('203.0.113.7')).status);
    expect(answers.slice(0, 60).every((s) => s === 404)).toBe(true);
    expect(answers[60]).toBe(429);
    // another recipient behind the same proxy has a bucket of its own
    expect((await page('203.0.113.8')).status).toBe(404);
  });
});
