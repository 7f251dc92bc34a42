import type { KeyObject } from 'node:crypto';
import { SIGNATURE_HEADER, signBodyAsync } from './signature.js';
import type { Knobs } from './knobs.js';
import { Timers } from './timers.js';

/** What the bank wants delivered; the dispatcher signs and sends it. */
export interface OutgoingWebhook {
  type: string;
  sessionId: string;
  body: unknown;
  /**
   * Called once the dispatcher is done with this webhook: delivered (200), given up on, or lost
   * by the loseWebhooks knob. Not for copies (duplicates, stale re-sends).
   */
  onSettled?: () => void;
}

export interface DeliveryRecord {
  id: number;
  type: string;
  sessionId: string;
  /**
   * `original`: the bank's webhook. Copies sent on purpose: `duplicate`, or `stale` (a
   * ready_to_confirm re-sent after payment_finished). `manual`: sent through send() by a test.
   */
  copy: 'original' | 'duplicate' | 'stale' | 'manual';
  attempts: number;
  statuses: Array<number | string>;
  delivered: boolean;
  gaveUp: boolean;
  /** Dropped by the loseWebhooks knob: never sent, and never will be. */
  lost: boolean;
}

/**
 * Delivers the sandbox bank's webhooks the way the bank does: signed JSON POSTs, re-sent with
 * growing intervals until the receiver answers 200 (docs/bank131-protocol.md §5), plus the knobs that make
 * delivery hostile: delays, duplicates, out-of-order stale copies and losses.
 */
export class WebhookDispatcher {
  private readonly records: DeliveryRecord[] = [];
  private readonly timers = new Timers();
  private readonly staleReady = new Map<string, Buffer>();
  private readonly firstAttemptWaiters = new Map<number, Array<() => void>>();
  private pending = 0;
  private idleWaiters: Array<() => void> = [];
  private sequence = 0;
  private closed = false;

  constructor(
    private readonly bankPrivateKey: KeyObject,
    private readonly knobs: () => Knobs,
  ) {}

  dispatch(webhook: OutgoingWebhook): void {
    if (this.takeLoss(webhook.type)) {
      this.record(webhook.type, webhook.sessionId, 'original').lost = true;
      webhook.onSettled?.();
      return;
    }
    const bytes = Buffer.from(JSON.stringify(webhook.body), 'utf8');
    const k = this.knobs();
    if (webhook.type === 'ready_to_confirm') this.staleReady.set(webhook.sessionId, bytes);
    let onDelivered: (() => void) | undefined;
    if (webhook.type === 'payment_finished') {
      const stale = this.staleReady.get(webhook.sessionId);
      this.staleReady.delete(webhook.sessionId);
      if (stale && k.outOfOrderWebhooks) onDelivered = () => this.enqueue('ready_to_confirm', webhook.sessionId, stale, 'stale');
    }
    this.enqueue(webhook.type, webhook.sessionId, bytes, 'original', onDelivered, webhook.onSettled);
    if (k.duplicateWebhookRate > 0 && Math.random() < k.duplicateWebhookRate) {
      this.enqueue(webhook.type, webhook.sessionId, bytes, 'duplicate');
    }
  }

  /**
   * Signs any body with the bank's key and delivers it like a real webhook (delay, retries), so a
   * test can feed the receiver shapes the sandbox's sessions never produce. A Buffer is sent
   * byte for byte; anything else as its JSON. Not subject to loseWebhooks or duplicates: the test
   * asked for exactly this delivery. The record is live: it fills in as attempts are made.
   */
  send(body: unknown): DeliveryRecord {
    const bytes = Buffer.isBuffer(body) ? body : Buffer.from(JSON.stringify(body) ?? 'null', 'utf8');
    const parsed = Buffer.isBuffer(body) ? undefined : (body as { type?: unknown; session?: { id?: unknown } } | null | undefined);
    const type = typeof parsed?.type === 'string' ? parsed.type : '(none)';
    const sessionId = typeof parsed?.session?.id === 'string' ? parsed.session.id : '';
    return this.enqueue(type, sessionId, bytes, 'manual');
  }

  /** Resolves once the record's first delivery attempt has been answered (or failed). */
  firstAttempt(record: DeliveryRecord): Promise<DeliveryRecord> {
    if (record.statuses.length > 0 || record.lost || this.closed) return Promise.resolve(record);
    return new Promise((resolve) => {
      const waiters = this.firstAttemptWaiters.get(record.id) ?? [];
      waiters.push(() => resolve(record));
      this.firstAttemptWaiters.set(record.id, waiters);
    });
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
    this.timers.close();
    this.pending = 0;
    for (const waiters of this.firstAttemptWaiters.values()) for (const w of waiters) w();
    this.firstAttemptWaiters.clear();
    this.settle();
  }

  /** Whether the loseWebhooks knob drops this one; counts the loss down. */
  private takeLoss(type: string): boolean {
    const lose = this.knobs().loseWebhooks;
    if (!lose || !lose.types.includes(type)) return false;
    if (lose.remaining === undefined) return true;
    if (lose.remaining <= 0) return false;
    lose.remaining -= 1;
    return true;
  }

  private record(type: string, sessionId: string, copy: DeliveryRecord['copy']): DeliveryRecord {
    const record: DeliveryRecord = {
      id: ++this.sequence,
      type,
      sessionId,
      copy,
      attempts: 0,
      statuses: [],
      delivered: false,
      gaveUp: false,
      lost: false,
    };
    this.records.push(record);
    // A long demo run must not grow without bound; the newest deliveries are the interesting ones.
    if (this.records.length > 50_000) this.records.splice(0, this.records.length - 50_000);
    return record;
  }

  private enqueue(
    type: string,
    sessionId: string,
    bytes: Buffer,
    copy: DeliveryRecord['copy'],
    onDelivered?: () => void,
    onSettled?: () => void,
  ): DeliveryRecord {
    const record = this.record(type, sessionId, copy);
    this.pending += 1;
    // Signed on libuv's pool, so a busy sandbox (the bench's bank stand-in) does not hold every
    // other request behind its signatures.
    const signed = signBodyAsync(bytes, this.bankPrivateKey);
    this.timers.later(
      this.knobs().webhookDelayMs,
      () => void signed.then((signature) => this.attempt(record, bytes, signature, onDelivered, onSettled)),
    );
    return record;
  }

  private async attempt(
    record: DeliveryRecord,
    bytes: Buffer,
    signature: string,
    onDelivered?: () => void,
    onSettled?: () => void,
  ): Promise<void> {
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
        status =
          (err as Error).name === 'TimeoutError' ? 'timeout' : ((err as { cause?: { code?: string } }).cause?.code ?? 'network error');
      }
    }
    if (this.closed) return;
    record.statuses.push(status);
    this.notifyFirstAttempt(record);
    if (status === 200) {
      record.delivered = true;
      onDelivered?.();
      onSettled?.();
      this.done();
      return;
    }
    if (record.attempts >= k.webhookMaxAttempts) {
      record.gaveUp = true;
      onSettled?.();
      this.done();
      return;
    }
    const backoff = Math.min(k.webhookRetryMaxMs, k.webhookRetryBaseMs * 2 ** (record.attempts - 1));
    this.timers.later(backoff, () => void this.attempt(record, bytes, signature, onDelivered, onSettled));
  }

  private notifyFirstAttempt(record: DeliveryRecord): void {
    const waiters = this.firstAttemptWaiters.get(record.id);
    if (!waiters) return;
    this.firstAttemptWaiters.delete(record.id);
    for (const w of waiters) w();
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
