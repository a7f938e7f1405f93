/**
 * The dispatcher against real local receivers: every delivery POSTed through
 * the SSRF guard (local policy) and checked with the `standardwebhooks`
 * library, the reference implementation, not Switchyard's signer.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { startWebhookReceiver, type WebhookReceiver } from '../../../bin/webhook-receiver.js';
import {
  DEFAULT_AUTO_DISABLE,
  DEFAULT_CIRCUIT,
  deliveryConfig,
  deliveryIdOf,
  endpointKey,
  newDelivery,
  WEBHOOK_TEST_EVENT_TYPE,
  type DeliveryConfig,
  type WebhookDelivery,
  type WebhookSubscription,
} from '../../../shared/domain/webhooks.js';
import { logger } from '../../../shared/telemetry.js';
import {
  dispatchDelivery,
  webhookDispatchConfigFromEnv,
  type DispatchDeps,
  type DispatchResult,
  type WebhookDispatchConfig,
} from '../../../shared/webhooks/dispatch.js';
import { generateWebhookSecret } from '../../../shared/webhooks/signing.js';
import { DEPLOYED_WEBHOOK_POLICY, LOCAL_WEBHOOK_POLICY } from '../../../shared/webhooks/ssrf.js';
import { MemoryDeliveryQueue, MemoryWebhookStore, testClock } from '../../support/webhook-memory.js';

const TRACEPARENT = '00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01';

// ---- receivers ----

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()));
  vi.restoreAllMocks();
});

async function receiver(secrets: string[], options: { status?: number } = {}): Promise<WebhookReceiver> {
  const started = await startWebhookReceiver({ secrets, log: () => undefined, ...options });
  closers.push(() => started.close());
  return started;
}

interface Received {
  headers: Record<string, string>;
  body: string;
}

/** A receiver that answers what `answer` says (status, headers, body) and records each request. */
async function scripted(answer: (n: number) => { status: number; headers?: Record<string, string>; body?: string }) {
  const requests: Received[] = [];
  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const headers = Object.fromEntries(Object.entries(request.headers).map(([k, v]) => [k, String(v)]));
      requests.push({ headers, body: Buffer.concat(chunks).toString('utf8') });
      const { status, headers: extra = {}, body = '' } = answer(requests.length);
      response.writeHead(status, { 'content-type': 'text/plain', ...extra });
      response.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, requests };
}

/** A URL nothing listens on. */
async function refusingUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}/hook`;
}

// ---- the pipeline in memory ----

function subscriptionAt(url: string, secrets: string[], now: string, overrides: Partial<WebhookSubscription> = {}): WebhookSubscription {
  return {
    id: 'sub-1',
    url,
    eventTypes: ['*'],
    description: '',
    enabled: true,
    secrets: secrets.map((value) => ({ value, createdAt: now })),
    revision: 1,
    createdAt: now,
    updatedAt: now,
    ...overrides,
  };
}

function configWith(delivery: Partial<DeliveryConfig> = {}, rest: Partial<WebhookDispatchConfig> = {}): WebhookDispatchConfig {
  return {
    delivery: deliveryConfig(delivery),
    circuit: DEFAULT_CIRCUIT,
    autoDisable: DEFAULT_AUTO_DISABLE,
    policy: LOCAL_WEBHOOK_POLICY,
    timeoutMs: 3000,
    ...rest,
  };
}

function pipeline(subscription: WebhookSubscription) {
  const store = new MemoryWebhookStore();
  store.seedSubscription(subscription);
  const queue = new MemoryDeliveryQueue();
  const clock = testClock(new Date(subscription.createdAt));
  const warn = vi.fn();
  const deps: DispatchDeps = {
    subscriptions: store,
    deliveries: store,
    health: store,
    endpoints: store,
    queue,
    now: clock.now,
    logger: { warn },
    requestId: 'req-1',
  };
  return { store, queue, clock, deps, warn };
}

const eventBody = (eventId: string, time: string) =>
  JSON.stringify({
    specversion: '1.0',
    id: eventId,
    source: 'switchyard/events',
    type: 'event.created',
    subject: 'rel-1',
    time,
    datacontenttype: 'application/json',
    data: { id: 'rel-1', name: 'checkout' },
    traceparent: TRACEPARENT,
  });

/** An event delivery as the fan-out stores it. */
function addDelivery(store: MemoryWebhookStore, subscriptionId: string, eventId: string, now: string, kind: 'event' | 'test' = 'event') {
  const delivery = newDelivery({
    id: deliveryIdOf(subscriptionId, eventId),
    subscriptionId,
    event: { id: eventId, type: kind === 'test' ? WEBHOOK_TEST_EVENT_TYPE : 'event.created', body: eventBody(eventId, now) },
    kind,
    now,
  });
  store.deliveries.set(delivery.id, delivery);
  return delivery;
}

/** The test's start: subscriptions, deliveries and the pipeline's clock begin here (close enough to the wall clock for standardwebhooks' 5-minute tolerance). */
let start = new Date().toISOString();
beforeEach(() => {
  start = new Date().toISOString();
});
const now = () => start;

// ---- tests ----

describe('dispatchDelivery: a 2xx answer', () => {
  it('delivers once, signed (verified by standardwebhooks), with content type, user agent, traceparent and baggage; one attempt recorded', async () => {
    const secret = generateWebhookSecret();
    const target = await receiver([secret]);
    const { store, queue, deps } = pipeline(subscriptionAt(target.url, [secret], now()));
    const delivery = addDelivery(store, 'sub-1', 'e1', now());

    const result = await dispatchDelivery(delivery.id, deps, configWith());
    expect(result).toMatchObject({
      deliveryId: delivery.id,
      subscriptionId: 'sub-1',
      action: 'delivered',
      status: 'DELIVERED',
      attempt: 1,
      statusCode: 204,
    });
    expect(queue.messages).toEqual([]);

    expect(target.deliveries).toHaveLength(1);
    const [received] = target.deliveries;
    expect(received).toMatchObject({ id: delivery.id, verified: true, status: 204, body: delivery.body });
    expect(() => new Webhook(secret).verify(received!.body, received!.headers)).not.toThrow();
    expect(received!.headers).toMatchObject({
      'content-type': 'application/cloudevents+json; charset=utf-8',
      'user-agent': 'Switchyard-Webhooks/1',
      traceparent: TRACEPARENT,
      baggage: `switchyard.delivery=${delivery.id},switchyard.subscription=sub-1`,
      'webhook-id': delivery.id,
    });

    const stored = store.deliveries.get(delivery.id)!;
    expect(stored).toMatchObject({ status: 'DELIVERED', attemptsInRun: 1, totalAttempts: 1, lastStatusCode: 204 });
    expect(stored.deliveredAt).toBeDefined();
    const attempts = await store.listAttempts(delivery.id);
    expect(attempts).toHaveLength(1);
    expect(attempts[0]).toMatchObject({ deliveryId: delivery.id, number: 1, run: 1, statusCode: 204 });
    expect(attempts[0]!.latencyMs).toBeGreaterThanOrEqual(0);
    // The lease is released and the breaker counted a success.
    expect(store.leases.get(endpointKey(target.url))?.size ?? 0).toBe(0);
    expect(store.circuits.get(endpointKey(target.url))).toMatchObject({ state: 'closed', recentOutcomes: ['success'] });
    expect(store.healths.get('sub-1')).toMatchObject({ consecutiveFailedDeliveries: 0, lastSuccessAt: expect.any(String) });
  });

  it("records the answer's first KiB, cut on a character boundary", async () => {
    const secret = generateWebhookSecret();
    const target = await scripted(() => ({ status: 200, body: 'é'.repeat(2000) }));
    const { store, deps } = pipeline(subscriptionAt(target.url, [secret], now()));
    const delivery = addDelivery(store, 'sub-1', 'e1', now());
    await dispatchDelivery(delivery.id, deps, configWith());
    const [attempt] = await store.listAttempts(delivery.id);
    expect(attempt!.statusCode).toBe(200);
    expect(Buffer.byteLength(attempt!.responseBody!)).toBeLessThanOrEqual(1024);
    expect(attempt!.responseBody).toBe('é'.repeat(512));
  });
});

describe('dispatchDelivery: failures and retries', () => {
  it('500 → RETRYING after 30, 60, 120, 300, 900 s; the sixth failure → FAILED attempts-exhausted', async () => {
    const secret = generateWebhookSecret();
    const target = await scripted(() => ({ status: 500, body: 'down' }));
    const { store, queue, clock, deps } = pipeline(subscriptionAt(target.url, [secret], now()));
    const delivery = addDelivery(store, 'sub-1', 'e1', clock.now());
    const config = configWith();
    const results: DispatchResult[] = [];
    for (const expected of [30, 60, 120, 300, 900]) {
      const result = await dispatchDelivery(delivery.id, deps, config);
      results.push(result);
      expect(result).toMatchObject({ action: 'retrying', status: 'RETRYING', statusCode: 500, delaySeconds: expected });
      expect(queue.drain()).toEqual([{ deliveryId: delivery.id, delaySeconds: expected }]);
      // Too early: queued again for the rest of the wait, no POST.
      clock.advance(expected - 10);
      expect(await dispatchDelivery(delivery.id, deps, config)).toMatchObject({ action: 'waiting', delaySeconds: 10 });
      expect(queue.drain()).toEqual([{ deliveryId: delivery.id, delaySeconds: 10 }]);
      clock.advance(10);
    }
    const last = await dispatchDelivery(delivery.id, deps, config);
    expect(last).toMatchObject({ action: 'failed', status: 'FAILED', reason: 'attempts-exhausted', attempt: 6 });
    expect(queue.messages).toEqual([]);
    expect(target.requests).toHaveLength(6);
    // Every attempt: the same webhook-id and body, a new timestamp, each signed as standardwebhooks signs it.
    const signer = new Webhook(secret);
    for (const request of target.requests) {
      expect(request.headers['webhook-id']).toBe(delivery.id);
      expect(request.body).toBe(delivery.body);
      const timestamp = new Date(Number(request.headers['webhook-timestamp']) * 1000);
      expect(request.headers['webhook-signature']).toBe(signer.sign(delivery.id, timestamp, request.body));
    }
    expect(new Set(target.requests.map((r) => r.headers['webhook-timestamp'])).size).toBe(6);
    const attempts = await store.listAttempts(delivery.id);
    expect(attempts.map((a) => [a.number, a.statusCode, a.responseBody])).toEqual([1, 2, 3, 4, 5, 6].map((n) => [n, 500, 'down']));
    expect(store.deliveries.get(delivery.id)).toMatchObject({ status: 'FAILED', failureReason: 'attempts-exhausted', totalAttempts: 6 });
    expect(store.healths.get('sub-1')).toMatchObject({ consecutiveFailedDeliveries: 1, failingSince: expect.any(String) });
    expect(store.subscriptions.get('sub-1')!.enabled).toBe(true);
  });

  it('429 with Retry-After: 120 on the first failure waits 120 s, not 30', async () => {
    const target = await scripted(() => ({ status: 429, headers: { 'retry-after': '120' } }));
    const secret = generateWebhookSecret();
    const { store, queue, deps } = pipeline(subscriptionAt(target.url, [secret], now()));
    const delivery = addDelivery(store, 'sub-1', 'e1', now());
    expect(await dispatchDelivery(delivery.id, deps, configWith())).toMatchObject({
      action: 'retrying',
      statusCode: 429,
      delaySeconds: 120,
    });
    expect(queue.messages).toEqual([{ deliveryId: delivery.id, delaySeconds: 120 }]);
  });

  it('410 → FAILED endpoint-gone and the subscription disabled (subscription.disabled, audited as the dispatcher)', async () => {
    const secret = generateWebhookSecret();
    const target = await receiver([secret], { status: 410 });
    const { store, queue, deps } = pipeline(subscriptionAt(target.url, [secret], now()));
    const delivery = addDelivery(store, 'sub-1', 'e1', now());
    const result = await dispatchDelivery(delivery.id, deps, configWith());
    expect(result).toMatchObject({ action: 'failed', reason: 'endpoint-gone', statusCode: 410, disabledSubscription: 'endpoint-gone' });
    expect(queue.messages).toEqual([]);
    expect(store.subscriptions.get('sub-1')).toMatchObject({ enabled: false, disabledReason: 'endpoint-gone', revision: 2 });
    expect(store.changes).toEqual([
      {
        change: 'subscription.disabled',
        subscriptionId: 'sub-1',
        audit: expect.objectContaining({
          actor: { id: 'webhook-dispatcher', kind: 'system', name: 'webhook-dispatcher' },
          requestId: 'req-1',
        }),
      },
    ]);
  });

  it('400 → FAILED not-retryable; the subscription stays enabled', async () => {
    const target = await scripted(() => ({ status: 400, body: 'bad' }));
    const { store, queue, deps } = pipeline(subscriptionAt(target.url, [generateWebhookSecret()], now()));
    const delivery = addDelivery(store, 'sub-1', 'e1', now());
    expect(await dispatchDelivery(delivery.id, deps, configWith())).toMatchObject({
      action: 'failed',
      reason: 'not-retryable',
      statusCode: 400,
    });
    expect(queue.messages).toEqual([]);
    expect(store.subscriptions.get('sub-1')!.enabled).toBe(true);
    expect(store.changes).toEqual([]);
  });

  it('connection refused → RETRYING in 30 s, the error recorded on the attempt', async () => {
    const url = await refusingUrl();
    const { store, queue, deps } = pipeline(subscriptionAt(url, [generateWebhookSecret()], now()));
    const delivery = addDelivery(store, 'sub-1', 'e1', now());
    const result = await dispatchDelivery(delivery.id, deps, configWith());
    expect(result).toMatchObject({ action: 'retrying', delaySeconds: 30, error: expect.stringMatching(/^connection-refused: /) });
    expect(result.statusCode).toBeUndefined();
    expect(queue.messages).toEqual([{ deliveryId: delivery.id, delaySeconds: 30 }]);
    const [attempt] = await store.listAttempts(delivery.id);
    expect(attempt!.error).toMatch(/^connection-refused: /);
    expect(store.circuits.get(endpointKey(url))).toMatchObject({ recentOutcomes: ['failure'], consecutiveFailures: 1 });
  });

  it('a URL the policy refuses (http under the deployed policy) is a failed attempt, not an exception', async () => {
    const target = await scripted(() => ({ status: 204 }));
    const { store, deps } = pipeline(subscriptionAt(target.url, [generateWebhookSecret()], now()));
    const delivery = addDelivery(store, 'sub-1', 'e1', now());
    const result = await dispatchDelivery(delivery.id, deps, configWith({}, { policy: DEPLOYED_WEBHOOK_POLICY }));
    expect(result).toMatchObject({ action: 'retrying', error: expect.stringMatching(/^refused: /) });
    expect(target.requests).toEqual([]);
  });

  it('a failure streak reaching consecutiveFailedDeliveries disables the subscription once; later deliveries are abandoned', async () => {
    const target = await scripted(() => ({ status: 503 }));
    const { store, queue, deps } = pipeline(subscriptionAt(target.url, [generateWebhookSecret()], now()));
    // One attempt per delivery, disable after 3 FAILED deliveries.
    const config = configWith({ retrySeconds: [] }, { autoDisable: { consecutiveFailedDeliveries: 3, failingForSeconds: 86_400 } });
    const results: DispatchResult[] = [];
    for (const eventId of ['e1', 'e2', 'e3', 'e4']) {
      results.push(await dispatchDelivery(addDelivery(store, 'sub-1', eventId, now()).id, deps, config));
    }
    expect(results.map((r) => [r.action, r.reason, r.disabledSubscription])).toEqual([
      ['failed', 'attempts-exhausted', undefined],
      ['failed', 'attempts-exhausted', undefined],
      ['failed', 'attempts-exhausted', 'too-many-failed-deliveries'],
      ['abandoned', 'subscription-disabled', undefined],
    ]);
    expect(target.requests).toHaveLength(3);
    expect(store.changes.filter((c) => c.change === 'subscription.disabled')).toHaveLength(1);
    expect(store.subscriptions.get('sub-1')).toMatchObject({ enabled: false, disabledReason: 'too-many-failed-deliveries' });
    expect(queue.messages).toEqual([]);
  });

  it('a lost last attempt (a stale SENDING with no attempts left) fails the delivery without another POST and counts toward health', async () => {
    const target = await scripted(() => ({ status: 204 }));
    const { store, clock, deps } = pipeline(subscriptionAt(target.url, [generateWebhookSecret()], now()));
    const delivery = addDelivery(store, 'sub-1', 'e1', clock.now());
    store.deliveries.set(delivery.id, {
      ...delivery,
      status: 'SENDING',
      sendingSince: clock.now(),
      attemptsInRun: 6,
      totalAttempts: 6,
      revision: 7,
    } as WebhookDelivery);
    clock.advance(61);
    const result = await dispatchDelivery(delivery.id, deps, configWith());
    expect(result).toMatchObject({ action: 'failed', reason: 'attempts-exhausted', error: 'attempt lost' });
    expect(target.requests).toEqual([]);
    expect(store.healths.get('sub-1')!.consecutiveFailedDeliveries).toBe(1);
    expect(store.leases.get(endpointKey(target.url))?.size ?? 0).toBe(0);
  });
});

describe('dispatchDelivery: what is not sent', () => {
  it("a disabled subscription's pending event delivery is abandoned unsent; a test delivery is still sent and does not count toward health", async () => {
    const secret = generateWebhookSecret();
    const target = await receiver([secret], { status: 410 });
    const at = now();
    const { store, deps } = pipeline(
      subscriptionAt(target.url, [secret], at, { enabled: false, disabledReason: 'manual', disabledAt: at }),
    );
    const event = addDelivery(store, 'sub-1', 'e1', at);
    const ping = addDelivery(store, 'sub-1', 't1', at, 'test');

    expect(await dispatchDelivery(event.id, deps, configWith())).toMatchObject({
      action: 'abandoned',
      reason: 'subscription-disabled',
      status: 'FAILED',
    });
    expect(store.deliveries.get(event.id)).toMatchObject({ status: 'FAILED', failureReason: 'subscription-disabled' });

    // The ping reaches the receiver (here answering 410): FAILED, but it neither counts nor disables anything.
    expect(await dispatchDelivery(ping.id, deps, configWith())).toMatchObject({ action: 'failed', kind: 'test', reason: 'endpoint-gone' });
    expect(target.deliveries.map((d) => [d.id, d.verified])).toEqual([[ping.id, true]]);
    expect(store.healths.get('sub-1')).toEqual({ subscriptionId: 'sub-1', consecutiveFailedDeliveries: 0 });
    expect(store.changes).toEqual([]);
  });

  it("a deleted subscription's delivery is abandoned (subscription-deleted)", async () => {
    const { store, deps } = pipeline(subscriptionAt('http://127.0.0.1:9/', [generateWebhookSecret()], now()));
    const delivery = addDelivery(store, 'sub-1', 'e1', now());
    store.subscriptions.delete('sub-1');
    expect(await dispatchDelivery(delivery.id, deps, configWith())).toMatchObject({ action: 'abandoned', reason: 'subscription-deleted' });
  });

  it('a missing delivery, a finished one and one already SENDING (fresh) are dropped', async () => {
    const target = await scripted(() => ({ status: 204 }));
    const { store, clock, deps } = pipeline(subscriptionAt(target.url, [generateWebhookSecret()], now()));
    expect(await dispatchDelivery('00000000-0000-4000-8000-000000000000', deps, configWith())).toMatchObject({
      action: 'dropped',
      reason: 'missing',
    });
    const sending = addDelivery(store, 'sub-1', 'e1', clock.now());
    store.deliveries.set(sending.id, {
      ...sending,
      status: 'SENDING',
      sendingSince: clock.now(),
      attemptsInRun: 1,
      totalAttempts: 1,
      revision: 2,
    });
    clock.advance(5);
    expect(await dispatchDelivery(sending.id, deps, configWith())).toMatchObject({
      action: 'dropped',
      reason: 'in-flight',
      status: 'SENDING',
    });
    const done = addDelivery(store, 'sub-1', 'e2', clock.now());
    store.deliveries.set(done.id, { ...done, status: 'DELIVERED', revision: 3 });
    expect(await dispatchDelivery(done.id, deps, configWith())).toMatchObject({ action: 'dropped', reason: 'finished' });
    expect(target.requests).toEqual([]);
    expect(store.deliveries.get(sending.id)!.revision).toBe(2);
  });

  it('circuit open → deferred until it may probe, without spending an attempt', async () => {
    const target = await scripted(() => ({ status: 204 }));
    const { store, queue, clock, deps } = pipeline(subscriptionAt(target.url, [generateWebhookSecret()], now()));
    const delivery = addDelivery(store, 'sub-1', 'e1', clock.now());
    const endpoint = endpointKey(target.url);
    const openUntil = new Date(Date.parse(clock.now()) + 45_000).toISOString();
    store.circuits.set(endpoint, { endpoint, state: 'open', recentOutcomes: [], consecutiveFailures: 5, openUntil });

    const result = await dispatchDelivery(delivery.id, deps, configWith());
    expect(result).toMatchObject({ action: 'deferred', reason: 'circuit-open', delaySeconds: 45, status: 'PENDING' });
    expect(queue.drain()).toEqual([{ deliveryId: delivery.id, delaySeconds: 45 }]);
    expect(store.deliveries.get(delivery.id)).toMatchObject({
      status: 'PENDING',
      attemptsInRun: 0,
      totalAttempts: 0,
      nextAttemptAt: openUntil,
    });
    expect(await store.listAttempts(delivery.id)).toEqual([]);
    expect(target.requests).toEqual([]);

    // Once the cool-down is over this delivery is the probe; its success closes the circuit.
    clock.advance(45);
    expect(await dispatchDelivery(delivery.id, deps, configWith())).toMatchObject({ action: 'delivered', attempt: 1 });
    expect(store.circuits.get(endpoint)).toMatchObject({ state: 'closed' });
  });

  it('an endpoint at its in-flight limit defers the delivery for busyDeferSeconds', async () => {
    const target = await scripted(() => ({ status: 204 }));
    const { store, deps } = pipeline(subscriptionAt(target.url, [generateWebhookSecret()], now()));
    const delivery = addDelivery(store, 'sub-1', 'e1', now());
    const endpoint = endpointKey(target.url);
    store.leases.set(endpoint, new Map([['other', Date.now() + 60_000]]));
    const result = await dispatchDelivery(delivery.id, deps, configWith({}, { circuit: { ...DEFAULT_CIRCUIT, maxInFlight: 1 } }));
    expect(result).toMatchObject({ action: 'deferred', reason: 'endpoint-busy', delaySeconds: DEFAULT_CIRCUIT.busyDeferSeconds });
    expect(target.requests).toEqual([]);
  });

  it('duplicate messages for one delivery → one POST', async () => {
    const secret = generateWebhookSecret();
    const target = await receiver([secret]);
    const { store, deps } = pipeline(subscriptionAt(target.url, [secret], now()));
    const delivery = addDelivery(store, 'sub-1', 'e1', now());
    const results = await Promise.all([1, 2, 3].map(() => dispatchDelivery(delivery.id, deps, configWith())));
    expect(results.filter((r) => r.action === 'delivered')).toHaveLength(1);
    // The others lost the race to begin the attempt (taken) or found it in flight.
    const dropped = results.filter((r) => r.action === 'dropped');
    expect(dropped).toHaveLength(2);
    for (const r of dropped) expect(['taken', 'in-flight']).toContain(r.reason);
    expect(target.deliveries).toHaveLength(1);
    expect(await store.listAttempts(delivery.id)).toHaveLength(1);
    // A late duplicate finds it finished.
    expect(await dispatchDelivery(delivery.id, deps, configWith())).toMatchObject({ action: 'dropped', reason: 'finished' });
    expect(target.deliveries).toHaveLength(1);
    expect(store.leases.get(endpointKey(target.url))?.size ?? 0).toBe(0);
  });
});

describe('dispatchDelivery: secrets', () => {
  it('during a rotation overlap signs with both secrets: two v1 signatures, each verifying with its own secret', async () => {
    const fresh = generateWebhookSecret();
    const old = generateWebhookSecret();
    const target = await receiver([old]);
    const at = now();
    const expiresAt = new Date(Date.parse(at) + 3600_000).toISOString();
    const { store, deps } = pipeline(
      subscriptionAt(target.url, [], at, {
        secrets: [
          { value: fresh, createdAt: at },
          { value: old, createdAt: at, expiresAt },
        ],
      }),
    );
    const delivery = addDelivery(store, 'sub-1', 'e1', at);
    expect(await dispatchDelivery(delivery.id, deps, configWith())).toMatchObject({ action: 'delivered' });
    const [received] = target.deliveries;
    expect(received!.verified).toBe(true);
    const signatures = received!.headers['webhook-signature']!.split(' ');
    expect(signatures).toHaveLength(2);
    expect(signatures.every((s) => s.startsWith('v1,'))).toBe(true);
    for (const secret of [fresh, old]) expect(() => new Webhook(secret).verify(received!.body, received!.headers)).not.toThrow();
    // Each signature is one secret's own.
    const timestamp = new Date(Number(received!.headers['webhook-timestamp']) * 1000);
    expect(signatures).toEqual([fresh, old].map((s) => new Webhook(s).sign(delivery.id, timestamp, received!.body)));
  });

  it('no secret text in any result, log line, warning or error, whatever happens', async () => {
    const secret = generateWebhookSecret();
    const secretText = secret.slice('whsec_'.length);
    const spies = (['debug', 'info', 'warn', 'error', 'critical'] as const).map((level) => vi.spyOn(logger, level));
    const target = await scripted((n) => (n === 1 ? { status: 500 } : n === 2 ? { status: 410 } : { status: 204 }));
    const { store, clock, deps, warn } = pipeline(subscriptionAt(target.url, [secret], now()));
    const seen: unknown[] = [];
    // 500 (retry), then 410 (disable), with health failing once so the warning path runs too.
    const first = addDelivery(store, 'sub-1', 'e1', clock.now());
    seen.push(await dispatchDelivery(first.id, deps, configWith()));
    clock.advance(30);
    const failingHealth = { ...deps, health: { recordAttempt: () => Promise.reject(new Error('throttled')) } };
    seen.push(await dispatchDelivery(first.id, failingHealth, configWith()));
    seen.push(await dispatchDelivery(addDelivery(store, 'sub-1', 'e2', clock.now()).id, deps, configWith()));
    seen.push(await dispatchDelivery(addDelivery(store, 'sub-1', 'e3', clock.now()).id, deps, configWith()));
    // An error the dispatcher throws (a store failing mid-way).
    const broken = {
      ...deps,
      deliveries: { ...store, getDelivery: store.getDelivery.bind(store), saveDelivery: () => Promise.reject(new Error('store down')) },
    };
    const e4 = addDelivery(store, 'sub-1', 'e4', clock.now());
    store.subscriptions.set('sub-1', { ...store.subscriptions.get('sub-1')!, enabled: true });
    seen.push(
      await dispatchDelivery(e4.id, broken, configWith()).catch((error: unknown) => ({
        thrown: String(error),
        stack: (error as Error).stack,
      })),
    );
    expect(warn).toHaveBeenCalled();
    const everything = JSON.stringify([
      seen,
      warn.mock.calls,
      ...spies.map((s) => s.mock.calls),
      [...store.attempts.values()],
      store.changes,
    ]);
    expect(everything).not.toContain(secretText);
    expect(everything).not.toContain(secret);
  });
});

describe('webhookDispatchConfigFromEnv', () => {
  it('defaults to 30,60,120,300,900 s, 50 deliveries / 24 h, the default breaker and the deployed policy', () => {
    const config = webhookDispatchConfigFromEnv({});
    expect(config.delivery.retrySeconds).toEqual([30, 60, 120, 300, 900]);
    expect(config.autoDisable).toEqual(DEFAULT_AUTO_DISABLE);
    expect(config.circuit).toEqual(DEFAULT_CIRCUIT);
    expect(config.policy).toEqual(DEPLOYED_WEBHOOK_POLICY);
  });

  it('reads every setting, and refuses nonsense', () => {
    const config = webhookDispatchConfigFromEnv({
      WEBHOOK_RETRY_SECONDS: '5,10',
      WEBHOOK_AUTO_DISABLE_FAILED_DELIVERIES: '3',
      WEBHOOK_AUTO_DISABLE_FAILING_SECONDS: '600',
      WEBHOOK_CIRCUIT_FAILURE_RATE: '0.05',
      WEBHOOK_MAX_IN_FLIGHT: '4',
      WEBHOOK_URL_POLICY: 'local',
    });
    expect(config.delivery.retrySeconds).toEqual([5, 10]);
    expect(config.autoDisable).toEqual({ consecutiveFailedDeliveries: 3, failingForSeconds: 600 });
    expect(config.circuit).toMatchObject({ failureRateThreshold: 0.05, maxInFlight: 4 });
    expect(config.policy).toEqual(LOCAL_WEBHOOK_POLICY);
    expect(() => webhookDispatchConfigFromEnv({ WEBHOOK_CIRCUIT_FAILURE_RATE: '5' })).toThrow(/0 to 1/);
    expect(() => webhookDispatchConfigFromEnv({ WEBHOOK_MAX_IN_FLIGHT: '0' })).toThrow(/WEBHOOK_MAX_IN_FLIGHT/);
    expect(() => webhookDispatchConfigFromEnv({ WEBHOOK_RETRY_SECONDS: '30,abc' })).toThrow();
  });
});
