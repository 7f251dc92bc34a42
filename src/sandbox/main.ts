import { resolve } from 'node:path';
import { pino } from 'pino';
import { z } from 'zod';
import { SettingsReader, exitOnConfigError, httpUrl, port, redisUrl } from '../settings.js';
import { ensureKeyPair } from './keys.js';
import { startSandbox } from './server.js';
import { DEFAULT_SANDBOX_PREFIX } from './store.js';

/**
 * `npm run sandbox`: the Bank 131 emulator on its own. Where keys are not given it makes them
 * (in SANDBOX_KEYS_DIR) and prints the settings the payout service needs to talk to it.
 *
 * SANDBOX_REDIS_URL (e.g. redis://localhost:6379): keep the bank in Redis, under
 * SANDBOX_REDIS_PREFIX (default `{b131sandbox}`): sessions with their due steps, the ledger, the
 * wallet balance, idempotency keys, widget public tokens and webhooks not yet delivered. A sandbox
 * killed and started again on the same Redis and prefix is the same bank: it answers for the same
 * sessions, takes the steps that fell due while it was down, re-sends undelivered webhooks, and
 * pays nothing twice. Unset: everything lives in memory and a restart forgets it. Knobs are never
 * kept (SANDBOX_WEBHOOK_URL sets the webhook URL again at each start).
 */
async function main(): Promise<void> {
  const r = new SettingsReader(process.env);
  const settings = {
    host: r.read('SANDBOX_HOST', z.string().default('127.0.0.1')),
    port: r.read('SANDBOX_PORT', port.default(8131)),
    webhookUrl: r.read('SANDBOX_WEBHOOK_URL', httpUrl.optional()),
    project: r.read('SANDBOX_PROJECT', z.string().optional()),
    keysDir: resolve(r.read('SANDBOX_KEYS_DIR', z.string().default('.sandbox/keys')) ?? '.sandbox/keys'),
    partnerPublicKey: r.pem('SANDBOX_PARTNER_PUBLIC_KEY', 'public', false),
    bankPrivateKey: r.pem('SANDBOX_BANK_PRIVATE_KEY', 'private', false),
    redisUrl: r.read('SANDBOX_REDIS_URL', redisUrl.optional()),
    // Hash-tagged: each change is one script over several keys, which must share a Cluster slot.
    redisPrefix: r.read('SANDBOX_REDIS_PREFIX', z.string().regex(/^\{[^{}]+\}$/, 'must be a Redis hash tag such as {b131sandbox}').default(DEFAULT_SANDBOX_PREFIX)),
  };
  r.finish();

  const log = pino({ level: process.env.LOG_LEVEL ?? 'info' });
  const partner = settings.partnerPublicKey ? null : ensureKeyPair(settings.keysDir, 'partner');
  const bankKeys = settings.bankPrivateKey ? null : ensureKeyPair(settings.keysDir, 'bank');
  const sandbox = await startSandbox({
    host: settings.host,
    port: settings.port,
    partnerPublicKey: settings.partnerPublicKey ?? partner!.publicKey,
    bankPrivateKey: settings.bankPrivateKey ?? bankKeys!.privateKey,
    project: settings.project,
    knobs: settings.webhookUrl ? { webhookUrl: settings.webhookUrl } : {},
    logger: log.child({ component: 'sandbox' }),
    redisUrl: settings.redisUrl,
    redisPrefix: settings.redisPrefix,
  });

  const lines = [
    `Bank 131 sandbox listening on ${sandbox.url}`,
    `  the bank is kept in: ${settings.redisUrl ? `Redis, prefix ${settings.redisPrefix} (a restart keeps its sessions and ledger)` : 'memory (set SANDBOX_REDIS_URL to keep it across restarts)'}`,
    `  webhooks go to: ${settings.webhookUrl ?? '(none yet: PATCH /sandbox/knobs {"webhookUrl": "..."})'}`,
    '  settings for the payout service:',
    `    BANK131_BASE_URL=${sandbox.url}`,
    `    BANK131_PROJECT=${settings.project ?? '<any non-empty id>'}`,
  ];
  if (partner) lines.push(`    BANK131_PRIVATE_KEY_FILE=${partner.privatePath}   (the sandbox verifies with ${partner.publicPath})`);
  else lines.push('    BANK131_PRIVATE_KEY_FILE=<the private half of SANDBOX_PARTNER_PUBLIC_KEY>');
  if (bankKeys) lines.push(`    BANK131_PUBLIC_KEY_FILE=${bankKeys.publicPath}   (the sandbox signs webhooks with ${bankKeys.privatePath})`);
  else lines.push('    BANK131_PUBLIC_KEY_FILE=<the public half of SANDBOX_BANK_PRIVATE_KEY>');
  lines.push('  control: GET /sandbox/ledger, GET|PATCH /sandbox/knobs, POST /sandbox/faults, GET /sandbox/webhooks, POST /sandbox/webhooks/send,');
  lines.push('           GET /sandbox/sessions/:id, POST /sandbox/sessions/:id/error, POST /sandbox/sessions/:id/resolve, POST /sandbox/reset');
  process.stdout.write(`${lines.join('\n')}\n`);

  const stop = async () => {
    await sandbox.close();
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch(exitOnConfigError);
