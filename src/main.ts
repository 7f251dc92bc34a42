import { loadWebConfig } from './config.js';
import { createLogger } from './log.js';
import { checkRedisDurability, createRuntime, exitOnSignals, redisReady, waitForRedis, webRuntimeOptions } from './runtime.js';
import { startWeb } from './web.js';
import { exitOnStartupError } from './settings.js';

/** The web process (Procfile `web`): upstream API, Bank 131 webhooks, health, queue board. */
async function main(): Promise<void> {
  const config = loadWebConfig();
  const log = createLogger({ level: config.logLevel, pretty: config.logPretty, base: { process: 'web' } });
  // Before anything else touches Redis: a wrong REDIS_URL or REDIS_CLUSTER ends here, in one line that names it.
  await waitForRedis(config.redisUrl, config.redisConnectTimeoutMs, { cluster: config.redisCluster });
  const runtime = createRuntime(webRuntimeOptions(config, log));
  await redisReady(runtime, config.redisUrl, config.redisConnectTimeoutMs);
  await checkRedisDurability(runtime.redis, log);
  const { server: app, adminUrl } = await startWeb(runtime, {
    apiKeys: config.apiKeys,
    bankPublicKey: config.bank.publicKey,
    logger: log,
    board: config.board ? { ...config.board, readOnly: config.boardReadOnly } : null,
    host: config.host,
    port: config.port,
    timing: config.timing,
    publicUrl: config.publicUrl,
    widgetUrl: config.bank.widgetUrl,
    payerName: config.collectPayerName,
    allowPrivateCallbacks: config.callbackAllowPrivate,
    accessLog: config.accessLog,
    admin: config.admin,
    trustProxy: config.trustProxy,
  });
  const operators = adminUrl ?? config.publicUrl;
  log.info(
    { url: config.publicUrl, admin: adminUrl ?? 'on PORT (set ADMIN_PORT to serve /metrics, /docs and the board apart)', board: config.board ? `${operators}/admin/queues` : 'off (set BOARD_USER and BOARD_PASSWORD)' },
    'web process ready',
  );
  exitOnSignals(
    async () => {
      await app.close();
      await runtime.close();
    },
    { timeoutMs: config.shutdownTimeoutMs, log },
  );
}

main().catch(exitOnStartupError);
