import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WIDGET_TIMEOUT_MS } from '../../src/http/collect-page.js';
import { NO_CHROMIUM, findChromium, launchChromium } from '../support/browser.js';
import { order, startPipeline, type Pipeline } from '../support/pipeline.js';

/**
 * The recipient's path in a real browser: Debian's chromium when installed, else the Chromium the
 * npm package @sparticuz/chromium carries (test/support/browser.ts says which), driven by
 * playwright-core. A payout is accepted without a card; the recipient opens its collect_url, types
 * a test card into the sandbox's tokenization widget, and watches the payout end. A saved
 * recipient saves a card through a card link; a self-employed recipient first allows the bank to
 * register their income in the sandbox's self-employed widget, then gives the card. On every page no
 * request leaves the service: each goes to the web's origin or the sandbox's (which plays Bank 131's
 * widget host), and the console stays free of errors. A widget that does not load is reported to
 * the service, and the recipient is offered a retry. Screenshots of each page state go to
 * .screenshots/ (SCREENSHOT_DIR to choose another folder); docs/api.md's docs/collect-*.png are
 * copies of the phone-sized ones.
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

/**
 * What a page did that it should not have: errors (thrown, or said on the console) and requests to
 * any origin but the web's and the sandbox's. Read once the page is done.
 */
function watch(page: Page): { errors: string[]; foreign: string[] } {
  const seen = { errors: [] as string[], foreign: [] as string[] };
  const ours = new Set([new URL(p.url).origin, new URL(p.sandbox.url).origin]);
  page.on('pageerror', (e) => seen.errors.push(e.message));
  page.on('console', (m) => m.type() === 'error' && seen.errors.push(m.text()));
  page.on('request', (r) => {
    const url = new URL(r.url());
    if (url.protocol !== 'data:' && !ours.has(url.origin)) seen.foreign.push(r.url());
  });
  return seen;
}

/** A page that did nothing it should not have. */
function expectClean(seen: { errors: string[]; foreign: string[] }) {
  expect(seen.foreign).toEqual([]);
  expect(seen.errors).toEqual([]);
}

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
    const seen = watch(page);

    const res = await page.goto(collectUrl);
    expect(res?.status()).toBe(200);
    expect(res?.headers()['content-security-policy']).toContain("frame-ancestors 'none'");
    await expect.poll(() => text(page, '.amount')).toBe('100,00 ₽');
    await expect.poll(() => text(page, '.payer')).toBe('Выплата от Test Payer LLC');
    expect(await page.locator('.notice').allTextContents()).toEqual(['Данные карты видит только Банк 131.']);
    expect(await page.locator('#retry').isHidden()).toBe(true);
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
    expectClean(seen);
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
    const seen = watch(page);
    await page.goto(collectUrl);
    await expect.poll(() => text(page, '.amount')).toBe('RUB 1,234.56');
    expect(await text(page, '.payer')).toBe('A payout from Test Payer LLC');
    await typeCard(page, '4000 0000 0000 0002');
    await expect.poll(() => page.locator('#collect').getAttribute('data-phase'), { timeout: 20_000 }).toBe('failed');
    expect(await text(page, '#status')).toBe(
      'The payout failed: the card’s bank declined it. Ask your bank why. Test Payer LLC has been told. If they send the payout again, you will get a new link.',
    );
    expect(await page.locator('.notice').allTextContents()).toEqual(['Only Bank 131 sees your card details.']);
    // no saved recipient to give a new card for: no widget, no "try another card"
    expect(await page.locator('#bank131-tokenize').isHidden()).toBe(true);
    await shot(page, '4-declined-en');
    expect((await p.api('GET', `/v1/payouts/${id}`)).body).toMatchObject({ status: 'failed', error: { code: 'declined_by_issuer_bank' } });
    expectClean(seen);
    await context.close();
  });
});

describe('saved recipients', () => {
  const phone = () =>
    browser!.newContext({
      viewport: { width: 390, height: 844 },
      locale: 'ru-RU',
      extraHTTPHeaders: { 'accept-language': 'ru-RU,ru;q=0.9' },
    });
  let n = 0;
  const reference = () => `browser-${Date.now().toString(36)}-${++n}`;

  it('a card link: "Payouts from Test Payer LLC will go to this card", no amount, then "Card •••• 4242 saved"', async (ctx) => {
    if (!browser) return ctx.skip(NO_CHROMIUM);
    const made = await p.api('POST', '/v1/recipients', { reference: reference(), full_name: 'Ivanov Ivan Ivanovich' });
    expect(made.status).toBe(201);
    const link = await p.api('POST', `/v1/recipients/${made.body.id}/card-links`);
    expect(link.status).toBe(201);
    const context = await phone();
    const page = await context.newPage();
    const seen = watch(page);
    const res = await page.goto(link.body.url as string);
    expect(res?.status()).toBe(200);
    await expect.poll(() => text(page, '.payer')).toBe('Выплаты от Test Payer LLC будут приходить на эту карту');
    expect(await page.locator('.amount').count()).toBe(0);
    expect(await text(page, '#hint')).toBe('Введите данные карты для выплат.');
    await page.frameLocator('#bank131-tokenize iframe').locator('#bank131-card-number').waitFor();
    await shot(page, '5-recipient-card-ru');

    await typeCard(page, '4242 4242 4242 4242');
    await expect.poll(() => page.locator('#collect').getAttribute('data-phase'), { timeout: 10_000 }).toBe('saved');
    expect(await text(page, '#status')).toBe('Карта •••• 4242 сохранена. Выплаты от Test Payer LLC будут приходить на неё.');
    expect(await page.locator('#bank131-tokenize').isHidden()).toBe(true);
    await shot(page, '6-recipient-card-saved-ru');
    const saved = (await p.api('GET', `/v1/recipients/${made.body.id}`)).body;
    expect(saved.card).toMatchObject({ brand: 'visa', last4: '4242', status: 'active' });

    // the next payout to them needs no link, and is paid to the saved card
    const o = { id: reference(), amount_details: { amount: 5_000, currency: 'rub' }, recipient_id: made.body.id };
    expect((await p.api('POST', '/v1/payouts', o)).body).toMatchObject({ status: 'queued' });
    await p.waitFor([o.id], ['succeeded']);
    expectClean(seen);
    await context.close();
  });

  it('a saved card the bank calls expired: the page that watched it fail offers another card, and saves it', async (ctx) => {
    if (!browser) return ctx.skip(NO_CHROMIUM);
    const made = await p.api('POST', '/v1/recipients', { reference: reference(), full_name: 'Sidorov Petr' });
    const o = { id: reference(), amount_details: { amount: 100_00, currency: 'rub' }, recipient_id: made.body.id };
    const accepted = await p.api('POST', '/v1/payouts', o);
    expect(accepted.body).toMatchObject({ status: 'awaiting_card' });
    const context = await browser!.newContext({
      viewport: { width: 1024, height: 768 },
      locale: 'en-US',
      extraHTTPHeaders: { 'accept-language': 'en-US,en;q=0.9' },
    });
    const page = await context.newPage();
    const seen = watch(page);
    await page.goto(accepted.body.collect_url as string);
    await typeCard(page, '4000 0000 0000 0069');
    // the payout fails; the card is marked invalid in the same step; the page renders itself afresh with the widget
    // (the page asked for a card before it was given, too: wait for both)
    const where = async () =>
      `${await page.locator('#collect').getAttribute('data-phase')}/${await page.locator('#collect').getAttribute('data-ask')}`;
    await expect.poll(where, { timeout: 20_000 }).toBe('failed/card');
    expect(await text(page, '#status')).toBe(
      'The payout failed: the card has expired. Enter a new card below, and Test Payer LLC can send the payout again.',
    );
    expect(await text(page, '#hint')).toBe('Payouts from Test Payer LLC will go to the new card.');
    await shot(page, '9-declined-new-card-en');
    await typeCard(page, '5555 5555 5555 4444');
    await expect
      .poll(() => text(page, '#status'), { timeout: 10_000 })
      .toBe('The payout failed: the card has expired. New card •••• 4444 saved. Test Payer LLC can now send the payout again.');
    expect(await page.locator('#bank131-tokenize').isHidden()).toBe(true);
    expect((await p.api('GET', `/v1/recipients/${made.body.id}`)).body.card).toMatchObject({ last4: '4444', status: 'active' });
    expect((await p.api('GET', `/v1/payouts/${o.id}`)).body.status).toBe('failed');
    expectClean(seen);
    await context.close();
  });

  it('the self-employed step: the bank’s widget first; once allowed, the card widget; then paid', async (ctx) => {
    if (!browser) return ctx.skip(NO_CHROMIUM);
    const inn = `77${String(Date.now() % 1e10).padStart(10, '0')}`;
    const made = await p.api('POST', '/v1/recipients', { reference: reference(), full_name: 'Petrova Anna', tax_reference: inn });
    const o = {
      id: reference(),
      amount_details: { amount: 250_00, currency: 'rub' },
      recipient_id: made.body.id,
      fiscalization: { services: [{ name: 'Дизайн логотипа', amount: 250_00 }] },
    };
    const accepted = await p.api('POST', '/v1/payouts', o);
    expect(accepted.body).toMatchObject({ status: 'awaiting_card' });
    const context = await phone();
    const page = await context.newPage();
    const seen = watch(page);
    await page.goto(accepted.body.collect_url as string);
    await expect.poll(() => text(page, '.amount')).toBe('250,00 ₽');
    expect(await page.locator('#collect').getAttribute('data-phase')).toBe('self_employed');
    expect(await text(page, '#hint')).toMatch(/^Вы получаете выплату как самозанятый/);
    const bind = page.frameLocator('#bank131-self-employed iframe');
    await bind.locator('#bank131-se-submit').waitFor();
    expect(await page.locator('#bank131-tokenize').isHidden()).toBe(true);
    await shot(page, '7-self-employed-ru');

    await bind.locator('#bank131-se-submit').click();
    await expect.poll(() => page.locator('#collect').getAttribute('data-phase'), { timeout: 10_000 }).toBe('card');
    expect(await text(page, '#status')).toBe('Готово: Банк 131 может регистрировать ваш доход.');
    expect(await text(page, '#hint')).toBe('Введите данные карты для этой выплаты.');
    expect(await page.locator('#bank131-self-employed').isHidden()).toBe(true);
    await page.frameLocator('#bank131-tokenize iframe').locator('#bank131-card-number').waitFor();
    expect((await p.api('GET', `/v1/recipients/${made.body.id}`)).body.self_employed).toBe('bound');

    await typeCard(page, '4242 4242 4242 4242');
    await expect.poll(() => page.locator('#collect').getAttribute('data-phase'), { timeout: 20_000 }).toBe('succeeded');
    expect(await text(page, '#status')).toBe('Готово: 250,00 ₽ отправлены на карту •••• 4242.');
    await shot(page, '8-self-employed-paid-ru');
    expect((await p.api('GET', `/v1/payouts/${o.id}`)).body).toMatchObject({ status: 'succeeded', fiscalization: { tax_reference: inn } });
    expectClean(seen);
    await context.close();
  });
});

describe('a widget that cannot be used', () => {
  const phone = (lang: 'ru' | 'en') =>
    browser!.newContext({
      viewport: { width: 390, height: 844 },
      locale: lang === 'ru' ? 'ru-RU' : 'en-US',
      extraHTTPHeaders: { 'accept-language': lang === 'ru' ? 'ru-RU,ru;q=0.9' : 'en-US,en;q=0.9' },
    });
  const problemReport = (page: Page) => page.waitForRequest((r) => r.method() === 'POST' && r.url().endsWith('/widget-problem'));

  it('its script does not load: the service is told why, the recipient sees what to do, and the retry brings the widget', async (ctx) => {
    if (!browser) return ctx.skip(NO_CHROMIUM);
    const { id, collectUrl } = await payoutWithoutCard(100_00);
    const context = await phone('ru');
    const page = await context.newPage();
    const seen = watch(page);
    const widgetScript = `${p.sandbox.url}/tokenize.js`;
    await page.route(widgetScript, (route) => route.abort());
    const reported = problemReport(page);
    expect((await page.goto(collectUrl))?.status()).toBe(200);
    const report = await reported;
    expect(report.postDataJSON()).toEqual({ widget: 'card', reason: 'script_load_failed' });
    expect((await report.response())?.status()).toBe(204);
    await expect.poll(() => text(page, '#status')).toBe('Форма Банка 131 не загрузилась. Проверьте интернет и попробуйте снова.');
    expect(await page.locator('#retry').isVisible()).toBe(true);
    expect(await text(page, '#retry')).toBe('Попробовать снова');
    expect(await page.locator('#bank131-tokenize').isHidden()).toBe(true);
    expect(await text(page, '#hint')).toBe('');
    expect(await page.locator('.notice').allTextContents()).toEqual(['Данные карты видит только Банк 131.']);
    await shot(page, '10-widget-problem-ru');
    // the one error is the browser saying the blocked script did not load
    expect(seen.errors).toEqual([expect.stringMatching(/Failed to load resource/)]);
    seen.errors.length = 0;

    await page.unroute(widgetScript);
    await page.locator('#retry').click();
    await page.frameLocator('#bank131-tokenize iframe').locator('#bank131-card-number').waitFor();
    expect(await page.locator('#retry').isHidden()).toBe(true);
    expect(await text(page, '#status')).toBe('');
    await typeCard(page, '4242 4242 4242 4242');
    await expect.poll(() => page.locator('#collect').getAttribute('data-phase'), { timeout: 20_000 }).toBe('succeeded');
    expect((await p.api('GET', `/v1/payouts/${id}`)).body).toMatchObject({ status: 'succeeded' });
    expectClean(seen);
    await context.close();
  });

  it('it says nothing in time: the service is told, the recipient sees a retry, and both go once the widget speaks', async (ctx) => {
    if (!browser) return ctx.skip(NO_CHROMIUM);
    const { collectUrl } = await payoutWithoutCard(100_00);
    const context = await phone('en');
    const page = await context.newPage();
    const seen = watch(page);
    // the page's clock is the test's: twenty seconds pass at once; the widget's frame is held back until told
    await page.clock.install();
    let release = () => {};
    const held = new Promise<void>((resolve) => (release = resolve));
    const sandboxOrigin = new URL(p.sandbox.url).origin;
    await page.route(
      (url) => url.origin === sandboxOrigin && url.pathname === '/tokenize/frame',
      async (route) => {
        await held;
        await route.continue();
      },
    );
    const reported = problemReport(page);
    // the held frame keeps the page from "load"
    await page.goto(collectUrl, { waitUntil: 'domcontentloaded' });
    await page.locator('#bank131-tokenize iframe').waitFor({ state: 'attached' });
    await page.clock.fastForward(WIDGET_TIMEOUT_MS + 1_000);
    const report = await reported;
    expect(report.postDataJSON()).toEqual({ widget: 'card', reason: 'timeout' });
    await expect.poll(() => text(page, '#status')).toBe('Bank 131’s form did not load. Check your internet connection and try again.');
    expect(await page.locator('#retry').isVisible()).toBe(true);
    // it may yet come: the widget's place stays
    expect(await page.locator('#bank131-tokenize').isHidden()).toBe(false);

    release();
    await page.frameLocator('#bank131-tokenize iframe').locator('#bank131-card-number').waitFor();
    await expect.poll(() => page.locator('#retry').isHidden()).toBe(true);
    expect(await text(page, '#status')).toBe('');
    expect(await text(page, '#hint')).toBe('Enter the card for this payout.');
    expectClean(seen);
    await context.close();
  });
});
