/**
 * Signed webhooks end to end (DESIGN.md §5), driven as an operator would:
 * subscribe a receiver over the API, ingest events, and watch what arrives
 * at a real HTTP receiver that verifies every delivery with the
 * `standardwebhooks` library. Retry schedules run on a scaled clock in
 * webhook-retries.test.ts.
 */
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WebhookReceiver } from '../../bin/webhook-receiver.js';
import { call } from '../support/http.js';
import { eventBody, receiverBody } from '../support/samples.js';
import { deliveriesAbout, eventually, subscribedReceiver, type Subscribed } from '../support/webhooks.js';

const receivers: WebhookReceiver[] = [];
let releaseReceiverId: string;

async function subscribe(eventTypes: string[]): Promise<Subscribed> {
  const subscribed = await subscribedReceiver(eventTypes);
  receivers.push(subscribed.receiver);
  return subscribed;
}

async function ingest(tag: string): Promise<string> {
  const created = await call('POST', '/api/v1/events', { json: eventBody(releaseReceiverId, { package: tag }) });
  expect(created.status).toBe(201);
  return created.body.id as string;
}

beforeAll(async () => {
  releaseReceiverId = (await call('POST', '/api/v1/receivers', { json: receiverBody() })).body.id;
});

afterAll(async () => {
  await Promise.all(receivers.map((r) => r.close()));
});

const signaturesOf = (headers: Record<string, string>) => (headers['webhook-signature'] ?? '').split(' ');

describe('webhook delivery', () => {
  it('an ingested event reaches its subscriber as a signed CloudEvent, and the delivery is recorded with its attempt', async () => {
    const { receiver, subscriptionId } = await subscribe(['event.created']);
    const eventId = await ingest('signed');
    const [delivery] = await eventually(
      () => {
        const got = deliveriesAbout(receiver, releaseReceiverId).filter((d) => JSON.parse(d.body).data.id === eventId);
        return got.length > 0 ? got : undefined;
      },
      20_000,
      'the delivery of the ingested event',
    );
    expect(delivery).toMatchObject({ verified: true, status: 204, type: 'event.created', attempt: 1 });
    const body = JSON.parse(delivery!.body);
    expect(body).toMatchObject({ specversion: '1.0', source: 'switchyard/events', type: 'event.created', data: { id: eventId } });
    expect(delivery!.headers['content-type']).toMatch(/^application\/cloudevents\+json/);
    expect(delivery!.headers['webhook-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(delivery!.headers.baggage).toContain(subscriptionId);
    if (body.traceparent) expect(delivery!.headers.traceparent).toBe(body.traceparent);

    // The receiver has answered; the dispatcher records DELIVERED a moment later.
    const listed = await eventually(
      async () => {
        const list = await call('GET', `/api/v1/webhooks/deliveries?subscriptionId=${subscriptionId}&status=DELIVERED`);
        expect(list.status).toBe(200);
        // A delivery's eventId is the CloudEvent's id (the body's `id`), not the release event's.
        return list.body.items.find((d: { eventId: string }) => d.eventId === body.id);
      },
      10_000,
      'the delivery listed as DELIVERED',
    );
    expect(listed).toMatchObject({
      id: delivery!.headers['webhook-id'],
      status: 'DELIVERED',
      eventType: 'event.created',
      totalAttempts: 1,
    });
    expect(listed).not.toHaveProperty('body');

    const detail = await call('GET', `/api/v1/webhooks/deliveries/${listed.id}`);
    expect(detail.status).toBe(200);
    expect(detail.body.attempts).toHaveLength(1);
    expect(detail.body.attempts[0]).toMatchObject({ number: 1, run: 1, statusCode: 204 });
    expect(detail.body.attempts[0].latencyMs).toBeGreaterThanOrEqual(0);
  });

  it('patterns choose what arrives: `receiver.*` gets receiver events and no release events', async () => {
    const { receiver } = await subscribe(['receiver.*']);
    const created = await call('POST', '/api/v1/receivers', { json: receiverBody() });
    await ingest('not-for-receiver-subscribers');
    await eventually(
      () => receiver.deliveries.find((d) => d.type === 'receiver.created' && d.subject === created.body.id),
      20_000,
      'receiver.created',
    );
    expect(receiver.deliveries.every((d) => d.type?.startsWith('receiver.'))).toBe(true);
  });

  it('a test ping is a signed webhook.test delivery, also to a disabled subscription', async () => {
    const { receiver, subscriptionId } = await subscribe(['event.created']);
    expect((await call('POST', `/api/v1/webhooks/subscriptions/${subscriptionId}/disable`, { json: {} })).body.enabled).toBe(false);
    const ping = await call('POST', `/api/v1/webhooks/subscriptions/${subscriptionId}/test`);
    expect(ping.status).toBe(202);
    expect(ping.headers.get('location')).toBe(`/api/v1/webhooks/deliveries/${ping.body.id}`);
    expect(ping.body).toMatchObject({ subscriptionId, eventType: 'webhook.test', kind: 'test' });
    const got = await eventually(() => receiver.deliveries.find((d) => d.id === ping.body.id), 20_000, 'the ping');
    expect(got).toMatchObject({ verified: true, type: 'webhook.test', subject: subscriptionId });
    await eventually(
      async () => ((await call('GET', `/api/v1/webhooks/deliveries/${ping.body.id}`)).body.status === 'DELIVERED' ? true : undefined),
      10_000,
      'the ping recorded DELIVERED',
    );
  });

  it('rotation: both secrets sign during the overlap, then only the new one', async () => {
    const { receiver, subscriptionId, secret: first } = await subscribe(['event.created']);
    const rotated = await call('POST', `/api/v1/webhooks/subscriptions/${subscriptionId}/rotate-secret`, { json: {} });
    expect(rotated.status).toBe(200);
    const second = rotated.body.secret as string;
    expect(second).toMatch(/^whsec_/);
    expect(second).not.toBe(first);
    expect(Date.parse(rotated.body.previousSecretsExpireAt) - Date.now()).toBeGreaterThan(23 * 3600 * 1000);
    receiver.update({ secrets: [second] });

    const ping = async () => {
      const id = (await call('POST', `/api/v1/webhooks/subscriptions/${subscriptionId}/test`)).body.id as string;
      return eventually(() => receiver.deliveries.find((d) => d.id === id), 20_000, 'a ping');
    };
    const during = await ping();
    expect(signaturesOf(during.headers)).toHaveLength(2);
    for (const secret of [first, second]) expect(() => new Webhook(secret).verify(during.body, during.headers)).not.toThrow();

    // Rotate again with no overlap: the second secret stops at once, only the third signs.
    const third = (await call('POST', `/api/v1/webhooks/subscriptions/${subscriptionId}/rotate-secret`, { json: { overlapSeconds: 0 } }))
      .body.secret as string;
    receiver.update({ secrets: [third] });
    const after = await ping();
    expect(signaturesOf(after.headers)).toHaveLength(1);
    expect(() => new Webhook(third).verify(after.body, after.headers)).not.toThrow();
    for (const old of [first, second]) expect(() => new Webhook(old).verify(after.body, after.headers)).toThrow();
  });

  it('410 Gone disables the subscription at once and emits subscription.disabled', async () => {
    const watcher = await subscribe(['subscription.disabled']);
    const { receiver, subscriptionId } = await subscribe(['event.created']);
    receiver.update({ status: 410, failRate: 1 });
    await ingest('gone');
    const disabled = await eventually(
      async () => {
        const got = await call('GET', `/api/v1/webhooks/subscriptions/${subscriptionId}`);
        return got.body.enabled === false ? got.body : undefined;
      },
      20_000,
      'the subscription disabled',
    );
    expect(disabled).toMatchObject({ disabledReason: 'endpoint-gone' });
    // One POST answered 410, no retry of it.
    const failed = await call('GET', `/api/v1/webhooks/deliveries?subscriptionId=${subscriptionId}&status=FAILED`);
    // Events of other suites may have been abandoned after it (subscription-disabled); the one that met the 410 was tried once.
    const gone = failed.body.items.filter((d: { failureReason: string }) => d.failureReason === 'endpoint-gone');
    expect(gone).toHaveLength(1);
    expect(gone[0]).toMatchObject({ totalAttempts: 1, lastStatusCode: 410 });
    const event = await eventually(() => watcher.receiver.deliveries.find((d) => d.subject === subscriptionId), 20_000, 'the event');
    expect(event).toMatchObject({ verified: true, type: 'subscription.disabled' });
    expect(JSON.parse(event.body).data).toMatchObject({ id: subscriptionId, enabled: false, disabledReason: 'endpoint-gone' });
  });
});

describe('subscriptions API', () => {
  it('shows the secret once: never in reads, lists, events or the audit trail', async () => {
    const { subscriptionId, secret } = await subscribe(['event.created']);
    const reads = [
      await call('GET', `/api/v1/webhooks/subscriptions/${subscriptionId}`),
      await call('GET', '/api/v1/webhooks/subscriptions?limit=100'),
      await call('GET', '/api/v1/audit?limit=100'),
    ];
    for (const read of reads) {
      expect(read.status).toBe(200);
      expect(read.text).not.toContain(secret);
      expect(read.text).not.toMatch(/whsec_/);
    }
    expect(reads[0]!.body).not.toHaveProperty('secrets');
  });

  it.each([
    ['http://169.254.169.254/latest/meta-data/', 'address'],
    ['http://[fd00:ec2::254]/', 'address'],
    ['http://10.1.2.3/hook', 'address'],
    ['http://172.16.0.1/hook', 'address'],
    ['http://192.168.1.1/hook', 'address'],
    ['http://100.64.0.1/hook', 'address'],
    ['http://[fe80::1]/hook', 'address'],
    ['http://[fc00::1]/hook', 'address'],
    ['http://224.0.0.1/hook', 'address'],
    ['http://0.0.0.0/hook', 'address'],
    ['http://[::]/hook', 'address'],
    ['http://[::ffff:169.254.169.254]/hook', 'address'],
  ])('refuses %s with 422 WEBHOOK_URL_REFUSED and stores nothing', async (url, rule) => {
    const before = (await call('GET', '/api/v1/webhooks/subscriptions?limit=100')).body.items.length as number;
    const refused = await call('POST', '/api/v1/webhooks/subscriptions', { json: { url, eventTypes: ['*'] } });
    expect(refused.status).toBe(422);
    expect(refused.headers.get('content-type')).toMatch(/application\/problem\+json/);
    expect(refused.body).toMatchObject({ code: 'WEBHOOK_URL_REFUSED', status: 422 });
    expect(refused.body.detail).toContain(rule === 'address' ? 'address' : rule);
    expect((await call('GET', '/api/v1/webhooks/subscriptions?limit=100')).body.items.length).toBe(before);
  });

  it.each([
    [{ url: 'ftp://example.com/hook', eventTypes: ['*'] }, 'body.url'],
    [{ url: 'https://user:pass@example.com/hook', eventTypes: ['*'] }, 'body.url'],
    [{ url: 'https://example.com/hook', eventTypes: ['no.such_type'] }, 'body.eventTypes.0'],
    [{ url: 'https://example.com/hook', eventTypes: ['deploy*'] }, 'body.eventTypes.0'],
    [{ url: 'https://example.com/hook', eventTypes: [] }, 'body.eventTypes'],
    [{ url: 'https://example.com/hook', eventTypes: ['*'], secret: 'whsec_mine' }, 'body'],
  ])('answers 400 naming the field for %j', async (json, path) => {
    const refused = await call('POST', '/api/v1/webhooks/subscriptions', { json });
    expect(refused.status).toBe(400);
    expect(refused.headers.get('content-type')).toMatch(/application\/problem\+json/);
    // API Gateway's request validation may answer first (its own detail, no field list); the function names the field.
    if (refused.body.errors) expect(refused.body.errors.map((e: { path: string }) => e.path).join(' ')).toContain(path);
    else expect(refused.body.detail).toBeTruthy();
  });

  it('edits at a revision, answers 409 on a stale one, and deletes', async () => {
    const { subscriptionId } = await subscribe(['event.created']);
    const updated = await call('PATCH', `/api/v1/webhooks/subscriptions/${subscriptionId}`, {
      json: { revision: 1, eventTypes: ['event.created', 'group.*'], description: 'now groups too' },
    });
    expect(updated.status).toBe(200);
    expect(updated.body).toMatchObject({ revision: 2, eventTypes: ['event.created', 'group.*'] });
    expect(updated.headers.get('etag')).toBe('"2"');
    const stale = await call('PATCH', `/api/v1/webhooks/subscriptions/${subscriptionId}`, { json: { revision: 1, description: 'x' } });
    expect(stale.status).toBe(409);
    expect((await call('DELETE', `/api/v1/webhooks/subscriptions/${subscriptionId}?revision=2`)).status).toBe(204);
    expect((await call('GET', `/api/v1/webhooks/subscriptions/${subscriptionId}`)).status).toBe(404);
  });

  it('is for administrators only', async () => {
    expect((await call('GET', '/api/v1/webhooks/subscriptions', { as: 'anonymous' })).status).toBe(401);
  });

  it('deliveries: filters are checked, an unknown id is 404, a delivered one cannot be retried', async () => {
    expect((await call('GET', '/api/v1/webhooks/deliveries?status=LOST')).status).toBe(400);
    expect((await call('GET', '/api/v1/webhooks/deliveries/8f6c1b0e-6a59-4c43-9d0e-2f3b4a5c6d7e')).status).toBe(404);
    const { subscriptionId, receiver } = await subscribe(['event.created']);
    const ping = await call('POST', `/api/v1/webhooks/subscriptions/${subscriptionId}/test`);
    await eventually(() => receiver.deliveries.find((d) => d.id === ping.body.id), 20_000, 'the ping');
    await eventually(
      async () => ((await call('GET', `/api/v1/webhooks/deliveries/${ping.body.id}`)).body.status === 'DELIVERED' ? true : undefined),
      10_000,
      'DELIVERED',
    );
    const retry = await call('POST', `/api/v1/webhooks/deliveries/${ping.body.id}/retry`);
    expect(retry.status).toBe(422);
    expect(retry.body.code).toBe('DELIVERY_NOT_FAILED');
    const byType = await call('GET', `/api/v1/webhooks/deliveries?subscriptionId=${subscriptionId}&eventType=webhook.test`);
    expect(byType.body.items.map((d: { id: string }) => d.id)).toEqual([ping.body.id]);
  });
});
