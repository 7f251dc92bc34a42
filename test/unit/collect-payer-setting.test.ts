import { describe, expect, it } from 'vitest';
import type { ConfigError } from '../../src/settings/env.js';
import { webSettings } from '../support/settings.js';

/**
 * COLLECT_PAYER_NAME (src/settings/web.ts): who the card page says pays the recipient. It has no
 * default of its own, so the page never names this software; unset, the page names PUBLIC_URL's
 * host, or the request's when PUBLIC_URL is unset too (src/http/collect-page.ts payerName).
 */
describe('COLLECT_PAYER_NAME', () => {
  it('unset: no name, and the host of PUBLIC_URL when that is set', () => {
    expect(webSettings()).toMatchObject({ collectPayerName: null, collectPayerHost: null });
    expect(webSettings({}, { PUBLIC_URL: 'https://Payouts.Example.com:8443/base' })).toMatchObject({
      collectPayerName: null,
      collectPayerHost: 'payouts.example.com',
    });
  });

  it('set: the name as given, trimmed', () => {
    expect(webSettings({}, { COLLECT_PAYER_NAME: '  ООО «Ромашка» ', PUBLIC_URL: 'https://payouts.example.com' })).toMatchObject({
      collectPayerName: 'ООО «Ромашка»',
      collectPayerHost: 'payouts.example.com',
    });
  });

  it('refuses a name too long for a phone screen, or only spaces', () => {
    const problems = (value: string) => {
      try {
        webSettings({}, { COLLECT_PAYER_NAME: value });
      } catch (err) {
        return (err as ConfigError).message;
      }
      return 'accepted';
    };
    expect(problems('x'.repeat(101))).toContain('COLLECT_PAYER_NAME: must be at most 100 characters');
    expect(problems('   ')).toContain('COLLECT_PAYER_NAME: must not be empty');
  });
});
