/**
 * Webhook retries on the runtime's scaled clock (DESIGN.md §5, §7): a stack
 * of its own at timeScale 30, so the whole schedule (30, 60, 120, 300, 900 s,
 * then FAILED) passes in under a minute, with the default schedule, not a
 * shortened one. Times are read from the attempts the API records, which the
 * dispatcher stamps with the simulated clock.
 *
 * Then the reliability run: PutEvents failing half the time and the receiver
 * down for a while; every event must reach every matching subscription, and
 * any duplicate must carry the same webhook-id.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WebhookReceiver } from '../../bin/webhook-receiver.js';
import { E2E_ADMIN_API_KEY } from '../setup/runtime.js';
import { call as callStack, type CallOptions } from '../support/http.js';
import { startRuntimeProcess, type RuntimeProcess } from '../support/runtime-process.js';
import { eventBody, receiverBody } from '../support/samples.js';
import { deliveriesAbout, eventually, subscribedReceiver } from '../support/webhooks.js';

const TIME_SCALE = 60;
const SCHEDULE = [30, 60, 120, 300, 900];

let runtime: RuntimeProcess;
const receivers: WebhookReceiver[] = [];
const call = (method: string, path: string, options: CallOptions = {}) => callStack(method, path, { ...options, baseUrl: runtime.url });
/** Real milliseconds for simulated seconds. */
const real = (simulatedSeconds: number) => (simulatedSeconds * 1000) / TIME_SCALE;

async function subscribe(eventTypes: string[]) {
  // The runtime signs with its simulated time; the receiver checks webhook-timestamp against that clock, not ours.
  const senderClock = (await (await fetch(`${runtime.awsEndpoint}/_switchyard/clock`)).json()) as { now: number; timeScale: number };
  const subscribed = await subscribedReceiver(eventTypes, { call: { baseUrl: runtime.url }, senderClock });
  receivers.push(subscribed.receiver);
  return subscribed;
}

async function newReleaseReceiver(): Promise<string> {
  return (await call('POST', '/api/v1/receivers', { json: receiverBody() })).body.id as string;
}

async function ingest(receiverId: string, tag: string): Promise<string> {
  const created = await call('POST', '/api/v1/events', { json: eventBody(receiverId, { package: tag }) });
  expect(created.status).toBe(201);
  return created.body.id as string;
}

/** The delivery of a release receiver's event, by the webhook-id of its first POST. */
async function firstPostOf(receiver: WebhookReceiver, releaseReceiver: string) {
  return eventually(() => deliveriesAbout(receiver, releaseReceiver)[0], 20_000, 'the first attempt');
}

async function settled(deliveryId: string, status: 'DELIVERED' | 'FAILED', timeoutMs: number) {
  return eventually(
    async () => {
      const detail = await call('GET', `/api/v1/webhooks/deliveries/${deliveryId}`);
      return detail.body.status === status ? detail.body : undefined;
    },
    timeoutMs,
    `delivery ${deliveryId} ${status}`,
  );
}

/** Simulated seconds between consecutive attempts. */
const gaps = (attempts: Array<{ at: string }>) => attempts.slice(1).map((a, i) => (Date.parse(a.at) - Date.parse(attempts[i]!.at)) / 1000);

beforeAll(async () => {
  runtime = await startRuntimeProcess({
    env: { SWITCHYARD_ADMIN_API_KEY: E2E_ADMIN_API_KEY },
    context: { 'switchyard:local:timeScale': String(TIME_SCALE) },
  });
}, 120_000);

afterAll(async () => {
  await Promise.all(receivers.map((r) => r.close()));
  await fetch(`${runtime.awsEndpoint}/_switchyard/chaos`, { method: 'DELETE' }).catch(() => undefined);
  await runtime?.stop();
});

describe('webhook retries on the scaled clock', () => {
  it('retries after 30, 60, 120, 300 and 900 s, fails after six attempts, and a manual retry delivers with the same webhook-id', async () => {
    const releaseReceiver = await newReleaseReceiver();
    const { receiver } = await subscribe(['event.created']);
    receiver.update({ status: 500, failRate: 1 });
    await ingest(releaseReceiver, 'retry-schedule');
    const delivery = await firstPostOf(receiver, releaseReceiver);
    const failed = await settled(delivery.id, 'FAILED', real(1410) + 40_000);
    expect(failed).toMatchObject({ failureReason: 'attempts-exhausted', attemptsInRun: 6, totalAttempts: 6, lastStatusCode: 500 });
    const waits = gaps(failed.attempts);
    console.log('simulated seconds between attempts:', waits.map((w) => w.toFixed(1)).join(', '));
    waits.forEach((wait, i) => {
      // Never early; late only by the pipeline's own time (real ms × the scale), generously bounded.
      expect(wait).toBeGreaterThanOrEqual(SCHEDULE[i]! - 1);
      expect(wait).toBeLessThan(SCHEDULE[i]! * 1.5 + 30);
    });
    const posts = deliveriesAbout(receiver, releaseReceiver);
    expect(posts).toHaveLength(6);
    expect(new Set(posts.map((p) => p.id))).toEqual(new Set([delivery.id]));
    expect(posts.every((p) => p.verified && p.status === 500)).toBe(true);

    receiver.update({ failRate: 0 });
    const retry = await call('POST', `/api/v1/webhooks/deliveries/${delivery.id}/retry`);
    expect(retry.status).toBe(202);
    expect(retry.body).toMatchObject({ status: 'PENDING', run: 2, attemptsInRun: 0 });
    const delivered = await settled(delivery.id, 'DELIVERED', 20_000);
    expect(delivered).toMatchObject({ totalAttempts: 7, run: 2 });
    expect(delivered.attempts.at(-1)).toMatchObject({ number: 7, run: 2, statusCode: 204 });
    const last = deliveriesAbout(receiver, releaseReceiver).at(-1)!;
    expect(last).toMatchObject({ id: delivery.id, verified: true, status: 204, attempt: 7 });
  }, 180_000);

  it('waits as long as Retry-After asks on 503 when that is longer than the schedule', async () => {
    const releaseReceiver = await newReleaseReceiver();
    const { receiver } = await subscribe(['event.created']);
    receiver.update({ status: 503, failRate: 1, retryAfter: 200 });
    await ingest(releaseReceiver, 'retry-after');
    const delivery = await firstPostOf(receiver, releaseReceiver);
    receiver.update({ failRate: 0 });
    const delivered = await settled(delivery.id, 'DELIVERED', real(200) + 30_000);
    const [wait] = gaps(delivered.attempts);
    console.log('simulated seconds after a 503 with Retry-After: 200:', wait?.toFixed(1));
    expect(wait).toBeGreaterThanOrEqual(199);
    expect(wait).toBeLessThan(200 * 1.5 + 30);
  }, 120_000);

  it('with PutEvents failing half the time and the receiver down for a while, every event reaches every subscriber; duplicates share the webhook-id', async () => {
    const releaseReceiver = await newReleaseReceiver();
    const exact = await subscribe(['event.created']);
    const everything = await subscribe(['*']);
    const subscribers = [exact, everything];
    // Down: connections answered 503 for the first stretch, so deliveries retry (and the breaker opens) before it heals.
    for (const { receiver } of subscribers) receiver.update({ status: 503, failRate: 1 });
    const chaos = await fetch(`${runtime.awsEndpoint}/_switchyard/chaos`, {
      method: 'PUT',
      body: JSON.stringify({ seed: 7, rules: [{ service: 'events', operation: 'PutEvents', probability: 0.5, error: 'InternalFailure' }] }),
    });
    expect(chaos.status).toBe(200);
    const events: string[] = [];
    for (let n = 0; n < 12; n++) events.push(await ingest(releaseReceiver, `chaos-${n}`));
    // Down until each has refused a delivery (a fixed stretch of time raced the pipeline on a loaded machine), then heal.
    await new Promise((resolve) => setTimeout(resolve, real(150)));
    for (const { receiver } of subscribers) {
      await eventually(
        () => (deliveriesAbout(receiver, releaseReceiver).some((d) => d.status === 503) ? true : undefined),
        60_000,
        'a refused delivery',
      );
    }
    for (const { receiver } of subscribers) receiver.update({ failRate: 0 });

    const expected = events.length * subscribers.length;
    const delivered = () =>
      subscribers.flatMap(({ subscriptionId, receiver }) =>
        deliveriesAbout(receiver, releaseReceiver)
          .filter((d) => d.verified && d.status === 204)
          .map((d) => ({ subscriptionId, eventId: JSON.parse(d.body).data.id as string, webhookId: d.id })),
      );
    await eventually(
      () => (new Set(delivered().map((d) => `${d.subscriptionId}/${d.eventId}`)).size >= expected ? true : undefined),
      real(600) + 60_000,
      'every event at every subscriber',
    ).catch(() => undefined);
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const faults = (await (await fetch(`${runtime.awsEndpoint}/_switchyard/chaos`)).json()) as {
      rules: Array<{ faults: number; calls: number }>;
    };
    await fetch(`${runtime.awsEndpoint}/_switchyard/chaos`, { method: 'DELETE' });

    const byPair = new Map<string, Set<string>>();
    const arrivals = new Map<string, number>();
    for (const d of delivered()) {
      const pair = `${d.subscriptionId}/${d.eventId}`;
      byPair.set(pair, (byPair.get(pair) ?? new Set()).add(d.webhookId));
      arrivals.set(pair, (arrivals.get(pair) ?? 0) + 1);
    }
    const counts = {
      events: events.length,
      expected,
      delivered: byPair.size,
      duplicates: [...arrivals.values()].filter((n) => n > 1).length,
      lost: expected - byPair.size,
      failedAttempts: subscribers.reduce(
        (n, s) => n + deliveriesAbout(s.receiver, releaseReceiver).filter((d) => d.status === 503).length,
        0,
      ),
    };
    console.log('webhooks under faults:', counts, 'PutEvents faults:', faults.rules.map((r) => `${r.faults}/${r.calls}`).join(', '));
    expect(faults.rules[0]?.faults).toBeGreaterThan(0);
    expect(counts.failedAttempts).toBeGreaterThan(0);
    expect(counts).toMatchObject({ events: 12, expected: 24, delivered: 24, lost: 0 });
    // A duplicate is allowed (at least once), but it is the same delivery: one webhook-id per subscription and event.
    for (const ids of byPair.values()) expect(ids.size).toBe(1);
  }, 240_000);
});
