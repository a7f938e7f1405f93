import { DescribeRuleCommand, EventBridgeClient, ListTargetsByRuleCommand, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { EventBridgeSchema } from '@aws-lambda-powertools/parser/schemas';
import { App, Duration, Stack, type CfnElement } from 'aws-cdk-lib';
import * as cdkEvents from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startLocalAwsEndpoint, type LocalAwsEndpoint } from '../../../../local/aws/endpoint.js';
import { EventBridgeService } from '../../../../local/aws/events/service.js';
import { Clock } from '../../../../local/clock.js';
import { Dispatcher, type DispatchOptions } from '../../../../local/dispatch.js';
import { eventsProviders } from '../../../../local/providers/events.js';
import {
  arn,
  materializeTemplate,
  type LocalServices,
  type ProviderContext,
  type ResourceProvider,
} from '../../../../local/providers/provider.js';
import { TemplateResolver } from '../../../../local/template/resolver.js';
import type { CfnTemplate } from '../../../../local/types.js';

const ENV = { stackName: 'Switchyard', region: 'us-east-1', accountId: '000000000000' };

/** Functions and queues as their providers report them, without running anything. */
const fakeTargetsProvider: ResourceProvider = {
  types: ['AWS::Lambda::Function', 'AWS::SQS::Queue'],
  create(logicalId, resource) {
    if (resource.Type === 'AWS::SQS::Queue') {
      const name = `Switchyard-${logicalId}`;
      return { ref: `http://sqs.local/${name}`, attributes: { Arn: arn(ENV, 'sqs', name), QueueName: name } };
    }
    const name = `Switchyard-${logicalId}`;
    return { ref: name, attributes: { Arn: arn(ENV, 'lambda', `function:${name}`) } };
  },
};

/** What CDK synthesizes for a bus, a rule on it with a Lambda target (input transformer, retry policy, DLQ), a schedule and an archive. */
const TEMPLATE: CfnTemplate = {
  Resources: {
    Bus: { Type: 'AWS::Events::EventBus', Properties: { Name: 'switchyard' } },
    Fanout: { Type: 'AWS::Lambda::Function', Properties: {} },
    FanoutDlq: { Type: 'AWS::SQS::Queue', Properties: {} },
    Sweeper: { Type: 'AWS::Lambda::Function', Properties: {} },
    EventsRule: {
      Type: 'AWS::Events::Rule',
      Properties: {
        EventBusName: { Ref: 'Bus' },
        EventPattern: { source: [{ prefix: 'switchyard.' }] },
        State: 'ENABLED',
        Targets: [
          {
            Id: 'Target0',
            Arn: { 'Fn::GetAtt': ['Fanout', 'Arn'] },
            InputTransformer: {
              InputPathsMap: { type: '$.detail-type' },
              InputTemplate: '{"type": <type>, "rule": <aws.events.rule-name>}',
            },
            RetryPolicy: { MaximumRetryAttempts: 2, MaximumEventAgeInSeconds: 3600 },
            DeadLetterConfig: { Arn: { 'Fn::GetAtt': ['FanoutDlq', 'Arn'] } },
          },
          { Id: 'Target1', Arn: { 'Fn::GetAtt': ['NotRun', 'Arn'] } },
        ],
      },
    },
    NotRun: { Type: 'AWS::StepFunctions::StateMachine', Properties: {} },
    SweepSchedule: {
      Type: 'AWS::Events::Rule',
      Properties: {
        ScheduleExpression: 'rate(5 minutes)',
        State: 'ENABLED',
        Targets: [{ Id: 'Target0', Arn: { 'Fn::GetAtt': ['Sweeper', 'Arn'] } }],
      },
    },
    Archive: {
      Type: 'AWS::Events::Archive',
      Properties: { SourceArn: { 'Fn::GetAtt': ['Bus', 'Arn'] }, EventPattern: { source: ['switchyard.deployments'] }, RetentionDays: 7 },
    },
  },
};

let endpoint: LocalAwsEndpoint;
let client: EventBridgeClient;
let events: EventBridgeService;
let resolver: TemplateResolver;
let warnings: string[];
const deliveries: Array<{ arn: string; payload: unknown; options: DispatchOptions }> = [];

/** Starts a local EventBridge on an endpoint and materializes `template` into it. */
async function materialize(template: CfnTemplate, stackName = ENV.stackName) {
  deliveries.length = 0;
  const clock = new Clock(3_000);
  const dispatcher = new Dispatcher();
  dispatcher.register('lambda', async (target, payload, options) => {
    deliveries.push({ arn: target, payload, options });
    return {};
  });
  events = new EventBridgeService({ region: ENV.region, accountId: ENV.accountId, clock, dispatcher });
  endpoint = await startLocalAwsEndpoint({ services: [events] });
  client = new EventBridgeClient({
    endpoint: endpoint.endpoint,
    region: ENV.region,
    credentials: { accessKeyId: 'l', secretAccessKey: 'l' },
  });
  warnings = [];
  resolver = new TemplateResolver(template, { ...ENV, stackName }, (message) => warnings.push(message));
  const context: ProviderContext = {
    env: { ...ENV, stackName },
    resolver,
    clock,
    // The providers under test use only these two services.
    services: { events, dispatcher } as unknown as LocalServices,
    assemblyDir: '.',
    warn: (message) => warnings.push(message),
    log: () => undefined,
  };
  return materializeTemplate([...eventsProviders, fakeTargetsProvider], context);
}

afterEach(async () => {
  events.stop();
  client.destroy();
  await endpoint.stop();
});

describe('EventBridge providers', () => {
  beforeEach(async () => {
    const report = await materialize(TEMPLATE);
    expect(report.created).toEqual({
      'AWS::Events::EventBus': 1,
      'AWS::Events::Rule': 2,
      'AWS::Events::Archive': 1,
      'AWS::Lambda::Function': 2,
      'AWS::SQS::Queue': 1,
    });
  });

  it('report the values CloudFormation reports', () => {
    expect(resolver.valuesOf('Bus')).toEqual({
      ref: 'switchyard',
      attributes: { Arn: 'arn:aws:events:us-east-1:000000000000:event-bus/switchyard', Name: 'switchyard' },
    });
    expect(resolver.valuesOf('EventsRule')).toEqual({
      ref: 'switchyard|Switchyard-EventsRule',
      attributes: { Arn: 'arn:aws:events:us-east-1:000000000000:rule/switchyard/Switchyard-EventsRule' },
    });
    expect(resolver.valuesOf('SweepSchedule')).toEqual({
      ref: 'Switchyard-SweepSchedule',
      attributes: { Arn: 'arn:aws:events:us-east-1:000000000000:rule/Switchyard-SweepSchedule' },
    });
    expect(resolver.valuesOf('Archive')).toEqual({
      ref: 'Switchyard-Archive',
      attributes: { Arn: 'arn:aws:events:us-east-1:000000000000:archive/Switchyard-Archive' },
    });
  });

  it('create the rule with its pattern and the targets that resolve, as the API shows them', async () => {
    const rule = await client.send(new DescribeRuleCommand({ Name: 'Switchyard-EventsRule', EventBusName: 'switchyard' }));
    expect(JSON.parse(rule.EventPattern!)).toEqual({ source: [{ prefix: 'switchyard.' }] });
    const { Targets } = await client.send(new ListTargetsByRuleCommand({ Rule: 'Switchyard-EventsRule', EventBusName: 'switchyard' }));
    expect(Targets).toEqual([
      expect.objectContaining({
        Id: 'Target0',
        Arn: 'arn:aws:lambda:us-east-1:000000000000:function:Switchyard-Fanout',
        RetryPolicy: { MaximumRetryAttempts: 2, MaximumEventAgeInSeconds: 3600 },
        DeadLetterConfig: { Arn: 'arn:aws:sqs:us-east-1:000000000000:Switchyard-FanoutDlq' },
      }),
    ]);
    expect(warnings).toEqual(expect.arrayContaining([expect.stringMatching(/target Target1 is left out/)]));
  });

  it('route a put event through the transformer and archive it', async () => {
    await client.send(
      new PutEventsCommand({
        Entries: [{ EventBusName: 'switchyard', Source: 'switchyard.deployments', DetailType: 'deployment.created', Detail: '{}' }],
      }),
    );
    await events.drain();
    const fanout = deliveries.filter((d) => d.arn.endsWith('Switchyard-Fanout'));
    expect(fanout.map((d) => d.payload)).toEqual([{ type: 'deployment.created', rule: 'Switchyard-EventsRule' }]);
    const archived = events.archivedEvents('Switchyard-Archive');
    expect(archived).toHaveLength(1);
    expect(EventBridgeSchema.parse(archived[0]).source).toBe('switchyard.deployments');
  });

  it('run the schedule on the clock', async () => {
    // rate(5 minutes) at 3 000×: 100 ms.
    const started = Date.now();
    while (!deliveries.some((d) => d.arn.endsWith('Switchyard-Sweeper')) && Date.now() - started < 5_000)
      await new Promise((r) => setTimeout(r, 10));
    const tick = deliveries.find((d) => d.arn.endsWith('Switchyard-Sweeper'))!;
    expect(EventBridgeSchema.parse(tick.payload)).toMatchObject({
      'detail-type': 'Scheduled Event',
      source: 'aws.events',
      resources: [resolver.valuesOf('SweepSchedule')?.attributes.Arn],
    });
  });
});

/** The same resources as aws-cdk-lib synthesizes them (inline code: no bundling). */
function synthEventsStack(): { template: CfnTemplate; stackName: string; ids: Record<string, string> } {
  const app = new App();
  const stack = new Stack(app, 'EventsFixture', { env: { account: ENV.accountId, region: ENV.region } });
  const fn = new lambda.Function(stack, 'Fanout', {
    runtime: lambda.Runtime.NODEJS_22_X,
    handler: 'index.handler',
    code: lambda.Code.fromInline('exports.handler = async () => {}'),
  });
  const dlq = new sqs.Queue(stack, 'FanoutDlq');
  const bus = new cdkEvents.EventBus(stack, 'Bus', { eventBusName: 'switchyard' });
  const rule = new cdkEvents.Rule(stack, 'ToFanout', {
    eventBus: bus,
    eventPattern: { source: cdkEvents.Match.prefix('switchyard.') },
    targets: [
      new targets.LambdaFunction(fn, {
        event: cdkEvents.RuleTargetInput.fromObject({
          type: cdkEvents.EventField.detailType,
          id: cdkEvents.EventField.eventId,
          data: cdkEvents.EventField.fromPath('$.detail.data'),
        }),
        retryAttempts: 2,
        maxEventAge: Duration.hours(2),
        deadLetterQueue: dlq,
      }),
    ],
  });
  const sweep = new cdkEvents.Rule(stack, 'Sweep', {
    schedule: cdkEvents.Schedule.cron({ minute: '0/5' }),
    targets: [new targets.LambdaFunction(fn)],
  });
  const archive = bus.archive('Archive', { eventPattern: { source: ['switchyard.deployments'] }, retention: Duration.days(7) });
  const id = (construct: Construct) => stack.getLogicalId(construct.node.defaultChild as CfnElement);
  const template = app.synth().getStackByName(stack.stackName).template as CfnTemplate;
  return { template, stackName: stack.stackName, ids: { rule: id(rule), sweep: id(sweep), archive: id(archive), bus: id(bus) } };
}

describe('EventBridge providers with what aws-cdk-lib synthesizes', () => {
  it('create the bus, rules, targets and archive, and deliver through the transformer', async () => {
    const { template, stackName, ids } = synthEventsStack();
    const report = await materialize(template, stackName);
    expect(report.created).toMatchObject({ 'AWS::Events::EventBus': 1, 'AWS::Events::Rule': 2, 'AWS::Events::Archive': 1 });
    expect(resolver.valuesOf(ids.rule!)?.ref).toBe(`switchyard|${stackName}-${ids.rule}`);

    const { Targets } = await client.send(new ListTargetsByRuleCommand({ Rule: `${stackName}-${ids.rule}`, EventBusName: 'switchyard' }));
    expect(Targets?.[0]).toMatchObject({
      RetryPolicy: { MaximumRetryAttempts: 2, MaximumEventAgeInSeconds: 7200 },
      DeadLetterConfig: { Arn: expect.stringContaining(':sqs:') },
    });

    const put = await client.send(
      new PutEventsCommand({
        Entries: [
          { EventBusName: 'switchyard', Source: 'switchyard.deployments', DetailType: 'deployment.created', Detail: '{"data":{"n":1}}' },
        ],
      }),
    );
    await events.drain();
    expect(deliveries.filter((d) => d.options.source === `rule switchyard/${stackName}-${ids.rule}`).map((d) => d.payload)).toEqual([
      { type: 'deployment.created', id: put.Entries?.[0]?.EventId, data: { n: 1 } },
    ]);
    expect(events.archivedEvents(`${stackName}-${ids.archive}`.slice(0, 48))).toHaveLength(1);
    // The cron(0/5 * * * ? *) CDK wrote fires too (every 100 ms at 3 000×).
    const sweep = `rule default/${stackName}-${ids.sweep}`;
    for (const started = Date.now(); !deliveries.some((d) => d.options.source === sweep) && Date.now() - started < 5_000;) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const tick = deliveries.find((d) => d.options.source === sweep);
    expect(EventBridgeSchema.parse(tick?.payload)['detail-type']).toBe('Scheduled Event');
    expect(new Date(EventBridgeSchema.parse(tick?.payload).time).getUTCMinutes() % 5).toBe(0);
    // Loading aws-cdk-lib and synthesizing takes seconds on a busy machine.
  }, 90_000);
});
