import { loadConfig } from './config.js';
import { createLogger } from './log.js';
import { checkRedisDurability, createRuntime, runtimeOptionsFrom } from './runtime.js';
import { buildServer } from './server.js';
import { mountBoard } from './board.js';
import { exitOnConfigError } from './settings.js';

/** The web process (Procfile `web`): upstream API, Bank 131 webhooks, health, queue board. */
async function main(): Promise<void> {
  const config = loadConfig();
  const log = createLogger({ level: config.logLevel, base: { process: 'web' } });
  const runtime = createRuntime(runtimeOptionsFrom(config));
  await checkRedisDurability(runtime.redis, log);
  const app = await buildServer({
    config: { apiKeys: config.apiKeys, bankPublicKey: config.bank.publicKey },
    store: runtime.store,
    queues: runtime.queues,
    redis: runtime.redis,
    logger: log,
    extend: config.board ? (a) => mountBoard(a, runtime.queues, config.board!) : undefined,
  });
  await app.listen({ host: config.host, port: config.port });
  log.info({ url: config.publicUrl, board: config.board ? `${config.publicUrl}/admin/queues` : 'off (set BOARD_USER and BOARD_PASSWORD)' }, 'web process ready');
  const stop = async () => {
    log.info('shutting down');
    await app.close();
    await runtime.close();
    process.exit(0);
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch(exitOnConfigError);
