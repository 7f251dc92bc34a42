import type { KeyObject } from 'node:crypto';
import { SIGNATURE_HEADER, signBody } from '../bank131/signature.js';
import type { OutgoingWebhook } from './bank.js';
import type { Knobs } from './knobs.js';

export interface DeliveryRecord {
  id: number;
  type: string;
  sessionId: string;
  /** A copy sent on purpose: duplicate, or a stale ready_to_confirm re-sent after payment_finished. */
  copy: 'original' | 'duplicate' | 'stale';
  attempts: number;
  statuses: Array<number | string>;
  delivered: boolean;
  gaveUp: boolean;
}

/**
 * Delivers the sandbox bank's webhooks the way the bank does: signed JSON POSTs, re-sent with
 * growing intervals until the receiver answers 200 (API notes §5.4), plus the knobs that make
 * delivery hostile: delays, duplicates and out-of-order stale copies.
 */
export class WebhookDispatcher {
  private readonly records: DeliveryRecord[] = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly staleReady = new Map<string, Buffer>();
  private pending = 0;
  private idleWaiters: Array<() => void> = [];
  private sequence = 0;
  private closed = false;

  constructor(
    private readonly bankPrivateKey: KeyObject,
    private readonly knobs: () => Knobs,
  ) {}

  dispatch(webhook: OutgoingWebhook): void {
    const bytes = Buffer.from(JSON.stringify(webhook.body), 'utf8');
    const k = this.knobs();
    if (webhook.type === 'ready_to_confirm') this.staleReady.set(webhook.sessionId, bytes);
    let onDelivered: (() => void) | undefined;
    if (webhook.type === 'payment_finished') {
      const stale = this.staleReady.get(webhook.sessionId);
      this.staleReady.delete(webhook.sessionId);
      if (stale && k.outOfOrderWebhooks) onDelivered = () => this.enqueue('ready_to_confirm', webhook.sessionId, stale, 'stale');
    }
    this.enqueue(webhook.type, webhook.sessionId, bytes, 'original', onDelivered);
    if (k.duplicateWebhookRate > 0 && Math.random() < k.duplicateWebhookRate) {
      this.enqueue(webhook.type, webhook.sessionId, bytes, 'duplicate');
    }
  }

  deliveries(): readonly DeliveryRecord[] {
    return this.records;
  }

  /** Resolves once every webhook dispatched so far was delivered or given up on. */
  idle(): Promise<void> {
    if (this.pending === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  reset(): void {
    this.records.length = 0;
    this.staleReady.clear();
  }

  close(): void {
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.pending = 0;
    this.settle();
  }

  private enqueue(type: string, sessionId: string, bytes: Buffer, copy: DeliveryRecord['copy'], onDelivered?: () => void): void {
    const record: DeliveryRecord = { id: ++this.sequence, type, sessionId, copy, attempts: 0, statuses: [], delivered: false, gaveUp: false };
    this.records.push(record);
    if (this.records.length > 50_000) this.records.splice(0, this.records.length - 50_000);
    this.pending += 1;
    const signature = signBody(bytes, this.bankPrivateKey);
    this.after(this.knobs().webhookDelayMs, () => void this.attempt(record, bytes, signature, onDelivered));
  }

  private async attempt(record: DeliveryRecord, bytes: Buffer, signature: string, onDelivered?: () => void): Promise<void> {
    const k = this.knobs();
    record.attempts += 1;
    let status: number | string = 'no webhook URL';
    if (k.webhookUrl) {
      try {
        const res = await fetch(k.webhookUrl, {
          method: 'POST',
          headers: { 'content-type': 'application/json', [SIGNATURE_HEADER]: signature },
          body: bytes,
          signal: AbortSignal.timeout(k.webhookTimeoutMs),
        });
        await res.arrayBuffer();
        status = res.status;
      } catch (err) {
        status = (err as Error).name === 'TimeoutError' ? 'timeout' : ((err as { cause?: { code?: string } }).cause?.code ?? 'network error');
      }
    }
    if (this.closed) return;
    record.statuses.push(status);
    if (status === 200) {
      record.delivered = true;
      onDelivered?.();
      this.done();
      return;
    }
    if (record.attempts >= k.webhookMaxAttempts) {
      record.gaveUp = true;
      this.done();
      return;
    }
    const backoff = Math.min(k.webhookRetryMaxMs, k.webhookRetryBaseMs * 2 ** (record.attempts - 1));
    this.after(backoff, () => void this.attempt(record, bytes, signature, onDelivered));
  }

  private after(ms: number, fn: () => void): void {
    if (this.closed) return;
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    t.unref();
    this.timers.add(t);
  }

  private done(): void {
    this.pending -= 1;
    this.settle();
  }

  private settle(): void {
    if (this.pending > 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }
}
