import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { order, startPipeline, type Pipeline } from '../support/pipeline.js';

/** promtool ships with Debian's prometheus package; .ci/run installs it. */
const promtool = spawnSync('promtool', ['--version']).status === 0;
const NO_PROMTOOL = "skipped: promtool is not installed (Debian's prometheus package has it; .ci/run installs it)";

let p: Pipeline;
let text: string;
beforeAll(async () => {
  p = await startPipeline();
  const ok = order();
  const declined = order({}, 'sandbox_decline_declined_by_issuer_bank');
  for (const o of [ok, declined]) expect((await p.api('POST', '/v1/payouts', o)).status).toBe(202);
  await p.waitFor([ok.id, declined.id], ['succeeded', 'failed']);
  const res = await fetch(`${p.url}/metrics`);
  expect(res.headers.get('content-type')).toContain('text/plain');
  text = await res.text();
});
afterAll(() => p?.close());

/** The value of one sample, e.g. `payouts_finished_total{outcome="succeeded"}`. */
const sample = (name: string, labels: Record<string, string> = {}): number | undefined => {
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  const line = text
    .split('\n')
    .find((l) => (l.startsWith(`${name}{`) || l.startsWith(`${name} `) ? want.every((w) => l.includes(w)) : false));
  return line === undefined ? undefined : Number(line.split(' ').pop());
};

it('counts outcomes, state changes and the time to a final state', () => {
  expect(sample('payouts_finished_total', { outcome: 'succeeded' })).toBe(1);
  expect(sample('payouts_finished_total', { outcome: 'failed' })).toBe(1);
  expect(sample('payouts_state_changes_total', { step: 'decideConfirm', to: 'confirming' })).toBe(2);
  expect(sample('payout_duration_seconds_count', { outcome: 'succeeded' })).toBe(1);
});

it('times Bank 131 calls by method and result, and counts webhooks and callbacks', () => {
  expect(sample('bank131_request_duration_seconds_count', { method: 'session/create', result: 'ok' })).toBe(2);
  expect(sample('bank131_request_duration_seconds_count', { method: 'session/confirm', result: 'ok' })).toBe(2);
  expect(sample('bank131_webhooks_received_total', { type: 'ready_to_confirm' })).toBeGreaterThanOrEqual(2);
  expect(sample('bank131_webhooks_received_total', { type: 'payment_finished' })).toBeGreaterThanOrEqual(2);
});

it('shows what waits in each state, the oldest, and the queues, read from Redis at scrape time', () => {
  expect(sample('payouts_waiting', { state: 'queued' })).toBe(0);
  expect(sample('payouts_oldest_waiting_seconds', { state: 'confirmed' })).toBe(0);
  // completed jobs are removed at once (the record is the history; replayed webhooks are dropped by a deduplication key)
  expect(sample('queue_jobs', { queue: 'payout-start', state: 'completed' })).toBe(0);
  expect(sample('queue_jobs', { queue: 'bank-webhooks', state: 'completed' })).toBe(0);
  // the reconciler's scheduled sweep is always there, delayed until its next round
  expect(sample('queue_jobs', { queue: 'payout-reconcile', state: 'delayed' })).toBeGreaterThanOrEqual(1);
  expect(sample('process_cpu_user_seconds_total')).toBeGreaterThan(0);
});

it('passes promtool check metrics', (ctx) => {
  if (!promtool) return ctx.skip(NO_PROMTOOL);
  const out = execFileSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  expect(out).toBe('');
});

it('the alert rules docs/operations.md shows pass promtool and use metrics this service exports', (ctx) => {
  if (!promtool) return ctx.skip(NO_PROMTOOL);
  const readme = readFileSync(new URL('../../docs/operations.md', import.meta.url), 'utf8');
  const rules = /```yaml\n(groups:[\s\S]*?)```/.exec(readme)?.[1];
  expect(rules).toBeDefined();
  const dir = mkdtempSync(join(tmpdir(), 'b131-rules-'));
  try {
    writeFileSync(join(dir, 'rules.yml'), rules!);
    expect(execFileSync('promtool', ['check', 'rules', join(dir, 'rules.yml')], { encoding: 'utf8' })).toContain('SUCCESS: 6 rules found');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  for (const name of rules!.match(/\b[a-z0-9_]+(?=\{|\[)/g) ?? []) {
    if (['rate', 'sum', 'max'].includes(name)) continue;
    expect(text, `${name} is exported`).toMatch(new RegExp(`^# TYPE ${name.replace(/_(count|sum|bucket)$/, '')} `, 'm'));
  }
});
