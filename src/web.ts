import type { KeyObject } from 'node:crypto';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import { mountBoard, type BoardOptions } from './board.js';
import { DEFAULT_TIMING, type CrashPoints, type PipelineTiming } from './pipeline/pipeline-deps.js';
import type { Runtime } from './runtime.js';
import { EXIT, StartupError } from './settings.js';
import { buildAdminServer, buildServer, type ServerDeps } from './server.js';

export interface WebOptions {
  apiKeys: string[];
  bankPublicKey: KeyObject;
  logger: FastifyBaseLogger | false;
  board?: BoardOptions | null;
  host?: string;
  /** 0: any free port. */
  port?: number;
  timing?: PipelineTiming;
  crashPoints?: CrashPoints;
  /** Where the API is reached from outside (PUBLIC_URL); by default the address it listens on. */
  publicUrl?: string;
  /** BANK131_WIDGET_URL: where recipients' browsers load the tokenization widget. */
  widgetUrl: string;
  /** COLLECT_PAYER_NAME: who the recipient is told pays them. */
  payerName?: string;
  /** CALLBACK_ALLOW_PRIVATE: accept callback URLs on private, loopback and metadata addresses. */
  allowPrivateCallbacks?: boolean;
  /** ACCESS_LOG: one log line per response. */
  accessLog?: boolean;
  /** ADMIN_PORT / ADMIN_HOST: /metrics, /docs and the board on a listener of their own (0: any free port). */
  admin?: { port: number; host: string } | null;
  /** TRUST_PROXY. */
  trustProxy?: boolean | number | string;
}

export interface RunningWeb {
  /** The public listener; closing it closes the admin listener too. */
  server: FastifyInstance;
  url: string;
  /** Where /metrics, /docs and the board are, when ADMIN_PORT puts them apart. */
  adminUrl: string | null;
}

/** The web process on a runtime, listening: used by `npm start`, the demo and the tests alike. */
export async function startWeb(runtime: Runtime, options: WebOptions): Promise<RunningWeb> {
  const board = options.board;
  let listening = '';
  const deps: ServerDeps = {
    config: {
      apiKeys: options.apiKeys,
      bankPublicKey: options.bankPublicKey,
      publicUrl: options.publicUrl ?? (() => listening),
      widgetUrl: options.widgetUrl,
      payerName: options.payerName ?? 'bank131-payouts',
    },
    bank: runtime.bank,
    store: runtime.store,
    queues: runtime.queues,
    redis: runtime.redis,
    bankAccess: runtime.bankAccess,
    reportRedisError: runtime.reportRedisError,
    timing: options.timing ?? DEFAULT_TIMING,
    crashPoints: options.crashPoints,
    allowPrivateCallbacks: options.allowPrivateCallbacks,
    accessLog: options.accessLog,
    logger: options.logger,
    extend: board ? (app) => mountBoard(app, runtime.queues, board) : undefined,
    adminApart: Boolean(options.admin),
    trustProxy: options.trustProxy,
  };
  const server = await buildServer(deps);
  let admin: FastifyInstance | null = null;
  server.addHook('onClose', async () => {
    await admin?.close();
  });
  const host = options.host ?? '127.0.0.1';
  listening = await listenOn(server, host, options.port ?? 0, 'PORT', 'HOST');
  let adminUrl: string | null = null;
  if (options.admin) {
    admin = await buildAdminServer(deps, server);
    try {
      adminUrl = await listenOn(admin, options.admin.host, options.admin.port, 'ADMIN_PORT', 'ADMIN_HOST');
    } catch (err) {
      await server.close().catch(() => undefined);
      throw err;
    }
  }
  return { server, url: listening, adminUrl };
}

/** Listens, or closes the app and says why in one line naming the settings; answers its URL. */
async function listenOn(app: FastifyInstance, host: string, port: number, portName: string, hostName: string): Promise<string> {
  try {
    await app.listen({ host, port });
  } catch (err) {
    await app.close().catch(() => undefined);
    throw listenError(err as NodeJS.ErrnoException, host, port, { port: portName, host: hostName });
  }
  const bound = (app.server.address() as { port: number }).port;
  return `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${bound}`;
}

/** Why the web cannot listen, in one line naming PORT and HOST; anything unexpected as it is. */
export function listenError(err: NodeJS.ErrnoException, host: string, port: number, names = { port: 'PORT', host: 'HOST' }): Error {
  const { port: PORT, host: HOST } = names;
  switch (err.code) {
    case 'EADDRINUSE':
      return new StartupError(`${PORT}: ${port} is already in use on ${HOST} ${host} (another process listens there; stop it or choose another ${PORT})`, EXIT.unavailable);
    case 'EACCES':
      return new StartupError(`${PORT}: ${port} on ${HOST} ${host} needs privileges this process does not have (choose a ${PORT} above 1023)`, EXIT.config);
    case 'EADDRNOTAVAIL':
      return new StartupError(`${HOST}: ${host} is not an address of this machine (use 0.0.0.0 for every interface, or 127.0.0.1)`, EXIT.config);
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new StartupError(`${HOST}: unknown host ${host}`, EXIT.config);
    default:
      return err;
  }
}
