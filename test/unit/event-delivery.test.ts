import { describe, expect, it } from 'vitest';
import {
  deliveryOf,
  destinationReports,
  notificationOf,
  owedDestinations,
  resendTargets,
  targetOf,
  type Attempt,
  type EventState,
} from '../../src/payouts/event-delivery.js';
import { EventId, eventIdOf, eventOf, parseEventId } from '../../src/payouts/events.js';
import { signingSecrets, takes, type WebhookEndpoint } from '../../src/payouts/webhook-endpoints.js';

const state = (e: Partial<EventState> = {}): EventState => ({
  destinations: [],
  pending: [],
  delivered: {},
  dropped: {},
  notifiedAt: null,
  ...e,
});

const payout = (over: Record<string, unknown> = {}) =>
  ({
    id: 'acme~order-1',
    tenant: 'acme',
    state: 'succeeded',
    order: { callback_url: 'https://up.example/cb' },
    notified: null,
    notifiedAt: null,
    ...over,
  }) as never;

const endpoint = (over: Partial<WebhookEndpoint> = {}): WebhookEndpoint => ({
  id: 'we_0123456789abcdef',
  tenant: 'acme',
  url: 'https://hooks.example/in',
  events: ['payout.succeeded', 'payout.failed'],
  description: null,
  disabled: false,
  secret: 'whsec_new',
  previousSecret: null,
  previousSecretUntil: null,
  createdAt: '2026-01-01T00:00:00.000Z',
  updatedAt: '2026-01-01T00:00:00.000Z',
  ...over,
});

describe('event ids', () => {
  it('are evt_<payout>_<outcome>, a tenant’s payout id included, and read back', () => {
    const id = eventIdOf('acme~order-1', 'succeeded');
    expect(id).toBe('evt_acme~order-1_succeeded');
    expect(parseEventId(id)).toEqual({ payoutId: 'acme~order-1', event: 'succeeded' });
    expect(EventId.safeParse(id).success).toBe(true);
    expect(parseEventId('evt_order_1_failed')).toEqual({ payoutId: 'order_1', event: 'failed' });
    for (const bad of ['evt__succeeded', 'evt_x_paid', 'order-1', 'evt_a/b_failed']) expect(EventId.safeParse(bad).success).toBe(false);
    expect(parseEventId('evt_x_paid')).toBeNull();
  });

  it('only a final payout has an event', () => {
    expect(eventOf({ state: 'expired' })).toBe('expired');
    expect(eventOf({ state: 'confirmed' })).toBeNull();
  });
});

describe('whether upstream has been told', () => {
  it('pending while a destination owes an acknowledgement; delivered once all have; dropped; nobody', () => {
    expect(deliveryOf(state({ destinations: ['callback_url'], pending: ['callback_url'] }))).toEqual({
      status: 'pending',
      delivered_at: null,
    });
    const told = state({
      destinations: ['callback_url', 'we_1'],
      delivered: { callback_url: 't1' },
      dropped: { we_1: 'deleted' },
      notifiedAt: 't2',
    });
    expect(deliveryOf(told)).toEqual({ status: 'delivered', delivered_at: 't2' });
    expect(deliveryOf(state({ destinations: ['we_1'], dropped: { we_1: 'deleted' }, notifiedAt: 't2' }))).toEqual({
      status: 'dropped',
      delivered_at: null,
    });
    expect(deliveryOf(state())).toEqual({ status: 'no_destination', delivered_at: null });
  });

  it('a payout’s notification: null until final; from its event; from the record for a payout that ended before events', () => {
    expect(notificationOf(payout({ state: 'confirmed' }), null)).toBeNull();
    const event_id = 'evt_acme~order-1_succeeded';
    expect(notificationOf(payout(), state({ destinations: ['we_1'], pending: ['we_1'] }))).toEqual({
      event_id,
      status: 'pending',
      delivered_at: null,
    });
    expect(notificationOf(payout(), null)).toEqual({ event_id, status: 'pending', delivered_at: null });
    expect(notificationOf(payout({ notified: 'succeeded', notifiedAt: 't' }), null)).toEqual({
      event_id,
      status: 'delivered',
      delivered_at: 't',
    });
    expect(notificationOf(payout({ order: {} }), null)).toEqual({ event_id, status: 'no_destination', delivered_at: null });
  });

  it('what the reconciler re-drives: each destination still owed, the callback_url first', () => {
    expect(owedDestinations(payout(), 'succeeded', state({ pending: ['we_b', 'callback_url', 'we_a'] }))).toEqual([
      'callback_url',
      'we_a',
      'we_b',
    ]);
    expect(owedDestinations(payout(), 'succeeded', state({ destinations: ['callback_url'] }))).toEqual([]);
    expect(owedDestinations(payout(), 'succeeded', null)).toEqual(['callback_url']);
    expect(owedDestinations(payout({ notified: 'succeeded' }), 'succeeded', null)).toEqual([]);
    expect(owedDestinations(payout({ order: {} }), 'succeeded', null)).toEqual([]);
    expect(owedDestinations(payout({ state: 'started' }), 'succeeded', null)).toEqual([]);
    // a payout that ended before events were kept owes only its outcome's
    expect(owedDestinations(payout(), 'returned', null)).toEqual([]);
  });
});

describe('an event’s destinations, for GET /v1/events/{id}', () => {
  const attempt = (destination: string, status: number | null): Attempt => ({
    destination,
    at: 't',
    status,
    latency_ms: 3,
    error: status === 200 ? null : 'x',
  });

  it('each owed destination with its status and attempts, then one it was sent to again by hand', () => {
    const e = state({
      destinations: ['callback_url', 'we_a', 'we_b'],
      pending: ['we_a'],
      delivered: { callback_url: 't1', we_x: 't3' },
      dropped: { we_b: 'the webhook endpoint was deleted' },
    });
    const attempts = [attempt('callback_url', 503), attempt('we_x', 200), attempt('callback_url', 200), attempt('we_a', null)];
    expect(destinationReports(e, attempts)).toEqual([
      { destination: 'callback_url', status: 'delivered', delivered_at: 't1', dropped_reason: null, attempts: [attempts[0], attempts[2]] },
      { destination: 'we_a', status: 'pending', delivered_at: null, dropped_reason: null, attempts: [attempts[3]] },
      { destination: 'we_b', status: 'dropped', delivered_at: null, dropped_reason: 'the webhook endpoint was deleted', attempts: [] },
      { destination: 'we_x', status: 'delivered', delivered_at: 't3', dropped_reason: null, attempts: [attempts[1]] },
    ]);
    expect(destinationReports(state({ destinations: [] }), [attempt('we_y', 503)])[0]?.status).toBe('not_owed');
  });
});

describe('resending', () => {
  const endpoints = [
    endpoint({ id: 'we_a' }),
    endpoint({ id: 'we_off', disabled: true }),
    endpoint({ id: 'we_failed_only', events: ['payout.failed'] }),
  ];
  it('to every destination that takes it now', () => {
    expect(resendTargets({ hasCallbackUrl: true, endpoints, type: 'payout.succeeded' })).toEqual({
      ok: true,
      destinations: ['callback_url', 'we_a'],
    });
    expect(resendTargets({ hasCallbackUrl: false, endpoints, type: 'payout.failed' })).toEqual({
      ok: true,
      destinations: ['we_a', 'we_failed_only'],
    });
    expect(resendTargets({ hasCallbackUrl: false, endpoints, type: 'payout.expired' })).toMatchObject({ ok: false, field: null });
  });

  it('to one endpoint, which must be the tenant’s, enabled and take the type', () => {
    const one = (requested: string) => resendTargets({ hasCallbackUrl: true, endpoints, type: 'payout.succeeded', requested });
    expect(one('we_a')).toEqual({ ok: true, destinations: ['we_a'] });
    expect(one('we_other')).toEqual({ ok: false, field: 'endpoint', problem: 'is not one of your webhook endpoints' });
    expect(one('we_off')).toEqual({ ok: false, field: 'endpoint', problem: 'is disabled: enable it first' });
    expect(one('we_failed_only')).toMatchObject({
      ok: false,
      field: 'endpoint',
      problem: expect.stringMatching(/^does not take payout\.succeeded/),
    });
  });
});

describe('where one delivery goes', () => {
  const now = 1_000_000;
  it('the callback_url, with the tenant’s callback secret; none when the payout has no callback_url', () => {
    expect(targetOf(payout(), 'payout.succeeded', 'callback_url', null, now)).toEqual({
      kind: 'send',
      destination: 'callback_url',
      url: 'https://up.example/cb',
      secrets: null,
    });
    expect(targetOf(payout({ order: {} }), 'payout.succeeded', 'callback_url', null, now)).toEqual({ kind: 'none' });
  });

  it('a webhook endpoint of the payout’s own tenant that takes the type, signed with its secrets', () => {
    const e = endpoint({ previousSecret: 'whsec_old', previousSecretUntil: now + 1 });
    expect(targetOf(payout(), 'payout.succeeded', e.id, e, now)).toEqual({
      kind: 'send',
      destination: e.id,
      url: e.url,
      secrets: ['whsec_new', 'whsec_old'],
    });
    expect(targetOf(payout(), 'payout.succeeded', e.id, endpoint({ tenant: 'other' }), now)).toEqual({ kind: 'foreign' });
    expect(targetOf(payout(), 'payout.succeeded', e.id, null, now)).toEqual({ kind: 'dropped', why: 'the webhook endpoint was deleted' });
    expect(targetOf(payout(), 'payout.succeeded', e.id, endpoint({ disabled: true }), now)).toEqual({
      kind: 'dropped',
      why: 'the webhook endpoint is disabled',
    });
    expect(targetOf(payout(), 'payout.expired', e.id, e, now)).toEqual({
      kind: 'dropped',
      why: 'the webhook endpoint no longer takes payout.expired',
    });
  });

  it('the previous secret signs only until its overlap ends', () => {
    const e = { secret: 'whsec_new', previousSecret: 'whsec_old', previousSecretUntil: now };
    expect(signingSecrets(e, now - 1)).toEqual(['whsec_new', 'whsec_old']);
    expect(signingSecrets(e, now)).toEqual(['whsec_new']);
    expect(signingSecrets({ ...e, previousSecretUntil: null }, now - 1)).toEqual(['whsec_new']);
    expect(takes(endpoint(), 'payout.failed')).toBe(true);
    expect(takes(endpoint({ disabled: true }), 'payout.failed')).toBe(false);
    expect(takes(endpoint(), 'payout.cancelled')).toBe(false);
  });
});
