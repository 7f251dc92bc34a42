import { z } from 'zod';
import { COMMON_ENV, PEMS, commonSettings } from './common.js';
import { bool, httpUrl, intervalOrOff, nonNegativeInt, port, positiveInt, readEnv, type Env } from './env.js';

const apiKeys = z
  .string()
  .transform((s) =>
    s
      .split(',')
      .map((k) => k.trim())
      .filter(Boolean),
  )
  .pipe(z.array(z.string().min(16, 'each key must be at least 16 characters')).min(1, 'must list at least one key'));

/** CONSOLE_USERS: `name:password,name2:password2`. The messages name users, never a password. */
const consoleUsers = z.string().transform((s, ctx) => {
  const users: Array<{ name: string; password: string }> = [];
  const entries = s.split(',').map((e) => e.trim());
  for (const entry of entries.filter(Boolean)) {
    const at = entry.indexOf(':');
    const name = at < 0 ? '' : entry.slice(0, at);
    const password = at < 0 ? '' : entry.slice(at + 1);
    if (!/^[A-Za-z0-9._@-]{1,64}$/.test(name))
      ctx.addIssue({ code: 'custom', message: 'each entry must be name:password, the name 1 to 64 letters, digits or "._@-"' });
    else if (password.length < 12) ctx.addIssue({ code: 'custom', message: `the password of ${name} must be at least 12 characters` });
    else if (users.some((u) => u.name === name)) ctx.addIssue({ code: 'custom', message: `names ${name} twice` });
    else users.push({ name, password });
  }
  return users;
});

/**
 * TRUST_PROXY as Fastify's trustProxy takes it: true/false, a number of hops, or a comma-separated
 * list of addresses and CIDR ranges of the proxies in front of the web.
 */
const trustProxy = z
  .string()
  .default('false')
  .transform((v, ctx): boolean | number | string => {
    const t = v.trim();
    if (t === 'true' || t === 'false') return t === 'true';
    if (/^\d+$/.test(t)) return Number(t);
    if (/^[0-9a-fA-F.:/,\s]+$/.test(t)) return t;
    ctx.addIssue({
      code: 'custom',
      message: 'must be true, false, a number of proxy hops, or a comma-separated list of proxy addresses (CIDR allowed)',
    });
    return z.NEVER;
  });

/** The web process's variables (docs/operations.md, Settings): the common ones and its own. */
const WebEnv = z.object({
  ...COMMON_ENV,
  HOST: z.string().default('127.0.0.1'),
  PORT: port.default(3000),
  PUBLIC_URL: httpUrl.optional(),
  ADMIN_PORT: port.optional(),
  ADMIN_HOST: z.string().default('127.0.0.1'),
  TRUST_PROXY: trustProxy,
  API_KEYS: apiKeys,
  API_RATE_LIMIT_PER_MINUTE: positiveInt.max(1_000_000, 'must be at most 1000000').optional(),
  BOARD_USER: z.string().optional(),
  BOARD_PASSWORD: z.string().min(12, 'must be at least 12 characters').optional(),
  BOARD_READ_ONLY: bool('true'),
  CONSOLE_USERS: consoleUsers.optional(),
  CONSOLE_SESSION_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  ACCESS_LOG: bool('true'),
  // Unset, the card page names the web's host instead (and the web warns at start-up): never this software's name.
  COLLECT_PAYER_NAME: z.string().trim().min(1, 'must not be empty').max(100, 'must be at most 100 characters').optional(),
  BANK131_WIDGET_URL: httpUrl.default('https://widget-demo.bank131.ru'),
  // GET /v1/balance: how long the bank's wallet/balance answer is reused (0: every request asks the bank)
  BALANCE_CACHE_MS: nonNegativeInt.max(600_000, 'must be at most 600000').default(5_000),
  // how often the web asks the bank a cheap signed question for /readyz (src/http/bank-probe.ts); 0: never
  BANK_PROBE_MS: intervalOrOff(1_000).default(60_000),
});

/** What the web process runs on: read once at start-up, handed as it is to its plugins. */
export const WebSettings = WebEnv.transform((e, ctx) => ({
  ...commonSettings(e),
  host: e.HOST,
  port: e.PORT,
  /**
   * Where the web is reached from outside: collection links and the API document use it. Unset
   * with PORT 0 (any free port), it is the address the web ends up listening on.
   */
  publicUrl: e.PUBLIC_URL ?? (e.PORT === 0 ? null : `http://${e.HOST === '0.0.0.0' ? '127.0.0.1' : e.HOST}:${e.PORT}`),
  /** ADMIN_PORT: /metrics, /docs and the queue board on a listener of their own; null keeps them on PORT. */
  admin: e.ADMIN_PORT !== undefined ? { port: e.ADMIN_PORT, host: e.ADMIN_HOST } : null,
  trustProxy: e.TRUST_PROXY,
  apiKeys: e.API_KEYS,
  /** Requests per minute to the API per tenant and web process, for tenants without their own limit; null: none. */
  apiRateLimitPerMinute: e.API_RATE_LIMIT_PER_MINUTE ?? null,
  /** The queue board, when both BOARD_USER and BOARD_PASSWORD are given; read-only unless BOARD_READ_ONLY=false. */
  board: e.BOARD_USER && e.BOARD_PASSWORD ? { user: e.BOARD_USER, password: e.BOARD_PASSWORD, readOnly: e.BOARD_READ_ONLY } : null,
  /**
   * The operator console (/console, src/console/): its users are the queue board's and CONSOLE_USERS';
   * null when there are none. Sessions are signed with CONSOLE_SESSION_SECRET, else with a key derived from the users.
   */
  console: consoleOf(e, ctx),
  accessLog: e.ACCESS_LOG,
  /** Who the recipient is told pays them, on the card collection page; null: unset, the page names a host (collectPayerHost). */
  collectPayerName: e.COLLECT_PAYER_NAME ?? null,
  /** What the card page names as the payer when COLLECT_PAYER_NAME is unset: PUBLIC_URL's host name; null: the request's host name. */
  collectPayerHost: e.PUBLIC_URL ? new URL(e.PUBLIC_URL).hostname : null,
  /** Where the recipient's browser loads the tokenization widget from. */
  widgetUrl: e.BANK131_WIDGET_URL,
  /** How long `GET /v1/balance` reuses the bank's wallet/balance answer (src/funding/balance-cache.ts); 0: not at all. */
  balanceCacheMs: e.BALANCE_CACHE_MS,
  /** How often the web probes the bank with `wallet/balance`, for /readyz (src/http/bank-probe.ts); 0: never. */
  bankProbeMs: e.BANK_PROBE_MS,
}));
export type WebSettings = z.output<typeof WebSettings>;

function consoleOf(
  e: Pick<z.output<typeof WebEnv>, 'BOARD_USER' | 'BOARD_PASSWORD' | 'CONSOLE_USERS' | 'CONSOLE_SESSION_SECRET'>,
  ctx: z.RefinementCtx,
): { users: Array<{ name: string; password: string }>; sessionSecret: string | null } | null {
  const users = [
    ...(e.BOARD_USER && e.BOARD_PASSWORD ? [{ name: e.BOARD_USER, password: e.BOARD_PASSWORD }] : []),
    ...(e.CONSOLE_USERS ?? []),
  ];
  // one name, one password: which of two would the console take?
  if (e.BOARD_USER && e.CONSOLE_USERS?.some((u) => u.name === e.BOARD_USER))
    ctx.addIssue({ code: 'custom', path: ['CONSOLE_USERS'], message: `names ${e.BOARD_USER} again, the queue board's BOARD_USER` });
  return users.length > 0 ? { users, sessionSecret: e.CONSOLE_SESSION_SECRET ?? null } : null;
}

/** The web process's settings (`npm start`); throws a ConfigError naming every bad one. */
export function loadWebSettings(env: Env = process.env): WebSettings {
  return readEnv(WebSettings, env, {
    pems: PEMS,
    pairs: [{ names: ['BOARD_USER', 'BOARD_PASSWORD'], problem: 'give both to enable the queue board, or neither' }],
  });
}
