import type { Job } from 'bullmq';
import { NotFinalYet } from '../src/bank131/errors.js';
import { BankSession } from '../src/bank131/schemas.js';
import { checkSignature } from '../src/bank131/signature.js';
import { jobsRefused } from '../src/metrics.js';
import { describeSession } from '../src/payouts/bank-verdict.js';
import { WebhookJob, webhookBytes } from '../src/payouts/schemas.js';
import { applyBankSession } from '../src/pipeline/apply-bank-session.js';
import type { JobOutcome } from '../src/pipeline/job-outcome.js';
import type { PipelineDeps } from '../src/pipeline/pipeline-deps.js';
import { requestCheck } from '../src/pipeline/reconcile.js';

/**
 * A signed Bank 131 webhook as a job: the web puts `ready_to_confirm` on the confirm queue and
 * `payment_finished` on the finish queue (the step each feeds: workers/payout-confirm.ts,
 * workers/payout-finish.ts), and anything else on bank-webhooks, whose worker is this. Each
 * verifies the signed body the job carries, then routes it by session to the payout's next step. The web verified it too, but a job is only a pointer: anyone who can write
 * to Redis (or act on the queue board) can add or edit one, so the worker believes only what the
 * bank's key signed (docs/architecture.md, "What a job may carry"). A job that does not verify
 * changes nothing and is an alarm.
 *
 * Every webhook for a known payout leaves an audit entry. `ready_to_confirm`, `payment_finished`
 * and `payment_refunded` are applied as the bank's word (src/pipeline/apply-bank-session.ts), from the
 * states where they still apply; any other type, a status we do not know, or a session we cannot
 * read leads to a session/status check instead of being dropped.
 */
export function webhookProcessor(deps: PipelineDeps) {
  return async (job: Job<WebhookJob>): Promise<JobOutcome> => (await applyWebhook(deps, job)).outcome;
}

/** What applying a webhook came to, and the payout it was about (null: none of ours, or nothing believed). */
export interface Applied {
  outcome: JobOutcome;
  payout: { id: string; sessionId: string } | null;
}

/**
 * Verifies a webhook job's signed body and applies the session it reports to its payout, as the
 * bank's word (src/pipeline/apply-bank-session.ts). `deps.inline` lets the job that applies it do
 * the step's follow-up itself.
 */
export async function applyWebhook(deps: PipelineDeps, job: Job<WebhookJob>): Promise<Applied> {
  const none = (outcome: JobOutcome): Applied => ({ outcome, payout: null });
  const data = WebhookJob.safeParse(job.data);
  if (!data.success) return none(refuse(deps, job, 'malformed', 'it carries no signed body'));
  const raw = webhookBytes(data.data);
  const check = checkSignature(raw, data.data.signature, deps.bankPublicKey);
  if (!check.ok)
    return none(refuse(deps, job, 'bad_signature', `its signature is ${check.reason === 'mismatch' ? 'not the bank’s' : check.reason}`));

  const { type, sessionId, session } = readWebhook(raw);
  if (!sessionId) {
    deps.log.warn({ type, jobId: job.id }, 'signed webhook without a session; nothing to act on');
    return none({ outcome: 'no_session' });
  }
  const payout = await deps.store.noteBySession(sessionId, `webhook ${type}: ${session ? describeSession(session) : 'session unreadable'}`);
  if (!payout) {
    deps.log.warn({ type, sessionId }, 'webhook for an unknown session; nothing changed');
    return none({ outcome: 'unknown_session' });
  }
  const about = { id: payout.id, sessionId };
  if (!session || !ACTED_ON.has(type)) {
    await requestCheck(deps, payout.id, `webhook ${type}`);
    return { outcome: { outcome: 'status_check_requested' }, payout: about };
  }
  try {
    return { outcome: await applyBankSession(deps, payout, session, 'webhook'), payout: about };
  } catch (err) {
    if (!(err instanceof NotFinalYet)) throw err;
    await requestCheck(deps, payout.id, err.reason);
    return { outcome: { outcome: 'status_check_requested' }, payout: about };
  }
}

/** The types whose session is applied as it stands; any other leads to a session/status check. */
const ACTED_ON = new Set(['ready_to_confirm', 'payment_finished', 'payment_refunded']);

/**
 * What a verified body says, read leniently: the bank may add types and fields, send nulls, or a
 * shape we do not know, and a signed webhook is never refused for its content.
 */
function readWebhook(raw: Buffer): { type: string; sessionId: string | undefined; session: BankSession | null } {
  let json: { type?: unknown; session?: { id?: unknown } | null } | null;
  try {
    json = JSON.parse(raw.toString('utf8')) as typeof json;
  } catch {
    return { type: 'unknown', sessionId: undefined, session: null };
  }
  const type = typeof json?.type === 'string' ? json.type : 'unknown';
  const id = json?.session?.id;
  const parsed = BankSession.safeParse(json?.session);
  return { type, sessionId: typeof id === 'string' && id ? id : undefined, session: parsed.success ? parsed.data : null };
}

/** A job whose data is not the bank's signed word: nothing is applied, and someone should look. */
function refuse(deps: PipelineDeps, job: Job, reason: 'bad_signature' | 'malformed', detail: string): JobOutcome {
  const queue = job.queueName;
  jobsRefused.inc({ queue, reason });
  deps.log.error(
    { queue, jobId: job.id, name: job.name, reason },
    `ALARM: a webhook job the bank did not sign (${detail}); nothing changed. Was it added or edited by hand?`,
  );
  return { outcome: 'refused', reason };
}
