import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NO_CHROMIUM, findChromium, launchChromium } from '../support/browser.js';
import { order, startPipeline, type Pipeline } from '../support/pipeline.js';

/**
 * The operator console in a real browser (test/support/browser.ts says which Chromium): an operator
 * logs in, finds a payout by its card's last 4, opens it, and approves a held payout from the review
 * queue. axe-core checks every page, at desktop and phone widths, for accessibility violations: it
 * is evaluated through the DevTools protocol, which the pages' content security policy does not
 * govern (the pages themselves could not run it: they allow no script at all). Any CSP violation
 * the browser reports fails the test. The desktop screenshots are docs/operations.md's docs/console-*.png
 * (SCREENSHOT_DIR to write them elsewhere); the phone ones go to .screenshots/.
 */
const DOCS = process.env.SCREENSHOT_DIR ?? join(process.cwd(), 'docs');
const PHONE_SHOTS = process.env.SCREENSHOT_DIR ?? join(process.cwd(), '.screenshots');
const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

const ops = { name: 'ops', password: 'console-password-1' };
let p: Pipeline;
let browser: Browser | undefined;
const found = await findChromium();
const last4 = String(1000 + Math.floor(Math.random() * 9000));
const held: string[] = [];
let paidId = '';

beforeAll(async () => {
  if (!found) return;
  mkdirSync(DOCS, { recursive: true });
  mkdirSync(PHONE_SHOTS, { recursive: true });
  p = await startPipeline({
    web: { console: { users: [ops], sessionSecret: null } },
    worker: { approval: { rules: null, reviewAbove: 50_000_00, reviewTtlMs: 24 * 3_600_000 } },
  });
  browser = await launchChromium(found);
  await seed();
}, 90_000);
afterAll(async () => {
  await browser?.close();
  await p?.close();
});

/** Payouts to look at: paid ones, a declined one, and two above REVIEW_ABOVE that wait for a reviewer. */
async function seed() {
  const paid = order(
    { amount_details: { amount: 12_345_67, currency: 'rub' }, callback_url: p.upstream.url, customer: { reference: 'customer-77' } },
    `browser-card-${last4}`,
  );
  paidId = paid.id;
  const others = Array.from({ length: 6 }, (_, i) =>
    order({ amount_details: { amount: (i + 1) * 3_000_00, currency: 'rub' }, callback_url: p.upstream.url }, `browser-other-${i}-000${i}`),
  );
  const declined = order({ callback_url: p.upstream.url }, 'sandbox_decline_declined_by_issuer_bank');
  const big = [75_000_00, 120_000_00].map((amount) => order({ amount_details: { amount, currency: 'rub' }, callback_url: p.upstream.url }));
  for (const o of [paid, ...others, declined, ...big]) expect((await p.api('POST', '/v1/payouts', o)).status).toBe(202);
  held.push(...big.map((o) => o.id));
  await p.waitFor([paid.id, ...others.map((o) => o.id)], ['succeeded']);
  await p.waitFor([declined.id], ['failed']);
  await p.waitFor(held, ['awaiting_review']);
  await seedHistory();
}

/**
 * Earlier hours for the overview's charts to show, as src/store/payout-store.ts hourlyStats keeps
 * them (a hash per hour: a count per state, `paid` in kopecks). Only the hours before this one, so
 * the payouts above still count as they happened.
 */
async function seedHistory() {
  const hour = Math.floor(Date.now() / 3_600_000);
  for (let h = hour - 23; h < hour; h++) {
    const wave = Math.round(20 + 15 * Math.sin((h % 24) / 3.8));
    await p.runtime.redis.hset(`${p.prefix}:stats:h:${h}`, {
      succeeded: String(wave),
      failed: String(h % 5 === 0 ? 3 : 1),
      ...(h % 7 === 0 ? { rejected: '1', awaiting_review: '2' } : {}),
      paid: String(wave * 4_250_00),
    });
  }
}

interface Violation {
  id: string;
  impact: string | null;
  help: string;
  nodes: Array<{ target: unknown[] }>;
}

/** axe-core's violations on the page as it is now, every `<details>` opened first. In the page's words: the tests' types know no DOM. */
async function axeViolations(page: Page): Promise<string[]> {
  await page.evaluate("document.querySelectorAll('details').forEach((d) => d.setAttribute('open', ''))");
  await page.evaluate(AXE);
  const violations = (await page.evaluate("axe.run(document, { resultTypes: ['violations'] }).then((r) => r.violations)")) as Violation[];
  await page.evaluate("document.querySelectorAll('details').forEach((d) => d.removeAttribute('open'))");
  return violations.map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.map((n) => JSON.stringify(n.target)).join(', ')}`);
}

/**
 * What the browser reported: script errors and content security policy violations (console
 * errors), but for the refusals a test asks for on purpose (the pages at these paths).
 */
function watch(page: Page, refusedOnPurpose: string[] = []): string[] {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => {
    const meant = refusedOnPurpose.some((path) => m.location().url.endsWith(path)) && m.text().startsWith('Failed to load resource');
    if (m.type() === 'error' && !meant) errors.push(m.text());
  });
  return errors;
}

async function checked(page: Page, where: string) {
  expect(await axeViolations(page), `${where}: axe-core violations`).toEqual([]);
}

async function logIn(context: BrowserContext): Promise<Page> {
  const page = await context.newPage();
  const res = await page.goto(`${p.url}/console`);
  expect(res?.status()).toBe(200);
  expect(page.url()).toBe(`${p.url}/console/login?next=%2Fconsole`);
  await page.getByLabel('User').fill(ops.name);
  await page.getByLabel('Password').fill(ops.password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.waitForURL(`${p.url}/console`);
  return page;
}

describe('the operator console in a browser', () => {
  it('at desktop width: log in, find a payout by its card’s last 4, open it, approve a held payout', async (ctx) => {
    if (!browser) return ctx.skip(NO_CHROMIUM);
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'en-US' });
    const page = await context.newPage();
    const errors = watch(page, ['/console/login']);

    // the login page, after a wrong password
    await page.goto(`${p.url}/console/login`);
    await page.getByLabel('User').fill(ops.name);
    await page.getByLabel('Password').fill('not-the-password');
    await page.getByRole('button', { name: 'Log in' }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toBe('Those credentials were not accepted.');
    await checked(page, 'login');
    await page.screenshot({ path: join(DOCS, 'console-login.png') });

    await page.getByLabel('Password').fill(ops.password);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.waitForURL(`${p.url}/console`);
    expect(await page.getByRole('link', { name: /Review queue: 2 held/ }).count()).toBe(1);
    expect(await page.locator('svg.chart').count()).toBe(2);
    expect(await page.locator('svg.chart g.hour').count()).toBe(24);
    await checked(page, 'overview');
    await page.screenshot({ path: join(DOCS, 'console-overview.png'), fullPage: true });

    await page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: 'Payouts' }).click();
    await page.getByRole('searchbox', { name: 'Search' }).fill(last4);
    await page.getByRole('button', { name: 'Search' }).click();
    await page.waitForURL(/\/console\/payouts\?q=/);
    const rows = page.locator('table.payouts tbody tr');
    await expect.poll(() => rows.count()).toBe(1);
    expect((await rows.first().textContent())?.replace(/\s+/g, ' ')).toContain(`•••• ${last4}`);
    await checked(page, 'search');
    await page.screenshot({ path: join(DOCS, 'console-search.png'), fullPage: true });

    await rows.first().getByRole('link').click();
    await page.waitForURL(`${p.url}/console/payouts/${encodeURIComponent(paidId)}`);
    expect(await page.getByRole('heading', { level: 1 }).textContent()).toMatch(new RegExp(`Payout\\s+${paidId}`));
    const kinds = await page.locator('.timeline .kind').allTextContents();
    expect(kinds).toEqual(expect.arrayContaining(['State', 'Bank call', 'Delivery']));
    await checked(page, 'payout');
    await page.screenshot({ path: join(DOCS, 'console-payout.png'), fullPage: true });

    await page.getByRole('link', { name: /Review queue/ }).click();
    await page.waitForURL(`${p.url}/console/review`);
    const first = page.locator('li.held').filter({ hasText: held[0]! });
    expect(await page.locator('li.held').count()).toBe(2);
    await checked(page, 'review');
    await page.screenshot({ path: join(DOCS, 'console-review.png'), fullPage: true });

    // rejecting needs a reason: the browser asks for one and nothing is posted
    await first.getByRole('button', { name: 'Reject' }).click();
    expect(page.url()).toBe(`${p.url}/console/review`);
    await first.getByRole('button', { name: 'Approve' }).click();
    await page.waitForURL(/\/console\/review\?done=approved/);
    expect(await page.getByRole('status').textContent()).toBe(`Approved ${held[0]}: it goes on to the bank (now queued).`);
    expect(await page.locator('li.held').count()).toBe(1);
    await checked(page, 'review after a decision');
    await p.waitFor([held[0]!], ['succeeded']);

    expect(errors).toEqual([]);
    await context.close();
  });

  it('on a phone (375 px): every page fits the screen and passes axe-core', async (ctx) => {
    if (!browser) return ctx.skip(NO_CHROMIUM);
    const context = await browser.newContext({ viewport: { width: 375, height: 812 }, isMobile: true, hasTouch: true, locale: 'en-US' });
    const page = await logIn(context);
    const errors = watch(page, ['/console/payouts/nope']);
    const pages = [
      ['overview', '/console'],
      ['search', `/console/payouts?q=${last4}`],
      ['search-all', '/console/payouts'],
      ['payout', `/console/payouts/${encodeURIComponent(paidId)}`],
      ['held-payout', `/console/payouts/${encodeURIComponent(held[1]!)}`],
      ['review', '/console/review'],
      ['not-found', '/console/payouts/nope'],
    ] as const;
    for (const [name, path] of pages) {
      await page.goto(`${p.url}${path}`);
      const overflow = (await page.evaluate('document.documentElement.scrollWidth - window.innerWidth')) as number;
      expect(overflow, `${name}: wider than the screen by ${overflow} px`).toBeLessThanOrEqual(0);
      await checked(page, `${name} (phone)`);
      await page.screenshot({ path: join(PHONE_SHOTS, `console-${name}-phone.png`), fullPage: true });
    }
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.waitForURL(`${p.url}/console/login`);
    await checked(page, 'login (phone)');
    expect(errors).toEqual([]);
    await context.close();
  });
});
