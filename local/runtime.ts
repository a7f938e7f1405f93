/**
 * The embedded local runtime (DESIGN.md §7): synthesizes the CDK app, starts
 * DynamoDB Local with the template's tables, runs every function in its own
 * Lambda-like execution environments and serves the REST API from the
 * template. No Docker, no AWS account.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startApiGateway } from './apigateway/index.js';
import { synthesize } from './assembly.js';
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
  /** Receives every log line of every function. */
  onFunctionLog?: (functionName: string, line: string) => void;
  onAccessLog?: (entry: Record<string, unknown>) => void;
}

export interface LocalRuntime {
  url: string;
  dynamoEndpoint: string;
  template: CfnTemplate;
  functions: LocalFunctionDefinition[];
  lambda: LambdaService;
  timings: { synthMs: number; dynamoMs: number; totalMs: number };
  /** Parts of the template the runtime does not run (yet). */
  warnings: string[];
  stop(): Promise<void>;
}

/** Shared by `npm start` and `invoke`: the environment every function gets besides its template variables. */
export function localBaseEnvironment(dynamoEndpoint: string): Record<string, string> {
  return {
    AWS_REGION: LOCAL_REGION,
    AWS_DEFAULT_REGION: LOCAL_REGION,
    AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
    AWS_SESSION_TOKEN: 'local',
    // The SDK reads service-specific endpoints itself, so handler code is identical to AWS.
    AWS_ENDPOINT_URL_DYNAMODB: dynamoEndpoint,
  };
}

/** Synthesizes, starts DynamoDB Local and creates the template's tables: what both `local` and `invoke` need. */
export async function prepareBackend(options: { dataDir?: string; outdir?: string }) {
  const started = performance.now();
  const outdir = options.outdir ?? path.join(LOCAL_STATE_DIR, 'cdk.out');
  // DynamoDB Local (a JVM) starts while esbuild bundles: the two dominate start-up time.
  const dynamoPromise = startDynamoDbLocal(options.dataDir ? { dataDir: options.dataDir } : {});
  let dynamo: DynamoDbLocal | undefined;
  try {
    const synthesized = synthesize(outdir);
    dynamo = await dynamoPromise;
    const dynamoMs = performance.now() - started;
    const resolver = new TemplateResolver(synthesized.template, {
      stackName: synthesized.stackName,
      region: LOCAL_REGION,
      accountId: LOCAL_ACCOUNT,
    });
    await ensureTables(dynamo.client, resolver.tables());
    return { synthesized, resolver, dynamo, synthMs: synthesized.durationMs, dynamoMs };
  } catch (error) {
    await (dynamo ?? (await dynamoPromise.catch(() => undefined)))?.stop();
    throw error;
  }
}

export async function startLocalRuntime(options: LocalRuntimeOptions = {}): Promise<LocalRuntime> {
  const started = performance.now();
  const { synthesized, resolver, dynamo, synthMs, dynamoMs } = await prepareBackend(options);
  const functions = resolver.functions(synthesized.outdir);
  const lambda = new LambdaService(functions, {
    baseEnvironment: localBaseEnvironment(dynamo.endpoint),
    region: LOCAL_REGION,
    accountId: LOCAL_ACCOUNT,
    ...(options.onFunctionLog ? { onLog: options.onFunctionLog } : {}),
  });
  let gateway: Awaited<ReturnType<typeof startApiGateway>>;
  try {
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
    await dynamo.stop();
    throw error;
  }

  let stopping: Promise<void> | undefined;
  return {
    url: gateway.url,
    dynamoEndpoint: dynamo.endpoint,
    template: synthesized.template,
    functions,
    lambda,
    timings: { synthMs, dynamoMs, totalMs: performance.now() - started },
    warnings: gateway.warnings,
    stop() {
      stopping ??= (async () => {
        await gateway.stop();
        await lambda.stop();
        await dynamo.stop();
      })();
      return stopping;
    },
  };
}
