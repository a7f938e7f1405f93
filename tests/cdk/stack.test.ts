import { Match, Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { allRoutes } from '../../shared/api/routes.js';
import { synthTemplate } from '../support/synth.js';

let template: Template;

beforeAll(() => {
  // Throws if cdk-nag AwsSolutions reports anything not acknowledged in lib/nag.ts (tests/cdk/nag.test.ts checks the report).
  template = Template.fromJSON(synthTemplate({ 'switchyard:allowedOrigins': ['https://app.example', 'https://admin.example'] }) as never);
});

describe('the stack', () => {
  it('has one pay-per-request table with PITR, TTL, a stream and the store GSIs', () => {
    template.resourceCountIs('AWS::DynamoDB::Table', 1);
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      BillingMode: 'PAY_PER_REQUEST',
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
      StreamSpecification: { StreamViewType: 'NEW_AND_OLD_IMAGES' },
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      GlobalSecondaryIndexes: Match.arrayWith([
        Match.objectLike({
          IndexName: 'gsi1',
          KeySchema: [
            { AttributeName: 'gsi1pk', KeyType: 'HASH' },
            { AttributeName: 'gsi1sk', KeyType: 'RANGE' },
          ],
        }),
        Match.objectLike({
          IndexName: 'gsi2',
          KeySchema: [
            { AttributeName: 'gsi2pk', KeyType: 'HASH' },
            { AttributeName: 'gsi2sk', KeyType: 'RANGE' },
          ],
        }),
      ]),
    });
  });

  it('runs every function on Node 22 arm64 with X-Ray and Powertools configured', () => {
    const functions = template.findResources('AWS::Lambda::Function');
    // 12 API functions (configurations, edges and deployments: issue 10), the authorizer, the bootstrap custom resource, the
    // relay and sweeper, the webhook fan-out and dispatcher, the edge-health job, the rollout tasks and the reconciler.
    expect(Object.keys(functions)).toHaveLength(21);
    for (const fn of Object.values(functions)) {
      expect(fn.Properties).toMatchObject({
        Runtime: 'nodejs22.x',
        Architectures: ['arm64'],
        TracingConfig: { Mode: 'Active' },
        Environment: {
          Variables: expect.objectContaining({
            POWERTOOLS_SERVICE_NAME: 'switchyard',
            POWERTOOLS_METRICS_NAMESPACE: 'Switchyard',
            TABLE_NAME: expect.anything(),
          }),
        },
      });
    }
  });

  it('configures CORS and rate limits on every API function', () => {
    const apiFunctions = Object.values(template.findResources('AWS::Lambda::Function')).filter(
      (fn) =>
        (fn.Properties as { Environment: { Variables: Record<string, unknown> } }).Environment.Variables.CORS_ALLOWED_ORIGINS !== undefined,
    );
    // 9 + configurations (issue 10)
    expect(apiFunctions).toHaveLength(12);
    for (const fn of apiFunctions) {
      expect(fn.Properties.Environment.Variables).toMatchObject({
        CORS_ALLOWED_ORIGINS: 'https://app.example,https://admin.example',
        RATE_LIMIT_ANONYMOUS: '10',
        RATE_LIMIT_AUTHENTICATED: '100',
        RATE_LIMIT_ADMIN: '1000',
        RATE_LIMIT_LOGIN: '5',
      });
    }
  });

  it('puts the Lambda REQUEST authorizer on every route that is not public', () => {
    template.resourceCountIs('AWS::ApiGateway::Authorizer', 1);
    template.hasResourceProperties('AWS::ApiGateway::Authorizer', { Type: 'REQUEST', AuthorizerResultTtlInSeconds: 0 });
    const methods = Object.values(template.findResources('AWS::ApiGateway::Method')).map((m) => m.Properties as Record<string, unknown>);
    const byOperation = new Map(methods.map((m) => [m.OperationName, m]));
    for (const route of allRoutes) {
      const method = byOperation.get(route.operationId);
      expect(method?.AuthorizationType, route.operationId).toBe(route.access === 'public' ? 'NONE' : 'CUSTOM');
    }
  });

  it('keeps signing keys and bootstrap credentials in Secrets Manager and bootstraps them on deploy', () => {
    // Signing keys, admin password, admin API key, the page-cursor HMAC key, and the webhook secrets' wrapping key.
    template.resourceCountIs('AWS::SecretsManager::Secret', 5);
    template.resourceCountIs('Custom::SwitchyardBootstrap', 1);
    template.hasResourceProperties('AWS::ApiGateway::GatewayResponse', { ResponseType: 'UNAUTHORIZED', StatusCode: '401' });
    template.hasResourceProperties('AWS::ApiGateway::GatewayResponse', {
      ResponseType: 'ACCESS_DENIED',
      StatusCode: '403',
      ResponseTemplates: { 'application/json': Match.stringLikeRegexp('\\$context.authorizer.requiredRole') },
    });
  });

  it('traces and access-logs the API stage', () => {
    template.hasResourceProperties('AWS::ApiGateway::Stage', {
      TracingEnabled: true,
      AccessLogSetting: { DestinationArn: Match.anyValue(), Format: Match.stringLikeRegexp('requestId') },
    });
  });

  it('declares every route with a Lambda proxy integration and request validation', () => {
    const methods = Object.values(template.findResources('AWS::ApiGateway::Method')).map((m) => m.Properties as Record<string, unknown>);
    const proxied = methods.filter((m) => (m.Integration as { Type: string }).Type === 'AWS_PROXY');
    expect(proxied).toHaveLength(allRoutes.length);
    for (const m of proxied) expect(m.RequestValidatorId).toBeDefined();
    const bodyRoutes = allRoutes
      .filter((r) => r.body)
      .map((r) => r.operationId)
      .sort();
    const withModels = proxied
      .filter((m) => m.RequestModels)
      .map((m) => m.OperationName)
      .sort();
    expect(withModels).toEqual(bodyRoutes);
  });

  it('answers CORS preflight for the allow-list only, never *', () => {
    const options = Object.values(template.findResources('AWS::ApiGateway::Method', { Properties: { HttpMethod: 'OPTIONS' } }));
    expect(options.length).toBeGreaterThan(0);
    const json = JSON.stringify(options);
    expect(json).toContain("'https://app.example'");
    expect(json).toContain('https://admin.example');
    expect(json).not.toContain("'*'");
  });

  it('turns the errors API Gateway answers itself into problem+json', () => {
    template.hasResourceProperties('AWS::ApiGateway::GatewayResponse', {
      ResponseType: 'BAD_REQUEST_BODY',
      StatusCode: '400',
      ResponseParameters: { 'gatewayresponse.header.Content-Type': "'application/problem+json'" },
    });
    template.hasResourceProperties('AWS::ApiGateway::GatewayResponse', { ResponseType: 'MISSING_AUTHENTICATION_TOKEN', StatusCode: '404' });
  });
});

describe('the webhook pipeline', () => {
  const functionNamed = (t: Template, name: string) =>
    Object.entries(t.findResources('AWS::Lambda::Function')).find(([id]) => id.startsWith(`Webhooks${name}Function`)) ?? [];

  it('sends every switchyard event to the fan-out queue, with a dead-letter queue for what EventBridge cannot hand over', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: { source: [{ prefix: 'switchyard.' }] },
      Targets: [
        Match.objectLike({ Arn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^WebhooksFanout'), 'Arn'] }, DeadLetterConfig: Match.anyValue() }),
      ],
    });
  });

  it('runs the fan-out and the dispatcher on their queues with per-record failures, and queues with DLQs and a visibility of six timeouts', () => {
    for (const name of ['Fanout', 'Dispatcher']) {
      const [id] = functionNamed(template, name);
      expect(id, name).toBeDefined();
      template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
        FunctionName: { Ref: id },
        BatchSize: 10,
        FunctionResponseTypes: ['ReportBatchItemFailures'],
      });
    }
    template.hasResourceProperties('AWS::SQS::Queue', {
      VisibilityTimeout: 180,
      RedrivePolicy: Match.objectLike({ maxReceiveCount: 10 }),
    });
  });

  it('gives the dispatcher the default retry schedule and the deployed SSRF policy; context changes both', () => {
    const [, dispatcher] = functionNamed(template, 'Dispatcher');
    expect(dispatcher?.Properties.Environment.Variables).toMatchObject({
      WEBHOOK_RETRY_SECONDS: '30,60,120,300,900',
      WEBHOOK_URL_POLICY: 'deployed',
      WEBHOOK_DELIVERY_QUEUE_URL: expect.anything(),
      WEBHOOK_KEYS_SECRET_ARN: expect.anything(),
    });
    const local = Template.fromJSON(
      synthTemplate({ 'switchyard:webhookRetrySeconds': '5,10', 'switchyard:webhookUrlPolicy': 'local' }) as never,
    );
    const [, localDispatcher] = functionNamed(local, 'Dispatcher');
    expect(localDispatcher?.Properties.Environment.Variables).toMatchObject({ WEBHOOK_RETRY_SECONDS: '5,10', WEBHOOK_URL_POLICY: 'local' });
  });

  it('refuses a retry schedule SQS cannot carry, at synth', () => {
    expect(() => synthTemplate({ 'switchyard:webhookRetrySeconds': '30,1200' })).toThrow(/webhookRetrySeconds/);
    expect(() => synthTemplate({ 'switchyard:webhookUrlPolicy': 'open' })).toThrow(/webhookUrlPolicy/);
  });

  it('alarms as soon as a dead-letter queue holds a message: fan-out, delivery, and the relay’s failures', () => {
    const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm')).map((a) => a.Properties as Record<string, unknown>);
    expect(alarms).toHaveLength(3);
    for (const alarm of alarms) {
      expect(alarm).toMatchObject({
        MetricName: 'ApproximateNumberOfMessagesVisible',
        Namespace: 'AWS/SQS',
        Threshold: 0,
        ComparisonOperator: 'GreaterThanThreshold',
        TreatMissingData: 'notBreaching',
      });
    }
    const queues = alarms.map((a) => JSON.stringify(a.Dimensions));
    for (const dlq of ['WebhooksFanoutDlq', 'WebhooksDeliveryDlq', 'EventsRelayFailures']) expect(queues.join(' ')).toContain(dlq);
  });

  it('lets the webhooks API function queue deliveries and read the wrapping key', () => {
    const api = Object.entries(template.findResources('AWS::Lambda::Function')).find(([id]) => id.startsWith('WebhooksFunction'));
    expect(api?.[1].Properties.Environment.Variables).toMatchObject({
      WEBHOOK_DELIVERY_QUEUE_URL: expect.anything(),
      WEBHOOK_KEYS_SECRET_ARN: expect.anything(),
      WEBHOOK_URL_POLICY: 'deployed',
    });
  });
});

describe('the jobs', () => {
  const edgeHealth = (t: Template) =>
    Object.entries(t.findResources('AWS::Lambda::Function')).find(
      ([, fn]) => (fn.Metadata as Record<string, unknown> | undefined)?.['switchyard:entry'] === 'functions/edge-health/index.ts',
    ) ?? [];
  const scheduleOf = (t: Template, functionId: string) =>
    Object.values(t.findResources('AWS::Events::Rule')).filter((rule) =>
      (rule.Properties.Targets as Array<{ Arn: unknown }>).some((target) => JSON.stringify(target.Arn).includes(`"${functionId}"`)),
    );

  it('runs the edge-health job every minute, with the same heartbeat interval as the edges API', () => {
    const [id, fn] = edgeHealth(template);
    expect(id).toMatch(/^JobsEdgeHealth/);
    const rules = scheduleOf(template, id as string);
    expect(rules).toHaveLength(1);
    expect(rules[0]?.Properties).toMatchObject({ ScheduleExpression: 'rate(1 minute)', State: 'ENABLED' });
    expect(rules[0]?.Properties.Targets).toEqual([expect.objectContaining({ RetryPolicy: { MaximumRetryAttempts: 2 } })]);
    const health = { EDGE_HEARTBEAT_SECONDS: '10', EDGE_MISSED_INTERVALS: '3' };
    expect(fn?.Properties.Environment.Variables).toMatchObject(health);
    const edges = Object.entries(template.findResources('AWS::Lambda::Function')).find(([name]) => name.startsWith('EdgesFunction'));
    expect(edges?.[1].Properties.Environment.Variables).toMatchObject(health);
  });

  it('takes the job’s rate and the heartbeat interval from context', () => {
    const custom = Template.fromJSON(
      synthTemplate({ 'switchyard:edgeHealthMinutes': '5', 'switchyard:edgeHeartbeatSeconds': 30 }) as never,
    );
    const [id, fn] = edgeHealth(custom);
    expect(scheduleOf(custom, id as string)[0]?.Properties.ScheduleExpression).toBe('rate(5 minutes)');
    expect(fn?.Properties.Environment.Variables).toMatchObject({ EDGE_HEARTBEAT_SECONDS: '30' });
  });

  it.each([0, 61, '1.5', 'often', ''])('refuses switchyard:edgeHealthMinutes = %j at synth', (value) => {
    expect(() => synthTemplate({ 'switchyard:edgeHealthMinutes': value })).toThrow(
      /switchyard:edgeHealthMinutes must be a whole number from 1 to 60/,
    );
  });

  it('refuses a heartbeat interval that is not a whole number of seconds', () => {
    expect(() => synthTemplate({ 'switchyard:edgeHeartbeatSeconds': 0 })).toThrow(/switchyard:edgeHeartbeatSeconds must be a whole number/);
  });
});

describe('the rollout workflows', () => {
  const machines = () => template.findResources('AWS::StepFunctions::StateMachine');
  /** The ASL of the machine named `<stack>-<name>`, with the function ARN tokens stubbed. */
  const definitionOf = (name: string) => {
    const machine = Object.values(machines()).find(
      (m) => (m.Properties as { StateMachineName: string }).StateMachineName === `Switchyard-${name}`,
    );
    expect(machine).toBeDefined();
    const parts = (machine!.Properties as { DefinitionString: { 'Fn::Join': [string, unknown[]] } }).DefinitionString['Fn::Join'][1];
    return JSON.parse(parts.map((p) => (typeof p === 'string' ? p : 'arn:aws:lambda:us-east-1:000000000000:function:tasks')).join('')) as {
      States: Record<string, Record<string, unknown>>;
      QueryLanguage?: string;
    };
  };

  it('defines the rollout machine as a Map over the stages, one at a time: gate, approval by task token, apply, bake, evaluate', () => {
    const rollout = definitionOf('rollout');
    expect(rollout.QueryLanguage ?? 'JSONPath').toBe('JSONPath');
    const stages = rollout.States.Stages as {
      Type: string;
      MaxConcurrency: number;
      ItemProcessor: { States: Record<string, Record<string, unknown>> };
    };
    expect(stages).toMatchObject({ Type: 'Map', MaxConcurrency: 1, ItemsPath: '$.stages' });
    const inner = stages.ItemProcessor.States;
    expect(Object.keys(inner)).toEqual(expect.arrayContaining(['Gate', 'AwaitApproval', 'Hold', 'Apply', 'Watch', 'Bake', 'Evaluate']));
    expect(inner.AwaitApproval).toMatchObject({ Resource: expect.stringContaining('lambda:invoke.waitForTaskToken') });
    expect(JSON.stringify(inner.AwaitApproval)).toContain('$$.Task.Token');
    expect(inner.Bake).toMatchObject({ Type: 'Wait', SecondsPath: '$.waitSeconds' });
    // A failed stage, or a failed execution, goes to the rollback; a superseded one ends quietly.
    expect(stages).toMatchObject({
      Catch: [
        { ErrorEquals: ['Deployment.Superseded'], Next: 'Done' },
        { ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'RollBack' },
      ],
    });
  });

  it('defines the rollback machine: restore every edge, then mark the deployment, and FAILED when it cannot', () => {
    const rollback = definitionOf('rollback');
    expect(rollback.States.RestoreEdges).toMatchObject({
      Next: 'MarkRolledBack',
      Catch: [{ ErrorEquals: ['States.ALL'], Next: 'MarkFailed' }],
    });
    expect(rollback.States.RollbackFailed).toMatchObject({ Type: 'Fail', Error: 'Deployment.RollbackFailed' });
  });

  it('names the machines to the functions that drive them, and runs the reconciler every minute', () => {
    const functions = template.findResources('AWS::Lambda::Function');
    for (const fn of Object.values(functions)) {
      const vars = (fn.Properties as { Environment?: { Variables?: Record<string, unknown> } }).Environment?.Variables ?? {};
      if ('ROLLOUT_STATE_MACHINE_ARN' in vars)
        expect(JSON.stringify(vars.ROLLOUT_STATE_MACHINE_ARN)).toContain(':stateMachine:Switchyard-rollout');
    }
    const withMachines = Object.values(functions).filter(
      (f) => 'ROLLBACK_STATE_MACHINE_ARN' in ((f.Properties as { Environment?: { Variables?: object } }).Environment?.Variables ?? {}),
    );
    // The deployments API, the rollout tasks and the reconciler.
    expect(withMachines).toHaveLength(3);
    template.hasResourceProperties('AWS::Events::Rule', {
      Description: 'Runs the deployment reconciler',
      ScheduleExpression: 'rate(1 minute)',
    });
  });

  it('takes the poll interval from context, checked at synth', () => {
    const polled = Template.fromJSON(synthTemplate({ 'switchyard:rolloutPollSeconds': '2' }) as never);
    const tasks = Object.values(polled.findResources('AWS::Lambda::Function')).filter(
      (f) =>
        ((f.Properties as { Environment?: { Variables?: Record<string, unknown> } }).Environment?.Variables ?? {}).ROLLOUT_POLL_SECONDS ===
        '2',
    );
    expect(tasks.length).toBeGreaterThanOrEqual(2);
    expect(() => synthTemplate({ 'switchyard:rolloutPollSeconds': '0' })).toThrow(/rolloutPollSeconds must be a whole number/);
  });
});
