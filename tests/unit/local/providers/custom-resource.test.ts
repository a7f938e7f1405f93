import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  CloudFormationCustomResourceCreateSchema,
  CloudFormationCustomResourceDeleteSchema,
  CloudFormationCustomResourceUpdateSchema,
} from '@aws-lambda-powertools/parser/schemas';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  CUSTOM_RESOURCES_STATE_FILE,
  customResourceOrder,
  CustomResourceError,
  runCustomResources,
  type CustomResourceRequest,
  type RunCustomResourcesOptions,
} from '../../../../local/providers/custom-resource.js';
import { SecretsManagerService } from '../../../../local/aws/secrets-manager/service.js';
import { startLocalAwsEndpoint, type LocalAwsEndpoint } from '../../../../local/aws/endpoint.js';
import { LambdaService } from '../../../../local/lambda/service.js';
import { TemplateResolver } from '../../../../local/template/resolver.js';
import type { CfnTemplate, FunctionInvoker, InvokeResult } from '../../../../local/types.js';
import { ENV, synthCustomResourcesFixture, type CustomResourcesFixture } from '../../../fixtures/aws/cdk-stacks.js';

type Behaviour = (event: CustomResourceRequest) => 'success' | 'failed' | 'no-put' | 'throw' | 'hang';

/**
 * A fake FunctionInvoker whose "function" is a custom resource handler: it
 * PUTs its result to the ResponseURL with fetch, as a real handler does
 * (shared/custom-resource.ts), with Data.Echo = the Greeting or FromFirst.
 */
class FakeProvider implements FunctionInvoker {
  readonly events: Array<{ functionId: string; event: CustomResourceRequest }> = [];
  behaviour: Behaviour = () => 'success';
  /** Answer Updates with a new PhysicalResourceId (a replacement). */
  replaceOnUpdate = false;

  async invoke(functionId: string, event: unknown): Promise<InvokeResult> {
    const request = event as CustomResourceRequest;
    this.events.push({ functionId, event: request });
    const base = { requestId: 'fake', durationMs: 1, logs: '' };
    const mode = this.behaviour(request);
    if (mode === 'throw') {
      return { ...base, ok: false, functionError: 'Unhandled', payload: { errorType: 'Error', errorMessage: 'boom' } };
    }
    if (mode === 'hang') await new Promise((r) => setTimeout(r, 1_000));
    if (mode === 'success' || mode === 'failed') {
      const props = request.ResourceProperties;
      const body = JSON.stringify({
        Status: mode === 'success' ? 'SUCCESS' : 'FAILED',
        Reason: mode === 'success' ? 'OK' : 'the widget is broken',
        PhysicalResourceId:
          request.PhysicalResourceId && !(this.replaceOnUpdate && request.RequestType === 'Update')
            ? request.PhysicalResourceId
            : `${request.LogicalResourceId}-${String(props.Greeting ?? props.FromFirst)}${request.RequestType === 'Update' ? '-replaced' : ''}`,
        StackId: request.StackId,
        RequestId: request.RequestId,
        LogicalResourceId: request.LogicalResourceId,
        Data: { Echo: `echo:${String(props.Greeting ?? props.FromFirst)}` },
      });
      const response = await fetch(request.ResponseURL, { method: 'PUT', headers: { 'Content-Type': '' }, body });
      if (!response.ok) throw new Error(`PUT failed: ${response.status}`);
    }
    return { ...base, ok: true, payload: null };
  }
}

let fixture: CustomResourcesFixture;
let endpoint: LocalAwsEndpoint;
const dirs: string[] = [];

beforeAll(async () => {
  fixture = synthCustomResourcesFixture();
  endpoint = await startLocalAwsEndpoint({ services: [] });
});
afterAll(async () => {
  await endpoint.stop();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

let provider: FakeProvider;
// Every request the runner sends has the shape CloudFormation sends, per the schemas Powertools ships.
const REQUEST_SCHEMAS = {
  Create: CloudFormationCustomResourceCreateSchema,
  Update: CloudFormationCustomResourceUpdateSchema,
  Delete: CloudFormationCustomResourceDeleteSchema,
};
afterEach(() => {
  for (const { event } of provider.events) {
    const parsed = REQUEST_SCHEMAS[event.RequestType].safeParse(event);
    expect(parsed.error?.issues ?? [], `${event.RequestType} ${event.LogicalResourceId}`).toEqual([]);
  }
});

beforeEach(() => {
  provider = new FakeProvider();
});

function stateDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'switchyard-cr-'));
  dirs.push(dir);
  return dir;
}

/** A resolver that knows the provider function, as the Lambda provider would have reported it before the custom resources run. */
function resolverFor(template: CfnTemplate): TemplateResolver {
  const resolver = new TemplateResolver(template, { stackName: fixture.stackName, region: ENV.region, accountId: ENV.account });
  resolver.setValues(fixture.fn, { ref: FUNCTION_NAME(), attributes: { Arn: FUNCTION_ARN() } });
  return resolver;
}

function run(template: CfnTemplate, options: Partial<RunCustomResourcesOptions> = {}) {
  const resolver = resolverFor(template);
  return runCustomResources({ template, resolver, invoker: provider, responseHost: endpoint, noResponseGraceMs: 50, ...options });
}

/** The fixture with First's Greeting changed. */
function withGreeting(greeting: string): CfnTemplate {
  const template = structuredClone(fixture.template);
  (template.Resources[fixture.first]?.Properties as Record<string, unknown>).Greeting = greeting;
  return template;
}

const FUNCTION_NAME = () => `${fixture.stackName}-${fixture.fn}`;
const FUNCTION_ARN = () => `arn:aws:lambda:${ENV.region}:${ENV.account}:function:${FUNCTION_NAME()}`;

describe('runCustomResources', () => {
  it('orders by references, not template order', () => {
    expect(Object.keys(fixture.template.Resources)[0]).toBe(fixture.second);
    expect(customResourceOrder(fixture.template)).toEqual([fixture.first, fixture.second]);
  });

  it('sends Create on the first run, as CloudFormation does, and returns the outputs', async () => {
    const dir = stateDir();
    const result = await run(fixture.template, { stateDir: dir });
    expect(provider.events.map((e) => [e.functionId, e.event.LogicalResourceId, e.event.RequestType])).toEqual([
      [fixture.fn, fixture.first, 'Create'],
      [fixture.fn, fixture.second, 'Create'],
    ]);
    const first = provider.events[0]?.event as CustomResourceRequest;
    expect(first).toEqual({
      RequestType: 'Create',
      ServiceToken: FUNCTION_ARN(),
      ResponseURL: expect.stringMatching(new RegExp(`^${endpoint.endpoint}/cloudformation-response/[0-9a-f-]{36}$`)),
      StackId: `arn:aws:cloudformation:${ENV.region}:${ENV.account}:stack/${fixture.stackName}/local`,
      RequestId: expect.stringMatching(/^[0-9a-f-]{36}$/),
      ResourceType: 'Custom::First',
      LogicalResourceId: fixture.first,
      // Numbers and booleans arrive as strings, as from CloudFormation.
      ResourceProperties: { ServiceToken: FUNCTION_ARN(), Greeting: 'hello', Count: '3', Enabled: 'true' },
    });
    // Second sees First's Data (GetAtt) and PhysicalResourceId (Ref).
    expect(provider.events[1]?.event.ResourceProperties).toEqual({
      ServiceToken: FUNCTION_ARN(),
      FromFirst: 'echo:hello',
      FirstId: `${fixture.first}-hello`,
    });
    expect(result.outcomes.map((o) => [o.logicalId, o.action])).toEqual([
      [fixture.first, 'Create'],
      [fixture.second, 'Create'],
    ]);
    expect(result.outputs).toEqual({
      [fixture.first]: { physicalResourceId: `${fixture.first}-hello`, data: { Echo: 'echo:hello' } },
      [fixture.second]: { physicalResourceId: `${fixture.second}-echo:hello`, data: { Echo: 'echo:echo:hello' } },
    });
    expect(result.warnings).toEqual([]);
    const state = JSON.parse(readFileSync(path.join(dir, CUSTOM_RESOURCES_STATE_FILE), 'utf8')) as {
      stacks: Record<string, { resources: Record<string, { physicalResourceId: string }> }>;
    };
    expect(state.stacks[fixture.stackName]?.resources[fixture.first]?.physicalResourceId).toBe(`${fixture.first}-hello`);
  });

  it('skips unchanged resources on a later run and still returns their outputs', async () => {
    const dir = stateDir();
    const created = await run(fixture.template, { stateDir: dir });
    provider.events.length = 0;
    const again = await run(fixture.template, { stateDir: dir });
    expect(provider.events).toEqual([]);
    expect(again.outcomes.map((o) => o.action)).toEqual(['Unchanged', 'Unchanged']);
    expect(again.outputs).toEqual(created.outputs);
  });

  it('sends Update with the old properties and physical id when properties changed', async () => {
    const dir = stateDir();
    await run(fixture.template, { stateDir: dir });
    provider.events.length = 0;
    const result = await run(withGreeting('bonjour'), { stateDir: dir });
    // First changed; Second's FromFirst follows First's new Data, so it is updated too.
    expect(provider.events.map((e) => [e.event.LogicalResourceId, e.event.RequestType])).toEqual([
      [fixture.first, 'Update'],
      [fixture.second, 'Update'],
    ]);
    const update = provider.events[0]?.event as CustomResourceRequest;
    expect(update.PhysicalResourceId).toBe(`${fixture.first}-hello`);
    expect(update.ResourceProperties.Greeting).toBe('bonjour');
    expect(update.OldResourceProperties).toEqual({ ServiceToken: FUNCTION_ARN(), Greeting: 'hello', Count: '3', Enabled: 'true' });
    expect(provider.events[1]?.event.OldResourceProperties?.FromFirst).toBe('echo:hello');
    expect(provider.events[1]?.event.ResourceProperties.FromFirst).toBe('echo:bonjour');
    expect(result.outputs[fixture.first]?.data).toEqual({ Echo: 'echo:bonjour' });

    provider.events.length = 0;
    await run(withGreeting('bonjour'), { stateDir: dir });
    expect(provider.events).toEqual([]);
  });

  it('deletes the old physical id after an Update that replaced the resource', async () => {
    const dir = stateDir();
    await run(fixture.template, { stateDir: dir });
    provider.events.length = 0;
    provider.replaceOnUpdate = true;
    const template = structuredClone(fixture.template);
    (template.Resources[fixture.second]?.Properties as Record<string, unknown>).Extra = 'x';
    const result = await run(template, { stateDir: dir });
    expect(provider.events.map((e) => [e.event.LogicalResourceId, e.event.RequestType, e.event.PhysicalResourceId])).toEqual([
      [fixture.second, 'Update', `${fixture.second}-echo:hello`],
      [fixture.second, 'Delete', `${fixture.second}-echo:hello`],
    ]);
    // The cleanup Delete carries the old properties.
    expect(provider.events[1]?.event.ResourceProperties.Extra).toBeUndefined();
    expect(result.outputs[fixture.second]?.physicalResourceId).toBe(`${fixture.second}-echo:hello-replaced`);
    provider.events.length = 0;
    await run(template, { stateDir: dir });
    expect(provider.events).toEqual([]);
    expect(result.outcomes.map((o) => o.action)).toEqual(['Unchanged', 'Update', 'Delete']);
  });

  it('sends Delete for a resource removed from the template', async () => {
    const dir = stateDir();
    await run(fixture.template, { stateDir: dir });
    provider.events.length = 0;
    const template = structuredClone(fixture.template);
    delete template.Resources[fixture.second];
    const result = await run(template, { stateDir: dir });
    expect(provider.events.map((e) => [e.event.LogicalResourceId, e.event.RequestType, e.event.PhysicalResourceId])).toEqual([
      [fixture.second, 'Delete', `${fixture.second}-echo:hello`],
    ]);
    expect(result.outcomes.map((o) => [o.logicalId, o.action])).toEqual([
      [fixture.first, 'Unchanged'],
      [fixture.second, 'Delete'],
    ]);
    provider.events.length = 0;
    await run(template, { stateDir: dir });
    expect(provider.events).toEqual([]);
  });

  it('throws naming the resource and the Reason on FAILED, and retries on the next run', async () => {
    const dir = stateDir();
    provider.behaviour = (e) => (e.LogicalResourceId === fixture.second ? 'failed' : 'success');
    const error = await run(fixture.template, { stateDir: dir }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CustomResourceError);
    expect((error as Error).message).toBe(`Custom resource ${fixture.second} (Custom::Second) Create failed: the widget is broken`);
    expect(error).toMatchObject({ logicalId: fixture.second, requestType: 'Create', reason: 'the widget is broken' });

    // First is recorded (no rollback), Second is created on the next start.
    provider.events.length = 0;
    provider.behaviour = () => 'success';
    await run(fixture.template, { stateDir: dir });
    expect(provider.events.map((e) => [e.event.LogicalResourceId, e.event.RequestType])).toEqual([[fixture.second, 'Create']]);
  });

  it('treats a function that returns or fails without a PUT as a failure', async () => {
    provider.behaviour = () => 'no-put';
    await expect(run(fixture.template)).rejects.toThrow(
      `Custom resource ${fixture.first} (Custom::First) Create failed: no response: the function returned without sending a response to the ResponseURL`,
    );
    provider.behaviour = () => 'throw';
    await expect(run(fixture.template)).rejects.toThrow(
      /Create failed: no response: the function failed without sending a response: Error: boom/,
    );
  });

  it('times out when no response comes in time', async () => {
    provider.behaviour = () => 'hang';
    const started = Date.now();
    await expect(run(fixture.template, { responseTimeoutMs: 200 })).rejects.toThrow(/Create failed: no response within 0 s/);
    expect(Date.now() - started).toBeLessThan(1_500);
  });

  it('skips custom resources whose ServiceToken is not a function of the template', async () => {
    const template = structuredClone(fixture.template);
    (template.Resources[fixture.first]?.Properties as Record<string, unknown>).ServiceToken = 'arn:aws:sns:us-east-1:123456789012:topic';
    const result = await run(template);
    expect(provider.events).toEqual([]);
    expect(result.warnings).toEqual([
      expect.stringContaining(`${fixture.first} (Custom::First) not run: its ServiceToken arn:aws:sns:`),
      expect.stringContaining(`${fixture.second} (Custom::Second) not run: it refers to ${fixture.first}`),
    ]);
  });
});

describe('with the real LambdaService and Secrets Manager', () => {
  it('runs a handler that reads a secret with the SDK and PUTs its response from a Lambda worker', async () => {
    const secrets = new SecretsManagerService({ region: ENV.region, accountId: ENV.account });
    secrets.createSecret({ Name: 'cr/secret', SecretString: 'twelve chars' });
    const aws = await startLocalAwsEndpoint({ services: [secrets] });
    const template = structuredClone(fixture.template);
    delete template.Resources[fixture.second];
    (template.Resources[fixture.first]?.Properties as Record<string, unknown>).SecretId = 'cr/secret';
    const resolver = resolverFor(template);
    const lambda = new LambdaService(
      [
        {
          logicalId: fixture.fn,
          functionName: FUNCTION_NAME(),
          assetDir: fileURLToPath(new URL('../../../fixtures/aws/cr-handler/', import.meta.url)),
          handler: 'index.handler',
          runtime: 'nodejs22.x',
          timeoutSeconds: 10,
          memorySizeMb: 256,
          environment: {},
        },
      ],
      {
        baseEnvironment: {
          AWS_REGION: ENV.region,
          AWS_ACCESS_KEY_ID: 'local',
          AWS_SECRET_ACCESS_KEY: 'local',
          AWS_ENDPOINT_URL_SECRETS_MANAGER: aws.endpoint,
        },
        region: ENV.region,
        accountId: ENV.account,
      },
    );
    try {
      const result = await runCustomResources({ template, resolver, invoker: lambda, responseHost: aws });
      expect(result.outputs[fixture.first]).toEqual({
        physicalResourceId: 'physical-from-lambda',
        data: { SecretLength: '12', Endpoint: aws.endpoint },
      });

      // The handler's FAILED (the SDK's ResourceNotFoundException) stops the run.
      (template.Resources[fixture.first]?.Properties as Record<string, unknown>).SecretId = 'cr/missing';
      await expect(runCustomResources({ template, resolver, invoker: lambda, responseHost: aws })).rejects.toThrow(
        `Custom resource ${fixture.first} (Custom::First) Create failed: ResourceNotFoundException: Secrets Manager can't find the specified secret.`,
      );
    } finally {
      await lambda.stop();
      await aws.stop();
    }
  });
});
