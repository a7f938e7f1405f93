/**
 * The event backbone under load, through the local runtime (`switchyard
 * local`, a child process, quiet): API → Lambda → one TransactWriteItems
 * (event + receiver check + audit + outbox) → DynamoDB Stream → relay Lambda →
 * EventBridge bus `switchyard` → a tap rule to a queue of our own. Prints
 * figures, asserts nothing.
 *
 * 1. Ingest throughput (`POST /api/v1/events`, admin API key, a receiver with
 *    a trivial schema) with the relay running, beside DynamoDB Local's own
 *    TransactWriteItems ceiling: the same 4-item transaction, same
 *    concurrency, same DynamoDB Local process, in interleaved rounds of the
 *    same run. Reference: the store's write is the one step every event must
 *    take, so the ratio says what the HTTP/authorizer/Lambda layers cost
 *    above it (on this shared machine, where absolute numbers drift).
 * 2. AWS calls per ingested event, as the runtime's AWS endpoint counts them
 *    (`GET /_switchyard/calls`), over the ingest phase until every event is on
 *    the bus; the bench's own tap calls are subtracted. Functions and the
 *    stream poller reach DynamoDB Local directly (AWS_ENDPOINT_URL_DYNAMODB),
 *    so DynamoDB calls are not in the counters: instead the table's own
 *    stream is read, which counts every item written (per event, by kind).
 * 3. Ingest-to-bus latency: from the API's 201 to the event's arrival in the
 *    tap queue (long polling in parallel). Reference: the streams poller's
 *    idle pace (50 ms backing off to 250 ms, docs/local-runtime.md), which
 *    bounds it; the relay mapping has no batching window (lib/events.ts).
 * 4. The chaos run: PutEvents failing half the time and the relay's first
 *    invocation failing (seeded); sent, arrived, duplicates (by CloudEvent
 *    id), lost, and the faults the endpoint injected.
 *
 *   tsx bench/events.ts [--events 400] [--concurrency 8] [--rounds 2] [--latency 100] [--chaos 100]
 */
import { DescribeTableCommand, DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import {
  DescribeStreamCommand,
  DynamoDBStreamsClient,
  GetRecordsCommand,
  GetShardIteratorCommand,
  type _Record as StreamRecord,
} from '@aws-sdk/client-dynamodb-streams';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient, PutCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import type { HandlerExecutionContext, InitializeHandler } from '@smithy/types';
import { LOCAL_CREDENTIALS } from '../local/aws/dynamodb/local-process.js';
import { ensureTable } from '../local/providers/dynamodb-table.js';
import { BENCH_AUDIT, dataTableInput, median, openBusTap, quantile, startBenchStack, throughput } from './support.js';
import { cloudEvent } from '../shared/events/cloudevent.js';
import { keys, LIST_SHARDS } from '../shared/store/keys.js';
import { auditItem, outboxItem } from '../shared/store/table-store.js';

const { values } = parseArgs({
  options: {
    events: { type: 'string', default: '400' },
    concurrency: { type: 'string', default: '8' },
    rounds: { type: 'string', default: '2' },
    latency: { type: 'string', default: '100' },
    chaos: { type: 'string', default: '100' },
    'chaos-deadline': { type: 'string', default: '180' },
  },
});
const totalEvents = Number(values.events);
const concurrency = Number(values.concurrency);
const rounds = Number(values.rounds);
const latencyEvents = Number(values.latency);
const chaosEvents = Number(values.chaos);
const chaosDeadlineMs = Number(values['chaos-deadline']) * 1000;

const { runtime, api } = await startBenchStack();
const aws = { endpoint: runtime.awsEndpoint, region: 'us-east-1', credentials: LOCAL_CREDENTIALS };
const sqs = new SQSClient(aws);
const eventBridge = new EventBridgeClient(aws);
const dynamoRaw = new DynamoDBClient({ endpoint: runtime.dynamoEndpoint, region: 'us-east-1', credentials: LOCAL_CREDENTIALS });
const dynamo = DynamoDBDocumentClient.from(dynamoRaw, { marshallOptions: { removeUndefinedValues: true } });
const streams = new DynamoDBStreamsClient({ endpoint: runtime.dynamoEndpoint, region: 'us-east-1', credentials: LOCAL_CREDENTIALS });

/** The bench's own calls to the AWS endpoint (the tap), subtracted from its counters. */
const ownCalls = new Map<string, number>();
const countOwn =
  (prefix: string) =>
  <Input extends object, Output extends object>(
    next: InitializeHandler<Input, Output>,
    context: HandlerExecutionContext,
  ): InitializeHandler<Input, Output> =>
  (args) => {
    const key = `${prefix}.${String(context.commandName).replace(/Command$/, '')}`;
    ownCalls.set(key, (ownCalls.get(key) ?? 0) + 1);
    return next(args);
  };
sqs.middlewareStack.add(countOwn('AmazonSQS'), { step: 'initialize' });
eventBridge.middlewareStack.add(countOwn('AWSEvents'), { step: 'initialize' });
const endpointCalls = async (): Promise<Record<string, number>> =>
  (await (await fetch(`${runtime.awsEndpoint}/_switchyard/calls`)).json()) as Record<string, number>;

let closeTap = async () => undefined as void;
try {
  // ---- set-up: a receiver, the tap (rule on the bus → our queue), the ceiling's table -------------
  const receiver = await api('POST', '/api/v1/receivers', {
    name: `bench-${randomUUID().slice(0, 8)}`,
    type: 'ci',
    version: '1.0.0',
    schema: { type: 'object' },
  });
  if (receiver.status !== 201 || !receiver.body.id)
    throw new Error(`receiver not created: ${receiver.status} ${JSON.stringify(receiver.body)}`);
  const receiverId = receiver.body.id;
  const eventBody = (n: number) => ({
    receiverId,
    name: 'api-server',
    version: '2.3.0',
    release: '2.3',
    platformId: 'linux-arm64',
    package: `bench-${n}`,
    description: 'release build',
    payload: { commit: 'abc1234' },
    success: true,
    eventStart: '2026-11-20T10:00:00Z',
    eventEnd: '2026-11-20T10:05:00Z',
  });
  /** Ingests one event; answers its id and when the 201 came back. */
  const ingestOne = async (n: number) => {
    const created = await api('POST', '/api/v1/events', eventBody(n));
    if (created.status !== 201 || !created.body.id) throw new Error(`event not created: ${created.status} ${JSON.stringify(created.body)}`);
    return { id: created.body.id, at: performance.now() };
  };

  const tap = await openBusTap(sqs, eventBridge, receiverId);
  closeTap = () => tap.close();
  const { arrivals, awaitArrival } = tap;

  const table = dataTableInput();
  // Same keys, indexes and stream as the runtime's table (nothing polls this one's stream).
  await ensureTable(dynamoRaw, { ...table.input, TableName: 'bench-ceiling' }, table.ttlAttribute);
  const ceilingReceiverId = randomUUID();
  await dynamo.send(
    new PutCommand({ TableName: 'bench-ceiling', Item: { ...keys.receiver(ceilingReceiverId), type: 'Receiver', version: 1, data: {} } }),
  );
  /** The transaction createEvent commits (event put, receiver check, audit put, outbox put), with items of the same shape, sent raw. */
  const ceilingWrite = (n: number) => {
    const id = randomUUID();
    const at = new Date().toISOString();
    const event = { id, ...eventBody(n), receiverId: ceilingReceiverId, createdAt: at };
    const sortKey = `${event.eventStart}#${id}`;
    const append = (item: Record<string, unknown>) => ({
      Put: { TableName: 'bench-ceiling', Item: item, ConditionExpression: 'attribute_not_exists(pk)' },
    });
    return dynamo.send(
      new TransactWriteCommand({
        TransactItems: [
          append({
            ...keys.event(id),
            type: 'Event',
            version: 1,
            gsi1pk: keys.eventsOfReceiver(ceilingReceiverId),
            gsi1sk: sortKey,
            gsi2pk: keys.eventsShard(id, LIST_SHARDS),
            gsi2sk: sortKey,
            data: event,
          }),
          {
            ConditionCheck: {
              TableName: 'bench-ceiling',
              Key: keys.receiver(ceilingReceiverId),
              ConditionExpression: 'version = :rev',
              ExpressionAttributeValues: { ':rev': 1 },
            },
          },
          append(auditItem({ id: randomUUID(), at, ...BENCH_AUDIT, status: 201, resourceId: id }, LIST_SHARDS)),
          append(outboxItem(cloudEvent({ id: randomUUID(), type: 'event.created', subject: id, time: at, data: event }), LIST_SHARDS)),
        ],
      }),
    );
  };

  // ---- warm-up: environments started, the relay and the tap flowing -------------------------------
  const warm: string[] = [];
  await throughput(Math.max(concurrency * 2, 16), concurrency, async (n) => warm.push((await ingestOne(n)).id));
  await throughput(concurrency * 4, concurrency, ceilingWrite);
  const warmMissing = await awaitArrival(warm, 60_000);
  if (warmMissing.length > 0) throw new Error(`warm-up: ${warmMissing.length} events never reached the tap`);

  // ---- 1 + 2: ingest throughput beside the ceiling; calls and item writes per event -----------------
  const dataTable = ((await dynamoRaw.send(new ListTablesCommand({}))).TableNames ?? []).find((name) => name !== 'bench-ceiling');
  if (!dataTable) throw new Error('the runtime has no table');
  const streamArn = (await dynamoRaw.send(new DescribeTableCommand({ TableName: dataTable }))).Table?.LatestStreamArn;
  /** Shard iterators at the stream's current end, to read what the ingest phase writes. */
  const streamStart = async () => {
    if (!streamArn) return [];
    const shards = (await streams.send(new DescribeStreamCommand({ StreamArn: streamArn }))).StreamDescription?.Shards ?? [];
    const iterators: string[] = [];
    for (const shard of shards) {
      if (shard.SequenceNumberRange?.EndingSequenceNumber) continue; // closed: nothing new is written there
      const it = await streams.send(
        new GetShardIteratorCommand({ StreamArn: streamArn, ShardId: shard.ShardId as string, ShardIteratorType: 'LATEST' }),
      );
      if (it.ShardIterator) iterators.push(it.ShardIterator);
    }
    return iterators;
  };
  const streamRead = async (iterators: string[]) => {
    const records: StreamRecord[] = [];
    for (let iterator of iterators) {
      for (let i = 0; i < 10_000 && iterator; i++) {
        const page = await streams.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 1000 }));
        records.push(...(page.Records ?? []));
        if (!page.NextShardIterator || (page.Records ?? []).length === 0) break;
        iterator = page.NextShardIterator;
      }
    }
    return records;
  };

  const before = await endpointCalls();
  const ownBefore = new Map(ownCalls);
  const iterators = await streamStart();
  const ingestRates: number[] = [];
  const ceilingRates: number[] = [];
  const ingested: string[] = [];
  const perRound = Math.ceil(totalEvents / rounds);
  const ingestStarted = performance.now();
  let ingestMs = 0;
  for (let round = 0; round < rounds; round++) {
    ceilingRates.push(await throughput(perRound, concurrency, ceilingWrite));
    const t = performance.now();
    ingestRates.push(await throughput(perRound, concurrency, async (n) => ingested.push((await ingestOne(round * perRound + n)).id)));
    ingestMs += performance.now() - t;
  }
  const missing = await awaitArrival(ingested, 120_000);
  const onBusMs = performance.now() - ingestStarted;
  await new Promise((r) => setTimeout(r, 1500)); // a moment more: the relay's last markRelayed, late calls
  const after = await endpointCalls();
  const written = await streamRead(iterators);

  const ceilingRate = median(ceilingRates);
  const ingestRate = median(ingestRates);
  console.log(
    `\n## 1. Ingest throughput, relay running (${ingested.length} events, ${concurrency} concurrent, median of ${rounds} interleaved rounds)`,
  );
  console.table({
    'DynamoDB Local TransactWriteItems, 4 items (ceiling)': { 'per s': ceilingRate.toFixed(0), 'vs ceiling': '1.00' },
    'POST /api/v1/events (201)': { 'per s': ingestRate.toFixed(0), 'vs ceiling': (ingestRate / ceilingRate).toFixed(2) },
  });
  console.log(
    `  all ${ingested.length} on the bus ${(onBusMs / 1000).toFixed(1)} s after the first POST (ingest itself ${(ingestMs / 1000).toFixed(1)} s, ceiling rounds in between)` +
      (missing.length ? `; ${missing.length} NOT arrived within 120 s` : ''),
  );

  const delta: Record<string, { total: number; 'per event': string }> = {};
  for (const key of new Set([...Object.keys(before), ...Object.keys(after)])) {
    if (key.includes('/_switchyard/')) continue;
    const own = (ownCalls.get(key) ?? 0) - (ownBefore.get(key) ?? 0);
    const n = (after[key] ?? 0) - (before[key] ?? 0) - own;
    if (n > 0) delta[key] = { total: n, 'per event': (n / ingested.length).toFixed(3) };
  }
  console.log(`\n## 2. AWS calls per ingested event, at the AWS endpoint (the bench's own tap calls subtracted)`);
  if (Object.keys(delta).length) console.table(delta);
  else console.log('  (none)');
  console.log(
    '  Not in these counters: functions and the stream poller call DynamoDB Local directly (AWS_ENDPOINT_URL_DYNAMODB),\n' +
      '  API Gateway → Lambda and stream → relay invocations are in-process, and so is the rule → SQS delivery.',
  );
  const byKind: Record<string, { items: number; 'per event': string }> = {};
  for (const record of written) {
    const pk = record.dynamodb?.Keys?.pk?.S ?? '?';
    const kind = `${record.eventName} ${pk.split('#')[0]}`;
    byKind[kind] = { items: (byKind[kind]?.items ?? 0) + 1, 'per event': '' };
  }
  for (const row of Object.values(byKind)) row['per event'] = (row.items / ingested.length).toFixed(3);
  console.log(`\n   DynamoDB item writes per ingested event, read from the table's own stream (writes only; reads are not counted):`);
  if (Object.keys(byKind).length) console.table(byKind);
  else console.log('  (the table has no stream to read)');

  // ---- 3: ingest-to-bus latency ---------------------------------------------------------------------
  const sent: Array<{ id: string; at: number }> = [];
  for (let n = 0; n < latencyEvents; n++) sent.push(await ingestOne(100_000 + n));
  const lateMissing = await awaitArrival(
    sent.map((s) => s.id),
    60_000,
  );
  const firstArrival = new Map<string, number>();
  for (const a of arrivals) if (!firstArrival.has(a.eventId)) firstArrival.set(a.eventId, a.at);
  const latencies = sent
    .map((s) => (firstArrival.has(s.id) ? (firstArrival.get(s.id) as number) - s.at : undefined))
    .filter((x): x is number => x !== undefined)
    .sort((a, b) => a - b);
  console.log(`\n## 3. Ingest-to-bus latency: API 201 → arrival in the tap queue (${latencyEvents} events, sequential)`);
  console.table({
    ms: {
      p50: quantile(latencies, 0.5).toFixed(0),
      p95: quantile(latencies, 0.95).toFixed(0),
      max: (latencies.at(-1) ?? NaN).toFixed(0),
      min: (latencies[0] ?? NaN).toFixed(0),
      ...(lateMissing.length ? { 'not arrived (60 s)': lateMissing.length } : {}),
    },
  });
  console.log(
    "  Bounded by: the streams poller's pace (50 ms under load, backing off to 250 ms when idle, as Lambda polls a shard 4×/s;\n" +
      "  the relay mapping has no batching window), plus the tap's long-poll return.",
  );

  // ---- 4: chaos ---------------------------------------------------------------------------------------
  const rules = [
    { service: 'events', operation: 'PutEvents', probability: 0.5, error: 'InternalFailure' },
    { service: 'lambda', operation: 'Invoke', probability: 1, times: 1, error: 'ServiceException' },
  ];
  const put = await fetch(`${runtime.awsEndpoint}/_switchyard/chaos`, { method: 'PUT', body: JSON.stringify({ seed: 42, rules }) });
  if (put.status !== 200) throw new Error(`chaos not set: ${put.status} ${await put.text()}`);
  const chaosSent: string[] = [];
  const chaosStarted = performance.now();
  try {
    for (let n = 0; n < chaosEvents; n++) chaosSent.push((await ingestOne(200_000 + n)).id);
    await awaitArrival(chaosSent, chaosDeadlineMs);
    await new Promise((r) => setTimeout(r, 3000)); // a late duplicate would show up here
  } finally {
    const status = (await (await fetch(`${runtime.awsEndpoint}/_switchyard/chaos`)).json()) as {
      rules: Array<{ service: string; operation: string; calls: number; faults: number }>;
    };
    await fetch(`${runtime.awsEndpoint}/_switchyard/chaos`, { method: 'DELETE' });
    const wanted = new Set(chaosSent);
    const deliveries = arrivals.filter((a) => wanted.has(a.eventId));
    const perCloudEvent = new Map<string, number>();
    for (const a of deliveries) perCloudEvent.set(a.cloudEventId, (perCloudEvent.get(a.cloudEventId) ?? 0) + 1);
    const arrived = new Set(deliveries.map((a) => a.eventId));
    console.log(
      `\n## 4. Chaos: PutEvents fails with p = 0.5, the relay's first invocation fails (seed 42); ${chaosEvents} events, sequential`,
    );
    console.table({
      delivery: {
        sent: chaosSent.length,
        arrived: chaosSent.filter((id) => arrived.has(id)).length,
        duplicates: [...perCloudEvent.values()].filter((n) => n > 1).length,
        lost: chaosSent.filter((id) => !arrived.has(id)).length,
        'all arrived after (s)': ((Math.max(...deliveries.map((a) => a.at), chaosStarted) - chaosStarted) / 1000).toFixed(1),
      },
    });
    console.table(
      Object.fromEntries(status.rules.map((r) => [`${r.service}:${r.operation}`, { calls: r.calls, 'faults injected': r.faults }])),
    );
  }
} finally {
  await closeTap();
  for (const client of [sqs, eventBridge, dynamoRaw, streams]) client.destroy();
  await runtime.stop();
}
