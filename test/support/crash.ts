import { UnrecoverableError } from 'bullmq';
import type { CrashPoints } from '../../src/pipeline/pipeline-deps.js';
import type { StepName } from '../../src/payouts/steps.js';

/**
 * Makes a process "die" at an exact line for one payout: the job in hand ends for good right
 * after the step's state change is stored and before its follow-up is enqueued (BullMQ does not
 * retry an UnrecoverableError), which is what a SIGKILL at that line leaves behind. In the web
 * process, the request fails after the batch is recorded and before its jobs are enqueued.
 */
export function crashSwitch() {
  const armed = new Map<string, number>();
  const fired: string[] = [];
  const take = (key: string): boolean => {
    const left = armed.get(key) ?? 0;
    if (left <= 0) return false;
    armed.set(key, left - 1);
    fired.push(key);
    return true;
  };
  const points: CrashPoints = {
    afterStep(step, payoutId) {
      if (take(`${step}:${payoutId}`)) throw new UnrecoverableError(`test crash after step ${step}`);
    },
    afterRecord(payoutIds) {
      if (payoutIds.some((id) => take(`record:${id}`))) throw new Error('test crash after recording, before enqueueing');
    },
  };
  return {
    points,
    fired,
    /** Crash once, after `step` is taken for this payout. */
    afterStep(step: StepName, payoutId: string) {
      armed.set(`${step}:${payoutId}`, 1);
    },
    /** Crash the web request that records this payout, before its start job is enqueued. */
    afterRecord(payoutId: string) {
      armed.set(`record:${payoutId}`, 1);
    },
  };
}
