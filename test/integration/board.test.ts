import { afterAll, beforeAll, expect, it } from 'vitest';
import { BOARD_CSP } from '../../src/board.js';
import { order, startPipeline, type Pipeline } from '../support/pipeline.js';

const board = { user: 'ops', password: 'board-password-123' };
let p: Pipeline;
beforeAll(async () => {
  p = await startPipeline({ board });
});
afterAll(() => p?.close());

const auth = (user: string, password: string) => ({ authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` });

it('Bull Board lists the six queues, behind basic auth', async () => {
  const o = order();
  await p.api('POST', '/v1/payouts', o);
  await p.waitFor([o.id], ['succeeded']);
  expect((await fetch(`${p.url}/admin/queues`)).status).toBe(401);
  expect((await fetch(`${p.url}/admin/queues`, { headers: auth('ops', 'wrong-password') })).status).toBe(401);
  const page = await fetch(`${p.url}/admin/queues`, { headers: auth(board.user, board.password) });
  expect(page.status).toBe(200);
  expect(page.headers.get('content-type')).toContain('text/html');
  // its own files only (test/integration/docs-assets.test.ts checks what the policy allows)
  expect(page.headers.get('content-security-policy')).toBe(BOARD_CSP);
  const api = await fetch(`${p.url}/admin/queues/api/queues`, { headers: auth(board.user, board.password) });
  expect(api.status).toBe(200);
  const { queues } = (await api.json()) as { queues: Array<{ name: string }> };
  expect(queues.map((q) => q.name).sort()).toEqual([
    'bank-webhooks',
    'payout-confirm',
    'payout-finish',
    'payout-notify',
    'payout-reconcile',
    'payout-start',
  ]);
});

it('the queue board stays out of the API document', async () => {
  const doc = (await (await fetch(`${p.url}/docs/json`)).json()) as { paths: Record<string, unknown> };
  expect(Object.keys(doc.paths).filter((path) => path.startsWith('/admin'))).toEqual([]);
  expect(doc.paths['/v1/payouts']).toBeDefined();
});
