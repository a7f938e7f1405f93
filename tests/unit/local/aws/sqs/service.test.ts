import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import {
  ChangeMessageVisibilityCommand,
  CreateQueueCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  ListQueuesCommand,
  QueueDoesNotExist,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { afterEach, describe, expect, it } from 'vitest';
import { Clock } from '../../../../../local/clock.js';
import { startLocalAwsEndpoint, type LocalAwsEndpoint } from '../../../../../local/aws/endpoint.js';
import { SqsService } from '../../../../../local/aws/sqs/service.js';

const CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };
const silent = { debug() {}, info() {}, warn() {}, error() {} };
const stops: Array<() => Promise<void>> = [];

afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop();
});

async function start(clock = new Clock(1)): Promise<{ endpoint: LocalAwsEndpoint; sqs: SqsService; client: SQSClient }> {
  const endpoint = await startLocalAwsEndpoint({ services: [] });
  stops.push(() => endpoint.stop());
  const sqs = await SqsService.start({ region: 'us-east-1', clock, endpoint: endpoint.endpoint });
  stops.push(() => sqs.stop());
  endpoint.addService(sqs);
  const client = new SQSClient({ endpoint: endpoint.endpoint, region: 'us-east-1', credentials: CREDENTIALS });
  stops.push(async () => client.destroy());
  return { endpoint, sqs, client };
}

const hasCli = await promisify(execFile)('aws', ['--version']).then(
  () => true,
  () => false,
);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('SQS at the local endpoint', () => {
  it('sends, receives and deletes with the SDK, with queue URLs on the endpoint', async () => {
    const { endpoint, client } = await start();
    const { QueueUrl } = await client.send(new CreateQueueCommand({ QueueName: 'orders' }));
    expect(QueueUrl).toBe(`${endpoint.endpoint}/000000000000/orders`);
    expect((await client.send(new GetQueueUrlCommand({ QueueName: 'orders' }))).QueueUrl).toBe(QueueUrl);
    expect((await client.send(new ListQueuesCommand({}))).QueueUrls).toEqual([QueueUrl]);

    await client.send(
      new SendMessageCommand({
        QueueUrl,
        MessageBody: '{"order":1}',
        MessageAttributes: { kind: { DataType: 'String', StringValue: 'created' } },
      }),
    );
    const { Messages } = await client.send(
      new ReceiveMessageCommand({ QueueUrl, MessageSystemAttributeNames: ['All'], MessageAttributeNames: ['All'], WaitTimeSeconds: 1 }),
    );
    expect(Messages).toHaveLength(1);
    const [message] = Messages ?? [];
    expect(message?.Body).toBe('{"order":1}');
    expect(message?.MessageAttributes?.kind?.StringValue).toBe('created');
    expect(message?.Attributes?.ApproximateReceiveCount).toBe('1');
    await client.send(new DeleteMessageCommand({ QueueUrl, ReceiptHandle: message?.ReceiptHandle }));
    const attributes = await client.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['All'] }));
    expect(attributes.Attributes).toMatchObject({ ApproximateNumberOfMessages: '0', ApproximateNumberOfMessagesNotVisible: '0' });
  });

  it('serves a client that has no endpoint through the queue URL (SDK v3 sends SQS calls to the URL host)', async () => {
    const { client } = await start();
    const { QueueUrl } = await client.send(new CreateQueueCommand({ QueueName: 'by-url' }));
    const byUrl = new SQSClient({ region: 'us-east-1', credentials: CREDENTIALS, logger: silent });
    stops.push(async () => byUrl.destroy());
    await byUrl.send(new SendMessageCommand({ QueueUrl, MessageBody: 'hello' }));
    const { Messages } = await byUrl.send(new ReceiveMessageCommand({ QueueUrl }));
    expect(Messages?.[0]?.Body).toBe('hello');
  });

  it("keeps the sender's X-Ray trace header as the AWSTraceHeader system attribute", async () => {
    const { client } = await start();
    const { QueueUrl } = await client.send(new CreateQueueCommand({ QueueName: 'traced' }));
    const trace = 'Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1';
    await client.send(
      new SendMessageCommand({
        QueueUrl,
        MessageBody: 'traced',
        MessageSystemAttributes: { AWSTraceHeader: { DataType: 'String', StringValue: trace } },
      }),
    );
    const { Messages } = await client.send(new ReceiveMessageCommand({ QueueUrl, MessageSystemAttributeNames: ['AWSTraceHeader'] }));
    expect(Messages?.[0]?.Attributes?.AWSTraceHeader).toBe(trace);
  });

  it('stops at once with a 20 s long poll waiting, which answers no messages', async () => {
    const sqs = await SqsService.start({ region: 'us-east-1', clock: new Clock(1), endpoint: 'http://127.0.0.1:4599' });
    const { QueueUrl } = await sqs.call<{ QueueUrl: string }>('CreateQueue', { QueueName: 'waiting' });
    const poll = sqs.call<{ Messages?: unknown[] }>('ReceiveMessage', { QueueUrl, WaitTimeSeconds: 20 });
    await sleep(50);
    const started = Date.now();
    await sqs.stop();
    expect((await poll).Messages).toBeUndefined();
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it('answers an unknown queue with the SDK exception', async () => {
    const { endpoint, client } = await start();
    await expect(client.send(new ReceiveMessageCommand({ QueueUrl: `${endpoint.endpoint}/000000000000/missing` }))).rejects.toBeInstanceOf(
      QueueDoesNotExist,
    );
  });

  it('runs DelaySeconds on the scaled clock: 30 s at 60× is half a second', async () => {
    const { client } = await start(new Clock(60));
    const { QueueUrl } = await client.send(new CreateQueueCommand({ QueueName: 'delayed', Attributes: { DelaySeconds: '30' } }));
    const sent = Date.now();
    await client.send(new SendMessageCommand({ QueueUrl, MessageBody: 'queue default' }));
    await client.send(new SendMessageCommand({ QueueUrl, MessageBody: 'own delay', DelaySeconds: 60 }));
    expect((await client.send(new ReceiveMessageCommand({ QueueUrl }))).Messages).toBeUndefined();
    // Long polls of 20 simulated seconds (a third of a real second each) until both have arrived.
    const arrivals = new Map<string, number>();
    while (arrivals.size < 2 && Date.now() - sent < 5_000) {
      const { Messages } = await client.send(new ReceiveMessageCommand({ QueueUrl, WaitTimeSeconds: 20, MaxNumberOfMessages: 10 }));
      for (const message of Messages ?? []) arrivals.set(message.Body ?? '', Date.now() - sent);
    }
    expect(arrivals.get('queue default')).toBeGreaterThanOrEqual(480); // 30 s
    expect(arrivals.get('own delay')).toBeGreaterThanOrEqual(980); // 60 s
    expect(arrivals.get('own delay')).toBeLessThan(3_000);
    // The queue keeps what was set, not the scaled figure.
    const attributes = await client.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['DelaySeconds'] }));
    expect(attributes.Attributes?.DelaySeconds).toBe('30');
  });

  it('runs visibility timeouts on the scaled clock and stamps simulated time', async () => {
    const clock = new Clock(60, { simulated: Date.parse('2030-01-01T00:00:00Z') });
    const { client } = await start(clock);
    const { QueueUrl } = await client.send(new CreateQueueCommand({ QueueName: 'visible', Attributes: { VisibilityTimeout: '30' } }));
    await client.send(new SendMessageCommand({ QueueUrl, MessageBody: 'again' }));
    const first = await client.send(new ReceiveMessageCommand({ QueueUrl, MessageSystemAttributeNames: ['All'] }));
    const sent = Number(first.Messages?.[0]?.Attributes?.SentTimestamp);
    expect(Math.abs(sent - clock.now())).toBeLessThan(5_000);
    expect((await client.send(new ReceiveMessageCommand({ QueueUrl }))).Messages).toBeUndefined();
    await sleep(600); // 36 simulated seconds > 30
    const second = await client.send(new ReceiveMessageCommand({ QueueUrl, MessageSystemAttributeNames: ['All'] }));
    expect(second.Messages?.[0]?.Attributes?.ApproximateReceiveCount).toBe('2');
    // ChangeMessageVisibility is scaled too: 600 s at 60× is 10 real seconds, so not back within half a second.
    await client.send(
      new ChangeMessageVisibilityCommand({ QueueUrl, ReceiptHandle: second.Messages?.[0]?.ReceiptHandle, VisibilityTimeout: 600 }),
    );
    await sleep(600);
    expect((await client.send(new ReceiveMessageCommand({ QueueUrl }))).Messages).toBeUndefined();
  });

  it('refuses out-of-range durations before scaling them', async () => {
    const { client } = await start(new Clock(60));
    const { QueueUrl } = await client.send(new CreateQueueCommand({ QueueName: 'ranges' }));
    await expect(client.send(new ReceiveMessageCommand({ QueueUrl, WaitTimeSeconds: 25 }))).rejects.toMatchObject({
      name: 'InvalidParameterValue',
    });
  });

  it('moves a message to the dead-letter queue after maxReceiveCount receives', async () => {
    const { client } = await start();
    const dlq = await client.send(new CreateQueueCommand({ QueueName: 'work-dlq' }));
    const dlqArn = (await client.send(new GetQueueAttributesCommand({ QueueUrl: dlq.QueueUrl, AttributeNames: ['QueueArn'] }))).Attributes
      ?.QueueArn;
    const { QueueUrl } = await client.send(
      new CreateQueueCommand({
        QueueName: 'work',
        Attributes: { RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount: 2 }) },
      }),
    );
    await client.send(new SendMessageCommand({ QueueUrl, MessageBody: 'poison' }));
    for (let receive = 1; receive <= 2; receive++) {
      const { Messages } = await client.send(new ReceiveMessageCommand({ QueueUrl, VisibilityTimeout: 0 }));
      expect(Messages?.[0]?.Body).toBe('poison');
    }
    expect((await client.send(new ReceiveMessageCommand({ QueueUrl, VisibilityTimeout: 0 }))).Messages).toBeUndefined();
    const dead = await client.send(new ReceiveMessageCommand({ QueueUrl: dlq.QueueUrl, MessageSystemAttributeNames: ['All'] }));
    expect(dead.Messages?.[0]?.Body).toBe('poison');
  });

  it.skipIf(!hasCli)(
    'answers the AWS CLI with the queue URL it printed',
    async () => {
      const { endpoint, client } = await start();
      const { QueueUrl } = await client.send(new CreateQueueCommand({ QueueName: 'cli' }));
      await client.send(new SendMessageCommand({ QueueUrl, MessageBody: 'from the sdk' }));
      const env = { ...process.env, AWS_ACCESS_KEY_ID: 'local', AWS_SECRET_ACCESS_KEY: 'local', AWS_DEFAULT_REGION: 'us-east-1' };
      const { stdout } = await promisify(execFile)(
        'aws',
        ['--endpoint-url', endpoint.endpoint, 'sqs', 'receive-message', '--queue-url', QueueUrl ?? '', '--output', 'json'],
        { env },
      );
      expect((JSON.parse(stdout) as { Messages: Array<{ Body: string }> }).Messages[0]?.Body).toBe('from the sdk');
    },
    20_000,
  );
});
