import type { Job } from 'bullmq';
import { NotFinalYet } from '../src/bank131/errors.js';
import { BankSession } from '../src/bank131/schemas.js';
import { describeSession } from '../src/payouts/bank-verdict.js';
import { WebhookJob } from '../src/payouts/schemas.js';
import { applyBankSession } from '../src/pipeline/apply-bank-session.js';
import type { PipelineDeps } from '../src/pipeline/pipeline-deps.js';
import { requestCheck } from '../src/pipeline/reconcile.js';

/**
 * bank-webhooks: routes a verified webhook by session to the payout's next step. Every webhook
 * for a known payout leaves an audit entry. `ready_to_confirm` and `payment_finished` are applied
 * as the bank's word (src/pipeline/apply-bank-session.ts), from the states where they still
 * apply; any other type, a status we do not know, or a session we cannot read leads to a
 * session/status check instead of being dropped.
 */
export function webhookProcessor(deps: PipelineDeps) {
  return async (job: Job<WebhookJob>): Promise<string> => {
    const data = WebhookJob.parse(job.data);
    const parsed = BankSession.safeParse(data.session);
    const payout = await deps.store.noteBySession(data.session.id, `webhook ${data.type}: ${parsed.success ? describeSession(parsed.data) : 'session unreadable'}`);
    if (!payout) {
      deps.log.warn({ type: data.type, sessionId: data.session.id }, 'webhook for an unknown session; nothing changed');
      return 'unknown session';
    }
    const payoutId = payout.id;
    if (!parsed.success || (data.type !== 'ready_to_confirm' && data.type !== 'payment_finished')) {
      await requestCheck(deps, payoutId, `webhook ${data.type}`);
      return 'status check requested';
    }
    try {
      return await applyBankSession(deps, payout, parsed.data, 'webhook');
    } catch (err) {
      if (!(err instanceof NotFinalYet)) throw err;
      await requestCheck(deps, payoutId, err.reason);
      return 'status check requested';
    }
  };
}
