/**
 * Every committed change reaches the bus exactly once (DESIGN.md §5), read
 * the way an operator would: a rule on the `switchyard` bus to a queue of
 * our own, drained with the SQS client. Then the same with faults on
 * demand (DESIGN.md §7): PutEvents failing half the time and the relay's
 * first invocation failing. Counted: sent, arrived, duplicates, lost.
 */
import {
  CreateQueueCommand,
  DeleteQueueCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  DeleteMessageBatchCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { DeleteRuleCommand, EventBridgeClient, PutRuleCommand, PutTargetsCommand, RemoveTargetsCommand } from '@aws-sdk/client-eventbridge';
import { EventBridgeSchema } from '@aws-lambda-powertools/parser/schemas/eventbridge';
import { CloudEvent } from 'cloudevents';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { call } from '../support/http.js';
import { eventBody, receiverBody } from '../support/samples.js';

const awsEndpoint = inject('awsEndpoint');
// Against a deployed stack the SDK's own configuration (credentials, region) is used; chaos exists only locally.
const clientConfig = awsEndpoint
  ? { endpoint: awsEndpoint, region: 'us-east-1', credentials: { accessKeyId: 'e2e', secretAccessKey: 'e2e' } }
  : {};
const sqs = new SQSClient(clientConfig);
const eventBridge = new EventBridgeClient(clientConfig);
const tap = `e2e-bus-tap-${randomUUID().slice(0, 8)}`;
let queueUrl: string;
let receiverId: string;

beforeAll(async () => {
  receiverId = (await call('POST', '/api/v1/receivers', { json: receiverBody() })).body.id;
  queueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: tap }))).QueueUrl as string;
  const queueArn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }))).Attributes
    ?.QueueArn;
  // Only this file's receiver: other suites ingest events on the same stack at the same time.
  await eventBridge.send(
    new PutRuleCommand({
      Name: tap,
      EventBusName: 'switchyard',
      EventPattern: JSON.stringify({
        source: ['switchyard.events'],
        'detail-type': ['event.created'],
        detail: { data: { receiverId: [receiverId] } },
      }),
    }),
  );
  await eventBridge.send(new PutTargetsCommand({ Rule: tap, EventBusName: 'switchyard', Targets: [{ Id: 'queue', Arn: queueArn }] }));
});

afterAll(async () => {
  if (awsEndpoint) await fetch(`${awsEndpoint}/_switchyard/chaos`, { method: 'DELETE' });
  await eventBridge.send(new RemoveTargetsCommand({ Rule: tap, EventBusName: 'switchyard', Ids: ['queue'] }));
  await eventBridge.send(new DeleteRuleCommand({ Name: tap, EventBusName: 'switchyard' }));
  await sqs.send(new DeleteQueueCommand({ QueueUrl: queueUrl }));
});

/** Ingests `count` events through the API; answers their ids. */
async function ingest(count: number, tag: string): Promise<string[]> {
  const ids: string[] = [];
  for (let n = 0; n < count; n++) {
    const created = await call('POST', '/api/v1/events', { json: eventBody(receiverId, { package: `${tag}-${n}` }) });
    expect(created.status).toBe(201);
    ids.push(created.body.id as string);
  }
  return ids;
}

/** Drains the tap until every expected event arrived (or the deadline), counting every delivery. */
async function drain(expected: readonly string[], deadlineMs: number) {
  const arrivals: string[] = [];
  const deadline = Date.now() + deadlineMs;
  const wanted = new Set(expected);
  while (Date.now() < deadline && [...wanted].some((id) => !arrivals.includes(id))) {
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
    );
    for (const message of Messages) {
      const envelope = EventBridgeSchema.parse(JSON.parse(message.Body as string));
      const cloudEvent = envelope.detail as { data: { id: string }; id: string };
      // The detail is the whole CloudEvent, valid by the CloudEvents SDK.
      expect(() => new CloudEvent({ ...cloudEvent }).validate()).not.toThrow();
      expect(envelope).toMatchObject({ source: 'switchyard.events', 'detail-type': 'event.created' });
      arrivals.push(cloudEvent.data.id);
    }
    if (Messages.length > 0) {
      await sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: queueUrl,
          Entries: Messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle as string })),
        }),
      );
    }
  }
  // A moment more, so a late duplicate would be seen too.
  const { Messages: late = [] } = await sqs.send(
    new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 2 }),
  );
  for (const message of late) arrivals.push((JSON.parse(message.Body as string) as { detail: { data: { id: string } } }).detail.data.id);
  const counts = new Map<string, number>();
  for (const id of arrivals) counts.set(id, (counts.get(id) ?? 0) + 1);
  return {
    sent: expected.length,
    arrived: expected.filter((id) => counts.has(id)).length,
    duplicates: [...counts.values()].filter((n) => n > 1).length,
    lost: expected.filter((id) => !counts.has(id)).length,
  };
}

describe('events on the bus', () => {
  it('every ingested event arrives once, as a CloudEvent in EventBridge’s envelope', async () => {
    const ids = await ingest(15, 'calm');
    const counts = await drain(ids, 60_000);
    console.log('bus delivery, no faults:', counts);
    expect(counts).toEqual({ sent: 15, arrived: 15, duplicates: 0, lost: 0 });
  });

  it.skipIf(!awsEndpoint)(
    'still every event, none twice, with PutEvents failing half the time and the relay’s first attempt failing',
    async () => {
      const chaos = await fetch(`${awsEndpoint}/_switchyard/chaos`, {
        method: 'PUT',
        body: JSON.stringify({
          seed: 42,
          rules: [
            { service: 'events', operation: 'PutEvents', probability: 0.5, error: 'InternalFailure' },
            { service: 'lambda', operation: 'Invoke', probability: 1, times: 1, error: 'ServiceException' },
          ],
        }),
      });
      expect(chaos.status).toBe(200);
      const ids = await ingest(20, 'chaos');
      const counts = await drain(ids, 120_000);
      const status = (await (await fetch(`${awsEndpoint}/_switchyard/chaos`)).json()) as {
        rules: Array<{ calls: number; faults: number }>;
      };
      console.log('bus delivery under faults:', counts, 'faults injected:', status.rules.map((r) => `${r.faults}/${r.calls}`).join(', '));
      expect(status.rules[0]?.faults).toBeGreaterThan(0);
      expect(status.rules[1]?.faults).toBe(1);
      expect(counts).toEqual({ sent: 20, arrived: 20, duplicates: 0, lost: 0 });
    },
    180_000,
  );
});
