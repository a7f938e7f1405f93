/**
 * The two Lambda handlers on their sample events, with the store and the
 * queue in memory: the batch parser applies the record schemas, each record
 * is handled on its own, and a failed record is a batch item failure.
 */
import type * as StoreModule from '../../../shared/store/index.js';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { SQSEvent } from 'aws-lambda';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { startWebhookReceiver } from '../../../bin/webhook-receiver.js';
import { deliveryIdOf, type WebhookSubscription } from '../../../shared/domain/webhooks.js';
import type * as Adapters from '../../../shared/webhooks/adapters.js';
import { generateWebhookSecret } from '../../../shared/webhooks/signing.js';
import { lambdaContext } from '../../support/api-event.js';
import { MemoryDeliveryQueue, MemoryWebhookStore } from '../../support/webhook-memory.js';

const memory = vi.hoisted(() => ({ store: undefined as unknown, queue: undefined as unknown }));
vi.mock('../../../shared/store/index.js', async (importOriginal) => ({
  ...(await importOriginal<typeof StoreModule>()),
  webhookStore: () => memory.store,
}));
vi.mock('../../../shared/webhooks/adapters.js', async (importOriginal) => ({
  ...(await importOriginal<typeof Adapters>()),
  deliveryQueueFromEnv: () => memory.queue,
}));

const { handler: fanoutHandler } = await import('../../../functions/webhook-fanout/index.js');
const { handler: dispatcherHandler } = await import('../../../functions/webhook-dispatcher/index.js');

const sample = (file: string) => JSON.parse(readFileSync(path.resolve(import.meta.dirname, '../../../events', file), 'utf8')) as SQSEvent;
/** The subscription the dispatcher sample's delivery belongs to. */
const SUBSCRIPTION_ID = 'f47ac10b-58cc-4372-a567-0e02b2c3d479';

const secret = generateWebhookSecret();
const receiver = await startWebhookReceiver({ secrets: [secret], log: () => undefined });
afterAll(() => receiver.close());

let store: MemoryWebhookStore;
let queue: MemoryDeliveryQueue;
beforeEach(() => {
  process.env.WEBHOOK_URL_POLICY = 'local';
  store = new MemoryWebhookStore();
  queue = new MemoryDeliveryQueue();
  memory.store = store;
  memory.queue = queue;
  const at = new Date().toISOString();
  const subscription: WebhookSubscription = {
    id: SUBSCRIPTION_ID,
    url: receiver.url,
    eventTypes: ['event.*'],
    description: 'sample',
    enabled: true,
    secrets: [{ value: secret, createdAt: at }],
    revision: 1,
    createdAt: at,
    updatedAt: at,
  };
  store.seedSubscription(subscription);
});

describe('webhook-fanout handler', () => {
  it('fans the sample event out, queues its delivery, and reports a malformed record as that record’s failure only', async () => {
    const event = sample('webhook-fanout-sqs.json');
    const good = event.Records[0]!;
    const bad = { ...good, messageId: 'bad-1', body: '{"detail":"not a bus event"}' };
    const response = await fanoutHandler({ Records: [good, bad] }, lambdaContext);
    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: 'bad-1' }] });
    const eventId = (JSON.parse(good.body) as { detail: { id: string } }).detail.id;
    const id = deliveryIdOf(SUBSCRIPTION_ID, eventId);
    expect(queue.messages).toEqual([{ deliveryId: id, delaySeconds: 0 }]);
    expect(store.deliveries.get(id)!.body).toBe(JSON.stringify((JSON.parse(good.body) as { detail: unknown }).detail));
  });

  it('then the dispatcher handler delivers it (the two samples go together), signed as standardwebhooks verifies', async () => {
    await fanoutHandler(sample('webhook-fanout-sqs.json'), lambdaContext);
    const response = await dispatcherHandler(sample('webhook-dispatcher-sqs.json'), lambdaContext);
    expect(response).toEqual({ batchItemFailures: [] });
    const delivered = receiver.deliveries.at(-1)!;
    expect(delivered.verified).toBe(true);
    expect(() => new Webhook(secret).verify(delivered.body, delivered.headers)).not.toThrow();
    const id = (JSON.parse(sample('webhook-dispatcher-sqs.json').Records[0]!.body) as { deliveryId: string }).deliveryId;
    expect(store.deliveries.get(id)).toMatchObject({ status: 'DELIVERED' });
  });

  it('dispatcher: an unexpected error fails that record only; a body that is not a delivery message fails too', async () => {
    await fanoutHandler(sample('webhook-fanout-sqs.json'), lambdaContext);
    const event = sample('webhook-dispatcher-sqs.json');
    const good = event.Records[0]!;
    const notUuid = { ...good, messageId: 'bad-1', body: '{"deliveryId":"nope"}' };
    const missing = { ...good, messageId: 'missing-1', body: '{"deliveryId":"00000000-0000-4000-8000-000000000000"}' };
    const failing = { ...good, messageId: 'boom-1', body: '{"deliveryId":"11111111-1111-4111-8111-111111111111"}' };
    const getDelivery = store.getDelivery.bind(store);
    vi.spyOn(store, 'getDelivery').mockImplementation((id) =>
      id === '11111111-1111-4111-8111-111111111111' ? Promise.reject(new Error('store down')) : getDelivery(id),
    );
    const response = await dispatcherHandler({ Records: [good, notUuid, missing, failing] }, lambdaContext);
    expect(response.batchItemFailures.map((f) => f.itemIdentifier).sort()).toEqual(['bad-1', 'boom-1']);
  });
});
