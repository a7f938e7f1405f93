/**
 * The embedded local runtime (DESIGN.md §7), lifecycle only:
 *
 *   clock → AWS endpoint → (DynamoDB Local ∥ synth) → services → resource
 *   providers in dependency order → API Gateway
 *
 * and stop in reverse. What each piece does lives in its room: the
 * providers (local/providers) create the template's resources in the
 * services (local/aws/<service>, local/lambda), the dispatcher
 * (local/dispatch.ts) delivers to targets by ARN, the clock
 * (local/clock.ts) paces every emulated timer.
 */
import path from 'node:path';
import { startApiGateway } from './apigateway/index.js';
import { synthesize } from './assembly.js';
import { LOCAL_CREDENTIALS, startDynamoDbLocal, type DynamoDbLocal } from './aws/dynamodb/local-process.js';
import { LOCAL_STATE_DIR } from './paths.js';
import { startLocalAwsEndpoint, type HttpRouteResponse, type LocalAwsEndpoint } from './aws/endpoint.js';
import { EventBridgeService } from './aws/events/service.js';
import { AsyncLambdaInvoker } from './aws/lambda/async-invoke.js';
import { registerLambdaApi } from './aws/lambda/api.js';
import { SecretsManagerService } from './aws/secrets-manager/service.js';
import { SqsService } from './aws/sqs/service.js';
import { registerSqsTarget } from './aws/sqs/target.js';
import { StepFunctionsService } from './aws/states/service.js';
import { clockFromContext, type Clock } from './clock.js';
import { DispatchError, Dispatcher } from './dispatch.js';
import { LambdaService } from './lambda/service.js';
import { alarmProvider, apiGatewayProvider, iamProvider, lambdaPermissionProvider, logGroupProvider } from './providers/accepted.js';
import { customResourceProvider } from './providers/custom-resource.js';
import { dynamoDbTableProvider } from './providers/dynamodb-table.js';
import { eventSourceMappingProvider } from './providers/event-source-mapping.js';
import { eventsProviders } from './providers/events.js';
import { eventInvokeConfigProvider, lambdaFunctionProvider } from './providers/lambda-function.js';
import { materializeTemplate, type LocalServices, type MaterializeReport, type ProviderContext } from './providers/provider.js';
import { secretProvider, VALUE_FROM_ENV_METADATA } from './providers/secret.js';
import { sqsQueuePolicyProvider, sqsQueueProvider } from './providers/sqs-queue.js';
import { stateMachineProvider } from './providers/state-machine.js';
import { TemplateResolver } from './template/resolver.js';
import type { CfnTemplate, LocalFunctionDefinition } from './types.js';

/** `GET` → `{ now, timeScale }`: the runtime's simulated epoch ms and how much faster than the wall clock it runs. */
export const CLOCK_PATH = '/_switchyard/clock';

export { LOCAL_STATE_DIR, PROJECT_ROOT } from './paths.js';
export const LOCAL_REGION = 'us-east-1';
export const LOCAL_ACCOUNT = '000000000000';

export interface LocalRuntimeOptions {
  /** HTTP port of the API (0 = any free port). */
  port?: number;
  host?: string;
  /** Port of the AWS endpoint (0 = any free port). */
  awsPort?: number;
  /** DynamoDB, secrets and custom-resource state folder; omit to keep everything in memory (tests). */
  dataDir?: string;
  /** Where the cloud assembly is written. */
  outdir?: string;
  /** CDK context for the synth (cdk.json's is read too); `switchyard:local:timeScale` sets the clock. */
  context?: Record<string, unknown>;
  /** A DynamoDB Local already starting on `dataDir` (the CLI spawns the JVM before loading the rest); else the runtime starts one. */
  dynamodb?: Promise<DynamoDbLocal>;
  /** Serve the REST API (default true; `invoke` needs only the functions). */
  serveApi?: boolean;
  /** Source maps in function stack traces (costs memory per environment). */
  debug?: boolean;
  /** Execution environment caps (LambdaService defaults: min(4, cores) per function, 2 × cores + 4 overall). */
  lambda?: { maxConcurrencyPerFunction?: number; maxEnvironments?: number; idleTimeoutMs?: number };
  /** Receives every log line of every function. */
  onFunctionLog?: (functionName: string, line: string) => void;
  onAccessLog?: (entry: Record<string, unknown>) => void;
  /** Progress of the start-up (one line per phase). */
  onProgress?: (line: string) => void;
}

export interface LocalRuntime {
  /** The REST API ('' when not served). */
  url: string;
  dynamoEndpoint: string;
  /** The one AWS-compatible endpoint: every local AWS API (DynamoDB proxied to DynamoDB Local). */
  awsEndpoint: string;
  /** Secret values the template marks as settable from the environment (the bootstrap credentials), by variable name. */
  bootstrapValues: Record<string, string>;
  template: CfnTemplate;
  assemblyDir: string;
  functions: LocalFunctionDefinition[];
  lambda: LambdaService;
  dispatcher: Dispatcher;
  /** The local EventBridge (its `stats()` counts deliveries per rule target). */
  events: EventBridgeService;
  /** The local Step Functions (executions in memory). */
  states: StepFunctionsService;
  clock: Clock;
  timings: { synthMs: number; synthCached: boolean; dynamoMs: number; totalMs: number };
  /** What the template holds that the runtime does not run, and references it could not resolve. */
  warnings: string[];
  stop(): Promise<void>;
}

/** The environment every function gets besides its template variables: region, dummy credentials, endpoints. */
export function localBaseEnvironment(awsEndpoint: string, dynamoEndpoint: string, clock: Clock): Record<string, string> {
  return {
    AWS_REGION: LOCAL_REGION,
    AWS_DEFAULT_REGION: LOCAL_REGION,
    AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
    AWS_SESSION_TOKEN: 'local',
    // The SDK reads these itself, so handler code is identical to AWS: every service at the one endpoint…
    AWS_ENDPOINT_URL: awsEndpoint,
    // …except DynamoDB, which goes straight to DynamoDB Local: the proxy hop would only add latency to every store call.
    AWS_ENDPOINT_URL_DYNAMODB: dynamoEndpoint,
    AWS_ENDPOINT_URL_DYNAMODB_STREAMS: dynamoEndpoint,
    // Functions deploy on Node 22 (lib/function.ts); the SDK's warning about the machine's older Node says nothing about them.
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    ...clock.environment(),
  };
}

/** The resource types the runtime creates; everything else is listed at start as not run. */
function providers() {
  return [
    dynamoDbTableProvider,
    secretProvider(),
    sqsQueueProvider,
    sqsQueuePolicyProvider,
    lambdaFunctionProvider,
    eventInvokeConfigProvider,
    eventSourceMappingProvider(),
    customResourceProvider(),
    ...eventsProviders,
    stateMachineProvider,
    iamProvider,
    lambdaPermissionProvider,
    logGroupProvider,
    alarmProvider,
    apiGatewayProvider,
  ];
}

/** One line per resource type the runtime does not run. */
export function notRunSummary(report: MaterializeReport): string[] {
  return Object.entries(report.notRun).map(
    ([type, ids]) => `${type} is not run locally (${ids.length}: ${ids.slice(0, 3).join(', ')}${ids.length > 3 ? ', …' : ''})`,
  );
}

/** Values of the secrets the template lets the environment set (`switchyard:local:valueFromEnv`), keyed by that variable. */
function bootstrapValues(resolver: TemplateResolver, secrets: SecretsManagerService): Record<string, string> {
  const values: Record<string, string> = {};
  for (const [logicalId, resource] of resolver.resourcesOfType('AWS::SecretsManager::Secret')) {
    const variable = resource.Metadata?.[VALUE_FROM_ENV_METADATA];
    const arn = resolver.valuesOf(logicalId)?.ref;
    if (typeof variable !== 'string' || !arn) continue;
    const raw = String((secrets.getSecretValue({ SecretId: arn }) as { SecretString?: string }).SecretString ?? '');
    try {
      const parsed = JSON.parse(raw) as Record<string, unknown>;
      values[variable] = String(parsed.password ?? raw);
    } catch {
      values[variable] = raw;
    }
  }
  return values;
}

/** Stops what was started, last first. */
class Lifecycle {
  private readonly stops: Array<() => Promise<void> | void> = [];
  private stopping?: Promise<void>;

  onStop(stop: () => Promise<void> | void): void {
    this.stops.push(stop);
  }

  stop(): Promise<void> {
    this.stopping ??= (async () => {
      for (const stop of this.stops.reverse()) {
        try {
          await stop();
        } catch (error) {
          console.error('switchyard: error while stopping:', error);
        }
      }
    })();
    return this.stopping;
  }
}

/** The endpoint on the asked port, or on any free port when that one is taken (another runtime, LocalStack…). */
async function startEndpoint(port: number, host: string | undefined, progress: (line: string) => void): Promise<LocalAwsEndpoint> {
  try {
    return await startLocalAwsEndpoint({ services: [], port, ...(host ? { host } : {}) });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE' || port === 0) throw error;
    progress(`port ${port} is taken; the AWS endpoint uses another one`);
    return startLocalAwsEndpoint({ services: [], port: 0, ...(host ? { host } : {}) });
  }
}

export async function startLocalRuntime(options: LocalRuntimeOptions = {}): Promise<LocalRuntime> {
  const started = performance.now();
  // Receivers on this machine: webhooks may go to http and loopback here (shared/webhooks/ssrf.ts), never in a deployed stack.
  const context = { 'switchyard:webhookUrlPolicy': 'local', ...options.context };
  const progress = options.onProgress ?? (() => undefined);
  const lifecycle = new Lifecycle();
  const warnings: string[] = [];
  try {
    const clock = clockFromContext(context);

    // The endpoint comes first: functions, custom resources and the template's values all point at it.
    const endpoint = await startEndpoint(options.awsPort ?? 0, options.host, progress);
    lifecycle.onStop(() => endpoint.stop());

    // DynamoDB Local (a JVM) boots while synth runs: the two dominate a cold start.
    const dynamoPromise = options.dynamodb ?? startDynamoDbLocal(options.dataDir ? { dataDir: options.dataDir } : {});
    lifecycle.onStop(async () => (await dynamoPromise.catch(() => undefined))?.stop());
    const synthesized = await synthesize(options.outdir ?? path.join(LOCAL_STATE_DIR, 'cdk.out'), context);
    progress(
      synthesized.cached
        ? `assembly unchanged, reused (${Math.round(synthesized.durationMs)} ms)`
        : `synthesized in ${(synthesized.durationMs / 1000).toFixed(1)} s`,
    );
    const dynamodb = await dynamoPromise;
    const dynamoMs = performance.now() - started;
    progress(`DynamoDB Local ready (${(dynamoMs / 1000).toFixed(1)} s after start)`);
    endpoint.addProxy('DynamoDB_20120810', dynamodb.endpoint);
    // The runtime's time, for clients of a scaled clock (a webhook receiver checks webhook-timestamp against it).
    endpoint.addRoute(CLOCK_PATH, (request): HttpRouteResponse =>
      request.method === 'GET'
        ? {
            statusCode: 200,
            headers: { 'Content-Type': 'application/json' },
            body: JSON.stringify({ now: clock.now(), timeScale: clock.timeScale }),
          }
        : { statusCode: 405, headers: { Allow: 'GET' }, body: '' },
    );
    endpoint.addProxy('DynamoDBStreams_20120810', dynamodb.endpoint);

    const secrets = new SecretsManagerService({
      region: LOCAL_REGION,
      accountId: LOCAL_ACCOUNT,
      ...(options.dataDir ? { dataDir: options.dataDir } : {}),
    });
    endpoint.addService(secrets);

    const lambda = new LambdaService([], {
      baseEnvironment: localBaseEnvironment(endpoint.endpoint, dynamodb.endpoint, clock),
      region: LOCAL_REGION,
      accountId: LOCAL_ACCOUNT,
      debug: options.debug ?? false,
      ...options.lambda,
      ...(options.onFunctionLog ? { onLog: options.onFunctionLog } : {}),
    });
    lifecycle.onStop(() => lambda.stop());
    const dispatcher = new Dispatcher();
    const asyncInvoker = new AsyncLambdaInvoker(lambda, dispatcher, clock);
    lifecycle.onStop(() => asyncInvoker.stop());
    dispatcher.register('lambda', async (arn, payload, dispatch) => {
      if (dispatch.invocationType === 'Event') {
        asyncInvoker.invoke(arn, payload, dispatch.traceHeader ? { traceHeader: dispatch.traceHeader } : {});
        return {};
      }
      const result = await lambda.invoke(arn, payload, dispatch.traceHeader ? { traceHeader: dispatch.traceHeader } : {});
      if (!result.ok) throw new DispatchError(arn, `${result.payload.errorType}: ${result.payload.errorMessage}`, result.functionError);
      return { payload: result.payload };
    });
    registerLambdaApi(endpoint, lambda, asyncInvoker);

    // SQS (fauxqs, in this process): queues on the endpoint, a dispatcher target, the clock's time.
    const sqs = await SqsService.start({ region: LOCAL_REGION, clock, endpoint: endpoint.endpoint });
    lifecycle.onStop(() => sqs.stop());
    endpoint.addService(sqs);
    registerSqsTarget(dispatcher, sqs);

    // EventBridge registers itself with the dispatcher (a rule target that is a bus).
    const events = new EventBridgeService({ region: LOCAL_REGION, accountId: LOCAL_ACCOUNT, clock, dispatcher });
    endpoint.addService(events);
    lifecycle.onStop(() => events.stop());

    // Step Functions registers itself with the dispatcher (rule and schedule targets); its tasks use Lambda, EventBridge and SQS.
    const states = new StepFunctionsService({
      region: LOCAL_REGION,
      accountId: LOCAL_ACCOUNT,
      clock,
      dispatcher,
      lambda,
      events,
      fault: (call) => endpoint.chaos.intercept(call),
    });
    endpoint.addService(states);
    lifecycle.onStop(() => states.stop());

    const env = { stackName: synthesized.stackName, region: LOCAL_REGION, accountId: LOCAL_ACCOUNT };
    const resolver = new TemplateResolver(synthesized.template, env, (message) => warnings.push(message));
    const services: LocalServices = { endpoint, dynamodb, secrets, sqs, lambda, dispatcher, asyncInvoker, events, states };
    const providerContext: ProviderContext = {
      env,
      resolver,
      clock,
      services,
      assemblyDir: synthesized.outdir,
      ...(options.dataDir ? { dataDir: options.dataDir } : {}),
      warn: (message) => warnings.push(message),
      log: progress,
      // Pollers stop before the functions and DynamoDB Local they use (stops run last first).
      onStop: (stop) => lifecycle.onStop(stop),
    };
    const materializing = performance.now();
    const report = await materializeTemplate(providers(), providerContext);
    progress(
      `${Object.values(report.created).reduce((a, b) => a + b, 0)} resources created in ${Math.round(performance.now() - materializing)} ms`,
    );
    warnings.unshift(...notRunSummary(report));

    let url = '';
    if (options.serveApi !== false) {
      const gateway = await startApiGateway({
        template: synthesized.template,
        invoker: lambda,
        port: options.port ?? 3000,
        host: options.host ?? '127.0.0.1',
        region: LOCAL_REGION,
        accountId: LOCAL_ACCOUNT,
        now: () => clock.now(),
        ...(options.onAccessLog ? { onAccessLog: options.onAccessLog } : {}),
      });
      lifecycle.onStop(() => gateway.stop());
      warnings.push(...gateway.warnings);
      url = gateway.url;
    }

    return {
      url,
      dynamoEndpoint: dynamodb.endpoint,
      awsEndpoint: endpoint.endpoint,
      bootstrapValues: bootstrapValues(resolver, secrets),
      template: synthesized.template,
      assemblyDir: synthesized.outdir,
      functions: lambda.definitions(),
      lambda,
      dispatcher,
      events,
      states,
      clock,
      timings: { synthMs: synthesized.durationMs, synthCached: synthesized.cached, dynamoMs, totalMs: performance.now() - started },
      warnings,
      stop: () => lifecycle.stop(),
    };
  } catch (error) {
    await lifecycle.stop();
    throw error;
  }
}
