/**
 * `AWS::Lambda::Function` in the local Lambda service: the function runs
 * from its bundled asset in the cloud assembly (found through the asset
 * metadata, as SAM does) with the template's environment, resolved now that
 * every resource it references exists (custom-resource outputs included).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { generatedPhysicalName } from '../template/resolver.js';
import type { CfnResource, LocalFunctionDefinition } from '../types.js';
import { arn, resolvedProperties, type ProviderContext, type ResourceProvider } from './provider.js';

export const FUNCTION_TYPE = 'AWS::Lambda::Function';

/** A function's bundled asset folder in the cloud assembly (asset metadata, else the S3 key's asset name). */
export function assetDirOf(logicalId: string, resource: CfnResource, assemblyDir: string): string {
  const assetPath = resource.Metadata?.['aws:asset:path'] as string | undefined;
  const s3Key = (resource.Properties?.Code as { S3Key?: unknown } | undefined)?.S3Key;
  const fromKey = typeof s3Key === 'string' ? `asset.${s3Key.replace(/\.zip$/, '')}` : undefined;
  const assetDir = path.resolve(assemblyDir, assetPath ?? fromKey ?? '');
  if (!(assetPath ?? fromKey) || !existsSync(assetDir)) {
    throw new Error(`Function ${logicalId}: bundled asset not found (${assetDir}); inline code is not supported locally`);
  }
  return assetDir;
}

/** The local definition of a function resource: asset folder, handler, limits and resolved environment. */
export function functionDefinition(logicalId: string, resource: CfnResource, context: ProviderContext): LocalFunctionDefinition {
  const { resolver } = context;
  const props = resource.Properties ?? {};
  const assetDir = assetDirOf(logicalId, resource, context.assemblyDir);
  const variables = (resolver.resolve((props.Environment as { Variables?: unknown } | undefined)?.Variables ?? {}) ?? {}) as Record<
    string,
    unknown
  >;
  const environment: Record<string, string> = {};
  for (const [name, value] of Object.entries(variables)) {
    // The resolver has already said why (a resource or attribute it cannot answer); the function gets no made-up value.
    if (value === undefined)
      context.warn(`Function ${logicalId}: environment variable ${name} is not set (its value could not be resolved)`);
    else environment[name] = String(value);
  }
  const name =
    props.FunctionName === undefined
      ? generatedPhysicalName(context.env.stackName, logicalId)
      : String(resolver.resolve(props.FunctionName));
  return {
    logicalId,
    functionName: name,
    assetDir,
    handler: String(props.Handler ?? 'index.handler'),
    runtime: String(props.Runtime ?? 'nodejs22.x'),
    timeoutSeconds: Number(resolver.resolve(props.Timeout ?? 3)),
    memorySizeMb: Number(resolver.resolve(props.MemorySize ?? 128)),
    environment,
  };
}

export const lambdaFunctionProvider: ResourceProvider = {
  types: [FUNCTION_TYPE],
  create(logicalId: string, resource: CfnResource, context: ProviderContext) {
    const definition = functionDefinition(logicalId, resource, context);
    context.services.lambda.addFunction(definition);
    return {
      ref: definition.functionName,
      attributes: { Arn: arn(context.env, 'lambda', `function:${definition.functionName}`) },
    };
  },
};

/** Resolved `AWS::Lambda::EventInvokeConfig` properties. */
interface EventInvokeConfigProperties {
  FunctionName?: string;
  MaximumRetryAttempts?: number | string;
  MaximumEventAgeInSeconds?: number | string;
  DestinationConfig?: { OnSuccess?: { Destination?: string }; OnFailure?: { Destination?: string } };
}

/** `AWS::Lambda::EventInvokeConfig`: retries, event age and destinations of asynchronous invocations. */
export const eventInvokeConfigProvider: ResourceProvider = {
  types: ['AWS::Lambda::EventInvokeConfig'],
  create(logicalId: string, resource: CfnResource, context: ProviderContext) {
    const props = resolvedProperties(resource, context) as EventInvokeConfigProperties;
    if (!props.FunctionName) {
      context.warn(`${logicalId} (AWS::Lambda::EventInvokeConfig): its FunctionName could not be resolved; not applied`);
      return undefined;
    }
    const onSuccess = props.DestinationConfig?.OnSuccess?.Destination;
    const onFailure = props.DestinationConfig?.OnFailure?.Destination;
    context.services.asyncInvoker.configure(props.FunctionName, {
      ...(props.MaximumRetryAttempts !== undefined ? { maximumRetryAttempts: Number(props.MaximumRetryAttempts) } : {}),
      ...(props.MaximumEventAgeInSeconds !== undefined ? { maximumEventAgeSeconds: Number(props.MaximumEventAgeInSeconds) } : {}),
      ...(onSuccess ? { onSuccess } : {}),
      ...(onFailure ? { onFailure } : {}),
    });
    return { ref: `${props.FunctionName}-${logicalId}`, attributes: {} };
  },
};
