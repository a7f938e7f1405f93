/**
 * `AWS::Lambda::EventSourceMapping` (DESIGN.md §7): the mapping's properties,
 * with Lambda's defaults, become an `EventSourceMapping`, and the poller of
 * its source's service reads it: `local/esm/streams.ts` for a DynamoDB
 * stream, `local/esm/sqs.ts` for a queue. Pollers start once every resource
 * exists (a function may read resources created after its mapping) and stop
 * when the runtime stops. `Ref` is the mapping's UUID, derived from the stack
 * and logical id so that it, and the checkpoints kept under it, survive a restart.
 */
import { createHash } from 'node:crypto';
import { serviceOfArn } from '../dispatch.js';
import type { EventSourceMapping, EventSourcePoller, PollerDependencies } from '../esm/mapping.js';
import { SqsPoller } from '../esm/sqs.js';
import { StreamsPoller } from '../esm/streams.js';
import type { CfnResource } from '../types.js';
import { arn, resolvedProperties, type ProviderContext, type ResourceProvider } from './provider.js';

export const EVENT_SOURCE_MAPPING_TYPE = 'AWS::Lambda::EventSourceMapping';

/** Resolved CloudFormation properties of a mapping (CDK validated their shape at synth). */
interface EventSourceMappingProperties {
  FunctionName?: string;
  EventSourceArn?: string;
  Enabled?: boolean | string;
  BatchSize?: number | string;
  MaximumBatchingWindowInSeconds?: number | string;
  StartingPosition?: string;
  StartingPositionTimestamp?: number | string;
  FunctionResponseTypes?: string[];
  FilterCriteria?: { Filters?: Array<{ Pattern?: string }> };
  BisectBatchOnFunctionError?: boolean | string;
  MaximumRetryAttempts?: number | string;
  MaximumRecordAgeInSeconds?: number | string;
  ParallelizationFactor?: number | string;
  TumblingWindowInSeconds?: number | string;
  DestinationConfig?: { OnFailure?: { Destination?: string } };
  ScalingConfig?: { MaximumConcurrency?: number | string };
}

/** Lambda's default BatchSize by source: 100 for streams, 10 for queues. */
const DEFAULT_BATCH_SIZE: Record<string, number> = { dynamodb: 100, kinesis: 100, sqs: 10 };

/** A UUID (version 5 layout) that the same stack and logical id always give. */
export function mappingUuid(stackName: string, logicalId: string): string {
  const hex = createHash('sha1').update(`${stackName}/${logicalId}`).digest('hex');
  const variant = ((parseInt(hex[16] as string, 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-5${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

const asNumber = (value: unknown, fallback: number): number => (value === undefined || value === '' ? fallback : Number(value));
const asBoolean = (value: unknown, fallback: boolean): boolean => (value === undefined ? fallback : value === true || value === 'true');

/** The mapping as the pollers read it, from its resolved properties; undefined (with a warning) when it cannot run. */
export function eventSourceMappingOf(
  logicalId: string,
  props: EventSourceMappingProperties,
  context: Pick<ProviderContext, 'env' | 'services' | 'warn'>,
): EventSourceMapping | undefined {
  const where = `${logicalId} (${EVENT_SOURCE_MAPPING_TYPE})`;
  if (!props.FunctionName || !props.EventSourceArn) {
    context.warn(`${where}: its FunctionName or EventSourceArn could not be resolved; not run`);
    return undefined;
  }
  let functionArn: string;
  try {
    functionArn = context.services.lambda.functionArn(props.FunctionName);
  } catch {
    context.warn(`${where}: function ${props.FunctionName} is not a local function; not run`);
    return undefined;
  }
  const source = serviceOfArn(props.EventSourceArn) ?? '';
  const stream = source !== 'sqs';
  const startingPosition = props.StartingPosition as EventSourceMapping['startingPosition'];
  if (props.TumblingWindowInSeconds !== undefined) {
    context.warn(`${where}: TumblingWindowInSeconds is not run locally; batches are delivered without window state`);
  }
  const parallelization = asNumber(props.ParallelizationFactor, 1);
  if (parallelization > 1) context.warn(`${where}: ParallelizationFactor ${parallelization} runs as 1 locally (one batch per shard)`);
  const onFailure = props.DestinationConfig?.OnFailure?.Destination;
  const maximumConcurrency = props.ScalingConfig?.MaximumConcurrency;
  return {
    uuid: mappingUuid(context.env.stackName, logicalId),
    functionName: functionArn.slice(functionArn.lastIndexOf(':') + 1),
    functionArn,
    eventSourceArn: props.EventSourceArn,
    enabled: asBoolean(props.Enabled, true),
    batchSize: asNumber(props.BatchSize, DEFAULT_BATCH_SIZE[source] ?? 100),
    maximumBatchingWindowInSeconds: asNumber(props.MaximumBatchingWindowInSeconds, 0),
    filterPatterns: (props.FilterCriteria?.Filters ?? []).flatMap((f) => (typeof f.Pattern === 'string' ? [f.Pattern] : [])),
    reportBatchItemFailures: (props.FunctionResponseTypes ?? []).includes('ReportBatchItemFailures'),
    ...(stream
      ? {
          startingPosition: startingPosition ?? 'LATEST',
          ...(props.StartingPositionTimestamp !== undefined ? { startingPositionTimestamp: Number(props.StartingPositionTimestamp) } : {}),
          bisectBatchOnFunctionError: asBoolean(props.BisectBatchOnFunctionError, false),
          maximumRetryAttempts: asNumber(props.MaximumRetryAttempts, -1),
          maximumRecordAgeInSeconds: asNumber(props.MaximumRecordAgeInSeconds, -1),
          parallelizationFactor: parallelization,
        }
      : {}),
    ...(onFailure ? { onFailureDestination: onFailure } : {}),
    ...(maximumConcurrency !== undefined ? { maximumConcurrency: Number(maximumConcurrency) } : {}),
  };
}

/** The poller of the mapping's source, or undefined (with a warning) for a source the runtime cannot read. */
function pollerFor(mapping: EventSourceMapping, logicalId: string, context: ProviderContext): EventSourcePoller | undefined {
  const deps: PollerDependencies = {
    lambda: context.services.lambda,
    dispatcher: context.services.dispatcher,
    clock: context.clock,
    env: context.env,
    ...(context.dataDir ? { dataDir: context.dataDir } : {}),
    // Pollers warn long after start-up, when the start-up warnings list has been printed.
    warn: (message) => console.warn(`switchyard: ${message}`),
    log: context.log,
    fault: (call) => context.services.endpoint.chaos.intercept(call),
  };
  const where = `${logicalId} (${EVENT_SOURCE_MAPPING_TYPE})`;
  try {
    switch (serviceOfArn(mapping.eventSourceArn)) {
      case 'dynamodb':
        if (!mapping.eventSourceArn.includes('/stream/')) break;
        if (mapping.startingPosition === 'AT_TIMESTAMP') {
          context.warn(`${where}: DynamoDB streams have no AT_TIMESTAMP position (Lambda refuses it); reading from TRIM_HORIZON`);
          mapping.startingPosition = 'TRIM_HORIZON';
        }
        return new StreamsPoller(mapping, deps, context.services.dynamodb);
      case 'sqs':
        return new SqsPoller(mapping, deps, context.services.sqs);
    }
  } catch (error) {
    // An invalid FilterCriteria pattern: CreateEventSourceMapping would refuse the mapping.
    context.warn(`${where}: ${(error as Error).message}; not run`);
    return undefined;
  }
  context.warn(`${where}: the local runtime cannot read ${mapping.eventSourceArn}; not run`);
  return undefined;
}

export interface EventSourceMappingProvider extends ResourceProvider {
  /** The running pollers (tests and status). */
  pollers(): readonly EventSourcePoller[];
  /** Stops every poller, each after its batch in flight. */
  stop(): Promise<void>;
}

/** One per runtime: it owns the pollers it starts. */
export function eventSourceMappingProvider(): EventSourceMappingProvider {
  const pending: Array<{ logicalId: string; mapping: EventSourceMapping }> = [];
  const running: EventSourcePoller[] = [];
  let stopping: Promise<void> | undefined;
  const stop = () => (stopping ??= Promise.all(running.map((poller) => poller.stop())).then(() => undefined));
  return {
    types: [EVENT_SOURCE_MAPPING_TYPE],
    create(logicalId: string, resource: CfnResource, context: ProviderContext) {
      const props = resolvedProperties(resource, context) as EventSourceMappingProperties;
      const mapping = eventSourceMappingOf(logicalId, props, context);
      if (!mapping) return undefined;
      pending.push({ logicalId, mapping });
      return {
        ref: mapping.uuid,
        attributes: { Id: mapping.uuid, EventSourceMappingArn: arn(context.env, 'lambda', `event-source-mapping:${mapping.uuid}`) },
      };
    },
    finish(context: ProviderContext) {
      if (pending.length > 0) context.onStop?.(stop);
      for (const { logicalId, mapping } of pending.splice(0)) {
        const poller = pollerFor(mapping, logicalId, context);
        if (!poller) continue;
        running.push(poller);
        if (mapping.enabled) poller.start();
      }
      return Promise.resolve();
    },
    pollers: () => running,
    stop,
  };
}
