/** The webhook fan-out: one delivery per enabled subscription that wants the event, each queued once, whatever SQS redelivers. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { deliveryIdOf, newDelivery, type WebhookSubscription } from '../../../shared/domain/webhooks.js';
import { fanOut, type FanoutDeps, type FanoutEvent } from '../../../shared/webhooks/fanout.js';
import { FanoutRecordSchema } from '../../../shared/webhooks/messages.js';
import { MemoryDeliveryQueue, MemoryWebhookStore, testClock } from '../../support/webhook-memory.js';

const T0 = '2026-11-23T10:00:00.000Z';

const subscription = (id: string, eventTypes: string[], enabled = true): WebhookSubscription => ({
  id,
  url: `http://127.0.0.1:4000/${id}`,
  eventTypes,
  description: '',
  enabled,
  ...(enabled ? {} : { disabledReason: 'manual' as const, disabledAt: T0 }),
  secrets: [{ value: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', createdAt: T0 }],
  revision: 1,
  createdAt: T0,
  updatedAt: T0,
});

const cloudEvent = (id: string, type = 'deployment.rolled_back'): FanoutEvent => ({
  specversion: '1.0',
  id,
  source: `switchyard/${type.split('.')[0]}s`,
  type,
  subject: 'd1',
  time: T0,
  datacontenttype: 'application/json',
  data: { id: 'd1' },
});

function setup(subscriptions: WebhookSubscription[]) {
  const store = new MemoryWebhookStore();
  for (const s of subscriptions) store.seedSubscription(s);
  const queue = new MemoryDeliveryQueue();
  const clock = testClock(new Date(T0));
  const deps: FanoutDeps = { subscriptions: store, deliveries: store, queue, now: clock.now };
  return { store, queue, clock, deps };
}

describe('fanOut', () => {
  it('creates and queues a delivery for each enabled subscription whose patterns select the type: exact, area.*, *', async () => {
    const { store, queue, deps } = setup([
      subscription('s-exact', ['deployment.rolled_back']),
      subscription('s-area', ['deployment.*']),
      subscription('s-all', ['*']),
      subscription('s-other-exact', ['deployment.started']),
      subscription('s-other-area', ['edge.*']),
      subscription('s-prefix-only', ['deploy.*']),
      subscription('s-disabled', ['*'], false),
    ]);
    const event = cloudEvent('e1');
    const result = await fanOut(event, deps);
    expect(result).toEqual({ matched: 3, created: 3, existing: 0, queued: 3, ignored: false });
    const ids = ['s-all', 's-area', 's-exact'].map((s) => deliveryIdOf(s, 'e1'));
    expect(queue.messages.map((m) => m.deliveryId).sort()).toEqual([...ids].sort());
    expect(queue.messages.every((m) => m.delaySeconds === 0)).toBe(true);
    expect([...store.deliveries.keys()].sort()).toEqual([...ids].sort());
    const delivery = store.deliveries.get(deliveryIdOf('s-exact', 'e1'))!;
    expect(delivery).toMatchObject({
      subscriptionId: 's-exact',
      eventId: 'e1',
      eventType: 'deployment.rolled_back',
      kind: 'event',
      status: 'PENDING',
      attemptsInRun: 0,
      totalAttempts: 0,
      revision: 1,
      createdAt: T0,
    });
    expect(delivery.body).toBe(JSON.stringify(event));
    // Only enabled subscriptions are listed.
    expect(store.listCalls.every((q) => q.enabled === true && q.limit === 100)).toBe(true);
  });

  it('fanning the same event out twice creates one delivery per subscription and queues no second message', async () => {
    const { store, queue, deps } = setup([subscription('s1', ['*']), subscription('s2', ['deployment.*'])]);
    await fanOut(cloudEvent('e1'), deps);
    // The dispatcher has begun with them: they are no longer untouched.
    for (const [id, d] of store.deliveries) store.deliveries.set(id, { ...d, status: 'SENDING', totalAttempts: 1, attemptsInRun: 1 });
    const again = await fanOut(cloudEvent('e1'), deps);
    expect(again).toEqual({ matched: 2, created: 0, existing: 2, queued: 0, ignored: false });
    expect(store.deliveries.size).toBe(2);
    expect(queue.messages).toHaveLength(2);
  });

  it('queues an existing delivery again while it is untouched (the first fan-out died between the put and the send)', async () => {
    const { store, queue, deps } = setup([subscription('s1', ['*']), subscription('s2', ['*'])]);
    // As if a fan-out had written s1's delivery and died before sending: PENDING, no attempt.
    const id = deliveryIdOf('s1', 'e1');
    store.deliveries.set(id, newDelivery({ id, subscriptionId: 's1', event: { id: 'e1', type: 'x', body: '{}' }, now: T0 }));
    const result = await fanOut(cloudEvent('e1'), deps);
    expect(result).toEqual({ matched: 2, created: 1, existing: 1, queued: 2, ignored: false });
    expect(queue.messages.map((m) => m.deliveryId).sort()).toEqual([id, deliveryIdOf('s2', 'e1')].sort());
    // The stored delivery is kept as it was.
    expect(store.deliveries.get(id)!.body).toBe('{}');
  });

  it('reads every page of enabled subscriptions', async () => {
    const many = Array.from({ length: 230 }, (_, i) => subscription(`s${String(i).padStart(3, '0')}`, ['*']));
    const { store, queue, deps } = setup(many);
    const result = await fanOut(cloudEvent('e1'), deps);
    expect(result.created).toBe(230);
    expect(queue.messages).toHaveLength(230);
    expect(store.listCalls.map((q) => q.cursor)).toEqual([undefined, '100', '200']);
  });

  it('never fans out webhook.test (a ping is for one subscription, stored by the API)', async () => {
    const { store, queue, deps } = setup([subscription('s1', ['*'])]);
    expect(await fanOut(cloudEvent('e1', 'webhook.test'), deps)).toMatchObject({ ignored: true, created: 0, queued: 0 });
    expect(store.deliveries.size).toBe(0);
    expect(queue.messages).toEqual([]);
    expect(store.listCalls).toEqual([]);
  });

  it('with no matching subscription queues nothing', async () => {
    const { queue, deps } = setup([subscription('s1', ['edge.*'])]);
    expect(await fanOut(cloudEvent('e1'), deps)).toEqual({ matched: 0, created: 0, existing: 0, queued: 0, ignored: false });
    expect(queue.messages).toEqual([]);
  });

  it('a failed send fails the fan-out; the redelivered event queues the untouched deliveries without creating them again', async () => {
    const { store, queue, deps } = setup([subscription('s1', ['*'])]);
    const failing: FanoutDeps = { ...deps, queue: { send: () => Promise.reject(new Error('SQS throttled')) } };
    await expect(fanOut(cloudEvent('e1'), failing)).rejects.toThrow('SQS throttled');
    expect(store.deliveries.size).toBe(1);
    expect(await fanOut(cloudEvent('e1'), deps)).toMatchObject({ created: 0, existing: 1, queued: 1 });
    expect(queue.messages).toEqual([{ deliveryId: deliveryIdOf('s1', 'e1'), delaySeconds: 0 }]);
  });

  it('the delivery body is the CloudEvent exactly as the bus delivered it (key order and unknown extensions kept)', async () => {
    const { store, deps } = setup([subscription('s1', ['*'])]);
    // An extension first and keys in an unusual order: a rebuilt object would move them.
    const detail = `{"zextension":"kept","type":"event.created","id":"e9","specversion":"1.0","source":"switchyard/events","subject":"x","time":"${T0}","datacontenttype":"application/json","data":{"b":1,"a":2},"traceparent":"00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01"}`;
    const sample = JSON.parse(readFileSync(path.resolve(import.meta.dirname, '../../../events/webhook-fanout-sqs.json'), 'utf8')) as {
      Records: Array<{ body: string }>;
    };
    const record = { ...sample.Records[0]!, body: sample.Records[0]!.body.replace(/"detail":\{.*\}\}$/, `"detail":${detail}}`) };
    expect(record.body).toContain(detail);
    const parsed = FanoutRecordSchema.parse(record);
    await fanOut(parsed.body.detail, deps);
    expect(store.deliveries.get(deliveryIdOf('s1', 'e9'))!.body).toBe(detail);
  });

  it('the record schema refuses a detail that is not a CloudEvent, so that record alone fails', () => {
    const sample = JSON.parse(readFileSync(path.resolve(import.meta.dirname, '../../../events/webhook-fanout-sqs.json'), 'utf8')) as {
      Records: Array<{ body: string }>;
    };
    const body = JSON.parse(sample.Records[0]!.body) as { detail: Record<string, unknown> };
    const { id: _id, ...withoutId } = body.detail;
    const result = FanoutRecordSchema.safeParse({ ...sample.Records[0]!, body: JSON.stringify({ ...body, detail: withoutId }) });
    expect(result.success).toBe(false);
    expect(result.error?.issues.map((i) => i.path.join('.'))).toContain('body.detail.id');
  });
});
