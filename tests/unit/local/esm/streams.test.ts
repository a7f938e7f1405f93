/**
 * The DynamoDB Streams poller against a real DynamoDB Local (in memory, one
 * for this file) and a real local Lambda function (tests/fixtures/lambda/stream-consumer).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CreateTableCommand, DeleteItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { DynamoDBMarshalled } from '@aws-lambda-powertools/parser/helpers/dynamodb';
import * as z from 'zod';
import { DynamoDBStreamSchema } from '@aws-lambda-powertools/parser/schemas';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startDynamoDbLocal, type DynamoDbLocal } from '../../../../local/aws/dynamodb/local-process.js';
import { Clock } from '../../../../local/clock.js';
import { Dispatcher } from '../../../../local/dispatch.js';
import type { EventSourceMapping, PollerDependencies } from '../../../../local/esm/mapping.js';
import {
  StreamsPoller,
  type DynamoDBStreamEventRecord,
  type StreamOnFailureRecord,
  type StreamsPollerOptions,
} from '../../../../local/esm/streams.js';
import { LambdaService } from '../../../../local/lambda/service.js';
import type { InvokeResult } from '../../../../local/types.js';

const FIXTURES = fileURLToPath(new URL('../../../fixtures/lambda/', import.meta.url));
const FUNCTION = 'stream-consumer';
const DLQ = 'arn:aws:sqs:us-east-1:000000000000:stream-failures';
const ENV = { stackName: 'Streams', region: 'us-east-1', accountId: '000000000000' };

let dynamodb: DynamoDbLocal;
let lambda: LambdaService;
let tableCount = 0;
const pollers: StreamsPoller[] = [];
const dirs: string[] = [];

beforeAll(async () => {
  dynamodb = await startDynamoDbLocal();
  // One environment: the fixture's "the first time it is seen" is then per test run.
  lambda = new LambdaService(
    [
      {
        logicalId: 'StreamConsumer',
        functionName: FUNCTION,
        assetDir: FIXTURES + 'stream-consumer',
        handler: 'index.handler',
        runtime: 'nodejs22.x',
        timeoutSeconds: 5,
        memorySizeMb: 128,
        environment: {},
      },
    ],
    { baseEnvironment: { AWS_REGION: 'us-east-1' }, maxConcurrencyPerFunction: 1 },
  );
}, 120_000);

afterEach(async () => {
  await Promise.all(pollers.splice(0).map((p) => p.stop()));
});

afterAll(async () => {
  await lambda?.stop();
  await dynamodb?.stop();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** A new table with a NEW_AND_OLD_IMAGES stream; returns its name and stream ARN. */
async function streamTable(): Promise<{ table: string; streamArn: string }> {
  const table = `streams-${++tableCount}-${Date.now()}`;
  const created = await dynamodb.client.send(
    new CreateTableCommand({
      TableName: table,
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
      BillingMode: 'PAY_PER_REQUEST',
      StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' },
    }),
  );
  return { table, streamArn: created.TableDescription?.LatestStreamArn as string };
}

async function put(table: string, pk: string, attributes: Record<string, string> = {}): Promise<void> {
  const item = Object.fromEntries(Object.entries({ pk, ...attributes }).map(([k, v]) => [k, { S: v }]));
  await dynamodb.client.send(new PutItemCommand({ TableName: table, Item: item }));
}

interface Invocation {
  records: DynamoDBStreamEventRecord[];
  result: InvokeResult;
}

interface Harness {
  poller: StreamsPoller;
  invocations: Invocation[];
  /** What reached the on-failure destination. */
  discarded: StreamOnFailureRecord[];
  warnings: string[];
}

function mappingFor(streamArn: string, overrides: Partial<EventSourceMapping> = {}): EventSourceMapping {
  return {
    uuid: `mapping-${tableCount}`,
    functionName: FUNCTION,
    functionArn: `arn:aws:lambda:us-east-1:000000000000:function:${FUNCTION}`,
    eventSourceArn: streamArn,
    enabled: true,
    batchSize: 100,
    maximumBatchingWindowInSeconds: 0,
    filterPatterns: [],
    reportBatchItemFailures: false,
    startingPosition: 'TRIM_HORIZON',
    bisectBatchOnFunctionError: false,
    maximumRetryAttempts: -1,
    maximumRecordAgeInSeconds: -1,
    ...overrides,
  };
}

/** A started poller whose function calls and on-failure records are recorded. */
function poll(
  mapping: EventSourceMapping,
  { clock = new Clock(100), dataDir, options = {} }: { clock?: Clock; dataDir?: string; options?: StreamsPollerOptions } = {},
): Harness {
  const invocations: Invocation[] = [];
  const discarded: StreamOnFailureRecord[] = [];
  const warnings: string[] = [];
  const dispatcher = new Dispatcher();
  dispatcher.register('sqs', async (_arn, payload) => {
    discarded.push(payload as StreamOnFailureRecord);
    return {};
  });
  const recording = {
    async invoke(name: string, event: unknown): Promise<InvokeResult> {
      const result = await lambda.invoke(name, event);
      invocations.push({ records: (event as { Records: DynamoDBStreamEventRecord[] }).Records, result });
      return result;
    },
  };
  const deps: PollerDependencies = {
    // The poller only invokes; recording around the real service shows what the function was given.
    lambda: recording as unknown as LambdaService,
    dispatcher,
    clock,
    env: ENV,
    ...(dataDir ? { dataDir } : {}),
    warn: (message) => warnings.push(message),
    log: () => undefined,
  };
  const poller = new StreamsPoller(mapping, deps, dynamodb, { minPollIntervalMs: 20, maxPollIntervalMs: 100, ...options });
  pollers.push(poller);
  poller.start();
  return { poller, invocations, discarded, warnings };
}

async function until(condition: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const keysOf = (invocation: Invocation) => invocation.records.map((r) => r.dynamodb.Keys.pk?.S);
const delivered = (h: Harness) => h.invocations.filter((i) => i.result.ok).flatMap(keysOf);

describe('StreamsPoller', () => {
  it('delivers inserts, updates and deletes in order, in batches of BatchSize, in the shape Lambda sends', async () => {
    const { table, streamArn } = await streamTable();
    await put(table, 'a', { v: '1' });
    await put(table, 'b', { v: '1' });
    await put(table, 'a', { v: '2' });
    await dynamodb.client.send(new DeleteItemCommand({ TableName: table, Key: { pk: { S: 'b' } } }));
    await put(table, 'c');
    const h = poll(mappingFor(streamArn, { batchSize: 2 }));
    await until(() => delivered(h).length === 5);

    expect(h.invocations.map((i) => i.records.length)).toEqual([2, 2, 1]);
    const records = h.invocations.flatMap((i) => i.records);
    expect(records.map((r) => [r.eventName, r.dynamodb.Keys.pk?.S])).toEqual([
      ['INSERT', 'a'],
      ['INSERT', 'b'],
      ['MODIFY', 'a'],
      ['REMOVE', 'b'],
      ['INSERT', 'c'],
    ]);
    const sequence = records.map((r) => BigInt(r.dynamodb.SequenceNumber));
    expect([...sequence].sort((x, y) => (x < y ? -1 : 1))).toEqual(sequence);
    for (const invocation of h.invocations) expect(DynamoDBStreamSchema.safeParse({ Records: invocation.records }).success).toBe(true);
    expect(records[2]).toMatchObject({
      eventVersion: '1.1',
      eventSource: 'aws:dynamodb',
      awsRegion: 'us-east-1',
      eventSourceARN: streamArn,
      dynamodb: {
        Keys: { pk: { S: 'a' } },
        OldImage: { pk: { S: 'a' }, v: { S: '1' } },
        NewImage: { pk: { S: 'a' }, v: { S: '2' } },
        StreamViewType: 'NEW_AND_OLD_IMAGES',
      },
    });
    expect(records[2]?.dynamodb.ApproximateCreationDateTime).toBeGreaterThan(1_600_000_000);
    expect(h.poller.stats()).toMatchObject({ batches: 3, records: 5, failedInvocations: 0, discarded: 0 });
    expect(h.poller.stats().iteratorAgeMs).toBeGreaterThanOrEqual(0);
  });

  it("gives empty maps AWS's encoding, so an unmarshaller reads them (DynamoDB Local's stream writes `{}`)", async () => {
    const { table, streamArn } = await streamTable();
    await dynamodb.client.send(
      new PutItemCommand({
        TableName: table,
        Item: { pk: { S: 'm' }, empty: { M: {} }, list: { L: [] }, nested: { M: { inner: { M: {} }, items: { L: [{ M: {} }] } } } },
      }),
    );
    const h = poll(mappingFor(streamArn));
    await until(() => delivered(h).length === 1);
    const image = h.invocations[0]?.records[0]?.dynamodb.NewImage;
    expect(image).toEqual({
      pk: { S: 'm' },
      empty: { M: {} },
      list: { L: [] },
      nested: { M: { inner: { M: {} }, items: { L: [{ M: {} }] } } },
    });
    // What the relay does with an outbox item: Powertools' own unmarshalling helper.
    expect(DynamoDBMarshalled(z.record(z.string(), z.unknown())).parse(image)).toEqual({
      pk: 'm',
      empty: {},
      list: [],
      nested: { inner: {}, items: [{}] },
    });
  });

  it('LATEST starts after what the stream already holds; TRIM_HORIZON from its oldest record', async () => {
    const { table, streamArn } = await streamTable();
    await put(table, 'old');
    const latest = poll(mappingFor(streamArn, { uuid: 'latest', startingPosition: 'LATEST' }));
    const horizon = poll(mappingFor(streamArn, { uuid: 'horizon', startingPosition: 'TRIM_HORIZON' }));
    await latest.poller.reading();
    await put(table, 'new');
    await until(() => delivered(latest).length === 1 && delivered(horizon).length === 2);
    expect(delivered(latest)).toEqual(['new']);
    expect(delivered(horizon)).toEqual(['old', 'new']);
  });

  it('gathers records for MaximumBatchingWindowInSeconds before invoking', async () => {
    const { table, streamArn } = await streamTable();
    // 30 s of window is 3 s of real time at timeScale 10: the three writes land within it and go as one batch.
    const h = poll(mappingFor(streamArn, { maximumBatchingWindowInSeconds: 30 }), { clock: new Clock(10) });
    await h.poller.reading();
    await put(table, 'a');
    await put(table, 'b');
    await put(table, 'c');
    await until(() => delivered(h).length === 3);
    expect(h.invocations.map((i) => i.records.length)).toEqual([3]);
  });

  it('delivers only records a FilterCriteria pattern matches, and does not read the others again', async () => {
    const { table, streamArn } = await streamTable();
    await put(table, 'a', { type: 'outbox' });
    await put(table, 'b', { type: 'release' });
    await put(table, 'c', { type: 'outbox' });
    await dynamodb.client.send(new DeleteItemCommand({ TableName: table, Key: { pk: { S: 'b' } } }));
    await put(table, 'd', { type: 'release' });
    const dataDir = mkdtempSync(path.join(tmpdir(), 'streams-filter-'));
    dirs.push(dataDir);
    // Outbox items (as the relay's mapping filters, DESIGN.md §5), or any delete.
    const mapping = mappingFor(streamArn, {
      filterPatterns: ['{"dynamodb":{"NewImage":{"type":{"S":["outbox"]}}}}', '{"eventName":["REMOVE"]}'],
    });
    const first = poll(mapping, { dataDir });
    await until(() => first.poller.stats().filtered === 2 && delivered(first).length === 3);
    expect(first.invocations.flatMap((i) => i.records.map((r) => `${r.eventName} ${r.dynamodb.Keys.pk?.S}`))).toEqual([
      'INSERT a',
      'INSERT c',
      'REMOVE b',
    ]);
    await first.poller.stop();

    // The trailing filtered record was checkpointed too: a restart starts after it.
    await put(table, 'e', { type: 'outbox' });
    const second = poll(mapping, { dataDir });
    await until(() => delivered(second).length === 1);
    expect(delivered(second)).toEqual(['e']);
    expect(second.poller.stats().filtered).toBe(0);
  });

  it('BisectBatchOnFunctionError halves a failing batch until the bad record is alone, and sends only it to the destination', async () => {
    const { table, streamArn } = await streamTable();
    await put(table, 'a');
    await put(table, 'b');
    await put(table, 'c', { mode: 'throw' });
    await put(table, 'd');
    const h = poll(mappingFor(streamArn, { bisectBatchOnFunctionError: true, maximumRetryAttempts: 0, onFailureDestination: DLQ }));
    await until(() => h.discarded.length === 1 && delivered(h).includes('d'));
    expect(h.invocations.map((i) => [keysOf(i).join(''), i.result.ok])).toEqual([
      ['abcd', false],
      ['ab', true],
      ['cd', false],
      ['c', false],
      ['d', true],
    ]);
    expect(h.discarded[0]?.DDBStreamBatchInfo).toMatchObject({ batchSize: 1 });
    expect(h.discarded[0]?.DDBStreamBatchInfo.startSequenceNumber).toBe(h.invocations[3]?.records[0]?.dynamodb.SequenceNumber);
  });

  it('ReportBatchItemFailures checkpoints before the lowest reported record and retries from it', async () => {
    const { table, streamArn } = await streamTable();
    await put(table, 'a');
    await put(table, 'b', { mode: 'report-once' });
    await put(table, 'c', { mode: 'report-once' });
    await put(table, 'd');
    const h = poll(mappingFor(streamArn, { reportBatchItemFailures: true }));
    await until(() => h.poller.stats().records === 4);
    expect(h.invocations.map((i) => keysOf(i).join(''))).toEqual(['abcd', 'bcd']);
    expect(h.poller.stats()).toMatchObject({ batches: 2, failedInvocations: 1, discarded: 0 });
  });

  it('retries the whole batch when the reply names no record of it', async () => {
    const { table, streamArn } = await streamTable();
    await put(table, 'a');
    await put(table, 'b', { mode: 'malformed-once' });
    const h = poll(mappingFor(streamArn, { reportBatchItemFailures: true }));
    await until(() => h.poller.stats().records === 2);
    expect(h.invocations.map((i) => keysOf(i).join(''))).toEqual(['ab', 'ab']);
  });

  it('sends Lambda’s on-failure record when retries are exhausted, then moves on', async () => {
    const { table, streamArn } = await streamTable();
    await put(table, 'a', { mode: 'throw' });
    await put(table, 'b');
    const h = poll(mappingFor(streamArn, { batchSize: 1, maximumRetryAttempts: 2, onFailureDestination: DLQ }));
    await until(() => delivered(h).includes('b'));

    expect(h.invocations.map((i) => [keysOf(i).join(''), i.result.ok])).toEqual([
      ['a', false],
      ['a', false],
      ['a', false],
      ['b', true],
    ]);
    const a = h.invocations[0]?.records[0];
    expect(h.discarded).toEqual([
      {
        requestContext: {
          requestId: expect.stringMatching(/^[0-9a-f-]{36}$/),
          functionArn: `arn:aws:lambda:us-east-1:000000000000:function:${FUNCTION}`,
          condition: 'RetryAttemptsExhausted',
          approximateInvokeCount: 3,
        },
        responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
        version: '1.0',
        timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
        DDBStreamBatchInfo: {
          shardId: expect.stringMatching(/^shardId-/),
          startSequenceNumber: a?.dynamodb.SequenceNumber,
          endSequenceNumber: a?.dynamodb.SequenceNumber,
          approximateArrivalOfFirstRecord: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/),
          approximateArrivalOfLastRecord: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/),
          batchSize: 1,
          streamArn,
        },
      },
    ]);
    expect(h.poller.stats()).toMatchObject({ failedInvocations: 3, discarded: 1, records: 1 });
  });

  it('discards a batch older than MaximumRecordAgeInSeconds as RecordAgeExceeded', async () => {
    const { table, streamArn } = await streamTable();
    await put(table, 'a', { mode: 'throw' });
    // At timeScale 200 two minutes of record age pass in 600 ms: the record is tried a few times, then given up on.
    const h = poll(mappingFor(streamArn, { maximumRecordAgeInSeconds: 120, onFailureDestination: DLQ }), { clock: new Clock(200) });
    await until(() => h.discarded.length === 1);
    expect(h.discarded[0]?.requestContext.condition).toBe('RecordAgeExceeded');
    expect(h.invocations.length).toBeGreaterThan(1);
    expect(h.discarded[0]?.requestContext.approximateInvokeCount).toBe(h.invocations.length);
  });

  it('resumes from its checkpoint after a restart: nothing replayed, nothing skipped (LATEST too); a new StartingPosition starts afresh', async () => {
    const { table, streamArn } = await streamTable();
    const dataDir = mkdtempSync(path.join(tmpdir(), 'streams-checkpoint-'));
    dirs.push(dataDir);
    await put(table, 'before-start');
    const mapping = mappingFor(streamArn, { startingPosition: 'LATEST' });
    const first = poll(mapping, { dataDir });
    await first.poller.reading();
    await put(table, 'a');
    await until(() => delivered(first).length === 1);
    await first.poller.stop();

    await put(table, 'while-stopped');
    const second = poll(mapping, { dataDir });
    await until(() => delivered(second).length === 1);
    await put(table, 'b');
    await until(() => delivered(second).length === 2);
    expect(delivered(first)).toEqual(['a']);
    expect(delivered(second)).toEqual(['while-stopped', 'b']);
    await second.poller.stop();

    // Another StartingPosition is another mapping (CloudFormation replaces it): its positions start afresh.
    const third = poll({ ...mapping, startingPosition: 'TRIM_HORIZON' }, { dataDir });
    await until(() => delivered(third).length === 4);
    expect(delivered(third)).toEqual(['before-start', 'a', 'while-stopped', 'b']);
  });
});

/**
 * A stand-in for the Streams API with a split shard, which DynamoDB Local
 * cannot be made to produce on demand: parent `P` (closed, three records) and
 * its child `C` (open, two records), listed child first, one shard per
 * DescribeStream page. The parent's reads are slow, so a poller that read both
 * at once would deliver the child's records first.
 */
async function splitShardStream(): Promise<{ endpoint: string; streamArn: string; close(): Promise<void> }> {
  const streamArn = 'arn:aws:dynamodb:us-east-1:000000000000:table/split/stream/2026-01-01T00:00:00.000';
  const record = (pk: string, sequenceNumber: string) => ({
    eventID: `id-${sequenceNumber}`,
    eventName: 'INSERT',
    eventVersion: '1.1',
    eventSource: 'aws:dynamodb',
    awsRegion: 'ddblocal',
    dynamodb: {
      ApproximateCreationDateTime: Math.floor(Date.now() / 1000),
      Keys: { pk: { S: pk } },
      NewImage: { pk: { S: pk }, blob: { B: Buffer.from(`bytes of ${pk}`).toString('base64') } },
      SequenceNumber: sequenceNumber,
      SizeBytes: 20,
      StreamViewType: 'NEW_AND_OLD_IMAGES',
    },
  });
  const shards = [
    { ShardId: 'shardId-C', ParentShardId: 'shardId-P', SequenceNumberRange: { StartingSequenceNumber: '400' } },
    { ShardId: 'shardId-P', SequenceNumberRange: { StartingSequenceNumber: '100', EndingSequenceNumber: '300' } },
  ];
  const records: Record<string, ReturnType<typeof record>[]> = {
    'shardId-P': [record('p1', '100'), record('p2', '200'), record('p3', '300')],
    'shardId-C': [record('c1', '400'), record('c2', '500')],
  };
  const { createServer } = await import('node:http');
  const server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString()));
    request.on('end', () => {
      const input = JSON.parse(body) as Record<string, string>;
      const operation = String(request.headers['x-amz-target']).split('.')[1];
      const answer = (output: unknown, delayMs = 0) =>
        setTimeout(() => {
          response.setHeader('content-type', 'application/x-amz-json-1.0');
          response.end(JSON.stringify(output));
        }, delayMs);
      if (operation === 'DescribeStream') {
        const start = input.ExclusiveStartShardId ? shards.findIndex((s) => s.ShardId === input.ExclusiveStartShardId) + 1 : 0;
        const page = shards.slice(start, start + 1);
        const more = start + 1 < shards.length;
        return answer({
          StreamDescription: {
            StreamArn: streamArn,
            StreamStatus: 'ENABLED',
            StreamViewType: 'NEW_AND_OLD_IMAGES',
            Shards: page,
            ...(more ? { LastEvaluatedShardId: page[0]?.ShardId } : {}),
          },
        });
      }
      if (operation === 'GetShardIterator') {
        const list = records[input.ShardId as string] ?? [];
        const position =
          input.ShardIteratorType === 'TRIM_HORIZON'
            ? 0
            : input.ShardIteratorType === 'LATEST'
              ? list.length
              : list.findIndex((r) => r.dynamodb.SequenceNumber === input.SequenceNumber) + 1;
        return answer({ ShardIterator: `${input.ShardId}|${position}` });
      }
      if (operation === 'GetRecords') {
        const [shardId, position] = String(input.ShardIterator).split('|') as [string, string];
        const list = records[shardId] ?? [];
        const from = Number(position);
        // One record per read, so the reads interleave if both shards are read at once.
        const page = list.slice(from, from + 1);
        const closed = shardId === 'shardId-P' && from + page.length >= list.length;
        return answer(
          { Records: page, ...(closed ? {} : { NextShardIterator: `${shardId}|${from + page.length}` }) },
          shardId === 'shardId-P' ? 30 : 0,
        );
      }
      response.statusCode = 400;
      response.end(JSON.stringify({ __type: 'UnknownOperationException' }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    endpoint: `http://127.0.0.1:${port}`,
    streamArn,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

describe('StreamsPoller on a stream it cannot read', () => {
  it('says so, keeps trying, and stops when asked', async () => {
    const h = poll(mappingFor('arn:aws:dynamodb:ddblocal:000000000000:table/none/stream/2026-01-01T00:00:00.000'));
    await until(() => h.warnings.length > 0);
    expect(h.warnings[0]).toMatch(/cannot read arn:aws:dynamodb:.*table\/none\/stream/);
    await h.poller.stop();
    expect(h.invocations).toEqual([]);
  });
});

describe('StreamsPoller on a split shard', () => {
  it('reads every page of shards, and a child only after its parent is read to its end', async () => {
    const stream = await splitShardStream();
    try {
      const invocations: DynamoDBStreamEventRecord[][] = [];
      const poller = new StreamsPoller(
        mappingFor(stream.streamArn, { uuid: 'split' }),
        {
          lambda: {
            async invoke(_name: string, event: { Records: DynamoDBStreamEventRecord[] }) {
              invocations.push(event.Records);
              return { ok: true, payload: null, requestId: 'r', durationMs: 1, logs: '' };
            },
          } as unknown as LambdaService,
          dispatcher: new Dispatcher(),
          clock: new Clock(),
          env: ENV,
          warn: (message) => {
            throw new Error(message);
          },
          log: () => undefined,
        },
        stream,
        { minPollIntervalMs: 10, maxPollIntervalMs: 20 },
      );
      pollers.push(poller);
      poller.start();
      await until(() => invocations.flat().length === 5);
      const records = invocations.flat();
      expect(records.map((r) => r.dynamodb.Keys.pk?.S)).toEqual(['p1', 'p2', 'p3', 'c1', 'c2']);
      // Binary attributes travel as base64, as in the event Lambda sends.
      expect(records[0]?.dynamodb.NewImage?.blob).toEqual({ B: Buffer.from('bytes of p1').toString('base64') });
      expect(DynamoDBStreamSchema.safeParse({ Records: records }).success).toBe(true);
    } finally {
      await Promise.all(pollers.splice(0).map((p) => p.stop()));
      await stream.close();
    }
  });
});
