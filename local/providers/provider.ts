/**
 * Resource providers (DESIGN.md §7): one per CloudFormation resource type.
 * The runtime walks the template in creation order and hands each resource
 * to the provider of its type, which creates it in the local service that
 * runs it and reports its real `Ref` / `Fn::GetAtt` values. A type without a
 * provider is listed once at start as not run.
 */
import type { Clock } from '../clock.js';
import type { Dispatcher } from '../dispatch.js';
import type { LocalAwsEndpoint } from '../aws/endpoint.js';
import type { DynamoDbLocal } from '../aws/dynamodb/local-process.js';
import type { EventBridgeService } from '../aws/events/service.js';
import type { SecretsManagerService } from '../aws/secrets-manager/service.js';
import type { SqsService } from '../aws/sqs/service.js';
import type { StepFunctionsService } from '../aws/states/service.js';
import type { AsyncLambdaInvoker } from '../aws/lambda/async-invoke.js';
import type { LambdaService } from '../lambda/service.js';
import { creationOrder } from '../template/graph.js';
import type { LocalEnvironment, ResourceValues, TemplateResolver } from '../template/resolver.js';
import type { CfnResource } from '../types.js';

/** The running services a provider creates resources in. */
export interface LocalServices {
  endpoint: LocalAwsEndpoint;
  dynamodb: DynamoDbLocal;
  secrets: SecretsManagerService;
  sqs: SqsService;
  lambda: LambdaService;
  asyncInvoker: AsyncLambdaInvoker;
  dispatcher: Dispatcher;
  events: EventBridgeService;
  states: StepFunctionsService;
}

export interface ProviderContext {
  env: LocalEnvironment;
  resolver: TemplateResolver;
  clock: Clock;
  services: LocalServices;
  /** The cloud assembly folder (function assets live there). */
  assemblyDir: string;
  /** Where state that must survive a restart lives; undefined = in memory. */
  dataDir?: string;
  warn(message: string): void;
  log(message: string): void;
  /** Registers what must stop with the runtime (pollers, timers a provider started); stopped in reverse order. */
  onStop?(stop: () => Promise<void> | void): void;
}

export interface ResourceProvider {
  /** The CloudFormation types this provider creates. */
  readonly types: readonly string[];
  /**
   * Creates (or, on a restart with data on disk, finds) the resource and
   * reports its values; `undefined` when it cannot run this one (it has
   * warned why), so references to it resolve to nothing.
   */
  create(
    logicalId: string,
    resource: CfnResource,
    context: ProviderContext,
  ): Promise<ResourceValues | undefined> | ResourceValues | undefined;
  /** Runs once every resource exists (custom resources delete what left the template). */
  finish?(context: ProviderContext): Promise<void>;
}

export interface MaterializeReport {
  /** Resources created, by type. */
  created: Record<string, number>;
  /** Resources of types no provider runs, by type. */
  notRun: Record<string, string[]>;
}

/** Creates every resource of the template in dependency order. */
export async function materializeTemplate(providers: readonly ResourceProvider[], context: ProviderContext): Promise<MaterializeReport> {
  const byType = new Map<string, ResourceProvider>();
  for (const provider of providers) for (const type of provider.types) byType.set(type, provider);
  const { template } = context.resolver;
  const report: MaterializeReport = { created: {}, notRun: {} };
  for (const logicalId of creationOrder(template)) {
    const resource = template.Resources[logicalId] as CfnResource;
    const provider = byType.get(resource.Type) ?? (isCustomResourceType(resource.Type) ? byType.get(CUSTOM_RESOURCE) : undefined);
    if (!provider) {
      context.resolver.markUnsupported(logicalId);
      (report.notRun[resource.Type] ??= []).push(logicalId);
      continue;
    }
    const values = await provider.create(logicalId, resource, context);
    if (values) {
      context.resolver.setValues(logicalId, values);
      report.created[resource.Type] = (report.created[resource.Type] ?? 0) + 1;
    } else {
      context.resolver.markUnsupported(logicalId);
    }
  }
  for (const provider of new Set(byType.values())) await provider.finish?.(context);
  return report;
}

/** The generic custom resource type; `Custom::*` types are served by its provider too. */
export const CUSTOM_RESOURCE = 'AWS::CloudFormation::CustomResource';

export function isCustomResourceType(type: string): boolean {
  return type === CUSTOM_RESOURCE || type.startsWith('Custom::');
}

/** ARNs as AWS formats them for the local region and account. */
export function arn(env: LocalEnvironment, service: string, resource: string, { global = false } = {}): string {
  return `arn:aws:${service}:${global ? '' : env.region}:${env.accountId}:${resource}`;
}

/** The resolved properties of a resource (its dependencies exist by now). */
export function resolvedProperties(resource: CfnResource, context: ProviderContext): Record<string, unknown> {
  const props = context.resolver.resolve(resource.Properties ?? {});
  return props !== null && typeof props === 'object' && !Array.isArray(props) ? (props as Record<string, unknown>) : {};
}
