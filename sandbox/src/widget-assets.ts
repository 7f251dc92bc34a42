import { readFileSync } from 'node:fs';
import { STRINGS, type Locale } from './widget-text.js';

/**
 * The widget's browser files (sandbox/assets/), read from disk once when the sandbox starts: the
 * loader script partner pages include, the stylesheet for both sides, and the card form (an HTML
 * template) with its script. Plain files, so they are linted as browser code (eslint.config.js).
 */

const ASSETS = new URL('../assets/', import.meta.url);
const read = (file: string) => readFileSync(new URL(file, ASSETS), 'utf8');

export interface WidgetAssets {
  loaderJs: string;
  css: string;
  frameJs: string;
  /** The card form for one request. */
  frameHtml(o: FrameValues): string;
}

export interface FrameValues {
  locale: Locale;
  token: string;
  /** The partner page's origin, which the form posts its messages to; null: any ("*"). */
  parentOrigin: string | null;
  tokenError: string | null;
}

export function loadWidgetAssets(): WidgetAssets {
  const template = read('frame.html');
  const assets: WidgetAssets = {
    loaderJs: read('tokenize.js'),
    css: read('tokenize.css'),
    frameJs: read('frame.js'),
    frameHtml: (o) => fill(template, frameValues(o)),
  };
  // A placeholder without a value fails here, at start-up, not on a recipient's first form.
  assets.frameHtml({ locale: 'ru', token: '', parentOrigin: null, tokenError: null });
  return assets;
}

const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** Every value HTML-escaped, except the strings for the form's script, which go into a JSON script block as JSON. */
function frameValues(o: FrameValues): Record<string, string> {
  const t = STRINGS[o.locale];
  const words = Object.fromEntries(Object.entries(t).map(([k, v]) => [k, escapeHtml(v)]));
  return {
    ...words,
    locale: o.locale,
    token: escapeHtml(o.token),
    parentOrigin: escapeHtml(o.parentOrigin ?? ''),
    tokenError: escapeHtml(o.tokenError ?? ''),
    // `<` escaped, so no string can close the script block early.
    i18n: JSON.stringify(t).replace(/</g, '\\u003c'),
  };
}

/** One pass over the template, so a value that looks like a placeholder is never filled in again. */
function fill(template: string, values: Record<string, string>): string {
  return template.replace(/\{\{(\w+)\}\}/g, (_, name: string) => {
    const value = values[name];
    if (value === undefined) throw new Error(`sandbox/assets/frame.html: no value for {{${name}}}`);
    return value;
  });
}
