import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { TEST_CARDS } from 'bank131-sandbox';
import { API_KEY, order, startPipeline, type Pipeline } from '../support/pipeline.js';
import { eventually } from '../support/sandbox.js';

/**
 * `bank131-payouts events list` and `events resend`, run as a real child process against the real
 * service, through the HTTP API with a tenant's key (src/cli/event-commands.ts).
 */
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

let p: Pipeline;
let acmeKey: string;
beforeAll(async () => {
  p = await startPipeline();
  acmeKey = (await p.runtime.tenants.store.createKey('acme', 'cli')).secret;
});
afterAll(() => p?.close());

function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
      cwd: ROOT,
      env: { ...process.env, PAYOUTS_URL: p.url, PAYOUTS_API_KEY: API_KEY, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 25_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

it('events list: newest first, by type and by payout, as a table or JSON; events resend: again with the same webhook-id', async () => {
  const ok = order({ callback_url: p.upstream.url });
  const declined = order({}, TEST_CARDS.declinedByIssuer);
  for (const o of [ok, declined]) expect((await p.api('POST', '/v1/payouts', o)).status).toBe(202);
  await p.waitFor([ok.id, declined.id], ['succeeded', 'failed']);
  await eventually(async () => (await p.runtime.store.get(ok.id))?.notified === 'succeeded', 10_000, 'the callback');

  const listed = await cli(['events', 'list', '--json']);
  expect(listed.code).toBe(0);
  expect((JSON.parse(listed.stdout) as Array<{ id: string }>).map((e) => e.id)).toEqual([
    `evt_${declined.id}_failed`,
    `evt_${ok.id}_succeeded`,
  ]);

  const table = await cli(['events', 'list', '--type', 'payout.failed']);
  expect(table.code).toBe(0);
  const lines = table.stdout.trim().split('\n');
  expect(lines[0]).toMatch(/^created\s+id\s+type\s+payout\s+delivery\s+delivered$/);
  expect(lines.slice(1)).toEqual([
    expect.stringMatching(new RegExp(`evt_${declined.id}_failed\\s+payout\\.failed\\s+${declined.id}\\s+no_destination`)),
  ]);

  const one = await cli(['events', 'list', '--payout', ok.id, '--json']);
  expect(JSON.parse(one.stdout)).toMatchObject([{ id: `evt_${ok.id}_succeeded`, delivery: { status: 'delivered' } }]);
  expect((await cli(['events', 'list', '--limit', '1'])).stderr).toContain('showing the newest 1 events; there are more (raise --limit)');
  // acme's key sees acme's events: none
  const theirs = await cli(['events', 'list'], { PAYOUTS_API_KEY: acmeKey });
  expect([theirs.code, theirs.stdout, theirs.stderr.trim()]).toEqual([0, '', 'no events']);

  const before = p.upstream.received.length;
  const resent = await cli(['events', 'resend', `evt_${ok.id}_succeeded`]);
  expect([resent.code, resent.stdout.trim()]).toEqual([0, `event evt_${ok.id}_succeeded sent again to callback_url`]);
  await eventually(() => p.upstream.received.length > before, 5_000, 'the resend');
  expect(p.upstream.received.at(-1)!.headers['webhook-id']).toBe(`evt_${ok.id}_succeeded`);

  const nowhere = await cli(['events', 'resend', `evt_${declined.id}_failed`]);
  expect(nowhere.code).toBe(1);
  expect(nowhere.stderr).toMatch(/has nowhere to go/);
  const unknown = await cli(['events', 'resend', `evt_${ok.id}_succeeded`], { PAYOUTS_API_KEY: acmeKey });
  expect([unknown.code, unknown.stderr.trim()]).toEqual([1, `no event evt_${ok.id}_succeeded`]);
  const badEndpoint = await cli(['events', 'resend', `evt_${ok.id}_succeeded`, '--endpoint', 'we_0000000000000000']);
  expect([badEndpoint.code, badEndpoint.stderr.trim()]).toEqual([1, 'endpoint: is not one of your webhook endpoints']);
  // bad usage is refused before anything is sent
  expect((await cli(['events', 'resend', 'order-1'])).code).toBe(2);
  expect((await cli(['events', 'list', '--type', 'payout.paid'])).code).toBe(2);
  expect((await cli(['events', 'resend', `evt_${ok.id}_succeeded`, '--endpoint', 'nope'])).code).toBe(2);
}, 60_000);
