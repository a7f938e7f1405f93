/**
 * The SQS event source mapping poller (DESIGN.md §7, local/esm/mapping.ts):
 * what Lambda's SQS pollers do, against the local SQS.
 *
 * - Long polls the queue (20 s, on the runtime clock like every SQS wait) and
 *   gathers up to BatchSize messages, for at most
 *   MaximumBatchingWindowInSeconds of simulated time once the first arrived
 *   (0 = invoke with what one ReceiveMessage brought, as Lambda does).
 * - FilterCriteria: a message no pattern matches is deleted, never delivered.
 * - Invokes the function synchronously with `{ Records }` in the shape Lambda
 *   sends (the tests check it against Powertools' `SqsSchema`).
 * - Success deletes the batch. A function error leaves every message in the
 *   queue: it comes back when its visibility timeout ends, and the queue's
 *   RedrivePolicy moves it to the dead-letter queue after maxReceiveCount
 *   receives (fauxqs does this on receive, as SQS does).
 * - ReportBatchItemFailures: only the reported messages stay. A response
 *   Lambda cannot read (a batchItemFailures that is not a list, an entry
 *   without a non-empty itemIdentifier, an id not in the batch) fails the
 *   whole batch, as the Lambda developer guide says.
 * - ScalingConfig.MaximumConcurrency bounds the batches in flight. The
 *   default is small on purpose: the runtime caps execution environments per
 *   function (2 on a 2-core machine), and a batch waiting for an environment
 *   spends its messages' visibility timeout doing nothing.
 */
import { AwsServiceError } from '../aws/endpoint.js';
import type { SqsMessageAttributeValue, SqsService, SqsWireMessage } from '../aws/sqs/service.js';
import { compileFilterCriteria } from '../patterns/index.js';
import type { ClockTimer } from '../clock.js';
import { invokeFunction, type EventSourceMapping, type EventSourcePoller, type PollerDependencies, type PollerStats } from './mapping.js';

/** Batches in flight when the mapping sets no ScalingConfig.MaximumConcurrency. */
export const DEFAULT_SQS_CONCURRENCY = 2;
/** Lambda's SQS pollers long-poll for the longest SQS allows. */
const LONG_POLL_SECONDS = 20;
/** Real time between retries after the queue could not be read (a missing queue, a stopping service). */
const ERROR_BACKOFF_MS = 1_000;

/** A message attribute as Lambda puts it in an SQS record. */
export interface SqsRecordMessageAttribute {
  stringValue?: string;
  binaryValue?: string;
  stringListValues: string[];
  binaryListValues: string[];
  dataType: string;
}

/** One record of the event Lambda hands an SQS-triggered function. */
export interface SqsRecord {
  messageId: string;
  receiptHandle: string;
  body: string;
  attributes: Record<string, string>;
  messageAttributes: Record<string, SqsRecordMessageAttribute>;
  md5OfBody: string;
  md5OfMessageAttributes?: string;
  eventSource: 'aws:sqs';
  eventSourceARN: string;
  awsRegion: string;
}

/** The system attributes Lambda passes on (SenderId, timestamps, receive count, FIFO fields, trace header). */
const SYSTEM_ATTRIBUTES = [
  'ApproximateReceiveCount',
  'SentTimestamp',
  'SenderId',
  'ApproximateFirstReceiveTimestamp',
  'MessageGroupId',
  'MessageDeduplicationId',
  'SequenceNumber',
  'AWSTraceHeader',
  'DeadLetterQueueSourceArn',
];

/** SQS's wire form → Lambda's record form (camelCase keys, empty list fields present). */
function recordAttribute(value: SqsMessageAttributeValue): SqsRecordMessageAttribute {
  return {
    ...(value.StringValue !== undefined ? { stringValue: value.StringValue } : {}),
    ...(value.BinaryValue !== undefined ? { binaryValue: value.BinaryValue } : {}),
    stringListValues: value.StringListValues ?? [],
    binaryListValues: value.BinaryListValues ?? [],
    dataType: value.DataType,
  };
}

export function sqsRecord(message: SqsWireMessage, queueArn: string, region: string): SqsRecord {
  const attributes: Record<string, string> = {};
  for (const name of SYSTEM_ATTRIBUTES) {
    const value = message.Attributes?.[name];
    if (value !== undefined) attributes[name] = value;
  }
  const messageAttributes = Object.fromEntries(
    Object.entries(message.MessageAttributes ?? {}).map(([name, value]) => [name, recordAttribute(value)]),
  );
  return {
    messageId: message.MessageId,
    receiptHandle: message.ReceiptHandle,
    body: message.Body,
    attributes,
    messageAttributes,
    md5OfBody: message.MD5OfBody,
    ...(message.MD5OfMessageAttributes ? { md5OfMessageAttributes: message.MD5OfMessageAttributes } : {}),
    eventSource: 'aws:sqs',
    eventSourceARN: queueArn,
    awsRegion: region,
  };
}

/**
 * The message ids a ReportBatchItemFailures response leaves in the queue, or
 * `'all'` when Lambda would count it as a failed batch. Success: no
 * response, an empty one, or a null or empty `batchItemFailures`.
 */
export function reportedFailures(response: unknown, batchIds: ReadonlySet<string>): ReadonlySet<string> | 'all' {
  if (response === undefined || response === null) return new Set();
  if (typeof response !== 'object' || Array.isArray(response)) return 'all';
  const failures = (response as { batchItemFailures?: unknown }).batchItemFailures;
  if (failures === undefined || failures === null) return new Set();
  if (!Array.isArray(failures)) return 'all';
  const ids = new Set<string>();
  for (const failure of failures) {
    const id = failure !== null && typeof failure === 'object' ? (failure as { itemIdentifier?: unknown }).itemIdentifier : undefined;
    if (typeof id !== 'string' || id === '' || !batchIds.has(id)) return 'all';
    ids.add(id);
  }
  return ids;
}

export class SqsPoller implements EventSourcePoller {
  private readonly filter: { matches(record: unknown): boolean };
  private readonly concurrency: number;
  private readonly aborter = new AbortController();
  /** Settles when stop() is called: what every wait races against. */
  private readonly aborted: Promise<'aborted'>;
  private workers: Promise<void>[] = [];
  private queue?: { url: string; arn: string };
  private warnedMissing = false;
  private readonly counts: PollerStats = { batches: 0, records: 0, filtered: 0, failedInvocations: 0, discarded: 0 };

  constructor(
    readonly mapping: EventSourceMapping,
    private readonly deps: PollerDependencies,
    private readonly sqs: SqsService,
  ) {
    // An invalid pattern throws here, as CreateEventSourceMapping refuses it.
    this.filter = compileFilterCriteria(mapping.filterPatterns, 'sqs');
    this.concurrency = Math.max(1, Math.floor(mapping.maximumConcurrency ?? DEFAULT_SQS_CONCURRENCY));
    this.aborted = new Promise((resolve) => this.aborter.signal.addEventListener('abort', () => resolve('aborted'), { once: true }));
  }

  start(): void {
    if (!this.mapping.enabled || this.workers.length > 0 || this.aborter.signal.aborted) return;
    this.workers = Array.from({ length: this.concurrency }, () => this.work());
  }

  async stop(): Promise<void> {
    this.aborter.abort();
    await Promise.all(this.workers);
  }

  stats(): PollerStats {
    return { ...this.counts };
  }

  private get stopped(): boolean {
    return this.aborter.signal.aborted;
  }

  private async work(): Promise<void> {
    while (!this.stopped) {
      try {
        const queue = await this.resolveQueue();
        if (!queue) {
          await this.backOff();
          continue;
        }
        const messages = await this.collectBatch(queue.url);
        if (messages.length > 0) await this.process(queue, messages);
      } catch (error) {
        if (this.stopped) return;
        this.deps.warn(`event source mapping ${this.mapping.uuid}: ${(error as Error)?.message ?? String(error)}`);
        await this.backOff();
      }
    }
  }

  private async resolveQueue(): Promise<{ url: string; arn: string } | undefined> {
    this.queue ??= await this.sqs.queueByArn(this.mapping.eventSourceArn);
    if (!this.queue && !this.warnedMissing) {
      this.warnedMissing = true;
      this.deps.warn(
        `event source mapping ${this.mapping.uuid}: queue ${this.mapping.eventSourceArn} does not exist; polling until it does`,
      );
    }
    return this.queue;
  }

  private async backOff(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([new Promise((resolve) => (timer = setTimeout(resolve, ERROR_BACKOFF_MS))), this.aborted]);
    clearTimeout(timer);
  }

  /** Up to BatchSize messages: one long poll, then more until the batching window (simulated time) ends. */
  private async collectBatch(queueUrl: string): Promise<SqsWireMessage[]> {
    const { batchSize, maximumBatchingWindowInSeconds: window } = this.mapping;
    const batch = await this.receive(queueUrl, Math.min(10, batchSize), LONG_POLL_SECONDS);
    if (batch.length === 0 || window <= 0) return batch;
    const deadline = this.deps.clock.now() + window * 1000;
    while (batch.length < batchSize && !this.stopped) {
      const remainingMs = deadline - this.deps.clock.now();
      if (remainingMs <= 0) break;
      // SQS waits in whole seconds: the last wait may end up to a second after the window.
      const wait = Math.min(LONG_POLL_SECONDS, Math.ceil(remainingMs / 1000));
      batch.push(...(await this.receive(queueUrl, Math.min(10, batchSize - batch.length), wait)));
    }
    return batch;
  }

  /** One ReceiveMessage; on stop, messages it still brings are made visible again at once for whoever polls next. */
  private async receive(queueUrl: string, max: number, waitSeconds: number): Promise<SqsWireMessage[]> {
    if (this.stopped) return [];
    const pending = this.sqs
      .call<{ Messages?: SqsWireMessage[] }>('ReceiveMessage', {
        QueueUrl: queueUrl,
        MaxNumberOfMessages: max,
        WaitTimeSeconds: waitSeconds,
        MessageSystemAttributeNames: ['All'],
        MessageAttributeNames: ['All'],
      })
      .then((output) => output.Messages ?? []);
    const first = await Promise.race([pending, this.aborted]);
    if (first !== 'aborted') return first;
    void pending.then((messages) => this.changeVisibility(queueUrl, messages, 0)).catch(() => undefined);
    return [];
  }

  private async process(queue: { url: string; arn: string }, messages: SqsWireMessage[]): Promise<void> {
    const records = messages.map((message) => sqsRecord(message, queue.arn, this.deps.env.region));
    const kept = records.filter((record) => this.filter.matches(record));
    const filteredOut = records.filter((record) => !kept.includes(record));
    this.counts.filtered += filteredOut.length;
    // Lambda deletes what its filters drop: it is never delivered.
    await this.delete(queue.url, filteredOut);
    if (kept.length === 0) return;

    this.counts.batches += 1;
    this.counts.records += kept.length;
    let failed: ReadonlySet<string> | 'all';
    const heartbeat = await this.keepInvisible(queue.url, kept);
    try {
      // The trace continues from the first traced message (Lambda links a batch's traces; one local trace header carries one).
      const traceHeader = kept.find((record) => record.attributes.AWSTraceHeader)?.attributes.AWSTraceHeader;
      const result = await invokeFunction(this.deps, this.mapping.functionArn, { Records: kept }, traceHeader ? { traceHeader } : {});
      if (!result.ok) failed = 'all';
      else if (!this.mapping.reportBatchItemFailures) failed = new Set();
      else failed = reportedFailures(result.payload, new Set(kept.map((record) => record.messageId)));
    } catch (error) {
      this.deps.warn(`event source mapping ${this.mapping.uuid}: ${(error as Error)?.message ?? String(error)}`);
      failed = 'all';
    } finally {
      heartbeat?.cancel();
    }
    const retried = failed === 'all' ? kept : kept.filter((record) => failed.has(record.messageId));
    if (retried.length > 0) {
      this.counts.failedInvocations += 1;
      // Left in the queue: visible again after the visibility timeout, redriven after maxReceiveCount.
      this.counts.discarded += retried.length;
    }
    await this.delete(
      queue.url,
      kept.filter((record) => !retried.includes(record)),
    );
  }

  /**
   * On a scaled clock only: the visibility timeout shrinks with the clock but
   * the function runs in real time, so a batch that takes longer than the
   * (scaled) timeout would be received again by another poller while it
   * still runs. Renewing the timeout every half of it while the function
   * runs keeps one delivery per attempt; a failed batch still comes back one
   * visibility timeout after the function ended. At scale 1 nothing is
   * renewed, as on AWS (where the timeout should be ≥ 6× the function's).
   */
  private async keepInvisible(queueUrl: string, records: readonly SqsRecord[]): Promise<ClockTimer | undefined> {
    if (this.deps.clock.timeScale === 1) return undefined;
    const { Attributes } = await this.sqs.call<{ Attributes?: Record<string, string> }>('GetQueueAttributes', {
      QueueUrl: queueUrl,
      AttributeNames: ['VisibilityTimeout'],
    });
    const seconds = Number(Attributes?.VisibilityTimeout ?? 30);
    if (!(seconds > 0)) return undefined;
    return this.deps.clock.setInterval(() => {
      void this.changeVisibility(
        queueUrl,
        records.map((record) => ({ ReceiptHandle: record.receiptHandle })),
        seconds,
      ).catch(() => undefined);
    }, seconds * 500);
  }

  private async delete(queueUrl: string, records: readonly SqsRecord[]): Promise<void> {
    for (let start = 0; start < records.length; start += 10) {
      const entries = records.slice(start, start + 10).map((record, index) => ({ Id: String(index), ReceiptHandle: record.receiptHandle }));
      await this.sqs.call('DeleteMessageBatch', { QueueUrl: queueUrl, Entries: entries });
    }
  }

  private async changeVisibility(queueUrl: string, messages: ReadonlyArray<{ ReceiptHandle: string }>, seconds: number): Promise<void> {
    for (let start = 0; start < messages.length; start += 10) {
      const entries = messages
        .slice(start, start + 10)
        .map((message, index) => ({ Id: String(index), ReceiptHandle: message.ReceiptHandle, VisibilityTimeout: seconds }));
      await this.sqs.call('ChangeMessageVisibilityBatch', { QueueUrl: queueUrl, Entries: entries }).catch((error: unknown) => {
        if (!(error instanceof AwsServiceError)) throw error;
      });
    }
  }
}
