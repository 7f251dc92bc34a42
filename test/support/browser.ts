import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

/** What Chromium the browser tests run, and why that one. */
export interface FoundChromium {
  path: string;
  which: string;
}

/**
 * A Chromium to drive with playwright-core, never one a test tool downloads from elsewhere:
 * CHROMIUM_PATH when set; else Debian's (`apt-get install chromium`) when installed; else the one
 * the npm package @sparticuz/chromium carries inside it (a devDependency: `npm ci` brings it, so
 * `npm test` needs nothing from apt). Null when none can be had.
 */
export async function findChromium(): Promise<FoundChromium | null> {
  if (process.env.CHROMIUM_PATH) return { path: process.env.CHROMIUM_PATH, which: `CHROMIUM_PATH (${process.env.CHROMIUM_PATH})` };
  if (existsSync('/usr/bin/chromium') && process.env.BROWSER_FROM_NPM !== '1')
    return { path: '/usr/bin/chromium', which: "Debian's chromium (/usr/bin/chromium)" };
  try {
    const { default: packaged } = await import('@sparticuz/chromium');
    return { path: await packaged.executablePath(), which: 'the Chromium of the npm package @sparticuz/chromium' };
  } catch (err) {
    process.stdout.write(`no Chromium from @sparticuz/chromium: ${(err as Error).message}\n`);
    return null;
  }
}

/** Flags for a headless run on a machine with no network but loopback and no GPU. */
const FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export async function launchChromium(found: FoundChromium): Promise<Browser> {
  const browser = await chromium.launch({ executablePath: found.path, args: FLAGS });
  process.stdout.write(`browser tests use ${found.which}, version ${browser.version()}\n`);
  return browser;
}

export const NO_CHROMIUM =
  "skipped: no Chromium (none at CHROMIUM_PATH or /usr/bin/chromium, and the npm package @sparticuz/chromium did not give one): run npm ci, or install Debian's chromium";
