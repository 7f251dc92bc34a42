import type { KeyObject } from 'node:crypto';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import { mountBoard } from './board.js';
import { DEFAULT_TIMING, type CrashPoints, type PipelineTiming } from './pipeline/pipeline-deps.js';
import type { Runtime } from './runtime.js';
import { buildServer } from './server.js';

export interface WebOptions {
  apiKeys: string[];
  bankPublicKey: KeyObject;
  logger: FastifyBaseLogger | false;
  board?: { user: string; password: string } | null;
  host?: string;
  /** 0: any free port. */
  port?: number;
  timing?: PipelineTiming;
  crashPoints?: CrashPoints;
}

/** The web process on a runtime, listening: used by `npm start`, the demo and the tests alike. */
export async function startWeb(runtime: Runtime, options: WebOptions): Promise<{ server: FastifyInstance; url: string }> {
  const board = options.board;
  const server = await buildServer({
    config: { apiKeys: options.apiKeys, bankPublicKey: options.bankPublicKey },
    store: runtime.store,
    queues: runtime.queues,
    redis: runtime.redis,
    timing: options.timing ?? DEFAULT_TIMING,
    crashPoints: options.crashPoints,
    logger: options.logger,
    extend: board ? (app) => mountBoard(app, runtime.queues, board) : undefined,
  });
  const host = options.host ?? '127.0.0.1';
  await server.listen({ host, port: options.port ?? 0 });
  const port = (server.server.address() as { port: number }).port;
  return { server, url: `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}` };
}
