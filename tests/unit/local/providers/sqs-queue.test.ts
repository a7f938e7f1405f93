import { GetQueueAttributesCommand, ListQueueTagsCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterEach, describe, expect, it } from 'vitest';
import { Clock } from '../../../../local/clock.js';
import { startLocalAwsEndpoint } from '../../../../local/aws/endpoint.js';
import { SqsService } from '../../../../local/aws/sqs/service.js';
import { materializeTemplate, type LocalServices, type ProviderContext } from '../../../../local/providers/provider.js';
import { sqsQueuePolicyProvider, sqsQueueProvider } from '../../../../local/providers/sqs-queue.js';
import { TemplateResolver } from '../../../../local/template/resolver.js';
import type { CfnTemplate } from '../../../../local/types.js';

const ENV = { stackName: 'Switchyard', region: 'us-east-1', accountId: '000000000000' };
const stops: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop();
});

/** The fragment CDK synthesizes for a queue with a DLQ, a FIFO queue and a queue policy. */
const TEMPLATE: CfnTemplate = {
  Resources: {
    DeliveryDlq1A2B3C4D: {
      Type: 'AWS::SQS::Queue',
      Properties: { MessageRetentionPeriod: 1209600, SqsManagedSseEnabled: true },
    },
    DeliveryQueue5E6F7A8B: {
      Type: 'AWS::SQS::Queue',
      Properties: {
        QueueName: 'webhook-delivery',
        VisibilityTimeout: 60,
        DelaySeconds: 0,
        ReceiveMessageWaitTimeSeconds: 20,
        RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': ['DeliveryDlq1A2B3C4D', 'Arn'] }, maxReceiveCount: 6 },
        KmsMasterKeyId: 'alias/aws/sqs',
        Tags: [{ Key: 'app', Value: 'switchyard' }],
      },
    },
    OrderedQueue9C0D1E2F: {
      Type: 'AWS::SQS::Queue',
      Properties: { FifoQueue: true, ContentBasedDeduplication: true },
    },
    DeliveryQueuePolicy3A4B5C6D: {
      Type: 'AWS::SQS::QueuePolicy',
      Properties: {
        Queues: [{ Ref: 'DeliveryQueue5E6F7A8B' }],
        PolicyDocument: { Statement: [{ Effect: 'Allow', Principal: { Service: 'events.amazonaws.com' }, Action: 'sqs:SendMessage' }] },
      },
    },
  },
  Outputs: {
    Url: { Value: { Ref: 'DeliveryQueue5E6F7A8B' } },
    Arn: { Value: { 'Fn::GetAtt': ['DeliveryQueue5E6F7A8B', 'Arn'] } },
    FifoName: { Value: { 'Fn::GetAtt': ['OrderedQueue9C0D1E2F', 'QueueName'] } },
  },
};

describe('AWS::SQS::Queue provider', () => {
  it('creates the template queues with their attributes, and reports real URLs and ARNs', async () => {
    const endpoint = await startLocalAwsEndpoint({ services: [] });
    stops.push(() => endpoint.stop());
    const sqs = await SqsService.start({ region: ENV.region, clock: new Clock(1), endpoint: endpoint.endpoint });
    stops.push(() => sqs.stop());
    endpoint.addService(sqs);
    const warnings: string[] = [];
    const resolver = new TemplateResolver(TEMPLATE, ENV, (m) => warnings.push(m));
    const context: ProviderContext = {
      env: ENV,
      resolver,
      clock: new Clock(1),
      services: { endpoint, sqs } as unknown as LocalServices, // the queue providers use only these two
      assemblyDir: '',
      warn: (m) => warnings.push(m),
      log: () => undefined,
    };

    const report = await materializeTemplate([sqsQueueProvider, sqsQueuePolicyProvider], context);

    expect(report.created).toEqual({ 'AWS::SQS::Queue': 3, 'AWS::SQS::QueuePolicy': 1 });
    expect(warnings).toEqual([]);
    const url = resolver.resolve(TEMPLATE.Outputs?.Url?.Value);
    expect(url).toBe(`${endpoint.endpoint}/000000000000/webhook-delivery`);
    expect(resolver.resolve(TEMPLATE.Outputs?.Arn?.Value)).toBe('arn:aws:sqs:us-east-1:000000000000:webhook-delivery');
    expect(resolver.resolve(TEMPLATE.Outputs?.FifoName?.Value)).toBe('Switchyard-OrderedQueue9C0D1E2F.fifo');

    const client = new SQSClient({
      endpoint: endpoint.endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'l', secretAccessKey: 'l' },
    });
    stops.push(async () => client.destroy());
    const { Attributes } = await client.send(new GetQueueAttributesCommand({ QueueUrl: String(url), AttributeNames: ['All'] }));
    expect(Attributes).toMatchObject({ VisibilityTimeout: '60', ReceiveMessageWaitTimeSeconds: '20', KmsMasterKeyId: 'alias/aws/sqs' });
    expect(JSON.parse(Attributes?.RedrivePolicy ?? '{}')).toEqual({
      deadLetterTargetArn: 'arn:aws:sqs:us-east-1:000000000000:Switchyard-DeliveryDlq1A2B3C4D',
      maxReceiveCount: 6,
    });
    expect((await client.send(new ListQueueTagsCommand({ QueueUrl: String(url) }))).Tags).toEqual({ app: 'switchyard' });
    const fifo = await client.send(
      new GetQueueAttributesCommand({
        QueueUrl: `${endpoint.endpoint}/000000000000/Switchyard-OrderedQueue9C0D1E2F.fifo`,
        AttributeNames: ['All'],
      }),
    );
    expect(fifo.Attributes).toMatchObject({ FifoQueue: 'true', ContentBasedDeduplication: 'true' });
  });
});
