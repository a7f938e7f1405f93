/**
 * Event source mappings (DESIGN.md §7, `local/esm/`): the shape every poller
 * shares. The provider (local/providers/event-source-mapping.ts) reads an
 * `AWS::Lambda::EventSourceMapping` into an `EventSourceMapping` and starts
 * the poller of its source's service: `local/esm/sqs.ts` for a queue,
 * `local/esm/streams.ts` for a DynamoDB stream. A poller reads its source,
 * filters, batches and invokes the function synchronously, as Lambda's
 * pollers do, and answers failures the way the mapping's settings say.
 */
import type { Clock } from '../clock.js';
import type { Dispatcher } from '../dispatch.js';
import type { LambdaService } from '../lambda/service.js';
import type { LocalEnvironment } from '../template/resolver.js';

/** An `AWS::Lambda::EventSourceMapping`, resolved, with Lambda's defaults filled in. */
export interface EventSourceMapping {
  /** What `Ref` answers (Lambda's mapping UUID). */
  uuid: string;
  functionName: string;
  functionArn: string;
  /** The queue ARN or the stream ARN. */
  eventSourceArn: string;
  enabled: boolean;
  batchSize: number;
  maximumBatchingWindowInSeconds: number;
  /** `FilterCriteria.Filters[].Pattern`, each a JSON EventBridge-style pattern; a record is delivered if any matches. */
  filterPatterns: string[];
  /** `ReportBatchItemFailures` when the function answers `{ batchItemFailures }`. */
  reportBatchItemFailures: boolean;
  // ---- streams only ----
  startingPosition?: 'LATEST' | 'TRIM_HORIZON' | 'AT_TIMESTAMP';
  startingPositionTimestamp?: number;
  bisectBatchOnFunctionError?: boolean;
  /** -1 = until the record expires (Lambda's default for streams). */
  maximumRetryAttempts?: number;
  /** -1 = no limit. */
  maximumRecordAgeInSeconds?: number;
  /** `DestinationConfig.OnFailure.Destination`: an SQS queue (or SNS topic) ARN. */
  onFailureDestination?: string;
  parallelizationFactor?: number;
  // ---- SQS only ----
  /** `ScalingConfig.MaximumConcurrency`. */
  maximumConcurrency?: number;
}

/** What a poller has done, for the runtime's status and the tests. */
export interface PollerStats {
  batches: number;
  records: number;
  /** Records filtered out (never delivered). */
  filtered: number;
  /** Function invocations that failed (errors or reported item failures). */
  failedInvocations: number;
  /** Records sent to the on-failure destination (streams) or left to the queue's redrive (SQS). */
  discarded: number;
  /** Streams: age of the last record read when it was read (Lambda's IteratorAge metric), ms. */
  iteratorAgeMs?: number;
}

export interface EventSourcePoller {
  readonly mapping: EventSourceMapping;
  start(): void;
  /** Stops polling and waits for the batch in flight. */
  stop(): Promise<void>;
  stats(): PollerStats;
}

/** What a poller needs from the runtime. */
export interface PollerDependencies {
  lambda: LambdaService;
  /** Delivers on-failure records to their destination by ARN. */
  dispatcher: Dispatcher;
  clock: Clock;
  env: LocalEnvironment;
  /** Where a checkpoint may survive a restart; undefined = in memory. */
  dataDir?: string;
  warn(message: string): void;
  log(message: string): void;
  /**
   * Faults on demand (local/aws/chaos): consulted before each invocation as
   * the call `lambda:Invoke`, so `lambda:Invoke` rules fail a poller's
   * invocations as Lambda's service would (the batch is retried).
   */
  fault?(call: { service: string; operation: string }): { code: string; message: string } | undefined;
}

/** Invokes the mapping's function through the pollers' one door, where chaos rules can fail it. */
export async function invokeFunction(
  deps: PollerDependencies,
  functionName: string,
  event: unknown,
  options: { traceHeader?: string } = {},
): ReturnType<PollerDependencies['lambda']['invoke']> {
  const fault = deps.fault?.({ service: 'lambda', operation: 'Invoke' });
  if (fault) throw Object.assign(new Error(`${fault.code}: ${fault.message} (injected)`), { name: fault.code });
  return deps.lambda.invoke(functionName, event, options);
}
