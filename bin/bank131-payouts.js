#!/usr/bin/env node
// The `bank131-payouts` command (docs/operations.md, "The command line"): the built CLI after `npm run build`,
// else the TypeScript source through tsx (a development checkout).
import { existsSync } from 'node:fs';
import { URL, fileURLToPath } from 'node:url';

const built = new URL('../dist/src/cli/main.js', import.meta.url);
if (existsSync(fileURLToPath(built))) {
  await import(built.href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import(new URL('../src/cli/main.ts', import.meta.url).href);
}
