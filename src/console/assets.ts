import { readFileSync } from 'node:fs';

/**
 * The console's stylesheet (src/console/assets/console.css), served from /console/assets/ so that
 * the pages' content security policy allows no inline style. Read once when the web process
 * starts; `npm run build` copies it beside the compiled code.
 */
const ASSETS = new URL('./assets/', import.meta.url);

export const CONSOLE_ASSETS: Record<string, { type: string; body: string }> = {
  'console.css': { type: 'text/css; charset=utf-8', body: readFileSync(new URL('console.css', ASSETS), 'utf8') },
};
