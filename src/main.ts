import { loadConfig } from './config.js';
import { createLogger } from './log.js';
import { checkRedisDurability, createRuntime, runtimeOptionsFrom } from './runtime.js';
import { startWeb } from './web.js';
import { exitOnConfigError } from './settings.js';

/** The web process (Procfile `web`): upstream API, Bank 131 webhooks, health, queue board. */
async function main(): Promise<void> {
  const config = loadConfig();
  const log = createLogger({ level: config.logLevel, base: { process: 'web' } });
  const runtime = createRuntime(runtimeOptionsFrom(config));
  await checkRedisDurability(runtime.redis, log);
  const { server: app } = await startWeb(runtime, {
    apiKeys: config.apiKeys,
    bankPublicKey: config.bank.publicKey,
    logger: log,
    board: config.board,
    host: config.host,
    port: config.port,
    timing: config.timing,
  });
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
