import { pathToFileURL } from 'node:url';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import { startBankProbe } from './http/bank-probe.js';
import { buildAdminServer, buildServer, type ServerDeps } from './http/server.js';
import { createLogger } from './log.js';
import type { CrashPoints } from './pipeline/pipeline-deps.js';
import { EXIT, StartupError, exitOnStartupError } from './process/exit.js';
import { exitOnSignals } from './process/lifecycle.js';
import { createRuntime, runtimeOptionsFor, type Runtime } from './runtime.js';
import { loadWebSettings, type WebSettings } from './settings/web.js';
import { checkRedisDurability, redisReady, waitForRedis } from './store/redis-connection.js';

/**
 * The web process (Procfile `web`): the upstream API, Bank 131's webhooks, the recipients' card
 * pages, health, and what operators use (docs/operations.md). `startWeb` is the same process on a
 * runtime, for the demo and the tests.
 */
async function main(): Promise<void> {
  const settings = loadWebSettings();
  const log = createLogger({ level: settings.logLevel, pretty: settings.logPretty, base: { process: 'web' } });
  // Before anything else touches Redis: a wrong REDIS_URL or REDIS_CLUSTER ends here, in one line that names it.
  await waitForRedis(settings.redisUrl, settings.redisConnectTimeoutMs, { cluster: settings.redisCluster });
  const runtime = createRuntime(runtimeOptionsFor(settings, 'web', log));
  await redisReady(runtime.redis, settings.redisUrl, settings.redisConnectTimeoutMs);
  await checkRedisDurability(runtime.redis, log);
  const web = await startWeb(runtime, settings, { logger: log });
  const operators = web.adminUrl ?? web.url;
  log.info(
    {
      url: settings.publicUrl ?? web.url,
      admin: web.adminUrl ?? 'on PORT (set ADMIN_PORT to serve /metrics, /docs and the board apart)',
      board: settings.board ? `${operators}/admin/queues` : 'off (set BOARD_USER and BOARD_PASSWORD)',
    },
    'web process ready',
  );
  exitOnSignals(
    async () => {
      await web.server.close();
      await runtime.close();
    },
    { timeoutMs: settings.shutdownTimeoutMs, log },
  );
}

export interface RunningWeb {
  /** The public listener; closing it closes the admin listener too. */
  server: FastifyInstance;
  /** The address it listens on (PUBLIC_URL is where it is reached from outside). */
  url: string;
  /** Where /metrics, /docs and the board are, when ADMIN_PORT puts them apart. */
  adminUrl: string | null;
}

/** The web on a runtime, listening on PORT (and ADMIN_PORT): what `npm start`, the demo and the tests run. */
export async function startWeb(
  runtime: Runtime,
  settings: WebSettings,
  extras: { logger: FastifyBaseLogger | false; crashPoints?: CrashPoints },
): Promise<RunningWeb> {
  let listening = '';
  const deps: ServerDeps = {
    settings,
    bank: runtime.bank,
    store: runtime.store,
    tenants: runtime.tenants,
    queues: runtime.queues,
    redis: runtime.redis,
    bankAccess: runtime.bankAccess,
    reportRedisError: runtime.reportRedisError,
    publicUrl: () => settings.publicUrl ?? listening,
    logger: extras.logger,
    ...(extras.crashPoints ? { crashPoints: extras.crashPoints } : {}),
  };
  const server = await buildServer(deps);
  let admin: FastifyInstance | null = null;
  let stopProbe = () => undefined as void;
  server.addHook('onClose', async () => {
    stopProbe();
    await admin?.close();
  });
  listening = await listenOn(server, settings.host, settings.port, { port: 'PORT', host: 'HOST' });
  let adminUrl: string | null = null;
  if (settings.admin) {
    admin = await buildAdminServer(deps, server);
    try {
      adminUrl = await listenOn(admin, settings.admin.host, settings.admin.port, { port: 'ADMIN_PORT', host: 'ADMIN_HOST' });
    } catch (err) {
      await server.close().catch(() => undefined);
      throw err;
    }
  }
  // /readyz knows the bank's answer to our key within one interval of start (src/http/bank-probe.ts)
  stopProbe = startBankProbe(runtime.bank, settings.bankProbeMs, server.log);
  return { server, url: listening, adminUrl };
}

/** Listens, or closes the app and says why in one line naming the settings; answers its URL. */
async function listenOn(app: FastifyInstance, host: string, port: number, names: { port: string; host: string }): Promise<string> {
  try {
    await app.listen({ host, port });
  } catch (err) {
    await app.close().catch(() => undefined);
    throw listenError(err as NodeJS.ErrnoException, host, port, names);
  }
  const bound = (app.server.address() as { port: number }).port;
  return `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${bound}`;
}

/** Why the web cannot listen, in one line naming PORT and HOST; anything unexpected as it is. */
export function listenError(err: NodeJS.ErrnoException, host: string, port: number, names = { port: 'PORT', host: 'HOST' }): Error {
  const { port: PORT, host: HOST } = names;
  switch (err.code) {
    case 'EADDRINUSE':
      return new StartupError(
        `${PORT}: ${port} is already in use on ${HOST} ${host} (another process listens there; stop it or choose another ${PORT})`,
        EXIT.unavailable,
      );
    case 'EACCES':
      return new StartupError(
        `${PORT}: ${port} on ${HOST} ${host} needs privileges this process does not have (choose a ${PORT} above 1023)`,
        EXIT.config,
      );
    case 'EADDRNOTAVAIL':
      return new StartupError(
        `${HOST}: ${host} is not an address of this machine (use 0.0.0.0 for every interface, or 127.0.0.1)`,
        EXIT.config,
      );
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new StartupError(`${HOST}: unknown host ${host}`, EXIT.config);
    default:
      return err;
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) main().catch(exitOnStartupError);
