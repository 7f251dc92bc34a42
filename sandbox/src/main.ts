import { pino } from 'pino';
import { ensureKeyPair } from './keys.js';
import { StartupError, maskUrl } from './redis-connection.js';
import { startSandbox } from './server.js';
import { ConfigError, readSettings } from './settings.js';

/**
 * `npm run sandbox` (or `node dist/main.js` in its image): the Bank 131 emulator on its own. Where
 * keys are not given it makes them (in SANDBOX_KEYS_DIR) and prints the settings the payout service
 * needs to talk to it.
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

  const lines = [
    `Bank 131 sandbox listening on ${sandbox.url}${sandbox.publicUrl === sandbox.url ? '' : ` (reached at ${sandbox.publicUrl})`}`,
    `  the bank is kept in: Redis at ${maskUrl(settings.redisUrl)}, prefix ${settings.redisPrefix} (a restart keeps its sessions and ledger)`,
    `  webhooks go to: ${settings.webhookUrl ?? '(none yet: PATCH /sandbox/knobs {"webhookUrl": "..."})'}`,
    '  settings for the payout service:',
    `    BANK131_BASE_URL=${sandbox.url}`,
    `    BANK131_PROJECT=${settings.project ?? '<any non-empty id>'}`,
  ];
  if (partner) lines.push(`    BANK131_PRIVATE_KEY_FILE=${partner.privatePath}   (the sandbox verifies with ${partner.publicPath})`);
  else lines.push('    BANK131_PRIVATE_KEY_FILE=<the private half of SANDBOX_PARTNER_PUBLIC_KEY>');
  if (bankKeys)
    lines.push(`    BANK131_PUBLIC_KEY_FILE=${bankKeys.publicPath}   (the sandbox signs webhooks with ${bankKeys.privatePath})`);
  else lines.push('    BANK131_PUBLIC_KEY_FILE=<the public half of SANDBOX_BANK_PRIVATE_KEY>');
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
