/**
 * The DynamoDB Streams poller of an event source mapping (DESIGN.md §5, §7):
 * reads DynamoDB Local's stream through the Streams API, as Lambda's poller
 * reads DynamoDB's, and invokes the function synchronously with batches in
 * AWS's event shape.
 *
 * - Shards: every shard the stream describes; a child only once its parent
 *   has been read to its end, so a parent's records come before its children's.
 *   One batch in flight per shard, in sequence order.
 * - Batching: up to BatchSize records that pass the filter criteria (records
 *   filtered out are never delivered but are checkpointed), waiting up to
 *   MaximumBatchingWindowInSeconds (on the runtime's clock) for a fuller batch;
 *   never more than Lambda's 6 MB synchronous payload.
 * - Failures: a function error, or a reply that ReportBatchItemFailures cannot
 *   read, retries the whole batch; a valid partial reply checkpoints before
 *   the lowest reported sequence number and retries from it.
 *   BisectBatchOnFunctionError splits an erroring batch in two without using
 *   up a retry. Past MaximumRetryAttempts or MaximumRecordAgeInSeconds (or the
 *   stream's 24 h retention when both are unlimited) the batch's description
 *   goes to the OnFailure destination and the shard moves on.
 * - Checkpoints: per mapping and shard (local/esm/checkpoints.ts).
 * - Idle polling backs off from 50 ms to 250 ms of real time (Lambda reads a
 *   shard four times a second): every empty GetRecords costs DynamoDB Local's
 *   JVM some CPU, which the functions share, so it does not stay at 50 ms.
 */
import { randomUUID } from 'node:crypto';
import {
  DescribeStreamCommand,
  DynamoDBStreamsClient,
  ExpiredIteratorException,
  GetRecordsCommand,
  GetShardIteratorCommand,
  ResourceNotFoundException,
  TrimmedDataAccessException,
  type _Record as StreamsApiRecord,
  type AttributeValue,
  type Shard,
  type ShardIteratorType,
} from '@aws-sdk/client-dynamodb-streams';
import { LOCAL_CREDENTIALS } from '../aws/dynamodb/local-process.js';
import { compileFilterCriteria } from '../patterns/index.js';
import type { InvokeResult } from '../types.js';
import { CheckpointStore, checkpointFile } from './checkpoints.js';
import { invokeFunction, type EventSourceMapping, type EventSourcePoller, type PollerDependencies, type PollerStats } from './mapping.js';

/** An attribute value as it travels in JSON (binary as base64), which is what Lambda hands a function. */
export type WireAttributeValue = Record<string, unknown>;

/** One record of a DynamoDB Streams Lambda event. */
export interface DynamoDBStreamEventRecord {
  eventID: string;
  eventName: 'INSERT' | 'MODIFY' | 'REMOVE';
  eventVersion: string;
  eventSource: 'aws:dynamodb';
  awsRegion: string;
  dynamodb: {
    ApproximateCreationDateTime?: number;
    Keys: Record<string, WireAttributeValue>;
    NewImage?: Record<string, WireAttributeValue>;
    OldImage?: Record<string, WireAttributeValue>;
    SequenceNumber: string;
    SizeBytes: number;
    StreamViewType: 'NEW_IMAGE' | 'OLD_IMAGE' | 'NEW_AND_OLD_IMAGES' | 'KEYS_ONLY';
  };
  eventSourceARN: string;
  userIdentity?: { type: string; principalId: string };
}

/** Lambda's on-failure record for a stream batch it discards. */
export interface StreamOnFailureRecord {
  requestContext: {
    requestId: string;
    functionArn: string;
    condition: 'RetryAttemptsExhausted' | 'RecordAgeExceeded';
    approximateInvokeCount: number;
  };
  responseContext: { statusCode: number; executedVersion: string; functionError?: string };
  version: '1.0';
  timestamp: string;
  DDBStreamBatchInfo: {
    shardId: string;
    startSequenceNumber: string;
    endSequenceNumber: string;
    approximateArrivalOfFirstRecord: string;
    approximateArrivalOfLastRecord: string;
    batchSize: number;
    streamArn: string;
  };
}

export interface StreamsPollerOptions {
  /** Idle poll interval bounds, real ms (default 50 → 1000, doubling on every empty read). */
  minPollIntervalMs?: number;
  maxPollIntervalMs?: number;
  /** How often the shard list is read again while no shard has ended, real ms (default 30 s). */
  describeIntervalMs?: number;
  /** First retry delay of a failed batch on the runtime's clock, doubled per retry up to 30 s (default 1 s). */
  retryDelayMs?: number;
}

/** Lambda's synchronous invocation payload limit. */
const MAX_PAYLOAD_BYTES = 6 * 1024 * 1024;
/** DynamoDB Streams keeps records 24 hours: "retry until the record expires" ends there. */
const STREAM_RETENTION_MS = 24 * 60 * 60 * 1000;
const MAX_RETRY_DELAY_MS = 30_000;
/** DynamoDB Local stamps ApproximateCreationDateTime to the minute (measured), so a record is up to this much younger. */
const CREATION_TIME_PRECISION_MS = 60_000 - 1;

/** A record read from the shard and not yet checkpointed. */
interface BufferedRecord {
  event: DynamoDBStreamEventRecord;
  sequenceNumber: string;
  /** Passes the filter criteria. */
  delivered: boolean;
  /** Best estimate of when it was written (epoch ms on the runtime's clock), for record age. */
  writtenAt: number;
  /** What the stream says of its arrival (for the on-failure record). */
  approximateArrival: Date | undefined;
  /** Its share of the invocation payload. */
  payloadBytes: number;
}

type BatchOutcome = { kind: 'success' } | { kind: 'partial'; fromIndex: number } | { kind: 'failure'; functionError?: string };

interface ShardState {
  shard: Shard;
  reader?: Promise<void>;
}

export class StreamsPoller implements EventSourcePoller {
  private readonly client: DynamoDBStreamsClient;
  private readonly checkpoints: CheckpointStore;
  private readonly counters: PollerStats = { batches: 0, records: 0, filtered: 0, failedInvocations: 0, discarded: 0 };
  private readonly shards = new Map<string, ShardState>();
  private readonly abort = new AbortController();
  /** Wakes the shard-discovery loop when a shard has ended (its children may start). */
  private wakeDiscovery: () => void = () => {
    this.discoveryWoken = true;
  };
  /** A wake that came while discovery was not waiting: it must not wait for the next interval. */
  private discoveryWoken = false;
  private running?: Promise<void>;
  private markReading: () => void = () => undefined;
  private readonly readingStarted = new Promise<void>((resolve) => (this.markReading = resolve));
  private readonly minPollMs: number;
  private readonly maxPollMs: number;
  /** The mapping's FilterCriteria: a record is delivered if any pattern matches it. */
  private readonly filter: { matches(record: unknown): boolean };

  constructor(
    readonly mapping: EventSourceMapping,
    private readonly deps: PollerDependencies,
    dynamodb: { endpoint: string },
    private readonly options: StreamsPollerOptions = {},
  ) {
    // Throws InvalidEventPatternError for a bad pattern, as CreateEventSourceMapping refuses it.
    this.filter = compileFilterCriteria(mapping.filterPatterns, 'dynamodb');
    this.client = new DynamoDBStreamsClient({
      endpoint: dynamodb.endpoint,
      region: deps.env.region,
      credentials: LOCAL_CREDENTIALS,
      // The poll loop is the retry: the SDK's own back-off would only stall a shard while DynamoDB Local restarts.
      maxAttempts: 1,
    });
    this.checkpoints = new CheckpointStore(deps.dataDir ? checkpointFile(deps.dataDir, mapping.uuid) : undefined, {
      streamArn: mapping.eventSourceArn,
      startingPosition: mapping.startingPosition ?? 'LATEST',
    });
    this.minPollMs = options.minPollIntervalMs ?? 50;
    // Lambda polls each stream shard four times a second; idling longer would add up to a second to every event's path.
    this.maxPollMs = Math.max(this.minPollMs, options.maxPollIntervalMs ?? 250);
  }

  start(): void {
    if (this.running || !this.mapping.enabled || this.abort.signal.aborted) return;
    this.running = this.run().catch((error: unknown) => {
      if (!this.stopped) this.deps.warn(`${this.describe()}: stopped polling: ${(error as Error).message}`);
    });
  }

  async stop(): Promise<void> {
    this.abort.abort();
    this.markReading();
    this.wakeDiscovery();
    await this.running;
    this.client.destroy();
  }

  stats(): PollerStats {
    return { ...this.counters };
  }

  /** Resolves once the starting position is applied and the shards are being read (or the poller stopped first). */
  reading(): Promise<void> {
    return this.readingStarted;
  }

  private get stopped(): boolean {
    return this.abort.signal.aborted;
  }

  private describe(): string {
    return `event source mapping ${this.mapping.uuid} (${this.mapping.functionName})`;
  }

  // ---- shards ----

  private async run(): Promise<void> {
    let listed: Shard[] | undefined;
    // Until the stream can be read and the starting position applied (DynamoDB Local may still be busy or restarting).
    while (!this.stopped && !(listed && this.checkpoints.initialized)) {
      try {
        listed = await this.describeShards();
        if (!this.checkpoints.initialized) await this.applyStartingPosition(listed);
      } catch (error) {
        if (this.stopped) break;
        this.deps.warn(`${this.describe()}: cannot read ${this.mapping.eventSourceArn}: ${(error as Error).message}`);
        await this.realSleep(this.maxPollMs * 5);
      }
    }
    if (!listed) return;
    while (!this.stopped) {
      this.startReadyShards(listed);
      this.markReading();
      if (!this.discoveryWoken) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, this.options.describeIntervalMs ?? 30_000);
          this.wakeDiscovery = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
      this.discoveryWoken = false;
      this.wakeDiscovery = () => {
        this.discoveryWoken = true;
      };
      if (this.stopped) break;
      listed = (await this.describeShards().catch(() => undefined)) ?? listed;
    }
    await Promise.all([...this.shards.values()].map((s) => s.reader));
  }

  /** Every shard of the stream (DescribeStream pages through them). */
  private async describeShards(): Promise<Shard[]> {
    const shards: Shard[] = [];
    let exclusiveStartShardId: string | undefined;
    do {
      const page = await this.client.send(
        new DescribeStreamCommand({
          StreamArn: this.mapping.eventSourceArn,
          ...(exclusiveStartShardId ? { ExclusiveStartShardId: exclusiveStartShardId } : {}),
        }),
        { abortSignal: this.abort.signal },
      );
      shards.push(...(page.StreamDescription?.Shards ?? []));
      exclusiveStartShardId = page.StreamDescription?.LastEvaluatedShardId;
    } while (exclusiveStartShardId);
    return shards;
  }

  /**
   * The first start of the mapping: LATEST becomes a concrete position in every
   * shard that exists now (closed ones are done, open ones are read through to
   * their last record), so a later restart resumes exactly there instead of
   * asking for LATEST again and skipping what was written meanwhile.
   * TRIM_HORIZON needs nothing: a shard without a checkpoint is read from its start.
   */
  private async applyStartingPosition(shards: Shard[]): Promise<void> {
    if (this.mapping.startingPosition === 'LATEST') {
      for (const shard of shards) {
        const shardId = shard.ShardId as string;
        if (shard.SequenceNumberRange?.EndingSequenceNumber) {
          this.checkpoints.finish(shardId);
          continue;
        }
        let iterator = await this.shardIterator(shardId, 'TRIM_HORIZON');
        let last: string | undefined;
        while (iterator && !this.stopped) {
          const page = await this.client.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 1000 }));
          const records = page.Records ?? [];
          if (records.length === 0) break;
          last = records.at(-1)?.dynamodb?.SequenceNumber ?? last;
          iterator = page.NextShardIterator;
        }
        if (this.stopped) return;
        if (last) this.checkpoints.advance(shardId, last);
      }
    }
    this.checkpoints.markInitialized();
  }

  /** Starts a reader on every shard not yet read whose parent (if the stream still lists it) has ended. */
  private startReadyShards(shards: Shard[]): void {
    const listed = new Set(shards.map((s) => s.ShardId));
    for (const shard of shards) {
      const shardId = shard.ShardId as string;
      if (this.shards.has(shardId) || this.checkpoints.shard(shardId)?.finished) continue;
      const parent = shard.ParentShardId;
      if (parent && listed.has(parent) && !this.checkpoints.shard(parent)?.finished) continue;
      const state: ShardState = { shard };
      this.shards.set(shardId, state);
      state.reader = this.readShard(shardId)
        .catch(async (error: unknown) => {
          if (this.stopped) return;
          this.deps.warn(`${this.describe()}: shard ${shardId}: ${(error as Error).message}`);
          // Read it again from its checkpoint at the next discovery, after a pause (DynamoDB Local may be restarting).
          await this.realSleep(this.maxPollMs * 5);
          this.shards.delete(shardId);
        })
        .finally(() => this.wakeDiscovery());
    }
  }

  private async shardIterator(shardId: string, type: ShardIteratorType, sequenceNumber?: string): Promise<string | undefined> {
    const answer = await this.client.send(
      new GetShardIteratorCommand({
        StreamArn: this.mapping.eventSourceArn,
        ShardId: shardId,
        ShardIteratorType: type,
        ...(sequenceNumber ? { SequenceNumber: sequenceNumber } : {}),
      }),
      { abortSignal: this.abort.signal },
    );
    return answer.ShardIterator;
  }

  /** An iterator just after the last record the mapping is done with, else at the shard's start. */
  private iteratorAfter(shardId: string, sequenceNumber: string | undefined): Promise<string | undefined> {
    return sequenceNumber
      ? this.shardIterator(shardId, 'AFTER_SEQUENCE_NUMBER', sequenceNumber)
      : this.shardIterator(shardId, 'TRIM_HORIZON');
  }

  // ---- one shard ----

  private async readShard(shardId: string): Promise<void> {
    let iterator = await this.iteratorAfter(shardId, this.checkpoints.shard(shardId)?.sequenceNumber);
    const buffer: BufferedRecord[] = [];
    let idleMs = this.minPollMs;
    let windowEnds: number | undefined;
    while (!this.stopped) {
      let read = 0;
      if (iterator && this.deliverable(buffer) < this.mapping.batchSize) {
        try {
          const page = await this.client.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 1000 }), {
            abortSignal: this.abort.signal,
          });
          iterator = page.NextShardIterator;
          read = this.buffer(page.Records ?? [], buffer);
        } catch (error) {
          if (this.stopped) return;
          iterator = await this.recoverIterator(shardId, error, buffer);
          if (iterator === undefined && !(error instanceof ResourceNotFoundException)) throw error;
          if (iterator === undefined) return;
          continue;
        }
      }
      this.checkpointFilteredHead(shardId, buffer);
      if (buffer.length === 0) {
        windowEnds = undefined;
        if (!iterator) {
          // A closed shard read to its end: its children are next.
          this.checkpoints.finish(shardId);
          return;
        }
        if (read === 0) {
          await this.realSleep(idleMs);
          idleMs = Math.min(idleMs * 2, this.maxPollMs);
        }
        continue;
      }
      idleMs = this.minPollMs;
      windowEnds ??= this.deps.clock.now() + this.mapping.maximumBatchingWindowInSeconds * 1000;
      const full = this.deliverable(buffer) >= this.mapping.batchSize || this.bufferedBytes(buffer) >= MAX_PAYLOAD_BYTES;
      if (!full && iterator && this.deps.clock.now() < windowEnds) {
        // Gather more for the window; read again soon, not at the idle pace.
        if (read === 0)
          await this.realSleep(Math.min(this.maxPollMs, Math.max(1, this.deps.clock.realDelay(windowEnds - this.deps.clock.now()))));
        continue;
      }
      const batch = this.takeBatch(buffer);
      windowEnds = undefined;
      const completed = await this.deliver(shardId, batch, 0);
      if (!completed) return;
    }
  }

  /** After a failed GetRecords: a fresh iterator from what has been read, or undefined when the stream is gone. */
  private async recoverIterator(shardId: string, error: unknown, buffer: BufferedRecord[]): Promise<string | undefined> {
    if (error instanceof ResourceNotFoundException) {
      this.deps.warn(`${this.describe()}: stream ${this.mapping.eventSourceArn} no longer exists`);
      return undefined;
    }
    if (error instanceof TrimmedDataAccessException) {
      // What the mapping had not reached has expired from the stream: carry on from the oldest record left.
      buffer.length = 0;
      return this.shardIterator(shardId, 'TRIM_HORIZON');
    }
    if (!(error instanceof ExpiredIteratorException)) {
      // DynamoDB Local busy or restarting: the next loop retries after a pause.
      this.deps.warn(`${this.describe()}: GetRecords on ${shardId} failed: ${(error as Error).message}`);
      await this.realSleep(this.maxPollMs);
    }
    const lastRead = buffer.at(-1)?.sequenceNumber ?? this.checkpoints.shard(shardId)?.sequenceNumber;
    return this.iteratorAfter(shardId, lastRead);
  }

  /** Converts and filters a page of records into the buffer; returns how many were read. */
  private buffer(records: StreamsApiRecord[], buffer: BufferedRecord[]): number {
    const now = this.deps.clock.now();
    for (const record of records) {
      const event = toLambdaRecord(record, this.mapping.eventSourceArn, this.deps.env.region);
      const arrival = record.dynamodb?.ApproximateCreationDateTime;
      // The stream's time is rounded down; the record is no older than it and no younger than now.
      const writtenAt = arrival ? Math.min(arrival.getTime() + CREATION_TIME_PRECISION_MS, now) : now;
      const delivered = this.filter.matches(event);
      if (!delivered) this.counters.filtered++;
      buffer.push({
        event,
        sequenceNumber: event.dynamodb.SequenceNumber,
        delivered,
        writtenAt,
        approximateArrival: arrival,
        payloadBytes: delivered ? Buffer.byteLength(JSON.stringify(event)) + 1 : 0,
      });
      this.counters.iteratorAgeMs = Math.max(0, now - writtenAt);
    }
    return records.length;
  }

  private deliverable(buffer: BufferedRecord[]): number {
    let count = 0;
    for (const entry of buffer) if (entry.delivered) count++;
    return count;
  }

  private bufferedBytes(buffer: BufferedRecord[]): number {
    let bytes = 0;
    for (const entry of buffer) bytes += entry.payloadBytes;
    return bytes;
  }

  /** Records at the head that the filter dropped are done with: checkpoint past them. */
  private checkpointFilteredHead(shardId: string, buffer: BufferedRecord[]): void {
    let dropped: BufferedRecord | undefined;
    while (buffer[0] && !buffer[0].delivered) dropped = buffer.shift();
    if (dropped) this.checkpoints.advance(shardId, dropped.sequenceNumber);
  }

  /** The next batch from the head of the buffer: up to BatchSize delivered records within the payload limit. */
  private takeBatch(buffer: BufferedRecord[]): BufferedRecord[] {
    let delivered = 0;
    let bytes = 0;
    let end = 0;
    while (end < buffer.length && delivered < this.mapping.batchSize) {
      const entry = buffer[end] as BufferedRecord;
      if (entry.delivered && delivered > 0 && bytes + entry.payloadBytes > MAX_PAYLOAD_BYTES) break;
      if (entry.delivered) delivered++;
      bytes += entry.payloadBytes;
      end++;
    }
    return buffer.splice(0, end);
  }

  // ---- one batch ----

  /**
   * Invokes the function with `batch` until it is done with: delivered,
   * bisected and delivered, or discarded. Returns false if the poller stopped
   * first (nothing past the last checkpoint counts as done).
   */
  private async deliver(shardId: string, batch: BufferedRecord[], retriesBefore: number): Promise<boolean> {
    const { mapping } = this;
    let current = batch;
    let retries = retriesBefore;
    let invocations = 0;
    let functionError: string | undefined;
    for (;;) {
      if (this.stopped) return false;
      const records = current.filter((entry) => entry.delivered);
      if (records.length === 0) {
        this.checkpoints.advance(shardId, (current.at(-1) as BufferedRecord).sequenceNumber);
        return true;
      }
      if (this.expired(records)) {
        await this.discard(shardId, current, 'RecordAgeExceeded', invocations, functionError);
        return true;
      }
      let result: InvokeResult;
      try {
        result = await invokeFunction(this.deps, mapping.functionName, { Records: records.map((entry) => entry.event) });
      } catch (error) {
        // Lambda could not invoke at all (no such function, the service stopping): retried until the records expire, no retry used up.
        if (this.stopped) return false;
        this.deps.warn(`${this.describe()}: cannot invoke ${mapping.functionName}: ${(error as Error).message}`);
        await this.clockSleep(this.retryDelay(retries + 1));
        continue;
      }
      invocations++;
      this.counters.batches++;
      const outcome = this.outcome(result, records, current);
      if (outcome.kind === 'success') {
        this.counters.records += records.length;
        this.checkpoints.advance(shardId, (current.at(-1) as BufferedRecord).sequenceNumber);
        return true;
      }
      this.counters.failedInvocations++;
      functionError = outcome.kind === 'failure' ? outcome.functionError : undefined;
      if (outcome.kind === 'partial') {
        const done = current.slice(0, outcome.fromIndex);
        if (done.length > 0) {
          this.counters.records += done.filter((entry) => entry.delivered).length;
          this.checkpoints.advance(shardId, (done.at(-1) as BufferedRecord).sequenceNumber);
          current = current.slice(outcome.fromIndex);
        }
        // With bisect on, Lambda splits at the reported record instead of retrying: that split uses up no retry either.
        if (!mapping.bisectBatchOnFunctionError || done.length === 0) retries++;
      } else if (outcome.kind === 'failure' && mapping.bisectBatchOnFunctionError && records.length > 1) {
        const [first, second] = halves(current);
        if (!(await this.deliver(shardId, first, retries))) return false;
        return this.deliver(shardId, second, retries);
      } else {
        retries++;
      }
      if (this.stopped) return false;
      const maximum = mapping.maximumRetryAttempts ?? -1;
      if (maximum >= 0 && retries > maximum) {
        await this.discard(shardId, current, 'RetryAttemptsExhausted', invocations, functionError);
        return true;
      }
      await this.clockSleep(this.retryDelay(retries));
    }
  }

  /** How the function's answer settles the batch (ReportBatchItemFailures' rules). */
  private outcome(result: InvokeResult, records: BufferedRecord[], batch: BufferedRecord[]): BatchOutcome {
    if (!result.ok) return { kind: 'failure', functionError: result.functionError };
    if (!this.mapping.reportBatchItemFailures) return { kind: 'success' };
    const reply = result.payload;
    // No reply, an empty object or an empty/null list: all succeeded.
    if (reply === null || reply === undefined || reply === '') return { kind: 'success' };
    if (typeof reply !== 'object' || Array.isArray(reply)) return { kind: 'failure' };
    const failures = (reply as { batchItemFailures?: unknown }).batchItemFailures;
    if (failures === null || failures === undefined) return { kind: 'success' };
    if (!Array.isArray(failures)) return { kind: 'failure' };
    if (failures.length === 0) return { kind: 'success' };
    const sequenceNumbers = new Set(records.map((entry) => entry.sequenceNumber));
    let lowest: string | undefined;
    for (const failure of failures as unknown[]) {
      const id = (failure as { itemIdentifier?: unknown } | null)?.itemIdentifier;
      // An empty, null or unknown identifier (or a misspelt key) fails the whole batch.
      if (typeof id !== 'string' || !sequenceNumbers.has(id)) return { kind: 'failure' };
      if (lowest === undefined || compareSequenceNumbers(id, lowest) < 0) lowest = id;
    }
    return { kind: 'partial', fromIndex: batch.findIndex((entry) => entry.sequenceNumber === lowest) };
  }

  /** Past MaximumRecordAgeInSeconds; with no age limit and unlimited retries, past the stream's retention. */
  private expired(records: BufferedRecord[]): boolean {
    const maxAgeSeconds = this.mapping.maximumRecordAgeInSeconds ?? -1;
    const limitMs =
      maxAgeSeconds >= 0 ? maxAgeSeconds * 1000 : (this.mapping.maximumRetryAttempts ?? -1) < 0 ? STREAM_RETENTION_MS : Infinity;
    const oldest = Math.min(...records.map((entry) => entry.writtenAt));
    return this.deps.clock.now() - oldest > limitMs;
  }

  /** Sends the batch's description to the OnFailure destination and checkpoints past it. */
  private async discard(
    shardId: string,
    batch: BufferedRecord[],
    condition: StreamOnFailureRecord['requestContext']['condition'],
    invocations: number,
    functionError: string | undefined,
  ): Promise<void> {
    const records = batch.filter((entry) => entry.delivered);
    this.counters.discarded += records.length;
    const destination = this.mapping.onFailureDestination;
    const first = records[0] as BufferedRecord;
    const last = records.at(-1) as BufferedRecord;
    if (destination) {
      const record: StreamOnFailureRecord = {
        requestContext: {
          requestId: randomUUID(),
          functionArn: this.mapping.functionArn,
          condition,
          approximateInvokeCount: invocations,
        },
        responseContext: { statusCode: 200, executedVersion: '$LATEST', ...(functionError ? { functionError } : {}) },
        version: '1.0',
        timestamp: this.deps.clock.date().toISOString(),
        DDBStreamBatchInfo: {
          shardId,
          startSequenceNumber: first.sequenceNumber,
          endSequenceNumber: last.sequenceNumber,
          approximateArrivalOfFirstRecord: arrivalTime(first),
          approximateArrivalOfLastRecord: arrivalTime(last),
          batchSize: records.length,
          streamArn: this.mapping.eventSourceArn,
        },
      };
      try {
        await this.deps.dispatcher.deliver(destination, record, { source: this.describe() });
      } catch (error) {
        this.deps.warn(`${this.describe()}: on-failure destination ${destination} not delivered: ${(error as Error).message}`);
      }
    } else {
      this.deps.warn(
        `${this.describe()}: discarded ${records.length} record(s) of ${shardId} (${condition}, ${first.sequenceNumber}…${last.sequenceNumber})`,
      );
    }
    this.checkpoints.advance(shardId, (batch.at(-1) as BufferedRecord).sequenceNumber);
  }

  private retryDelay(retry: number): number {
    const base = this.options.retryDelayMs ?? 1000;
    return Math.min(base * 2 ** Math.max(0, retry - 1), MAX_RETRY_DELAY_MS);
  }

  /** Waits on the runtime's clock; returns early when the poller stops. */
  private async clockSleep(simulatedMs: number): Promise<void> {
    await this.deps.clock.sleep(simulatedMs, this.abort.signal).catch(() => undefined);
  }

  /** Waits in real time (polling pace is a resource limit, not emulated time); returns early when the poller stops. */
  private realSleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      if (this.stopped) return resolve();
      const done = () => {
        clearTimeout(timer);
        this.abort.signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.abort.signal.addEventListener('abort', done, { once: true });
    });
  }
}

/** Splits a batch into two with half its delivered records each (the first gets the odd one). */
function halves(batch: BufferedRecord[]): [BufferedRecord[], BufferedRecord[]] {
  const delivered = batch.filter((entry) => entry.delivered).length;
  let seen = 0;
  let cut = 0;
  while (cut < batch.length && seen < Math.ceil(delivered / 2)) {
    if ((batch[cut] as BufferedRecord).delivered) seen++;
    cut++;
  }
  return [batch.slice(0, cut), batch.slice(cut)];
}

/** Sequence numbers are decimal strings of varying length: compare them as numbers. */
export function compareSequenceNumbers(a: string, b: string): number {
  const x = BigInt(a);
  const y = BigInt(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

/** `2019-11-14T00:13:19Z`, as Lambda writes arrival times in DDBStreamBatchInfo (whole seconds). */
function arrivalTime(entry: BufferedRecord): string {
  return new Date(entry.approximateArrival?.getTime() ?? entry.writtenAt).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** A Streams API record as Lambda hands it to a function: JSON attribute values, epoch-second time, the mapping's ARN and region. */
export function toLambdaRecord(record: StreamsApiRecord, eventSourceArn: string, region: string): DynamoDBStreamEventRecord {
  const change = record.dynamodb ?? {};
  const dynamodb: DynamoDBStreamEventRecord['dynamodb'] = {
    ...(change.ApproximateCreationDateTime
      ? { ApproximateCreationDateTime: Math.floor(change.ApproximateCreationDateTime.getTime() / 1000) }
      : {}),
    Keys: wireImage(change.Keys ?? {}),
    ...(change.NewImage ? { NewImage: wireImage(change.NewImage) } : {}),
    ...(change.OldImage ? { OldImage: wireImage(change.OldImage) } : {}),
    SequenceNumber: change.SequenceNumber ?? '',
    SizeBytes: change.SizeBytes ?? 0,
    StreamViewType: (change.StreamViewType ?? 'NEW_AND_OLD_IMAGES') as DynamoDBStreamEventRecord['dynamodb']['StreamViewType'],
  };
  return {
    eventID: record.eventID ?? '',
    eventName: (record.eventName ?? 'MODIFY') as DynamoDBStreamEventRecord['eventName'],
    eventVersion: '1.1',
    eventSource: 'aws:dynamodb',
    // DynamoDB Local says `ddblocal`; a function sees the runtime's region, as it would its own on AWS.
    awsRegion: region,
    dynamodb,
    eventSourceARN: eventSourceArn,
    ...(record.userIdentity?.Type && record.userIdentity.PrincipalId
      ? { userIdentity: { type: record.userIdentity.Type, principalId: record.userIdentity.PrincipalId } }
      : {}),
  };
}

function wireImage(image: Record<string, AttributeValue>): Record<string, WireAttributeValue> {
  return Object.fromEntries(Object.entries(image).map(([name, value]) => [name, wireValue(value)]));
}

/** The SDK decodes binary to bytes; the event carries base64, as DynamoDB's JSON does. */
function wireValue(value: AttributeValue): WireAttributeValue {
  if (value.B !== undefined) return { B: Buffer.from(value.B).toString('base64') };
  if (value.BS !== undefined) return { BS: value.BS.map((b) => Buffer.from(b).toString('base64')) };
  if (value.M !== undefined) return { M: wireImage(value.M) };
  if (value.L !== undefined) return { L: value.L.map(wireValue) };
  // DynamoDB Local's stream writes an empty map as `{}` (GetItem answers `{"M":{}}`, and an empty list stays `{"L":[]}`):
  // AWS's stream says `{"M":{}}`, and an unmarshaller such as Powertools' DynamoDBMarshalled fails on `{}`.
  if (Object.keys(value).length === 0) return { M: {} };
  return { ...value } as WireAttributeValue;
}
