import { fileURLToPath } from 'node:url';
import { SqsSchema } from '@aws-lambda-powertools/parser/schemas';
import { afterEach, describe, expect, it } from 'vitest';
import { SqsService, type SqsWireMessage } from '../../../../local/aws/sqs/service.js';
import { Clock } from '../../../../local/clock.js';
import { Dispatcher } from '../../../../local/dispatch.js';
import type { EventSourceMapping, PollerDependencies } from '../../../../local/esm/mapping.js';
import { SqsPoller, type SqsRecord } from '../../../../local/esm/sqs.js';
import { LambdaService } from '../../../../local/lambda/service.js';
import type { InvokeOptions, InvokeResult } from '../../../../local/types.js';

const TRACE = 'Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1';
const ENV = { stackName: 'Switchyard', region: 'us-east-1', accountId: '000000000000' };
const stops: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop();
});

type Answer = (records: SqsRecord[]) => InvokeResult | Promise<InvokeResult>;
const base = { requestId: 'r', durationMs: 1, logs: '' };
const ok = (payload: unknown = null): InvokeResult => ({ ...base, ok: true, payload });
const failures = (...ids: string[]) => ok({ batchItemFailures: ids.map((itemIdentifier) => ({ itemIdentifier })) });

/** A function that records every event it is handed and answers as the test says (LambdaService's invoke, nothing else). */
class FakeFunction {
  readonly events: Array<{ Records: SqsRecord[] }> = [];
  readonly traceHeaders: Array<string | undefined> = [];
  constructor(public answer: Answer = () => ok()) {}
  async invoke(_functionId: string, event: unknown, options: InvokeOptions = {}): Promise<InvokeResult> {
    const typed = event as { Records: SqsRecord[] };
    this.events.push(typed);
    this.traceHeaders.push(options.traceHeader);
    return this.answer(typed.Records);
  }
  bodies(): string[][] {
    return this.events.map((event) => event.Records.map((record) => record.body));
  }
}

async function startSqs(clock: Clock): Promise<SqsService> {
  const sqs = await SqsService.start({ region: ENV.region, clock, endpoint: 'http://127.0.0.1:4599' });
  stops.push(() => sqs.stop());
  return sqs;
}

async function createQueue(sqs: SqsService, name: string, attributes: Record<string, string> = {}) {
  const { QueueUrl } = await sqs.call<{ QueueUrl: string }>('CreateQueue', { QueueName: name, Attributes: attributes });
  return { url: QueueUrl, arn: sqs.queueArn(name) };
}

function mapping(queueArn: string, overrides: Partial<EventSourceMapping> = {}): EventSourceMapping {
  return {
    uuid: 'a1b2c3d4-0000-4000-8000-000000000000',
    functionName: 'consumer',
    functionArn: 'arn:aws:lambda:us-east-1:000000000000:function:consumer',
    eventSourceArn: queueArn,
    enabled: true,
    batchSize: 10,
    maximumBatchingWindowInSeconds: 0,
    filterPatterns: [],
    reportBatchItemFailures: true,
    ...overrides,
  };
}

function startPoller(sqs: SqsService, clock: Clock, lambda: FakeFunction | LambdaService, m: EventSourceMapping): SqsPoller {
  const warnings: string[] = [];
  const deps: PollerDependencies = {
    // The fake honours LambdaService's invoke, the one method a poller calls.
    lambda: lambda as LambdaService,
    dispatcher: new Dispatcher(),
    clock,
    env: ENV,
    warn: (message) => warnings.push(message),
    log: () => undefined,
  };
  const poller = new SqsPoller(m, deps, sqs);
  poller.start();
  stops.push(() => poller.stop());
  return poller;
}

async function waitFor(condition: () => boolean | Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function messagesIn(sqs: SqsService, url: string): Promise<number> {
  const { Attributes } = await sqs.call<{ Attributes: Record<string, string> }>('GetQueueAttributes', {
    QueueUrl: url,
    AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessagesDelayed'],
  });
  return Object.values(Attributes).reduce((sum, value) => sum + Number(value), 0);
}

async function drain(sqs: SqsService, url: string): Promise<SqsWireMessage[]> {
  const { Messages } = await sqs.call<{ Messages?: SqsWireMessage[] }>('ReceiveMessage', {
    QueueUrl: url,
    MaxNumberOfMessages: 10,
    MessageSystemAttributeNames: ['All'],
  });
  return Messages ?? [];
}

describe('SqsPoller', () => {
  it('hands the function records in the shape Lambda sends and deletes the batch on success', async () => {
    const clock = new Clock(1);
    const sqs = await startSqs(clock);
    const queue = await createQueue(sqs, 'orders');
    await sqs.call('SendMessage', {
      QueueUrl: queue.url,
      MessageBody: '{"order":1}',
      MessageAttributes: {
        kind: { DataType: 'String', StringValue: 'created' },
        blob: { DataType: 'Binary', BinaryValue: Buffer.from('bytes').toString('base64') },
      },
    });
    await sqs.call('SendMessage', { QueueUrl: queue.url, MessageBody: 'plain text' }, { traceHeader: TRACE });
    const fn = new FakeFunction();
    const poller = startPoller(sqs, clock, fn, mapping(queue.arn));

    await waitFor(() => fn.events.flatMap((e) => e.Records).length === 2);
    await waitFor(async () => (await messagesIn(sqs, queue.url)) === 0);
    for (const event of fn.events) expect(() => SqsSchema.parse(event)).not.toThrow();
    const record = fn.events.flatMap((e) => e.Records).find((r) => r.body === '{"order":1}');
    expect(record).toMatchObject({
      eventSource: 'aws:sqs',
      eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:orders',
      awsRegion: 'us-east-1',
      attributes: { ApproximateReceiveCount: '1', SenderId: expect.any(String) },
      messageAttributes: {
        kind: { stringValue: 'created', stringListValues: [], binaryListValues: [], dataType: 'String' },
        blob: { binaryValue: Buffer.from('bytes').toString('base64'), stringListValues: [], binaryListValues: [], dataType: 'Binary' },
      },
      md5OfBody: expect.stringMatching(/^[0-9a-f]{32}$/),
      md5OfMessageAttributes: expect.stringMatching(/^[0-9a-f]{32}$/),
    });
    expect(Number(record?.attributes.SentTimestamp)).toBeLessThanOrEqual(Number(record?.attributes.ApproximateFirstReceiveTimestamp));
    expect(poller.stats()).toMatchObject({ records: 2, filtered: 0, failedInvocations: 0, discarded: 0 });
    // The sender's trace runs on into the function.
    const traced = fn.events.flatMap((e) => e.Records).find((r) => r.body === 'plain text');
    expect(traced?.attributes.AWSTraceHeader).toBe(TRACE);
    expect(fn.traceHeaders).toContain(TRACE);
  });

  it('hands FIFO records their group, deduplication id and sequence number, in order', async () => {
    const clock = new Clock(1);
    const sqs = await startSqs(clock);
    const queue = await createQueue(sqs, 'ordered.fifo', { FifoQueue: 'true', ContentBasedDeduplication: 'true' });
    for (const body of ['first', 'second']) {
      await sqs.call('SendMessage', { QueueUrl: queue.url, MessageBody: body, MessageGroupId: 'release-1' });
    }
    const fn = new FakeFunction();
    startPoller(sqs, clock, fn, mapping(queue.arn, { maximumConcurrency: 1 }));
    await waitFor(() => fn.events.flatMap((e) => e.Records).length === 2);
    for (const event of fn.events) expect(() => SqsSchema.parse(event)).not.toThrow();
    const records = fn.events.flatMap((e) => e.Records);
    expect(records.map((r) => r.body)).toEqual(['first', 'second']);
    expect(records[0]?.attributes).toMatchObject({
      MessageGroupId: 'release-1',
      MessageDeduplicationId: expect.stringMatching(/^[0-9a-f]{64}$/),
      SequenceNumber: expect.stringMatching(/^\d+$/),
    });
  });

  it('keeps only the reported batch item failures, which the queue redrives to its DLQ after maxReceiveCount', async () => {
    const clock = new Clock(60); // VisibilityTimeout 30 s = half a real second
    const sqs = await startSqs(clock);
    const dlq = await createQueue(sqs, 'work-dlq');
    const queue = await createQueue(sqs, 'work', {
      VisibilityTimeout: '30',
      RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlq.arn, maxReceiveCount: 2 }),
    });
    await sqs.call('SendMessageBatch', {
      QueueUrl: queue.url,
      Entries: [
        { Id: 'a', MessageBody: 'good' },
        { Id: 'b', MessageBody: 'poison' },
      ],
    });
    const fn = new FakeFunction((records) => failures(...records.filter((r) => r.body === 'poison').map((r) => r.messageId)));
    const poller = startPoller(sqs, clock, fn, mapping(queue.arn, { maximumConcurrency: 1 }));

    await waitFor(async () => (await messagesIn(sqs, dlq.url)) === 1);
    expect(await messagesIn(sqs, queue.url)).toBe(0);
    const delivered = fn.events.flatMap((e) => e.Records);
    expect(delivered.filter((r) => r.body === 'good')).toHaveLength(1);
    expect(delivered.filter((r) => r.body === 'poison').map((r) => r.attributes.ApproximateReceiveCount)).toEqual(['1', '2']);
    expect((await drain(sqs, dlq.url)).map((m) => m.Body)).toEqual(['poison']);
    expect(poller.stats()).toMatchObject({ failedInvocations: 2, discarded: 2 });
  });

  it('retries the whole batch when the response names a message that is not in it, or the function fails', async () => {
    const clock = new Clock(60);
    const sqs = await startSqs(clock);
    const queue = await createQueue(sqs, 'retry', { VisibilityTimeout: '30' });
    await sqs.call('SendMessageBatch', {
      QueueUrl: queue.url,
      Entries: [
        { Id: 'a', MessageBody: 'one' },
        { Id: 'b', MessageBody: 'two' },
      ],
    });
    // By receive: a response naming a stranger, then a function error, then success. (SQS may regroup the
    // messages into other batches when they come back, so each message is followed, not each batch.)
    const fn = new FakeFunction((records) => {
      const receive = Math.max(...records.map((r) => Number(r.attributes.ApproximateReceiveCount)));
      if (receive === 1) return failures('not-a-message-of-this-batch');
      if (receive === 2) return { ...base, ok: false, functionError: 'Unhandled', payload: { errorType: 'Error', errorMessage: 'boom' } };
      return ok({ batchItemFailures: [] });
    });
    const poller = startPoller(sqs, clock, fn, mapping(queue.arn, { maximumConcurrency: 1 }));

    await waitFor(() => poller.stats().records >= 6);
    await waitFor(async () => (await messagesIn(sqs, queue.url)) === 0);
    const receives = (body: string) =>
      fn.events
        .flatMap((e) => e.Records)
        .filter((r) => r.body === body)
        .map((r) => r.attributes.ApproximateReceiveCount);
    expect(receives('one')).toEqual(['1', '2', '3']);
    expect(receives('two')).toEqual(['1', '2', '3']);
  });

  it('deletes the messages no filter pattern matches without invoking the function', async () => {
    const clock = new Clock(1);
    const sqs = await startSqs(clock);
    const queue = await createQueue(sqs, 'filtered');
    for (const type of ['keep', 'drop', 'keep']) {
      await sqs.call('SendMessage', { QueueUrl: queue.url, MessageBody: JSON.stringify({ type }) });
    }
    await sqs.call('SendMessage', { QueueUrl: queue.url, MessageBody: 'not json' });
    const fn = new FakeFunction();
    const poller = startPoller(sqs, clock, fn, mapping(queue.arn, { filterPatterns: ['{"body":{"type":["keep"]}}'] }));

    await waitFor(() => poller.stats().records + poller.stats().filtered === 4);
    await waitFor(async () => (await messagesIn(sqs, queue.url)) === 0);
    expect(fn.bodies().flat()).toEqual(['{"type":"keep"}', '{"type":"keep"}']);
    expect(poller.stats()).toMatchObject({ records: 2, filtered: 2 });
  });

  it('gathers messages for MaximumBatchingWindowInSeconds of simulated time, or until BatchSize', async () => {
    const clock = new Clock(10); // a 3 s window is 300 real ms
    const sqs = await startSqs(clock);
    const queue = await createQueue(sqs, 'windowed');
    const fn = new FakeFunction();
    startPoller(sqs, clock, fn, mapping(queue.arn, { maximumBatchingWindowInSeconds: 3, batchSize: 20, maximumConcurrency: 1 }));
    await sqs.call('SendMessage', { QueueUrl: queue.url, MessageBody: 'first' });
    await new Promise((resolve) => setTimeout(resolve, 100));
    await sqs.call('SendMessage', { QueueUrl: queue.url, MessageBody: 'second' });
    await sqs.call('SendMessage', { QueueUrl: queue.url, MessageBody: 'third' });
    await waitFor(() => fn.events.length === 1);
    expect(fn.bodies()[0]).toEqual(['first', 'second', 'third']);

    const full = await createQueue(sqs, 'full');
    const fullFn = new FakeFunction();
    startPoller(sqs, clock, fullFn, mapping(full.arn, { maximumBatchingWindowInSeconds: 300, batchSize: 2, maximumConcurrency: 1 }));
    await sqs.call('SendMessageBatch', {
      QueueUrl: full.url,
      Entries: ['a', 'b', 'c'].map((body) => ({ Id: body, MessageBody: body })),
    });
    // BatchSize 2 is reached long before the 300 s window (30 real seconds) ends.
    await waitFor(() => fullFn.events.length >= 1, 2_000);
    expect(fullFn.events[0]?.Records).toHaveLength(2);
  });

  it('on a scaled clock, keeps a batch invisible while a function slower than the scaled visibility timeout runs', async () => {
    const clock = new Clock(60); // VisibilityTimeout 30 s = half a real second
    const sqs = await startSqs(clock);
    const queue = await createQueue(sqs, 'slow', { VisibilityTimeout: '30' });
    await sqs.call('SendMessage', { QueueUrl: queue.url, MessageBody: 'takes a while' });
    const fn = new FakeFunction(async () => {
      await new Promise((resolve) => setTimeout(resolve, 1_200));
      return ok();
    });
    startPoller(sqs, clock, fn, mapping(queue.arn, { maximumConcurrency: 2 }));
    await waitFor(() => fn.events.length === 1);
    await waitFor(async () => (await messagesIn(sqs, queue.url)) === 0);
    await new Promise((resolve) => setTimeout(resolve, 600));
    expect(fn.events).toHaveLength(1);
  });

  it('stops at once while a 20 s long poll is waiting', async () => {
    const clock = new Clock(1);
    const sqs = await startSqs(clock);
    const queue = await createQueue(sqs, 'idle');
    const poller = startPoller(sqs, clock, new FakeFunction(), mapping(queue.arn));
    await new Promise((resolve) => setTimeout(resolve, 50));
    const started = Date.now();
    await poller.stop();
    expect(Date.now() - started).toBeLessThan(500);
  });

  it('runs a real function that reports failures through Lambda execution environments', async () => {
    const clock = new Clock(60);
    const sqs = await startSqs(clock);
    const dlq = await createQueue(sqs, 'real-dlq');
    const queue = await createQueue(sqs, 'real', {
      VisibilityTimeout: '30',
      RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlq.arn, maxReceiveCount: 1 }),
    });
    const lambda = new LambdaService(
      [
        {
          logicalId: 'ConsumerFunction0A1B2C3D',
          functionName: 'consumer',
          assetDir: fileURLToPath(new URL('../../../fixtures/lambda/sqs-batch/', import.meta.url)),
          handler: 'index.handler',
          runtime: 'nodejs22.x',
          timeoutSeconds: 5,
          memorySizeMb: 128,
          environment: {},
        },
      ],
      { baseEnvironment: { AWS_REGION: 'us-east-1' }, accountId: '000000000000' },
    );
    stops.push(() => lambda.stop());
    await sqs.call('SendMessageBatch', {
      QueueUrl: queue.url,
      Entries: [
        { Id: 'a', MessageBody: 'ok' },
        { Id: 'b', MessageBody: 'please fail' },
      ],
    });
    const poller = startPoller(sqs, clock, lambda, mapping(queue.arn));
    await waitFor(async () => (await messagesIn(sqs, dlq.url)) === 1, 10_000);
    expect((await drain(sqs, dlq.url)).map((m) => m.Body)).toEqual(['please fail']);
    expect(await messagesIn(sqs, queue.url)).toBe(0);
    expect(poller.stats()).toMatchObject({ records: 2, failedInvocations: 1, discarded: 1 });
  });
});
