import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Bank131Client } from '../../src/bank131/client.js';
import { BOARD_CSP, withoutRemoteLinks } from '../../src/board.js';
import { DOCS_CSP, markdownText } from '../../src/http/docs.js';
import { buildAdminServer, buildServer, type ServerDeps } from '../../src/http/server.js';
import { DEFAULT_TIMING } from '../../src/pipeline/pipeline-deps.js';
import { createQueues, type Queues } from '../../src/queues.js';
import { PayoutStore } from '../../src/store/payout-store.js';
import { keys } from '../support/keys.js';
import { connectRedis, deleteKeys, testPrefix } from '../support/redis.js';
import { webSettings } from '../support/settings.js';
import { tenantsOn } from '../support/tenants.js';

/**
 * /docs and the queue board, through app.inject, on the API's listener and on ADMIN_PORT's: each
 * answers with its content security policy, which allows nothing from another origin, and their
 * pages, stylesheets and scripts refer only to the service's own paths (the browser's view of the
 * same is test/browser/operator-pages.test.ts). The document shows the API key's `<key>` placeholder
 * in a form its Markdown renderer keeps.
 */
const board = { user: 'ops', password: 'board-password-123', readOnly: true };
const basic = { authorization: `Basic ${Buffer.from(`${board.user}:${board.password}`).toString('base64')}` };
const prefix = testPrefix('docs-assets');
const unusedBank = new Bank131Client({ baseUrl: 'http://127.0.0.1:9', project: 'p', privateKey: keys.partnerPrivate });
let redis: Redis;
let queues: Queues;
const apps: Record<'same listener' | 'ADMIN_PORT', FastifyInstance> = {} as never;
const closing: FastifyInstance[] = [];

function deps(admin: boolean): ServerDeps {
  return {
    settings: webSettings({
      board,
      publicUrl: 'http://payouts.test',
      timing: DEFAULT_TIMING,
      admin: admin ? { port: 0, host: '127.0.0.1' } : null,
    }),
    bank: unusedBank,
    store: new PayoutStore(redis, prefix),
    tenants: tenantsOn(redis, prefix),
    queues,
    redis,
    publicUrl: () => 'http://payouts.test',
  };
}

beforeAll(async () => {
  redis = connectRedis();
  queues = createQueues(redis, prefix);
  apps['same listener'] = await buildServer(deps(false));
  const apart = deps(true);
  const publicApp = await buildServer(apart);
  await publicApp.ready();
  apps.ADMIN_PORT = await buildAdminServer(apart, publicApp);
  closing.push(apps['same listener'], apps.ADMIN_PORT, publicApp);
  for (const app of closing) await app.ready();
});
afterAll(async () => {
  for (const app of closing) await app.close();
  await queues?.close();
  await deleteKeys(redis, prefix);
  await redis?.quit();
});

/** A policy's directives and their sources. */
function directives(csp: string): Record<string, string[]> {
  return Object.fromEntries(
    csp
      .split(';')
      .map((d) => d.trim().split(/\s+/))
      .filter((parts) => parts[0])
      .map(([name, ...sources]) => [name!, sources]),
  );
}

/** What a policy lets a page use: its own origin, data: images, inline styles or hashed ones; no host, no eval. */
function expectOwnOriginOnly(csp: string) {
  const d = directives(csp);
  expect(d['default-src']).toEqual(["'self'"]);
  expect(d['script-src'] ?? ["'self'"]).toEqual(["'self'"]);
  expect(d['connect-src'] ?? ["'self'"]).toEqual(["'self'"]);
  expect(d['object-src']).toEqual(["'none'"]);
  expect(d['frame-ancestors']).toEqual(["'none'"]);
  for (const [name, sources] of Object.entries(d))
    for (const source of sources)
      expect(source, `${name} ${source}`).toMatch(/^(?:'self'|'none'|'unsafe-inline'|'sha256-[A-Za-z0-9+/]+=*'|data:)$/);
  expect(csp).not.toContain('unsafe-eval');
}

/** Every URL an HTML page or a stylesheet names: src, href, url(...), @import. */
function references(text: string): string[] {
  const attributes = [...text.matchAll(/\b(?:src|href)\s*=\s*["']([^"']*)["']/gi)].map((m) => m[1]!);
  const css = [...text.matchAll(/url\(\s*["']?([^"')]*)["']?\s*\)|@import\s+["']([^"']+)["']/gi)].map((m) => (m[1] ?? m[2])!);
  return [...attributes, ...css];
}

/** A reference that leaves the origin: one with a scheme (but data:) or a protocol-relative one. */
const elsewhere = (ref: string) => /^\/\//.test(ref) || (/^[a-z][a-z0-9+.-]*:/i.test(ref) && !/^data:/i.test(ref));

/** The page, and each stylesheet and script it names: each served by the app itself, none naming another origin. */
async function expectSelfContained(app: FastifyInstance, path: string, headers: Record<string, string> = {}) {
  const page = await app.inject({ method: 'GET', url: path, headers });
  expect(page.statusCode).toBe(200);
  expect(page.headers['content-type']).toContain('text/html');
  const html = page.body;
  expect(references(html).filter(elsewhere), `${path} names another origin`).toEqual([]);
  const base = new URL(/<base\s+href="([^"]+)"/.exec(html)?.[1] ?? path, 'http://service');
  const assets = [...html.matchAll(/<(?:script[^>]*\bsrc|link[^>]*\bhref)\s*=\s*["']([^"']+)["']/gi)].map((m) => new URL(m[1]!, base));
  expect(assets.length).toBeGreaterThan(2);
  for (const asset of assets) {
    const res = await app.inject({ method: 'GET', url: asset.pathname, headers });
    expect(res.statusCode, asset.pathname).toBe(200);
    if (asset.pathname.endsWith('.css')) expect(references(res.body).filter(elsewhere), asset.pathname).toEqual([]);
  }
  return html;
}

describe.each(['same listener', 'ADMIN_PORT'] as const)('on the %s', (listener) => {
  it('/docs: its CSP allows only its own origin; the page and its assets name no other', async () => {
    const app = apps[listener];
    for (const path of ['/docs', '/docs/', '/docs/static/swagger-ui-bundle.js', '/docs/json']) {
      const res = await app.inject({ method: 'GET', url: path });
      expect(res.statusCode, path).toBe(200);
      expect(res.headers['content-security-policy'], path).toBe(DOCS_CSP);
    }
    expectOwnOriginOnly(DOCS_CSP);
    expect(directives(DOCS_CSP)['style-src']).not.toContain("'unsafe-inline'");
    for (const path of ['/docs', '/docs/']) await expectSelfContained(app, path);
    // swagger-ui would send the document to an outside validator for a badge
    const initializer = await app.inject({ method: 'GET', url: '/docs/static/swagger-initializer.js' });
    expect(initializer.body).toMatch(/validatorUrl: null/);
    expect(initializer.body).toMatch(/"validatorUrl":null/);
  });

  it('the queue board: its CSP allows only its own origin; the page and its assets name no other (no Google Fonts)', async () => {
    const app = apps[listener];
    expect((await app.inject({ method: 'GET', url: '/admin/queues' })).headers['content-security-policy']).toBe(BOARD_CSP);
    for (const path of ['/admin/queues', '/admin/queues/queue/payout-start', '/admin/queues/api/queues']) {
      const res = await app.inject({ method: 'GET', url: path, headers: basic });
      expect(res.statusCode, path).toBe(200);
      expect(res.headers['content-security-policy'], path).toBe(BOARD_CSP);
    }
    expectOwnOriginOnly(BOARD_CSP);
    const html = await expectSelfContained(app, '/admin/queues', basic);
    expect(html).not.toMatch(/fonts\.(googleapis|gstatic)\.com/);
    expect(html).toContain('<base href="/admin/queues/" />');
  });
});

describe('the API key in the document', () => {
  it('reads "Authorization: Bearer <key>" in code spans, and as entities in the error catalogue', async () => {
    const doc = (await apps['same listener'].inject({ method: 'GET', url: '/docs/json' })).json() as {
      info: { description: string };
      components: { securitySchemes: { apiKey: { description: string } } };
    };
    expect(doc.info.description).toContain('`Authorization: Bearer <key>`');
    expect(doc.components.securitySchemes.apiKey.description).toContain('`Authorization: Bearer <key>`');
    expect(doc.info.description).toContain('| `unauthorized` | 401 | missing or unknown API key (Authorization: Bearer &lt;key&gt;) |');
    // outside code spans, no `<` that a Markdown renderer could take for a tag
    for (const text of [doc.info.description, doc.components.securitySchemes.apiKey.description])
      expect(text.replace(/`[^`]*`/g, '')).not.toContain('<');
  });

  it('markdownText: <, >, & and | read as written in a table cell', () => {
    expect(markdownText('a <b> & c | d')).toBe('a &lt;b&gt; &amp; c \\| d');
  });
});

it('withoutRemoteLinks drops <link>s to other origins and keeps the service own', () => {
  const head = [
    '<link rel="icon" href="static/images/logo.svg">',
    '<link href="https://fonts.googleapis.com/css2?family=IBM+Plex+Sans" rel="stylesheet">',
    "<link rel='stylesheet' href='//cdn.example/x.css'>",
    '<link href="static/css/main.css" rel="stylesheet">',
  ].join('\n');
  expect(withoutRemoteLinks(head)).toBe(
    '<link rel="icon" href="static/images/logo.svg">\n<link href="static/css/main.css" rel="stylesheet">',
  );
});
