import { pino } from 'pino';
import { ensureKeyPair } from './keys.js';
import { StartupError, maskUrl } from './redis-connection.js';
import { startSandbox } from './server.js';
import { ConfigError, readSettings } from './settings.js';

/**
 * `npm run sandbox` (or `node dist/main.js` in its image): the Bank 131 emulator on its own. Where
 * keys are not given it makes them (in SANDBOX_KEYS_DIR) and prints every setting the payout service
 * needs against it: the BANK131_* ones, BANK131_WIDGET_URL included (its own URL, since it serves the
 * card widget in the bank's place).
 *
 * The bank lives in Redis (SANDBOX_REDIS_URL, by default redis://127.0.0.1:6379) under
 * SANDBOX_REDIS_PREFIX (default `{b131sandbox}`): sessions with their due steps, the ledger, the
 * wallet balance, idempotency keys, widget public tokens and webhooks not yet delivered. A sandbox
 * killed and started again on the same Redis and prefix is the same bank: it answers for the same
 * sessions, takes the steps that fell due while it was down, re-sends undelivered webhooks, and pays
 * nothing twice. Knobs are never kept (SANDBOX_WEBHOOK_URL sets the webhook URL again at each start).
 */
async function main(): Promise<void> {
  const settings = readSettings(process.env);
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
    publicUrl: settings.publicUrl,
  });

  // Every setting the payout service needs against this bank, as KEY=value lines to copy as they are
  // (the notes go on lines of their own): with them the service signs its calls, verifies the
  // webhooks, and its card page loads the widget, which this sandbox serves in the bank's place.
  const lines = [
    `Bank 131 sandbox listening on ${sandbox.url}${sandbox.publicUrl === sandbox.url ? '' : ` (reached at ${sandbox.publicUrl})`}`,
    `  the bank is kept in: Redis at ${maskUrl(settings.redisUrl)}, prefix ${settings.redisPrefix} (a restart keeps its sessions and ledger)`,
    `  webhooks go to: ${settings.webhookUrl ?? '(none yet: set SANDBOX_WEBHOOK_URL=<the web\'s URL>/webhooks/bank131, or PATCH /sandbox/knobs {"webhookUrl": "..."})'}`,
    '  settings for the payout service (web and worker):',
    `    BANK131_BASE_URL=${sandbox.url}`,
    `    BANK131_PROJECT=${settings.project ?? 'sandbox'}`,
    `    BANK131_PRIVATE_KEY_FILE=${partner ? partner.privatePath : '<the private half of SANDBOX_PARTNER_PUBLIC_KEY>'}`,
    `    BANK131_PUBLIC_KEY_FILE=${bankKeys ? bankKeys.publicPath : '<the public half of SANDBOX_BANK_PRIVATE_KEY>'}`,
    `    BANK131_WIDGET_URL=${sandbox.publicUrl}`,
    `  (BANK131_PROJECT: ${settings.project ? 'SANDBOX_PROJECT' : 'any id will do, SANDBOX_PROJECT is not set'};` +
      ` BANK131_WIDGET_URL: this sandbox, which serves the card widget where recipients' browsers reach it)`,
  ];
  if (partner) lines.push(`  (the sandbox verifies requests with ${partner.publicPath})`);
  if (bankKeys) lines.push(`  (the sandbox signs webhooks with ${bankKeys.privatePath})`);
  lines.push("  the service's own settings, not the bank's: API_KEYS (web) and CALLBACK_SECRET (worker), see its README, Configuration");
  lines.push(
    '  control: GET /sandbox/ledger, GET|PATCH /sandbox/knobs, POST /sandbox/faults, GET /sandbox/webhooks, POST /sandbox/webhooks/send,',
  );
  lines.push(
    '           GET /sandbox/sessions/:id, POST /sandbox/sessions/:id/error, POST /sandbox/sessions/:id/resolve, POST /sandbox/sessions/:id/refund,',
  );
  lines.push('           GET|PUT /sandbox/taxpayers/:taxReference, GET /sandbox/receipts/:id, POST /sandbox/reset');
  process.stdout.write(`${lines.join('\n')}\n`);

  const stop = async () => {
    await sandbox.close();
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

/** A bad setting stops it with exit code 78 (EX_CONFIG), an unreachable Redis with 69 (EX_UNAVAILABLE); one line, no stack. */
main().catch((err: unknown) => {
  if (!(err instanceof ConfigError || err instanceof StartupError)) throw err;
  process.stderr.write(`${err.message}\n`);
  process.exit(err instanceof ConfigError ? 78 : 69);
});
