import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NO_CHROMIUM, findChromium, launchChromium } from '../support/browser.js';
import { order, startPipeline, type Pipeline } from '../support/pipeline.js';

/**
 * The operators' pages from the service itself, in a real browser (test/support/browser.ts says
 * which Chromium): /docs (swagger-ui) and the queue board (Bull Board, behind basic auth). Every
 * request either page makes stays on the service's origin (their files come from node_modules
 * through the service; nothing from a font or image CDN, no validator badge), the browser reports
 * no error and no content security policy violation, and /docs shows how to send an API key with
 * its `<key>` placeholder intact.
 */
const board = { user: 'ops', password: 'board-password-123' };
let p: Pipeline;
let browser: Browser | undefined;
const found = await findChromium();

beforeAll(async () => {
  if (!found) return;
  p = await startPipeline({ board });
  browser = await launchChromium(found);
  const o = order();
  expect((await p.api('POST', '/v1/payouts', o)).status).toBe(202);
  await p.waitFor([o.id], ['succeeded']);
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await p?.close();
});

interface Watched {
  context: BrowserContext;
  page: Page;
  /** Every request any page of the context made, by URL. */
  requests: string[];
  /** Every console message, as `type: text`. */
  console: string[];
  errors: string[];
  /** What the pages' `securitypolicyviolation` events said. */
  violations: string[];
}

/**
 * A browser context that notes everything: requests, console messages, script errors, and CSP
 * violations (reported through a binding from a script that Playwright injects through the DevTools
 * protocol, which the pages' CSP does not govern).
 */
async function watched(options: { httpCredentials?: { username: string; password: string } } = {}): Promise<Watched> {
  const context = await browser!.newContext({ viewport: { width: 1280, height: 900 }, ...options });
  const w: Watched = { context, page: undefined as unknown as Page, requests: [], console: [], errors: [], violations: [] };
  context.on('request', (r) => w.requests.push(r.url()));
  await context.exposeFunction('reportViolation', (v: string) => w.violations.push(v));
  await context.addInitScript(
    "document.addEventListener('securitypolicyviolation', (e) => window.reportViolation(`${e.violatedDirective} refused ${e.blockedURI} at ${e.sourceFile}:${e.lineNumber}`))",
  );
  w.page = await context.newPage();
  w.page.setDefaultTimeout(8_000);
  w.page.on('console', (m) => w.console.push(`${m.type()}: ${m.text()}`));
  w.page.on('pageerror', (e) => w.errors.push(e.message));
  return w;
}

/**
 * Until the pages have asked for nothing new for half a second: a click in a single-page app loads
 * its chunks after the page's own load events are long past.
 */
async function settled(w: Watched) {
  for (let seen = -1, i = 0; seen !== w.requests.length && i < 20; i++) {
    seen = w.requests.length;
    await w.page.waitForTimeout(500);
  }
}

/** Nothing left the service's origin, and the browser had nothing to complain about. */
function expectQuiet(w: Watched) {
  const origin = new URL(p.url).origin;
  expect(w.requests.length).toBeGreaterThan(0);
  expect(w.requests.filter((url) => new URL(url).origin !== origin)).toEqual([]);
  expect(w.violations).toEqual([]);
  expect(w.errors).toEqual([]);
  expect(w.console.filter((m) => m.startsWith('error:'))).toEqual([]);
}

describe('the operator pages load nothing from elsewhere', () => {
  it('/docs: swagger-ui from the service, under its CSP, showing "Authorization: Bearer <key>"', async (ctx) => {
    if (!browser) return ctx.skip(NO_CHROMIUM);
    const w = await watched();
    const { page } = w;
    const res = await page.goto(`${p.url}/docs`);
    expect(res?.status()).toBe(200);
    expect(res?.headers()['content-security-policy']).toMatch(/^default-src 'self';/);

    // the API's description says how to send a key, and the error catalogue repeats it
    await expect
      .poll(() => page.locator('.info code', { hasText: 'Authorization: Bearer' }).first().textContent())
      .toBe('Authorization: Bearer <key>');
    const unauthorized = page.locator('.info tr', { hasText: 'unauthorized' });
    expect(await unauthorized.locator('td').last().textContent()).toBe('missing or unknown API key (Authorization: Bearer <key>)');
    // the security scheme's description, in the Authorize dialog
    await page.getByRole('button', { name: 'Authorize' }).first().click();
    const dialog = page.locator('.modal-ux');
    await dialog.waitFor();
    expect(await dialog.locator('code', { hasText: 'Authorization: Bearer' }).textContent()).toBe('Authorization: Bearer <key>');
    await dialog.getByRole('button', { name: 'Close' }).click();

    // "Try it out" on /healthz: the page calls the service it came from, which its CSP allows
    const health = page.locator('.opblock', { hasText: '/healthz' }).first();
    await health.locator('.opblock-summary').click();
    await health.getByRole('button', { name: 'Try it out' }).click();
    await health.getByRole('button', { name: 'Execute' }).click();
    await expect.poll(() => health.locator('.live-responses-table tbody .response-col_status').first().textContent()).toBe('200');
    await settled(w);
    expect(w.requests).toContain(`${p.url}/healthz`);
    expect(w.requests).toContain(`${p.url}/docs/json`);
    expectQuiet(w);
    await w.context.close();
  });

  it('the queue board: Bull Board from the service, under its CSP, through its overview, a queue and a job', async (ctx) => {
    if (!browser) return ctx.skip(NO_CHROMIUM);
    const w = await watched({ httpCredentials: { username: board.user, password: board.password } });
    const { page } = w;
    const res = await page.goto(`${p.url}/admin/queues`);
    expect(res?.status()).toBe(200);
    expect(res?.headers()['content-security-policy']).toMatch(/^default-src 'self';/);
    for (const queue of ['payout-start', 'bank-webhooks', 'payout-confirm', 'payout-finish', 'payout-notify', 'payout-reconcile'])
      await page.getByRole('link', { name: queue, exact: true }).first().waitFor();

    // the reconciler's sweep waits as a delayed job: its queue, then the job with its data and options
    await page.goto(`${p.url}/admin/queues/queue/payout-reconcile?status=delayed`);
    const job = page.locator('a[href*="/admin/queues/queue/payout-reconcile/"]').first();
    await job.click();
    await page.waitForURL(/\/admin\/queues\/queue\/payout-reconcile\/[^/?]+/);
    for (const tab of ['Data', 'Options']) {
      await page.getByRole('tab', { name: tab, exact: true }).first().click();
      await settled(w);
    }
    await page.goto(`${p.url}/admin/queues/job-schedulers`);
    await settled(w);
    expect(w.requests.some((url) => url.startsWith(`${p.url}/admin/queues/static/`))).toBe(true);
    expect(w.requests.some((url) => url.startsWith(`${p.url}/admin/queues/api/`))).toBe(true);
    expectQuiet(w);
    await w.context.close();
  });
});
