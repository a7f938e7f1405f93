/** The webhook store on DynamoDB Local: subscriptions (sealed secrets, events), deliveries and attempts, health counters, endpoint circuits. */
import { GetCommand, QueryCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { AlreadyExistsError, NotFoundError, VersionConflictError } from '../../shared/domain/errors.js';
import {
  DEFAULT_CIRCUIT,
  freshHealth,
  newDelivery,
  SubscriptionService,
  type CircuitConfig,
  type DeliveryAttempt,
  type DeliveryStatus,
  type EndpointCircuit,
  type WebhookDelivery,
  type WebhookSubscription,
} from '../../shared/domain/webhooks.js';
import { EVENT_TYPE_FIELDS } from '../../shared/events/types.js';
import type { SwitchyardCloudEvent } from '../../shared/events/cloudevent.js';
import { systemClock, uuidIds } from '../../shared/store/index.js';
import { keys } from '../../shared/store/keys.js';
import { DynamoWebhookStore } from '../../shared/store/webhook-store.js';
import { generateWebhookSecret, generateWrappingKey, type WrappingKeyRing } from '../../shared/webhooks/signing.js';
import { freshTable, scanTable, TEST_AUDIT } from '../support/table.js';

const ring: WrappingKeyRing = { keys: [generateWrappingKey('k1')] };
const keyRing = async () => ring;

let tableName: string;
let client: DynamoDBDocumentClient;
let store: DynamoWebhookStore;
let service: SubscriptionService;

const serviceOver = (over: DynamoWebhookStore) =>
  new SubscriptionService(
    over,
    systemClock,
    uuidIds,
    { generate: generateWebhookSecret },
    { check: async () => undefined },
    { knownEventTypes: Object.keys(EVENT_TYPE_FIELDS) },
  );

beforeAll(async () => {
  ({ tableName, client } = await freshTable());
  store = new DynamoWebhookStore(client, tableName, { audit: TEST_AUDIT, keyRing });
  service = serviceOver(store);
});

async function itemsOf(pk: string): Promise<Record<string, unknown>[]> {
  const out = await client.send(
    new QueryCommand({ TableName: tableName, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': pk } }),
  );
  return out.Items ?? [];
}

async function rawItem(key: Record<string, string>): Promise<Record<string, unknown> | undefined> {
  return (await client.send(new GetCommand({ TableName: tableName, Key: key, ConsistentRead: true }))).Item;
}

/** The outbox events about one subscription. */
async function eventsAbout(subject: string): Promise<SwitchyardCloudEvent[]> {
  return (await scanTable(client, tableName))
    .filter((item) => item.type === 'Outbox' && (item.event as SwitchyardCloudEvent).subject === subject)
    .map((item) => item.event as SwitchyardCloudEvent);
}

/**
 * An hour ago, in whole seconds. Deliveries expire by TTL 30 days after
 * creation and DynamoDB Local runs TTL, so one created at a fixed older date
 * would vanish while the test reads it.
 */
const anHourAgo = () => new Date(Math.floor(Date.now() / 1000) * 1000 - 3_600_000).toISOString();
const thirtyDaysAfter = (createdAt: string) => Date.parse(createdAt) / 1000 + 30 * 24 * 3600;

const at = (base: string, seconds: number) => new Date(Date.parse(base) + seconds * 1000).toISOString();

function subscription(createdAt: string, over: Partial<WebhookSubscription> = {}): WebhookSubscription {
  return {
    id: randomUUID(),
    url: 'https://hooks.example.com/switchyard',
    eventTypes: ['*'],
    description: '',
    enabled: true,
    secrets: [{ value: generateWebhookSecret(), createdAt }],
    revision: 1,
    createdAt,
    updatedAt: createdAt,
    ...over,
  };
}

function delivery(subscriptionId: string, createdAt: string, over: Partial<WebhookDelivery> = {}): WebhookDelivery {
  const eventId = randomUUID();
  return {
    ...newDelivery({
      id: randomUUID(),
      subscriptionId,
      event: { id: eventId, type: 'receiver.created', body: JSON.stringify({ id: eventId }) },
      now: createdAt,
    }),
    ...over,
  };
}

function attempt(deliveryId: string, number: number, statusCode = 500): DeliveryAttempt {
  return { deliveryId, number, run: 1, at: new Date().toISOString(), statusCode, latencyMs: 12 };
}

describe('subscriptions', () => {
  it('creates, reads and replaces at a revision; a stale revision is a VersionConflictError', async () => {
    const created = await service.create({ url: 'https://hooks.example.com/a', eventTypes: ['receiver.*'], description: 'a' });
    const stored = await store.getSubscription(created.id);
    expect(stored).toMatchObject({ id: created.id, revision: 1, enabled: true, eventTypes: ['receiver.*'] });
    expect(stored?.secrets.map((s) => s.value)).toEqual([created.secret]);

    const updated = await service.update(created.id, { revision: 1, description: 'b' });
    expect(updated).toMatchObject({ revision: 2, description: 'b' });
    await expect(service.update(created.id, { revision: 1, description: 'stale' })).rejects.toBeInstanceOf(VersionConflictError);
    await expect(
      store.replaceSubscription({ ...(stored as WebhookSubscription), revision: 3 }, 1, 'subscription.updated'),
    ).rejects.toMatchObject({ code: 'VERSION_CONFLICT', expectedRevision: 1 });
    expect((await store.getSubscription(created.id))?.description).toBe('b');
    await expect(
      store.replaceSubscription(subscription(new Date().toISOString(), { revision: 2 }), 1, 'subscription.updated'),
    ).rejects.toBeInstanceOf(NotFoundError);
  });

  it('refuses a second subscription with a taken id', async () => {
    const sub = subscription(new Date().toISOString());
    await store.createSubscription(sub, freshHealth(sub.id), 'subscription.created');
    await expect(store.createSubscription(sub, freshHealth(sub.id), 'subscription.created')).rejects.toBeInstanceOf(AlreadyExistsError);
  });

  it('emits exactly one event of the right type per change, none with a secret', async () => {
    const created = await service.create({ url: 'https://hooks.example.com/events', eventTypes: ['*'] });
    const expected: string[] = [];
    // Commits can share a millisecond, so each change is checked as it happens rather than by event time.
    const emitted = async (type: string) => {
      expected.push(type);
      expect((await eventsAbout(created.id)).map((e) => e.type).sort()).toEqual([...expected].sort());
    };
    await emitted('subscription.created');
    await service.update(created.id, { revision: 1, description: 'renamed' });
    await emitted('subscription.updated');
    await service.disable(created.id);
    await emitted('subscription.disabled');
    await service.disable(created.id);
    await service.enable(created.id);
    await emitted('subscription.enabled');
    await service.rotateSecret(created.id, { overlapSeconds: 60 });
    await emitted('subscription.secret_rotated');
    await service.delete(created.id, 5);
    await emitted('subscription.deleted');
    const events = await eventsAbout(created.id);
    for (const event of events) {
      expect(JSON.stringify(event)).not.toContain('whsec_');
      expect(event.data).not.toHaveProperty('secrets');
    }
    expect(events.find((e) => e.type === 'subscription.created')?.data).toMatchObject({
      id: created.id,
      url: 'https://hooks.example.com/events',
      enabled: true,
    });
    expect(events.find((e) => e.type === 'subscription.deleted')?.data).toEqual({ id: created.id });
  });

  it('keeps secrets sealed at rest, opens them on read, and keeps two after a rotation', async () => {
    const created = await service.create({ url: 'https://hooks.example.com/sealed', eventTypes: ['*'] });
    const raw = await rawItem(keys.subscription(created.id));
    expect(JSON.stringify(raw)).not.toContain('whsec_');
    expect((raw?.data as { secrets: { sealed: string }[] }).secrets).toEqual([
      { sealed: expect.stringMatching(/^wsk1\.k1\./), createdAt: created.createdAt },
    ]);

    const rotated = await service.rotateSecret(created.id, { overlapSeconds: 3600 });
    const read = await store.getSubscription(created.id);
    expect(read?.secrets.map((s) => s.value)).toEqual([rotated.secret, created.secret]);
    expect(read?.secrets[1]?.expiresAt).toBe(rotated.previousSecretsExpireAt);
    expect(JSON.stringify(await rawItem(keys.subscription(created.id)))).not.toContain('whsec_');

    // Without the key ring the table alone reveals nothing: another ring cannot open them.
    const stranger = new DynamoWebhookStore(client, tableName, { keyRing: async () => ({ keys: [generateWrappingKey('k1')] }) });
    await expect(stranger.getSubscription(created.id)).rejects.toThrow(/does not open/);
    // Nowhere in the table: not in audit records, not in outbox events.
    expect(JSON.stringify(await scanTable(client, tableName))).not.toContain('whsec_');
  });

  it('writes health with the subscription, starts it afresh on enable, and deletes it with the subscription', async () => {
    const created = await service.create({ url: 'https://hooks.example.com/health', eventTypes: ['*'] });
    expect(await rawItem(keys.subscriptionHealth(created.id))).toMatchObject({
      subscriptionId: created.id,
      consecutiveFailedDeliveries: 0,
    });
    await store.recordAttempt(created.id, 'failed', new Date().toISOString());
    await store.recordAttempt(created.id, 'failed', new Date().toISOString());
    await service.disable(created.id);
    await service.enable(created.id);
    const health = await rawItem(keys.subscriptionHealth(created.id));
    expect(health).toMatchObject({ consecutiveFailedDeliveries: 0 });
    expect(health).not.toHaveProperty('failingSince');

    await service.delete(created.id, 3);
    expect(await rawItem(keys.subscription(created.id))).toBeUndefined();
    expect(await rawItem(keys.subscriptionHealth(created.id))).toBeUndefined();
    await expect(store.deleteSubscription(created.id, 3, 'subscription.deleted')).rejects.toBeInstanceOf(NotFoundError);
  });

  it('refuses to delete at a stale revision and keeps both items', async () => {
    const created = await service.create({ url: 'https://hooks.example.com/stale', eventTypes: ['*'] });
    await service.update(created.id, { revision: 1, description: 'x' });
    await expect(store.deleteSubscription(created.id, 1, 'subscription.deleted')).rejects.toBeInstanceOf(VersionConflictError);
    expect(await rawItem(keys.subscription(created.id))).toBeDefined();
    expect(await rawItem(keys.subscriptionHealth(created.id))).toBeDefined();
  });

  it('lists newest first in pages with a cursor, and filters on enabled', async () => {
    const own = await freshTable();
    const listed = new DynamoWebhookStore(own.client, own.tableName, { audit: TEST_AUDIT, keyRing });
    const base = '2026-01-01T00:00:00.000Z';
    const made: WebhookSubscription[] = [];
    for (let i = 0; i < 7; i++) {
      const sub = subscription(at(base, i), i % 3 === 0 ? { enabled: false, disabledReason: 'manual', disabledAt: at(base, i) } : {});
      await listed.createSubscription(sub, freshHealth(sub.id), 'subscription.created');
      made.push(sub);
    }
    const newestFirst = made.map((s) => s.id).reverse();
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await listed.listSubscriptions({ limit: 3, ...(cursor ? { cursor } : {}) });
      expect(page.items.length).toBeLessThanOrEqual(3);
      seen.push(...page.items.map((s) => s.id));
      cursor = page.nextCursor;
    } while (cursor);
    expect(seen).toEqual(newestFirst);

    const first = (await listed.listSubscriptions({ limit: 1 })).items[0];
    expect(first).toEqual(made[6]);

    const disabled = await listed.listSubscriptions({ limit: 10, enabled: false });
    expect(disabled.items.map((s) => s.id)).toEqual([made[6], made[3], made[0]].map((s) => s?.id));
    const enabledFirst = await listed.listSubscriptions({ limit: 2, enabled: true });
    expect(enabledFirst.items.map((s) => s.id)).toEqual([made[5], made[4]].map((s) => s?.id));
    const enabledRest = await listed.listSubscriptions({ limit: 10, enabled: true, cursor: enabledFirst.nextCursor as string });
    expect(enabledRest.items.map((s) => s.id)).toEqual([made[2], made[1]].map((s) => s?.id));
    await expect(listed.listSubscriptions({ limit: 10, enabled: false, cursor: enabledFirst.nextCursor as string })).rejects.toMatchObject({
      code: 'INVALID_CURSOR',
    });
  });
});

describe('deliveries', () => {
  it('creates a delivery once per id and answers the first to a second create', async () => {
    const first = delivery(randomUUID(), new Date().toISOString());
    expect(await store.createDeliveryOnce(first)).toEqual({ created: true, delivery: first });
    const again = await store.createDeliveryOnce({ ...first, body: 'another body', status: 'FAILED' });
    expect(again).toEqual({ created: false, delivery: first });
    expect(await itemsOf(keys.delivery(first.id).pk)).toHaveLength(1);
    expect(await store.getDelivery(first.id)).toEqual(first);
  });

  it('stores deliveries with their TTL and type, and refuses a taken id on createDelivery', async () => {
    const ping = delivery(randomUUID(), anHourAgo(), { kind: 'test' });
    await store.createDelivery(ping);
    await expect(store.createDelivery(ping)).rejects.toBeInstanceOf(AlreadyExistsError);
    const raw = await rawItem(keys.delivery(ping.id));
    expect(raw).toMatchObject({ type: 'WebhookDelivery', version: 1, expiresAt: thirtyDaysAfter(ping.createdAt) });
    expect(raw?.data).not.toHaveProperty('revision');
  });

  it('saves a delivery with its attempts, lists them oldest first, and refuses a stale revision', async () => {
    const d = delivery(randomUUID(), anHourAgo());
    await store.createDelivery(d);
    const numbers = [1, 2, 10];
    let current = d;
    for (const number of numbers) {
      const next: WebhookDelivery = { ...current, status: 'RETRYING', totalAttempts: number, revision: current.revision + 1 };
      await store.saveDelivery(next, current.revision, attempt(d.id, number));
      current = next;
    }
    expect(await store.getDelivery(d.id)).toEqual(current);
    expect((await store.listAttempts(d.id)).map((a) => a.number)).toEqual(numbers);
    expect(await rawItem(keys.deliveryAttempt(d.id, 2))).toMatchObject({
      type: 'DeliveryAttempt',
      expiresAt: thirtyDaysAfter(d.createdAt),
    });

    const stale = { ...current, status: 'DELIVERED' as const, revision: current.revision + 1 };
    await expect(store.saveDelivery(stale, current.revision - 1)).rejects.toBeInstanceOf(VersionConflictError);
    await expect(store.saveDelivery(stale, current.revision - 1, attempt(d.id, 11))).rejects.toBeInstanceOf(VersionConflictError);
    // The refused transaction wrote nothing: no attempt 11, the delivery unchanged.
    expect((await store.listAttempts(d.id)).map((a) => a.number)).toEqual(numbers);
    expect(await store.getDelivery(d.id)).toEqual(current);
    // An attempt number already recorded means another dispatcher got there first.
    await expect(store.saveDelivery(stale, current.revision, attempt(d.id, 10))).rejects.toBeInstanceOf(VersionConflictError);
    await store.saveDelivery(stale, current.revision);
    expect((await store.getDelivery(d.id))?.status).toBe('DELIVERED');

    const gone = delivery(randomUUID(), new Date().toISOString());
    await expect(store.saveDelivery({ ...gone, revision: 2 }, 1)).rejects.toBeInstanceOf(NotFoundError);
    await expect(store.saveDelivery({ ...gone, revision: 2 }, 1, attempt(gone.id, 1))).rejects.toBeInstanceOf(NotFoundError);
  });

  it('lists by subscription, status and event type, and pages across shards without skipping or repeating', async () => {
    const own = await freshTable();
    const listed = new DynamoWebhookStore(own.client, own.tableName, { audit: TEST_AUDIT, keyRing });
    const [a, b] = [randomUUID(), randomUUID()];
    const statuses: DeliveryStatus[] = ['PENDING', 'DELIVERED', 'FAILED', 'RETRYING'];
    const base = anHourAgo();
    const made: WebhookDelivery[] = [];
    for (let i = 0; i < 40; i++) {
      const d = delivery(i % 2 ? a : b, at(base, i), {
        status: statuses[i % 4] as DeliveryStatus,
        eventType: i % 5 === 0 ? 'deployment.rolled_back' : 'receiver.created',
      });
      await listed.createDelivery(d);
      made.push(d);
    }
    const newestFirst = [...made].reverse();
    const ids = (items: WebhookDelivery[]) => items.map((d) => d.id);

    async function all(query: { subscriptionId?: string; status?: DeliveryStatus; eventType?: string }, limit: number) {
      const seen: WebhookDelivery[] = [];
      let cursor: string | undefined;
      do {
        const page = await listed.listDeliveries({ ...query, limit, ...(cursor ? { cursor } : {}) });
        expect(page.items.length).toBeLessThanOrEqual(limit);
        seen.push(...page.items);
        cursor = page.nextCursor;
      } while (cursor);
      return seen;
    }

    // The shards are all in use, and the merged pages are exactly the whole list, newest first.
    expect(new Set(made.map((d) => keys.deliveriesShard(d.id, 8))).size).toBeGreaterThan(1);
    expect(ids(await all({}, 7))).toEqual(ids(newestFirst));
    expect((await listed.listDeliveries({ limit: 1 })).items[0]).toEqual(made[39]);

    expect(ids(await all({ subscriptionId: a }, 4))).toEqual(ids(newestFirst.filter((d) => d.subscriptionId === a)));
    expect(ids(await all({ status: 'FAILED' }, 3))).toEqual(ids(newestFirst.filter((d) => d.status === 'FAILED')));
    expect(ids(await all({ eventType: 'deployment.rolled_back' }, 3))).toEqual(
      ids(newestFirst.filter((d) => d.eventType === 'deployment.rolled_back')),
    );
    expect(ids(await all({ subscriptionId: b, status: 'PENDING' }, 2))).toEqual(
      ids(newestFirst.filter((d) => d.subscriptionId === b && d.status === 'PENDING')),
    );
    expect(ids(await all({ subscriptionId: a, eventType: 'deployment.rolled_back', status: 'DELIVERED' }, 2))).toEqual(
      ids(newestFirst.filter((d) => d.subscriptionId === a && d.eventType === 'deployment.rolled_back' && d.status === 'DELIVERED')),
    );
  });
});

describe('subscription health', () => {
  it('counts 20 concurrent failed deliveries exactly, keeps the first failingSince, and clears on delivered', async () => {
    const sub = subscription(new Date().toISOString());
    await store.createSubscription(sub, freshHealth(sub.id), 'subscription.created');
    const first = '2026-04-01T00:00:00.000Z';
    expect(await store.recordAttempt(sub.id, 'retry', first)).toEqual({
      subscriptionId: sub.id,
      consecutiveFailedDeliveries: 0,
      failingSince: first,
    });
    await Promise.all(Array.from({ length: 20 }, (_, i) => store.recordAttempt(sub.id, 'failed', at(first, i + 1))));
    expect(await rawItem(keys.subscriptionHealth(sub.id))).toMatchObject({ consecutiveFailedDeliveries: 20, failingSince: first });
    const later = at(first, 60);
    expect(await store.recordAttempt(sub.id, 'failed', later)).toEqual({
      subscriptionId: sub.id,
      consecutiveFailedDeliveries: 21,
      failingSince: first,
    });
    expect(await store.recordAttempt(sub.id, 'delivered', later)).toEqual({
      subscriptionId: sub.id,
      consecutiveFailedDeliveries: 0,
      lastSuccessAt: later,
    });
  });

  it('answers for a deleted subscription without throwing or bringing its health back', async () => {
    const id = randomUUID();
    const now = new Date().toISOString();
    expect(await store.recordAttempt(id, 'failed', now)).toEqual({ subscriptionId: id, consecutiveFailedDeliveries: 1, failingSince: now });
    expect(await rawItem(keys.subscriptionHealth(id))).toBeUndefined();
  });
});

describe('endpoints', () => {
  const config: CircuitConfig = {
    ...DEFAULT_CIRCUIT,
    maxInFlight: 3,
    consecutiveFailureThreshold: 3,
    openSeconds: 60,
    probeTimeoutSeconds: 30,
  };

  it('lets exactly maxInFlight of 10 concurrent acquires send, and frees a slot on release or lease expiry', async () => {
    const endpoint = `https://${randomUUID()}.example.com`;
    const now = '2026-05-01T00:00:00.000Z';
    const ids = Array.from({ length: 10 }, () => randomUUID());
    const decisions = await Promise.all(ids.map((id) => store.acquire(endpoint, id, config, now, 30)));
    const sent = ids.filter((_, i) => decisions[i]?.kind === 'send');
    expect(sent).toHaveLength(3);
    expect(decisions.filter((d) => d.kind === 'defer')).toEqual(
      Array.from({ length: 7 }, () => ({ kind: 'defer', until: at(now, config.busyDeferSeconds), reason: 'endpoint-busy' })),
    );
    const leases = (await rawItem(keys.endpoint(endpoint)))?.leases as Record<string, number>;
    expect(Object.keys(leases).sort()).toEqual([...sent].sort());

    // A delivery holding a lease may acquire again (its message came back): it does not count against itself.
    expect(await store.acquire(endpoint, sent[0] as string, config, now, 30)).toEqual({ kind: 'send' });
    expect((await store.acquire(endpoint, randomUUID(), config, now, 30)).kind).toBe('defer');
    await store.release(endpoint, sent[0] as string, 'success', config, now);
    expect(await store.acquire(endpoint, randomUUID(), config, now, 30)).toEqual({ kind: 'send' });
    // Leases of dispatchers that never released end at their expiry.
    expect(await store.acquire(endpoint, randomUUID(), config, at(now, 31), 30)).toEqual({ kind: 'send' });
  });

  it('opens the circuit after consecutive failures, defers while open, probes once, and closes on success', async () => {
    const endpoint = `https://${randomUUID()}.example.com`;
    const now = '2026-05-01T00:00:00.000Z';
    let circuit: EndpointCircuit | undefined;
    for (let i = 0; i < 3; i++) {
      const id = randomUUID();
      expect(await store.acquire(endpoint, id, config, now, 30)).toEqual({ kind: 'send' });
      circuit = await store.release(endpoint, id, 'failure', config, now);
    }
    const openUntil = at(now, config.openSeconds);
    expect(circuit).toMatchObject({ state: 'open', consecutiveFailures: 3, openUntil });
    expect((await rawItem(keys.endpoint(endpoint)))?.data).toEqual(circuit);
    expect(await store.acquire(endpoint, randomUUID(), config, at(now, 10), 30)).toEqual({
      kind: 'defer',
      until: openUntil,
      reason: 'circuit-open',
    });

    const probe = randomUUID();
    const afterCoolDown = at(now, config.openSeconds + 1);
    expect(await store.acquire(endpoint, probe, config, afterCoolDown, 30)).toEqual({ kind: 'send' });
    expect(await store.acquire(endpoint, randomUUID(), config, afterCoolDown, 30)).toMatchObject({
      kind: 'defer',
      reason: 'probe-in-flight',
    });
    expect(await store.release(endpoint, probe, 'success', config, afterCoolDown)).toEqual({
      endpoint,
      state: 'closed',
      recentOutcomes: [],
      consecutiveFailures: 0,
    });
    expect((await rawItem(keys.endpoint(endpoint)))?.leases).toEqual({});
  });
});
