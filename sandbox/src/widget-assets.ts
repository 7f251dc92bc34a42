import { readFileSync } from 'node:fs';
import { SELF_EMPLOYED_STRINGS, STRINGS, type Locale } from './widget-text.js';

/**
 * The widgets' browser files (sandbox/assets/), read from disk once when the sandbox starts. For
 * each widget (the tokenization widget, the self-employed widget): the loader script partner pages
 * include, the stylesheet for both sides, and the frame's page (an HTML template) with its script.
 * Plain files, so they are linted as browser code (eslint.config.js).
 */

const ASSETS = new URL('../assets/', import.meta.url);
const read = (file: string) => readFileSync(new URL(file, ASSETS), 'utf8');

export interface WidgetAssets {
  loaderJs: string;
  css: string;
  frameJs: string;
  /** The card form for one request. */
  frameHtml(o: FrameValues): string;
  selfEmployed: {
    loaderJs: string;
    css: string;
    frameJs: string;
    /** The self-employed widget's "Allow" page for one request. */
    frameHtml(o: SelfEmployedFrameValues): string;
  };
}

export interface FrameValues {
  locale: Locale;
  token: string;
  /** The partner page's origin, which the form posts its messages to; null: any ("*"). */
  parentOrigin: string | null;
  tokenError: string | null;
}

export interface SelfEmployedFrameValues {
  locale: Locale;
  token: string;
  parentOrigin: string | null;
  stage: 'bind' | 'check';
  /** The tax reference the token was issued for ('' for an unknown token). */
  taxReference: string;
  bound: boolean;
  /** public_token_used, public_token_unknown or taxpayer_unknown: shown, and posted, at once. */
  error: string | null;
}

export function loadWidgetAssets(): WidgetAssets {
  const template = read('frame.html');
  const selfEmployedTemplate = read('self-employed-frame.html');
  const assets: WidgetAssets = {
    loaderJs: read('tokenize.js'),
    css: read('tokenize.css'),
    frameJs: read('frame.js'),
    frameHtml: (o) => fill('frame.html', template, frameValues(o)),
    selfEmployed: {
      loaderJs: read('self-employed.js'),
      css: read('self-employed.css'),
      frameJs: read('self-employed-frame.js'),
      frameHtml: (o) => fill('self-employed-frame.html', selfEmployedTemplate, selfEmployedValues(o)),
    },
  };
  // A placeholder without a value fails here, at start-up, not on a recipient's first form.
  assets.frameHtml({ locale: 'ru', token: '', parentOrigin: null, tokenError: null });
  assets.selfEmployed.frameHtml({
    locale: 'ru',
    token: '',
    parentOrigin: null,
    stage: 'bind',
    taxReference: '',
    bound: false,
    error: null,
  });
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

/** The tax reference as the frame shows it: only its last 4 digits. */
export function maskTaxReference(taxReference: string): string {
  return taxReference.length > 4 ? `${'•'.repeat(taxReference.length - 4)}${taxReference.slice(-4)}` : taxReference;
}

function selfEmployedValues(o: SelfEmployedFrameValues): Record<string, string> {
  const t = SELF_EMPLOYED_STRINGS[o.locale];
  const words = Object.fromEntries(Object.entries(t).map(([k, v]) => [k, escapeHtml(v)]));
  return {
    ...words,
    locale: o.locale,
    token: escapeHtml(o.token),
    parentOrigin: escapeHtml(o.parentOrigin ?? ''),
    stage: o.stage,
    taxReference: escapeHtml(o.taxReference),
    maskedTaxReference: escapeHtml(maskTaxReference(o.taxReference)),
    bound: o.bound ? 'true' : 'false',
    error: escapeHtml(o.error ?? ''),
    i18n: JSON.stringify(t).replace(/</g, '\\u003c'),
  };
}

/** One pass over the template, so a value that looks like a placeholder is never filled in again. */
function fill(file: string, template: string, values: Record<string, string>): string {
  return template.replace(/\{\{(\w+)\}\}/g, (_, name: string) => {
    const value = values[name];
    if (value === undefined) throw new Error(`sandbox/assets/${file}: no value for {{${name}}}`);
    return value;
  });
}
