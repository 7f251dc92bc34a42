import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NO_CHROMIUM, findChromium, launchChromium } from '../support/browser.js';
import { order, startPipeline, type Pipeline } from '../support/pipeline.js';

/**
 * The recipient's path in a real browser: Debian's chromium when installed, else the Chromium the
 * npm package @sparticuz/chromium carries (test/support/browser.ts says which), driven by
 * playwright-core. A payout is accepted without a card; the recipient opens its collect_url, types
 * a test card into the sandbox's tokenization widget, and watches the payout end. Screenshots of
 * each page state go to .screenshots/ (SCREENSHOT_DIR to choose another folder).
 */
const SHOTS = process.env.SCREENSHOT_DIR ?? join(process.cwd(), '.screenshots');

let p: Pipeline;
let browser: Browser | undefined;
const found = await findChromium();
beforeAll(async () => {
  if (!found) return;
  mkdirSync(SHOTS, { recursive: true });
  p = await startPipeline();
  browser = await launchChromium(found);
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await p?.close();
});

async function payoutWithoutCard(amount: number): Promise<{ id: string; collectUrl: string }> {
  const o = order({ amount_details: { amount, currency: 'rub' }, callback_url: p.upstream.url });
  delete (o as { encrypted_card?: unknown }).encrypted_card;
  const res = await p.api('POST', '/v1/payouts', o);
  expect(res).toMatchObject({ status: 202, body: { id: o.id, status: 'awaiting_card' } });
  return { id: o.id, collectUrl: res.body.collect_url as string };
}

async function typeCard(page: Page, number: string) {
  const form = page.frameLocator('#bank131-tokenize iframe');
  await form.locator('#bank131-card-number').fill(number);
  await form.locator('#bank131-card-expiry').fill('12/39');
  await form.locator('#bank131-card-cvc').fill('123');
  await form.locator('#bank131-submit').click();
}

/** Text as a person reads it: Intl puts no-break spaces in amounts. */
const text = async (page: Page, selector: string) => (await page.locator(selector).textContent())?.replace(/\s/g, ' ');

const shot = (page: Page, name: string) => page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });

describe('a recipient gives a card through the collection link', () => {
  it('in Russian, on a phone: the widget, "paying 100,00 ₽ to card •••• 4242", then paid', async (ctx) => {
    if (!browser) return ctx.skip(NO_CHROMIUM);
    const { id, collectUrl } = await payoutWithoutCard(100_00);
    const context = await browser!.newContext({
      viewport: { width: 390, height: 844 },
      locale: 'ru-RU',
      extraHTTPHeaders: { 'accept-language': 'ru-RU,ru;q=0.9' },
    });
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));

    const res = await page.goto(collectUrl);
    expect(res?.status()).toBe(200);
    expect(res?.headers()['content-security-policy']).toContain("frame-ancestors 'none'");
    await expect.poll(() => text(page, '.amount')).toBe('100,00 ₽');
    await expect.poll(() => text(page, '.payer')).toBe('Test Payer LLC отправляет вам');
    await page.frameLocator('#bank131-tokenize iframe').locator('#bank131-card-number').waitFor();
    await shot(page, '1-card-form-ru');

    await typeCard(page, '4242 4242 4242 4242');
    await expect.poll(() => text(page, '#status'), { timeout: 10_000 }).toMatch(/на карту •••• 4242/);
    await shot(page, '2-paying-ru');
    await expect.poll(() => page.locator('#collect').getAttribute('data-phase'), { timeout: 20_000 }).toBe('succeeded');
    expect(await text(page, '#status')).toBe('Готово: 100,00 ₽ отправлены на карту •••• 4242.');
    await shot(page, '3-paid-ru');

    const payout = (await p.api('GET', `/v1/payouts/${id}`)).body;
    expect(payout).toMatchObject({ status: 'succeeded', card: { last4: '4242' }, collect_url: null });
    expect(p.sandbox.bank.ledger.filter((e) => e.metadata === `payout:${id}`)).toHaveLength(1);
    // the same link again: a page about the payout, no second card
    const again = await page.goto(collectUrl);
    expect(again?.status()).toBe(200);
    expect(await page.locator('#bank131-tokenize').isHidden()).toBe(true);
    expect(await text(page, '#status')).toBe('Готово: 100,00 ₽ отправлены на карту •••• 4242.');
    expect(errors).toEqual([]);
    await context.close();
  });

  it('in English: a declining test card ends failed, with the reason shown to the recipient', async (ctx) => {
    if (!browser) return ctx.skip(NO_CHROMIUM);
    const { id, collectUrl } = await payoutWithoutCard(1_234_56);
    const context = await browser!.newContext({
      viewport: { width: 1024, height: 768 },
      locale: 'en-US',
      extraHTTPHeaders: { 'accept-language': 'en-US,en;q=0.9' },
    });
    const page = await context.newPage();
    await page.goto(collectUrl);
    await expect.poll(() => text(page, '.amount')).toBe('RUB 1,234.56');
    await typeCard(page, '4000 0000 0000 0002');
    await expect.poll(() => page.locator('#collect').getAttribute('data-phase'), { timeout: 20_000 }).toBe('failed');
    expect(await text(page, '#status')).toBe(
      'The payout failed: the bank that issued the card declined it. Try another card or call your bank.',
    );
    await shot(page, '4-declined-en');
    expect((await p.api('GET', `/v1/payouts/${id}`)).body).toMatchObject({ status: 'failed', error: { code: 'declined_by_issuer_bank' } });
    await context.close();
  });
});
