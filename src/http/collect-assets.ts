import { readFileSync } from 'node:fs';

/**
 * The collection page's own script and style (src/http/assets/), served from /collect/assets/ so
 * that the page's content security policy allows no inline code. Plain browser files, linted as such
 * (eslint.config.js), read once when the web process starts; `npm run build` copies them beside the
 * compiled code. The script follows the widgets' browser contract (docs/widget.md): it renders
 * `Bank131SelfEmployed` first when the page asks for the self-employed step and posts its `bound`
 * message to /collect/:token/self-employed, renders `Bank131Tokenize` with the public token, takes
 * its `tokenize_success` message (each only from the widgets' origin), posts the hashes to
 * /collect/:token/card, then polls /collect/:token/status until the payout ends. When a widget
 * cannot be used (its script did not load, it threw, it reported an error about itself, or it said
 * nothing for WIDGET_TIMEOUT_MS), it tells /collect/:token/widget-problem why and offers the
 * recipient a button that reloads the page. Its words are the page's (#collect-text), in the page's language.
 */
const ASSETS = new URL('./assets/', import.meta.url);
const read = (file: string) => readFileSync(new URL(file, ASSETS), 'utf8');

export const COLLECT_ASSETS: Record<string, { type: string; body: string }> = {
  'collect.js': { type: 'application/javascript; charset=utf-8', body: read('collect.js') },
  'collect.css': { type: 'text/css; charset=utf-8', body: read('collect.css') },
};
