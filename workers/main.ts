import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/log.js';
import { checkRedisDurability, createRuntime, runtimeOptionsFrom } from '../src/runtime.js';
import { exitOnConfigError } from '../src/settings.js';
import { startWorkersFor } from './index.js';

/** The worker process (Procfile `worker`): run as many as you like against one Redis. */
async function main(): Promise<void> {
  const config = loadConfig();
  const log = createLogger({ level: config.logLevel, base: { process: 'worker' } });
  const runtime = createRuntime(runtimeOptionsFrom(config));
  await checkRedisDurability(runtime.redis, log);
  const workers = startWorkersFor(runtime, { log, callbackSecret: config.callbackSecret, concurrency: config.payoutConcurrency, prefix: config.redisPrefix, timing: config.timing });
  log.info({ concurrency: config.payoutConcurrency, maxRps: config.bank.maxRps, ...config.timing }, 'worker process ready');
  const stop = async () => {
    log.info('finishing jobs in hand, then stopping');
    await workers.close();
    await runtime.close();
    process.exit(0);
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch(exitOnConfigError);
