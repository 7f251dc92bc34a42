import { describe, expect, it } from 'vitest';
import { escapeHtml, html, raw } from '../../src/console/html.js';
import { flashOf, flashQuery } from '../../src/console/flash.js';
import { hourOf, rub, rubShort, utc } from '../../src/console/format.js';

describe('escapeHtml', () => {
  it('escapes the five characters that can end text or a quoted attribute', () => {
    expect(escapeHtml(`<a href="x" onclick='y'>&amp;</a>`)).toBe('&lt;a href=&quot;x&quot; onclick=&#39;y&#39;&gt;&amp;amp;&lt;/a&gt;');
  });
  it('leaves everything else as it is', () => {
    expect(escapeHtml('Петрова Анна · •••• 4242 ~ / = `')).toBe('Петрова Анна · •••• 4242 ~ / = `');
  });
});

describe('the html template', () => {
  it('escapes every value put into it', () => {
    const evil = '"><script>alert(1)</script>';
    // prettier-ignore
    const markup = html`<input value="${evil}"><p>${evil}</p>`;
    expect(markup.value).toBe(
      '<input value="&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"><p>&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;</p>',
    );
  });
  it('keeps markup it made itself, joins lists, and writes nothing for null, undefined and false', () => {
    const items = ['a<b', 'c'].map((s) => html`<li>${s}</li>`);
    // prettier-ignore
    const list = html`<ul>${items}</ul>${null}${undefined}${false}${0}`;
    expect(list.value).toBe('<ul><li>a&lt;b</li><li>c</li></ul>0');
    expect(html`${raw('<br>')}`.value).toBe('<br>');
  });
});

describe('formats', () => {
  it('roubles from kopecks, and short ones for an axis', () => {
    expect(rub(123_456)).toBe('RUB\u00a01,234.56');
    expect(rub(0)).toBe('RUB\u00a00.00');
    expect(rubShort(1_234_567_00)).toBe('1.2M ₽');
  });
  it('times in UTC, saying so', () => {
    expect(utc('2025-03-01T12:34:56.789Z')).toBe('2025-03-01 12:34:56 UTC');
    expect(utc(Date.UTC(2025, 0, 2, 3, 4, 5))).toBe('2025-01-02 03:04:05 UTC');
    expect(utc(null)).toBe('');
    expect(utc('not a time')).toBe('not a time');
    expect(hourOf('2025-03-01T07:00:00.000Z')).toBe('07:00');
  });
});

describe('flash messages', () => {
  it('are ours: a code from the list, the id as text', () => {
    expect(flashOf({ done: 'approved', id: 'p-1', state: 'queued' })).toEqual({
      kind: 'ok',
      text: 'Approved p-1: it goes on to the bank (now queued).',
    });
    expect(flashOf({ done: 'reason_required', id: 'p-1' })).toMatchObject({ kind: 'problem' });
    // a message of someone else's, or a state we do not have: no flash at all
    expect(flashOf({ done: 'Call +7 900 000 00 00 now', id: 'p-1' })).toBeNull();
    expect(flashOf({ done: 'approved', id: 'p-1', state: 'paid_twice' })).toBeNull();
    expect(flashOf({})).toBeNull();
  });
  it('round-trip through the query string', () => {
    const query = flashQuery({ done: 'rejected', id: 'tenant~order 1', state: 'rejected' });
    expect(query).toBe('done=rejected&id=tenant%7Eorder+1&state=rejected');
    expect(flashOf(Object.fromEntries(new URLSearchParams(query)))?.text).toBe(
      'Rejected tenant~order 1: it will not be paid (now rejected).',
    );
  });
});
