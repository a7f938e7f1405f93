/**
 * The local Step Functions on a real endpoint, with the runtime's Lambda
 * running the `states-task` fixture for every function of a template, and
 * the state machines a tiny CDK app synthesizes (aws-stepfunctions and
 * aws-stepfunctions-tasks' LambdaInvoke), created by the provider.
 *
 * `sfn()` speaks the JSON 1.0 protocol the SDK speaks (POST /, X-Amz-Target,
 * the error's `__type`), so a test can send what the SDK would refuse to;
 * service.test.ts also drives the endpoint with `@aws-sdk/client-sfn`.
 */
import { App, Duration, Stack, type CfnElement } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { startLocalAwsEndpoint, type LocalAwsEndpoint } from '../../../../../local/aws/endpoint.js';
import { EventBridgeService } from '../../../../../local/aws/events/service.js';
import { StepFunctionsService } from '../../../../../local/aws/states/service.js';
import { Clock } from '../../../../../local/clock.js';
import { DispatchError, Dispatcher } from '../../../../../local/dispatch.js';
import { LambdaService } from '../../../../../local/lambda/service.js';
import { iamProvider } from '../../../../../local/providers/accepted.js';
import {
  arn,
  materializeTemplate,
  type LocalServices,
  type ProviderContext,
  type ResourceProvider,
} from '../../../../../local/providers/provider.js';
import { stateMachineProvider } from '../../../../../local/providers/state-machine.js';
import { TemplateResolver } from '../../../../../local/template/resolver.js';
import type { CfnTemplate } from '../../../../../local/types.js';
import { fn } from '../../lambda/support.js';

export const ENV = { stackName: 'StatesFixture', region: 'us-east-1', accountId: '000000000000' };

/** The state machines of the fixture app, by role. */
export interface FixtureMachines {
  /** Pass → LambdaInvoke → Wait 300 s → Choice → Succeed. */
  main: string;
  /** A task that always fails: Retry (60 s, back-off 2, 2 retries), then Catch. */
  retry: string;
  /** `lambda:invoke.waitForTaskToken`, TimeoutSeconds 600. */
  callback: string;
}

/** A tiny CDK app with the three machines (inline function code: no bundling; the runtime runs the fixture instead). */
export function synthStatesStack(): { template: CfnTemplate; stackName: string; ids: Record<keyof FixtureMachines, string> } {
  const app = new App();
  const stack = new Stack(app, ENV.stackName, { env: { account: ENV.accountId, region: ENV.region } });
  const worker = new lambda.Function(stack, 'Worker', {
    runtime: lambda.Runtime.NODEJS_22_X,
    handler: 'index.handler',
    code: lambda.Code.fromInline('exports.handler = async () => ({})'),
  });

  const prepare = new sfn.Pass(stack, 'Prepare', { parameters: { 'value.$': '$.value' } });
  const double = new tasks.LambdaInvoke(stack, 'Double', { lambdaFunction: worker, outputPath: '$.Payload' });
  const bake = new sfn.Wait(stack, 'Bake', { time: sfn.WaitTime.duration(Duration.seconds(300)) });
  const decide = new sfn.Choice(stack, 'Big?')
    .when(sfn.Condition.numberGreaterThan('$.value', 10), new sfn.Succeed(stack, 'Big'))
    .otherwise(new sfn.Succeed(stack, 'Small'));
  const main = new sfn.StateMachine(stack, 'Main', {
    definitionBody: sfn.DefinitionBody.fromChainable(prepare.next(double).next(bake).next(decide)),
  });

  const flaky = new tasks.LambdaInvoke(stack, 'Flaky', {
    lambdaFunction: worker,
    payload: sfn.TaskInput.fromObject({ fail: 'DeployError' }),
    outputPath: '$.Payload',
  });
  flaky.addRetry({ errors: ['DeployError'], interval: Duration.seconds(60), backoffRate: 2, maxAttempts: 2 });
  flaky.addCatch(new sfn.Pass(stack, 'Recovered'), { errors: ['States.ALL'], resultPath: '$.error' });
  const retry = new sfn.StateMachine(stack, 'Retrying', { definitionBody: sfn.DefinitionBody.fromChainable(flaky) });

  const approve = new tasks.LambdaInvoke(stack, 'Approve', {
    lambdaFunction: worker,
    integrationPattern: sfn.IntegrationPattern.WAIT_FOR_TASK_TOKEN,
    payload: sfn.TaskInput.fromObject({ token: sfn.JsonPath.taskToken, value: sfn.JsonPath.numberAt('$.value') }),
    taskTimeout: sfn.Timeout.duration(Duration.minutes(10)),
  });
  const callback = new sfn.StateMachine(stack, 'Callback', {
    definitionBody: sfn.DefinitionBody.fromChainable(approve.next(new sfn.Succeed(stack, 'Approved'))),
  });

  const id = (construct: { node: { defaultChild?: unknown } }) => stack.getLogicalId(construct.node.defaultChild as CfnElement);
  const template = app.synth().getStackByName(stack.stackName).template as CfnTemplate;
  return { template, stackName: stack.stackName, ids: { main: id(main), retry: id(retry), callback: id(callback) } };
}

/** An error the endpoint answered. */
export class SfnError extends Error {
  constructor(
    readonly type: string,
    message: string,
    readonly status: number,
  ) {
    super(`${type}: ${message}`);
  }
}

export interface Harness {
  endpoint: LocalAwsEndpoint;
  states: StepFunctionsService;
  events: EventBridgeService;
  lambda: LambdaService;
  dispatcher: Dispatcher;
  clock: Clock;
  machines: FixtureMachines;
  warnings: string[];
  /** One call of the Step Functions API on the endpoint, as an SDK makes it. */
  sfn<T = Record<string, unknown>>(operation: string, input: Record<string, unknown>): Promise<T>;
  stop(): Promise<void>;
}

let cached: ReturnType<typeof synthStatesStack> | undefined;

export async function startHarness(options: { timeScale?: number } = {}): Promise<Harness> {
  cached ??= synthStatesStack();
  const { template, stackName, ids } = cached;
  const clock = new Clock(options.timeScale ?? 600);
  const dispatcher = new Dispatcher();
  const warnings: string[] = [];
  const warn = (message: string) => warnings.push(message);
  const lambdaService = new LambdaService([], {
    baseEnvironment: { AWS_REGION: ENV.region },
    region: ENV.region,
    accountId: ENV.accountId,
  });
  dispatcher.register('lambda', async (target, payload) => {
    const result = await lambdaService.invoke(target, payload);
    if (!result.ok) throw new DispatchError(target, result.payload.errorMessage, result.functionError);
    return { payload: result.payload };
  });
  const endpoint = await startLocalAwsEndpoint({ services: [] });
  const events = new EventBridgeService({ region: ENV.region, accountId: ENV.accountId, clock, dispatcher, warn });
  const states = new StepFunctionsService({
    region: ENV.region,
    accountId: ENV.accountId,
    clock,
    dispatcher,
    lambda: lambdaService,
    events,
    fault: (call) => endpoint.chaos.intercept(call),
    warn,
  });
  endpoint.addService(events);
  endpoint.addService(states);

  /** Every function of the template runs the states-task fixture, under the name its provider would give it. */
  const functions: ResourceProvider = {
    types: ['AWS::Lambda::Function'],
    create(logicalId) {
      const name = `${stackName}-${logicalId}`;
      lambdaService.addFunction(fn(name, 'states-task', 'index.handler', { logicalId }));
      return { ref: name, attributes: { Arn: arn(ENV, 'lambda', `function:${name}`) } };
    },
  };
  const resolver = new TemplateResolver(template, { ...ENV, stackName }, warn);
  const context: ProviderContext = {
    env: { ...ENV, stackName },
    resolver,
    clock,
    services: { endpoint, states, events, dispatcher, lambda: lambdaService } as unknown as LocalServices,
    assemblyDir: '.',
    warn,
    log: () => undefined,
  };
  await materializeTemplate([functions, iamProvider, stateMachineProvider], context);
  const machineArn = (logicalId: string) => resolver.valuesOf(logicalId)?.ref as string;

  return {
    endpoint,
    states,
    events,
    lambda: lambdaService,
    dispatcher,
    clock,
    machines: { main: machineArn(ids.main), retry: machineArn(ids.retry), callback: machineArn(ids.callback) },
    warnings,
    async sfn<T>(operation: string, input: Record<string, unknown>): Promise<T> {
      const response = await fetch(endpoint.endpoint, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-amz-json-1.0', 'X-Amz-Target': `AWSStepFunctions.${operation}` },
        body: JSON.stringify(input),
      });
      const body = (await response.json()) as Record<string, unknown>;
      if (!response.ok) throw new SfnError(String(body.__type), String(body.message), response.status);
      return body as T;
    },
    async stop() {
      states.stop();
      events.stop();
      await lambdaService.stop();
      await endpoint.stop();
    },
  };
}

/** The rooms' tests share one wait helper. */
export { until } from '../events/support.js';

export interface HistoryEventOut {
  type: string;
  id: number;
  previousEventId: number;
  timestamp: number;
  [details: string]: unknown;
}
