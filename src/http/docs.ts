import { ownOriginCsp } from './csp.js';
import { createHash } from 'node:crypto';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import { jsonSchemaTransform, jsonSchemaTransformObject } from 'fastify-type-provider-zod';
import { ERRORS } from './errors.js';

export const DOCS_PATH = '/docs';

/** How a caller sends its key, as the document shows it: in code spans, where the renderer keeps `<key>` as text. */
const AUTH_EXAMPLE = 'Authorization: Bearer <key>';

/**
 * The one style element swagger-ui adds: in the standalone preset's topbar logo, an SVG with a
 * <style> of its own, rendered before @fastify/swagger-ui swaps the logo for its image. Allowed by
 * its hash rather than with 'unsafe-inline'; a swagger-ui that changes it shows as a CSP violation
 * in test/browser/operator-pages.test.ts.
 */
const TOPBAR_LOGO_STYLE = '.logo_small_svg__cls-2{fill:#fff}.logo_small_svg__cls-3{fill:#85ea2d}';

/**
 * The pages at /docs load only swagger-ui's own files, served from node_modules under /docs/static,
 * and the document at /docs/json. Images: swagger-ui's icons are data: URIs in its CSS, and its logo
 * a data: URI its initializer makes. No 'unsafe-eval', and styles are its files and the one element
 * above: swagger-ui otherwise styles through the DOM, which style-src does not govern, and its
 * sanitizer strips style attributes from Markdown. connect-src is the page's own origin, so "Try it
 * out" reaches the API only where /docs is served beside it (not on ADMIN_PORT's listener).
 */
export const DOCS_CSP = ownOriginCsp(`'self' 'sha256-${createHash('sha256').update(TOPBAR_LOGO_STYLE).digest('base64')}'`);

/**
 * The OpenAPI 3.1 document, generated from the same zod schemas that validate each route, at
 * /docs/json, with a browsable UI at /docs. Must be registered before the routes it describes.
 */
export async function registerDocs(app: FastifyInstance, options: { publicUrl?: string | undefined; ui?: boolean }): Promise<void> {
  const catalogue = Object.entries(ERRORS)
    .map(([code, e]) => `| \`${code}\` | ${e.status} | ${markdownText(e.message)} |`)
    .join('\n');
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'bank131-payouts',
        version: '0.1.0',
        description: `Card payouts through Bank 131 without touching card data. Amounts are in kopecks (100 RUB = 10000).\n\nEvery /v1 route takes an API key: \`${AUTH_EXAMPLE}\`.\n\nEvery refusal has one shape, \`{"error":{"code","message",...}}\`; every response carries \`x-request-id\`.\n\n| code | HTTP | meaning |\n|---|---|---|\n${catalogue}`,
      },
      ...(options.publicUrl ? { servers: [{ url: options.publicUrl }] } : {}),
      components: {
        securitySchemes: {
          apiKey: {
            type: 'http',
            scheme: 'bearer',
            description: `a tenant's API key, sent as \`${AUTH_EXAMPLE}\`: one made with \`bank131-payouts keys create\`, or one of API_KEYS (the default tenant's). Every /v1 route sees only that tenant's payouts and events.`,
          },
        },
      },
      tags: [
        { name: 'payouts', description: 'the upstream API' },
        {
          name: 'webhooks',
          description:
            'webhook endpoints that receive every payout outcome of the tenant, and the events themselves with their delivery attempts',
        },
        { name: 'bank131', description: 'what Bank 131 calls' },
        { name: 'operations', description: 'health and readiness' },
      ],
    },
    transform: jsonSchemaTransform,
    transformObject: (document) => optionalBodies(jsonSchemaTransformObject(document)),
  });
  if (options.ui !== false) await app.register(swaggerUi, UI_OPTIONS);
}

type JsonSchema = { type?: string; anyOf?: JsonSchema[] };
type Operation = { requestBody?: { required?: boolean; content?: Record<string, { schema?: JsonSchema }> } };

/**
 * A body that may be left out (a zod schema that is `.nullish()`: Fastify reads a bodiless request
 * as null) is documented as optional and as its object alone; @fastify/swagger marks every body
 * required, and the null branch would read as though `null` were to be sent.
 */
function optionalBodies<T>(document: T): T {
  const paths = (document as { paths?: Record<string, Record<string, Operation>> }).paths ?? {};
  for (const operation of Object.values(paths).flatMap((p) => Object.values(p))) {
    const body = operation.requestBody;
    for (const media of Object.values(body?.content ?? {})) {
      const branches = media.schema?.anyOf;
      if (!body || !branches?.some((b) => b.type === 'null')) continue;
      const rest = branches.filter((b) => b.type !== 'null');
      body.required = false;
      if (rest.length === 1) media.schema = rest[0]!;
    }
  }
  return document;
}

/**
 * Text for a Markdown table cell that reads as written: swagger-ui renders descriptions as
 * CommonMark with HTML allowed and then sanitizes, so a `<key>` in a message would be taken for a
 * tag and dropped; a `|` would end the cell.
 */
export function markdownText(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/\|/g, '\\|');
}

const UI_OPTIONS = {
  routePrefix: DOCS_PATH,
  // swagger-ui's own default asks validator.swagger.io for a badge; @fastify/swagger-ui passes null, and so do we, should that change
  uiConfig: { docExpansion: 'list' as const, deepLinking: true, validatorUrl: null },
  staticCSP: DOCS_CSP,
};

/** The same document and pages on another listener (ADMIN_PORT), from the document the API's listener made. */
export async function serveDocument(app: FastifyInstance, document: Record<string, unknown>): Promise<void> {
  await app.register(swagger, { mode: 'static', specification: { document: document as never } });
  await app.register(swaggerUi, UI_OPTIONS);
}
