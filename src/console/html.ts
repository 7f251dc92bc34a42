/**
 * The console's one way to write HTML: a tagged template that escapes every value put into it,
 * unless the value is markup made by this same template. A renderer cannot forget to escape a
 * payout's metadata or an operator's reason, because leaving it unescaped takes `raw()` on purpose.
 */
export class Html {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

/** What a template takes: markup, text to escape, lists of either, and nothing (null, undefined, false). */
export type Markup = Html | string | number | null | undefined | false | readonly Markup[];

/** The five characters that can end text or an attribute value (every attribute here is double-quoted). */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

function render(v: Markup): string {
  if (v instanceof Html) return v.value;
  if (Array.isArray(v)) return v.map(render).join('');
  if (v === null || v === undefined || v === false) return '';
  return escapeHtml(String(v));
}

export function html(strings: TemplateStringsArray, ...values: Markup[]): Html {
  let out = strings[0]!;
  values.forEach((v, i) => {
    out += render(v) + strings[i + 1]!;
  });
  return new Html(out);
}

/** Markup written by this module's own code (never anything a user gave). */
export function raw(s: string): Html {
  return new Html(s);
}
