import type { Knobs } from './knobs.js';

/** How the HTTP layer must answer, decided before and after acting. */
export type FaultPlan = { before: 'none' | '5xx' | 'timeout' | { error: string }; after: 'none' | 'timeout' };

/** Only these can move money, so only these are worth losing the answer to after acting. */
const MONEY_MOVING = new Set([
  'session/start/payout',
  'session/init/payout',
  'session/start/payout/fiscalization',
  'session/init/payout/fiscalization',
  'session/confirm',
]);

/**
 * Decides, per request, which fault (if any) to play: scripted faults first, since a test that
 * queued one relies on it being the next played, then the rates. Consumes scripted faults from
 * `knobs.faults`.
 */
export function planFaults(knobs: Knobs, endpoint: string): FaultPlan {
  const i = knobs.faults.findIndex((f) => f.endpoint === endpoint);
  if (i >= 0) {
    const fault = knobs.faults[i]!;
    fault.times -= 1;
    if (fault.times <= 0) knobs.faults.splice(i, 1);
    switch (fault.kind) {
      case '5xx':
        return { before: '5xx', after: 'none' };
      case 'error':
        return { before: { error: fault.code ?? 'internal_error' }, after: 'none' };
      case 'timeout':
        return { before: 'timeout', after: 'none' };
      case 'timeout_after_effect':
        return { before: 'none', after: 'timeout' };
    }
  }
  if (knobs.errorRate > 0 && Math.random() < knobs.errorRate) return { before: '5xx', after: 'none' };
  if (knobs.timeoutRate > 0 && Math.random() < knobs.timeoutRate) return { before: 'timeout', after: 'none' };
  if (MONEY_MOVING.has(endpoint) && knobs.timeoutAfterEffectRate > 0 && Math.random() < knobs.timeoutAfterEffectRate) {
    return { before: 'none', after: 'timeout' };
  }
  return { before: 'none', after: 'none' };
}
