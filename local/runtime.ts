/**
 * The embedded local runtime (DESIGN.md §7): synthesizes the CDK app, starts
 * DynamoDB Local with the template's tables, runs every function in its own
 * Lambda-like execution environments and serves the REST API from the
 * template. No Docker, no AWS account.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startApiGateway } from './apigateway/index.js';
import { SecretsManagerService } from './aws/secrets-manager.js';
import { seedSecretsFromTemplate, VALUE_FROM_ENV_METADATA } from './aws/secrets-template.js';
import { startLocalAwsEndpoint, type LocalAwsEndpoint } from './aws/server.js';
import { synthesize } from './assembly.js';
import { runCustomResources } from './custom-resources.js';
import { ensureTables, LOCAL_CREDENTIALS, startDynamoDbLocal, type DynamoDbLocal } from './dynamodb.js';
import { LambdaService } from './lambda/service.js';
import { TemplateResolver } from './template.js';
import type { CfnTemplate, LocalFunctionDefinition } from './types.js';

export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const LOCAL_STATE_DIR = path.join(PROJECT_ROOT, '.switchyard');
export const LOCAL_REGION = 'us-east-1';
export const LOCAL_ACCOUNT = '000000000000';

export interface LocalRuntimeOptions {
  /** HTTP port of the API (0 = any free port). */
  port?: number;
  host?: string;
  /** DynamoDB data folder; omit to keep data in memory (tests). */
  dataDir?: string;
  /** Where the cloud assembly is written. */
  outdir?: string;
  /** CDK context for the synth (cdk.json's is read too). */
  context?: Record<string, unknown>;
  /** Receives every log line of every function. */
  onFunctionLog?: (functionName: string, line: string) => void;
  onAccessLog?: (entry: Record<string, unknown>) => void;
}

export interface LocalRuntime {
  url: string;
  dynamoEndpoint: string;
  /** The AWS-compatible endpoint for the other services (Secrets Manager…). */
  awsEndpoint: string;
  /** Secret values the template marks as settable from the environment (the bootstrap credentials), by variable name. */
  bootstrapValues: Record<string, string>;
  template: CfnTemplate;
  functions: LocalFunctionDefinition[];
  lambda: LambdaService;
  timings: { synthMs: number; dynamoMs: number; totalMs: number };
  /** Parts of the template the runtime does not run (yet). */
  warnings: string[];
  stop(): Promise<void>;
}

/** Shared by `npm start` and `invoke`: the environment every function gets besides its template variables. */
export function localBaseEnvironment(dynamoEndpoint: string, awsEndpoint: string): Record<string, string> {
  return {
    AWS_REGION: LOCAL_REGION,
    AWS_DEFAULT_REGION: LOCAL_REGION,
    AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
    AWS_SESSION_TOKEN: 'local',
    // The SDK reads service-specific endpoints itself, so handler code is identical to AWS.
    AWS_ENDPOINT_URL_DYNAMODB: dynamoEndpoint,
    AWS_ENDPOINT_URL_SECRETS_MANAGER: awsEndpoint,
  };
}

/**
 * Synthesizes, starts DynamoDB Local with the template's tables and the local
 * AWS endpoint with the template's secrets: what both `local` and `invoke` need.
 * Secrets and custom-resource state live beside the DynamoDB data (or in memory
 * with it), so the three never disagree about what was bootstrapped.
 */
export async function prepareBackend(options: { dataDir?: string; outdir?: string; context?: Record<string, unknown> }) {
  const started = performance.now();
  const outdir = options.outdir ?? path.join(LOCAL_STATE_DIR, 'cdk.out');
  // DynamoDB Local (a JVM) starts while esbuild bundles: the two dominate start-up time.
  const dynamoPromise = startDynamoDbLocal(options.dataDir ? { dataDir: options.dataDir } : {});
  let dynamo: DynamoDbLocal | undefined;
  let aws: LocalAwsEndpoint | undefined;
  try {
    const synthesized = synthesize(outdir, options.context);
    dynamo = await dynamoPromise;
    const dynamoMs = performance.now() - started;
    const resolver = new TemplateResolver(synthesized.template, {
      stackName: synthesized.stackName,
      region: LOCAL_REGION,
      accountId: LOCAL_ACCOUNT,
    });
    await ensureTables(dynamo.client, resolver.tables());
    const secrets = new SecretsManagerService({
      region: LOCAL_REGION,
      accountId: LOCAL_ACCOUNT,
      ...(options.dataDir ? { dataDir: options.dataDir } : {}),
    });
    seedSecretsFromTemplate(secrets, resolver);
    aws = await startLocalAwsEndpoint({ services: [secrets] });
    const running = { dynamo, aws };
    const stop = async () => {
      await running.aws.stop();
      await running.dynamo.stop();
    };
    return { synthesized, resolver, dynamo, aws, secrets, synthMs: synthesized.durationMs, dynamoMs, stop };
  } catch (error) {
    await aws?.stop();
    await (dynamo ?? (await dynamoPromise.catch(() => undefined)))?.stop();
    throw error;
  }
}

/** Values of the secrets the template lets the environment set (`switchyard:local:valueFromEnv`), keyed by that variable. */
function bootstrapValues(resolver: TemplateResolver, secrets: SecretsManagerService): Record<string, string> {
  const values: Record<string, string> = {};
  for (const [logicalId, resource] of resolver.resourcesOfType('AWS::SecretsManager::Secret')) {
    const variable = resource.Metadata?.[VALUE_FROM_ENV_METADATA];
    if (typeof variable !== 'string') continue;
    const raw = String((secrets.getSecretValue({ SecretId: resolver.arnOf(logicalId) }) as { SecretString?: string }).SecretString ?? '');
    try {
      const parsed = JSON.parse(raw) as Record<string, unknown>;
      values[variable] = String(parsed.password ?? raw);
    } catch {
      values[variable] = raw;
    }
  }
  return values;
}

export async function startLocalRuntime(options: LocalRuntimeOptions = {}): Promise<LocalRuntime> {
  const started = performance.now();
  const backend = await prepareBackend(options);
  const { synthesized, resolver, dynamo, aws, synthMs, dynamoMs } = backend;
  const functions = resolver.functions(synthesized.outdir);
  const lambda = new LambdaService(functions, {
    baseEnvironment: localBaseEnvironment(dynamo.endpoint, aws.endpoint),
    region: LOCAL_REGION,
    accountId: LOCAL_ACCOUNT,
    ...(options.onFunctionLog ? { onLog: options.onFunctionLog } : {}),
  });
  let gateway: Awaited<ReturnType<typeof startApiGateway>>;
  const warnings: string[] = [];
  try {
    // Custom resources (the bootstrap: signing keys, admin user and key) run as CloudFormation would run them on deploy.
    const custom = await runCustomResources({
      template: synthesized.template,
      resolver,
      invoker: lambda,
      responseHost: aws,
      ...(options.dataDir ? { stateDir: options.dataDir } : {}),
    });
    for (const [logicalId, output] of Object.entries(custom.outputs)) {
      resolver.setResourceOutputs(logicalId, { ref: output.physicalResourceId, attributes: output.data });
    }
    warnings.push(...custom.warnings);
    gateway = await startApiGateway({
      template: synthesized.template,
      invoker: lambda,
      port: options.port ?? 3000,
      host: options.host ?? '127.0.0.1',
      region: LOCAL_REGION,
      accountId: LOCAL_ACCOUNT,
      ...(options.onAccessLog ? { onAccessLog: options.onAccessLog } : {}),
    });
  } catch (error) {
    await lambda.stop();
    await backend.stop();
    throw error;
  }

  let stopping: Promise<void> | undefined;
  return {
    url: gateway.url,
    dynamoEndpoint: dynamo.endpoint,
    awsEndpoint: aws.endpoint,
    bootstrapValues: bootstrapValues(resolver, backend.secrets),
    template: synthesized.template,
    functions,
    lambda,
    timings: { synthMs, dynamoMs, totalMs: performance.now() - started },
    warnings: [...warnings, ...gateway.warnings],
    stop() {
      stopping ??= (async () => {
        await gateway.stop();
        await lambda.stop();
        await backend.stop();
      })();
      return stopping;
    },
  };
}
