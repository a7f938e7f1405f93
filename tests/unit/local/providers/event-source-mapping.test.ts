/**
 * `AWS::Lambda::EventSourceMapping` from a template fragment as CDK writes it
 * (a table with a stream, queues, functions, mappings with GetAtt StreamArn
 * and a queue ARN): materialized with the table, queue and function providers
 * against a real DynamoDB Local and the local SQS, the functions then run on
 * the table's writes and the queue's messages, and a discarded stream batch
 * lands in the on-failure queue.
 */
import { PutItemCommand } from '@aws-sdk/client-dynamodb';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDynamoDbLocal, type DynamoDbLocal } from '../../../../local/aws/dynamodb/local-process.js';
import { Clock } from '../../../../local/clock.js';
import { startLocalAwsEndpoint, type LocalAwsEndpoint } from '../../../../local/aws/endpoint.js';
import { SqsService, type SqsWireMessage } from '../../../../local/aws/sqs/service.js';
import { registerSqsTarget } from '../../../../local/aws/sqs/target.js';
import { Dispatcher } from '../../../../local/dispatch.js';
import { LambdaService } from '../../../../local/lambda/service.js';
import { dynamoDbTableProvider } from '../../../../local/providers/dynamodb-table.js';
import {
  eventSourceMappingOf,
  eventSourceMappingProvider,
  mappingUuid,
  type EventSourceMappingProvider,
} from '../../../../local/providers/event-source-mapping.js';
import { lambdaFunctionProvider } from '../../../../local/providers/lambda-function.js';
import { materializeTemplate, type LocalServices, type ProviderContext } from '../../../../local/providers/provider.js';
import { sqsQueueProvider } from '../../../../local/providers/sqs-queue.js';
import { TemplateResolver } from '../../../../local/template/resolver.js';
import type { CfnTemplate } from '../../../../local/types.js';

const FIXTURES = fileURLToPath(new URL('../../../fixtures/lambda/', import.meta.url));
const ENV = { stackName: 'EsmStack', region: 'us-east-1', accountId: '000000000000' };

const template: CfnTemplate = {
  Resources: {
    Table: {
      Type: 'AWS::DynamoDB::Table',
      Properties: {
        TableName: 'esm-provider-table',
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
        AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
        BillingMode: 'PAY_PER_REQUEST',
        StreamSpecification: { StreamViewType: 'NEW_AND_OLD_IMAGES' },
      },
    },
    RelayFailures: { Type: 'AWS::SQS::Queue', Properties: { QueueName: 'relay-failures' } },
    Inbox: { Type: 'AWS::SQS::Queue', Properties: { QueueName: 'inbox' } },
    InboxConsumer: {
      Type: 'AWS::Lambda::Function',
      Properties: { Handler: 'index.handler', Runtime: 'nodejs22.x', FunctionName: 'inbox-consumer' },
      Metadata: { 'aws:asset:path': 'sqs-batch' },
    },
    InboxConsumerSqsEventSource: {
      Type: 'AWS::Lambda::EventSourceMapping',
      Properties: { FunctionName: { Ref: 'InboxConsumer' }, EventSourceArn: { 'Fn::GetAtt': ['Inbox', 'Arn'] } },
    },
    RelayWithBadFilter: {
      Type: 'AWS::Lambda::EventSourceMapping',
      Properties: {
        FunctionName: { Ref: 'Relay' },
        EventSourceArn: { 'Fn::GetAtt': ['Table', 'StreamArn'] },
        StartingPosition: 'LATEST',
        FilterCriteria: { Filters: [{ Pattern: '{"eventName":"INSERT"}' }] },
      },
    },
    Relay: {
      Type: 'AWS::Lambda::Function',
      Properties: { Handler: 'index.handler', Runtime: 'nodejs22.x', FunctionName: 'relay' },
      Metadata: { 'aws:asset:path': 'stream-consumer' },
    },
    RelayDynamoDBEventSource: {
      Type: 'AWS::Lambda::EventSourceMapping',
      Properties: {
        FunctionName: { Ref: 'Relay' },
        EventSourceArn: { 'Fn::GetAtt': ['Table', 'StreamArn'] },
        StartingPosition: 'TRIM_HORIZON',
        BatchSize: 10,
        BisectBatchOnFunctionError: true,
        MaximumRetryAttempts: 0,
        FunctionResponseTypes: ['ReportBatchItemFailures'],
        DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': ['RelayFailures', 'Arn'] } } },
      },
    },
  },
};

let dynamodb: DynamoDbLocal;
let endpoint: LocalAwsEndpoint;
let sqs: SqsService;
let lambda: LambdaService;
let provider: EventSourceMappingProvider;
let resolver: TemplateResolver;
/** Events each function was invoked with. */
const invoked: Record<string, Array<{ Records: Array<Record<string, unknown>> }>> = {};
const streamKeys = () =>
  (invoked.relay ?? []).flatMap((e) => e.Records.map((r) => (r.dynamodb as { Keys: { pk: { S: string } } }).Keys.pk.S));
const stops: Array<() => Promise<void> | void> = [];
const warnings: string[] = [];

beforeAll(async () => {
  dynamodb = await startDynamoDbLocal();
  const clock = new Clock(100);
  endpoint = await startLocalAwsEndpoint({ services: [] });
  sqs = await SqsService.start({ region: ENV.region, clock, endpoint: endpoint.endpoint });
  endpoint.addService(sqs);
  lambda = new LambdaService([], { baseEnvironment: { AWS_REGION: 'us-east-1' }, maxConcurrencyPerFunction: 1 });
  const invoke = lambda.invoke.bind(lambda);
  lambda.invoke = async (name, event, options) => {
    // Pollers invoke by name or by ARN.
    (invoked[name.split(':').at(-1) as string] ??= []).push(event as { Records: Array<Record<string, unknown>> });
    return invoke(name, event, options);
  };
  const dispatcher = new Dispatcher();
  registerSqsTarget(dispatcher, sqs);
  provider = eventSourceMappingProvider();
  resolver = new TemplateResolver(template, ENV);
  const context: ProviderContext = {
    env: ENV,
    resolver,
    clock,
    services: { endpoint, dynamodb, sqs, lambda, dispatcher } as unknown as LocalServices,
    assemblyDir: FIXTURES,
    warn: (message) => warnings.push(message),
    log: () => undefined,
    onStop: (stop) => stops.push(stop),
  };
  await materializeTemplate([dynamoDbTableProvider, sqsQueueProvider, lambdaFunctionProvider, provider], context);
}, 120_000);

afterAll(async () => {
  for (const stop of stops.reverse()) await stop();
  await lambda?.stop();
  await sqs?.stop();
  await endpoint?.stop();
  await dynamodb?.stop();
});

describe('eventSourceMappingProvider', () => {
  it('reports a UUID stable for the stack and logical id, and the mapping ARN', () => {
    const values = resolver.valuesOf('RelayDynamoDBEventSource');
    const uuid = mappingUuid('EsmStack', 'RelayDynamoDBEventSource');
    expect(uuid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(mappingUuid('EsmStack', 'Other')).not.toBe(uuid);
    expect(values?.ref).toBe(uuid);
    expect(values?.attributes.EventSourceMappingArn).toBe(`arn:aws:lambda:us-east-1:000000000000:event-source-mapping:${uuid}`);
    expect(resolver.resolve({ Ref: 'RelayDynamoDBEventSource' })).toBe(uuid);
  });

  it('runs the function on the table stream with the template’s settings; a discarded batch lands in the on-failure queue', async () => {
    // A pattern CreateEventSourceMapping would refuse (a value that is not in an array) keeps its mapping from running.
    expect(warnings).toEqual([expect.stringMatching(/^RelayWithBadFilter \(AWS::Lambda::EventSourceMapping\): .+; not run$/)]);
    expect(provider.pollers()).toHaveLength(2);
    expect(stops).toHaveLength(1);
    const poller = provider.pollers().find((p) => p.mapping.eventSourceArn.includes('/stream/'));
    expect(poller?.mapping).toMatchObject({
      functionName: 'relay',
      functionArn: 'arn:aws:lambda:us-east-1:000000000000:function:relay',
      eventSourceArn: resolver.valuesOf('Table')?.attributes.StreamArn,
      batchSize: 10,
      startingPosition: 'TRIM_HORIZON',
      bisectBatchOnFunctionError: true,
      maximumRetryAttempts: 0,
      maximumRecordAgeInSeconds: -1,
      reportBatchItemFailures: true,
      onFailureDestination: 'arn:aws:sqs:us-east-1:000000000000:relay-failures',
      enabled: true,
    });
    for (const [pk, mode] of [
      ['a', ''],
      ['b', 'throw'],
      ['c', ''],
    ]) {
      await dynamodb.client.send(
        new PutItemCommand({ TableName: 'esm-provider-table', Item: { pk: { S: pk as string }, mode: { S: mode as string } } }),
      );
    }
    const failures: SqsWireMessage[] = [];
    const deadline = Date.now() + 15_000;
    while (failures.length === 0 || (poller?.stats().records ?? 0) < 2) {
      if (Date.now() > deadline) throw new Error(`timed out; the function saw ${JSON.stringify(streamKeys())}`);
      const { Messages } = await sqs.call<{ Messages?: SqsWireMessage[] }>('ReceiveMessage', {
        QueueUrl: sqs.queueUrl('relay-failures'),
        MaxNumberOfMessages: 10,
      });
      failures.push(...(Messages ?? []));
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(failures.map((m) => JSON.parse(m.Body) as unknown)).toEqual([
      expect.objectContaining({
        requestContext: expect.objectContaining({ condition: 'RetryAttemptsExhausted', functionArn: poller?.mapping.functionArn }),
        DDBStreamBatchInfo: expect.objectContaining({ batchSize: 1, streamArn: poller?.mapping.eventSourceArn }),
      }),
    ]);
    expect(new Set(streamKeys())).toEqual(new Set(['a', 'b', 'c']));
    expect(poller?.stats()).toMatchObject({ records: 2, discarded: 1 });
  });

  it('runs the function on the queue’s messages with the SQS poller', async () => {
    const poller = provider.pollers().find((p) => p.mapping.eventSourceArn.endsWith(':inbox'));
    expect(poller?.mapping).toMatchObject({ functionName: 'inbox-consumer', batchSize: 10, reportBatchItemFailures: false });
    await sqs.call('SendMessage', { QueueUrl: sqs.queueUrl('inbox'), MessageBody: 'hello' });
    const deadline = Date.now() + 15_000;
    while (!invoked['inbox-consumer']?.length) {
      if (Date.now() > deadline) throw new Error('the queue’s function was not invoked');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(invoked['inbox-consumer'][0]?.Records).toEqual([expect.objectContaining({ body: 'hello', eventSource: 'aws:sqs' })]);
  });

  it('fills in Lambda’s defaults, and says why a mapping cannot run', () => {
    const warned: string[] = [];
    const context = {
      env: ENV,
      services: { lambda } as unknown as LocalServices,
      warn: (message: string) => warned.push(message),
    };
    const stream = eventSourceMappingOf(
      'M',
      { FunctionName: 'relay', EventSourceArn: 'arn:aws:dynamodb:us-east-1:0:table/t/stream/x' },
      context,
    );
    expect(stream).toMatchObject({
      batchSize: 100,
      maximumBatchingWindowInSeconds: 0,
      startingPosition: 'LATEST',
      maximumRetryAttempts: -1,
      maximumRecordAgeInSeconds: -1,
      bisectBatchOnFunctionError: false,
      reportBatchItemFailures: false,
      filterPatterns: [],
      enabled: true,
    });
    const queue = eventSourceMappingOf(
      'Q',
      {
        FunctionName: 'arn:aws:lambda:us-east-1:000000000000:function:relay',
        EventSourceArn: 'arn:aws:sqs:us-east-1:0:q',
        Enabled: 'false',
        FilterCriteria: { Filters: [{ Pattern: '{"body":{"type":["a"]}}' }] },
        ScalingConfig: { MaximumConcurrency: 5 },
      },
      context,
    );
    expect(queue).toMatchObject({ batchSize: 10, enabled: false, filterPatterns: ['{"body":{"type":["a"]}}'], maximumConcurrency: 5 });
    expect(queue?.startingPosition).toBeUndefined();
    expect(warned).toEqual([]);

    expect(eventSourceMappingOf('Gone', { FunctionName: 'nope', EventSourceArn: 'arn:aws:sqs:us-east-1:0:q' }, context)).toBeUndefined();
    expect(warned).toEqual([expect.stringContaining('nope is not a local function')]);
  });
});
